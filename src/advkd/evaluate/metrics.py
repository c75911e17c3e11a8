"""Everything a table reads of one trained run, computed where it was trained (rule train), so no
separate process pays torch's start-up again for milliseconds of work: clean test accuracy and
loss, accuracy with and without the omitted classes, every exit's accuracy, size and FLOPs, and
the flags of a collapsed run."""

from __future__ import annotations

from torch import nn

from ..data import PreparedDataset
from ..models import MultiExitResNet
from .accuracy import accuracy_and_loss, exit_accuracies, subset_accuracies
from .complexity import count_flops, count_parameters
from .health import collapse_flags


def run_metrics(model: nn.Module, data: PreparedDataset, spec: dict, history: list[dict]) -> dict:
    """metrics.json of a run (fp32, eval mode): what tables 1-6 show."""
    test_acc, test_loss = accuracy_and_loss(model, data.test_x, data.test_y)
    metrics = {
        "test_acc": test_acc,
        "test_loss": test_loss,
        **count_parameters(model),
        **count_flops(model, data.image_shape),
        "flags": collapse_flags(history, test_acc, data.test_y.tolist()),
    }
    omitted = spec.get("data", {}).get("drop_classes")
    if omitted:
        metrics["subsets"] = {"classes": omitted, **subset_accuracies(model, data.test_x, data.test_y, omitted)}
    if isinstance(model, MultiExitResNet):
        metrics["exits"] = exit_accuracies(model, data.test_x, data.test_y)
    return metrics
