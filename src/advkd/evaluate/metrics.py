"""Everything a table reads of one trained run, computed where it was trained (rule train), so no
separate process pays torch's start-up again for milliseconds of work: clean test accuracy and
loss, accuracy with and without the omitted classes, every exit's accuracy, size and FLOPs, the
best-on-validation weights' test accuracy, and the flags of a collapsed run."""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn

from ..data import PreparedDataset
from ..models import MultiExitResNet
from ..points import pack
from .accuracy import exit_accuracies, scored, subset_accuracies
from .complexity import count_flops, count_parameters
from .health import collapse_flags

log = logging.getLogger(__name__)


def run_metrics(
    model: nn.Module,
    data: PreparedDataset,
    spec: dict,
    history: list[dict],
    run_id: str,
    best: dict | None = None,
    test: tuple[torch.Tensor, float] | None = None,
) -> dict:
    """metrics.json of a run (fp32, eval mode): what the tables read of it besides attacks. `best`:
    the best-on-validation weights (`TrainResult.best`), scored on the test set too. `test`: the
    (per-point correctness, loss) of this model's fp32 test pass, when training's last epoch made
    it (`TrainResult.final_test`), so the same pass is not made twice. Per-point correctness is
    kept (`advkd.points`) for the claims. A sign of collapse is logged here, once, and kept in the
    file for the tables to mark."""
    correct, test_loss = test if test is not None else scored(model, data.test_x, data.test_y)
    test_acc = correct.float().mean().item()
    metrics = {
        "test_acc": test_acc,
        "test_loss": test_loss,
        "points": {"clean": pack(correct)},
        **count_parameters(model),
        **count_flops(model, data.image_shape),
        "flags": collapse_flags(history, test_acc, data.test_y.tolist()),
    }
    omitted = spec.get("data", {}).get("drop_classes")
    if omitted:
        metrics["subsets"] = {"classes": omitted, **subset_accuracies(model, data.test_x, data.test_y, omitted)}
    if isinstance(model, MultiExitResNet):
        metrics["exits"] = exit_accuracies(model, data.test_x, data.test_y)
    if best is not None:
        best_model = copy.deepcopy(model)
        best_model.load_state_dict(best["state"])
        best_correct, _ = scored(best_model, data.test_x, data.test_y)
        metrics["best"] = {
            "epoch": best["epoch"],
            "validation": best["score"],
            "test_acc": best_correct.float().mean().item(),
            "points": {"clean": pack(best_correct)},
        }
    for flag in metrics["flags"]:
        log.warning("run %s: COLLAPSED? %s", run_id, flag)
    return metrics
