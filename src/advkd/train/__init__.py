"""Training: each method's step loss, optimiser and schedules, gradient statistics, the loop."""

from ..methods import METHODS, get_method
from .checkpoint import CheckpointMismatchError
from .loop import (
    NonFiniteLossError,
    Preempted,
    Runtime,
    TrainResult,
    build_for_data,
    fit,
    load_weights,
    repeated_step,
)
from .schedule import SCHEDULES, build_optimizer, complete_schedule, learning_rate
from .teachers import load_model

__all__ = [
    "METHODS",
    "SCHEDULES",
    "CheckpointMismatchError",
    "NonFiniteLossError",
    "Preempted",
    "Runtime",
    "TrainResult",
    "build_for_data",
    "build_optimizer",
    "complete_schedule",
    "fit",
    "get_method",
    "learning_rate",
    "load_model",
    "load_weights",
    "repeated_step",
]
