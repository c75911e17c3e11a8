"""Evaluation: clean accuracy (and class subsets, and every exit of a multi-exit model), AutoAttack, PGD, model size and FLOPs."""

from .accuracy import accuracy_and_loss, exit_accuracies, predict, subset_accuracies
from .autoattack import STANDARD_ATTACKS, run_autoattack
from .complexity import count_flops, count_parameters
from .pgd import pgd_accuracy

__all__ = [
    "STANDARD_ATTACKS",
    "accuracy_and_loss",
    "count_flops",
    "count_parameters",
    "exit_accuracies",
    "pgd_accuracy",
    "predict",
    "run_autoattack",
    "subset_accuracies",
]
