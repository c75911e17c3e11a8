"""Evaluation: clean accuracy (also on class subsets and at every exit), AutoAttack, PGD, model size
and FLOPs, and the flags of a collapsed run."""

from .accuracy import accuracy_and_loss, exit_accuracies, predict, scored, subset_accuracies
from .autoattack import STANDARD_ATTACKS, run_autoattack
from .complexity import count_flops, count_parameters
from .health import collapse_flags
from .metrics import run_metrics
from .pgd import pgd_accuracy, pgd_correct

__all__ = [
    "STANDARD_ATTACKS",
    "accuracy_and_loss",
    "collapse_flags",
    "count_flops",
    "count_parameters",
    "exit_accuracies",
    "pgd_accuracy",
    "pgd_correct",
    "predict",
    "run_autoattack",
    "run_metrics",
    "scored",
    "subset_accuracies",
]
