"""SGD and learning-rate schedules as pure functions of the step, so resuming needs no scheduler state."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..schema import complete, definition

SCHEDULES = tuple(definition("recipe")["properties"]["schedule"]["properties"]["name"]["enum"])


def build_optimizer(model: nn.Module, cfg: dict, method: dict, rate: torch.Tensor | None = None) -> torch.optim.SGD:
    """SGD with the recipe's rate, momentum and weight decay, and the method's own choice of
    Nesterov momentum (defaults in the config schema and the method table).

    With `rate` (a 0-dim device tensor the caller fills with each step's rate) SGD runs fused: one
    kernel per step that reads the rate on the device, so the step can be captured in a CUDA graph
    (torch's foreach SGD turns a tensor rate into a host number). Fused and foreach SGD round
    differently: a run's weights differ in the last bits between the two."""
    cfg = complete(cfg, definition("recipe")["properties"]["optimizer"])
    if rate is not None:
        rate.fill_(cfg["lr"])
    return torch.optim.SGD(
        model.parameters(),
        lr=cfg["lr"] if rate is None else rate,
        momentum=cfg["momentum"],
        nesterov=complete(method, "method")["nesterov"],
        weight_decay=cfg["weight_decay"],
        fused=rate is not None or None,
    )


def complete_schedule(schedule: dict) -> dict:
    """A recipe's `schedule` with its defaults (constant rate, no warm-up, multistep gamma 0.1)."""
    return complete(schedule, definition("recipe")["properties"]["schedule"])


def learning_rate(base_lr: float, schedule: dict, epoch: int, step: int, steps_per_epoch: int, epochs: int) -> float:
    """The rate for `step` (0-based, within `epoch`) of a completed `schedule` (`complete_schedule`):
    linear warm-up over `warmup_epochs`, then multistep (x gamma at each milestone epoch), cosine
    (to 0 at the last epoch) or exponential (x gamma every epoch)."""
    warmup = schedule["warmup_epochs"]
    progress = epoch + step / steps_per_epoch  # epochs done so far, fractional
    if progress < warmup:
        return base_lr * (epoch * steps_per_epoch + step + 1) / (warmup * steps_per_epoch)
    name = schedule["name"]
    if name == "constant":
        return base_lr
    if name == "multistep":
        passed = sum(epoch >= m for m in schedule["milestones"])
        return base_lr * schedule["gamma"] ** passed
    if name == "exponential":
        return base_lr * schedule["gamma"] ** epoch
    if name == "cosine":
        span = max(epochs - warmup, 1)
        return 0.5 * base_lr * (1.0 + math.cos(math.pi * (progress - warmup) / span))
    raise ValueError(f"unknown schedule {name!r}; allowed: {', '.join(SCHEDULES)}")
