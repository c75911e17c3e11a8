"""Training: the method registry, optimiser and schedules, gradient statistics, the loop."""

from .checkpoint import CheckpointMismatchError
from .loop import NonFiniteLossError, Preempted, Runtime, TrainResult, build_for_data, fit, load_weights
from .methods import METHODS, get_method
from .schedule import SCHEDULES, build_optimizer, learning_rate

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
    "fit",
    "get_method",
    "learning_rate",
    "load_weights",
]
