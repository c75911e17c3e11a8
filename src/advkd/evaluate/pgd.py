"""PGD accuracy (Madry et al.'s PGD-20 evaluation): the usual white-box number beside AutoAttack."""

from __future__ import annotations

import torch
from torch import nn

from ..attacks import pgd_linf


def pgd_accuracy(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    step_size: float,
    steps: int,
    batch_size: int = 500,
    seed: int = 0,
) -> float:
    """Accuracy of `model` (eval mode, fp32) on L-inf PGD points from uint8 `images`, random start
    drawn from a generator seeded with `seed`."""
    device = next(model.parameters()).device
    model.eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    correct = 0
    for start in range(0, len(labels), batch_size):
        x = images[start : start + batch_size].to(device).float().div_(255.0)
        y = labels[start : start + batch_size].to(device)
        x_adv = pgd_linf(model, x, y, eps=eps, step_size=step_size, steps=steps, generator=generator)
        with torch.no_grad():
            correct += int((model(x_adv).argmax(1) == y).sum())
    return correct / len(labels)
