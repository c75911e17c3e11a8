"""Evaluation: clean accuracy (and class subsets), AutoAttack, PGD, model size and FLOPs."""

from .accuracy import accuracy_and_loss, predict, subset_accuracies
from .autoattack import STANDARD_ATTACKS, run_autoattack
from .complexity import count_flops, count_parameters
from .pgd import pgd_accuracy

__all__ = [
    "STANDARD_ATTACKS",
    "accuracy_and_loss",
    "count_flops",
    "count_parameters",
    "pgd_accuracy",
    "predict",
    "run_autoattack",
    "subset_accuracies",
]
