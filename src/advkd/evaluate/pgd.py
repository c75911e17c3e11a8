"""PGD accuracy (Madry et al.'s PGD-20 evaluation): the usual white-box number beside AutoAttack."""

from __future__ import annotations

import torch
from torch import nn

from ..attacks import pgd_linf


def pgd_correct(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    step_size: float,
    steps: int,
    batch_size: int = 500,
    seed: int = 0,
) -> torch.Tensor:
    """Whether `model` (eval mode, fp32) classifies each L-inf PGD point from uint8 `images`
    correctly (on the CPU), the random start drawn from a generator seeded with `seed`."""
    device = next(model.parameters()).device
    model.eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    correct = []
    for start in range(0, len(labels), batch_size):
        x = images[start : start + batch_size].to(device).float().div_(255.0)
        y = labels[start : start + batch_size].to(device)
        x_adv = pgd_linf(model, x, y, eps=eps, step_size=step_size, steps=steps, generator=generator)
        with torch.no_grad():
            correct.append((model(x_adv).argmax(1) == y).cpu())
    return torch.cat(correct) if correct else torch.zeros(0, dtype=torch.bool)


def pgd_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *args, **kwargs) -> float:
    """The share of `pgd_correct`'s points still classified correctly."""
    return int(pgd_correct(model, images, labels, *args, **kwargs).sum()) / len(labels)
