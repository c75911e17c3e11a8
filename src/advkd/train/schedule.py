"""SGD and learning-rate schedules as pure functions of the step, so resuming needs no scheduler state."""

from __future__ import annotations

import math

import torch
from torch import nn

SCHEDULES = ("constant", "multistep", "cosine", "exponential")


def build_optimizer(model: nn.Module, cfg: dict) -> torch.optim.SGD:
    """SGD with momentum, optional Nesterov, and weight decay (defaults: Yuan et al.'s 0.9 / 5e-4)."""
    return torch.optim.SGD(
        model.parameters(),
        lr=cfg["lr"],
        momentum=cfg.get("momentum", 0.9),
        nesterov=cfg.get("nesterov", False),
        weight_decay=cfg.get("weight_decay", 5e-4),
    )


def learning_rate(base_lr: float, schedule: dict, epoch: int, step: int, steps_per_epoch: int, epochs: int) -> float:
    """The rate for `step` (0-based, within `epoch`): linear warm-up over `warmup_epochs`, then
    multistep (x gamma at each milestone epoch), cosine (to 0 at the last epoch) or exponential
    (x gamma every epoch)."""
    warmup = schedule.get("warmup_epochs", 0)
    progress = epoch + step / steps_per_epoch  # epochs done so far, fractional
    if progress < warmup:
        return base_lr * (epoch * steps_per_epoch + step + 1) / (warmup * steps_per_epoch)
    name = schedule.get("name", "constant")
    if name == "constant":
        return base_lr
    if name == "multistep":
        passed = sum(epoch >= m for m in schedule["milestones"])
        return base_lr * schedule.get("gamma", 0.1) ** passed
    if name == "exponential":
        return base_lr * schedule["gamma"] ** epoch
    if name == "cosine":
        span = max(epochs - warmup, 1)
        return 0.5 * base_lr * (1.0 + math.cos(math.pi * (progress - warmup) / span))
    raise ValueError(f"unknown schedule {name!r}; allowed: {', '.join(SCHEDULES)}")
