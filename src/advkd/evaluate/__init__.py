"""Evaluation: clean accuracy (and class subsets), AutoAttack, model size and FLOPs."""

from .accuracy import accuracy_and_loss, predict, subset_accuracies
from .autoattack import STANDARD_ATTACKS, run_autoattack
from .complexity import count_flops, count_parameters

__all__ = [
    "STANDARD_ATTACKS",
    "accuracy_and_loss",
    "count_flops",
    "count_parameters",
    "predict",
    "run_autoattack",
    "subset_accuracies",
]
