"""L-infinity PGD (Madry et al.; the paper's eq. 5) with a choice of objective.

PGD maximises an objective of the model's logits on x' inside an eps-ball around x. Training
methods choose it (`advkd.methods`, trait `attack`):

- `ce`: cross-entropy on the labels (Madry et al.; ARD, the paper's eq. 5);
- `kl_to_fixed`: KL(p || softmax(S(x'))) to a distribution p fixed before the attack: the student's
  own clean prediction (TRADES) or the teacher's on the clean x (RSLAD);
- `kl_to_teacher`: KL(softmax(T(x')) || softmax(S(x'))) with the teacher seeing x' as well, so
  its gradient enters the attack (AdaAD).

A positive rescaling of the objective does not change sign(grad), so the reference codes' sum
or mean reductions give the same points. Gradients are taken with respect to the input only
(`torch.autograd.grad`): an attack step costs a forward and an input-backward, never the unused
weight gradients. The start (`advkd.methods.ATTACK_STARTS`) is uniform in the ball, clipped into
[0, 1] (Madry et al., torchattacks) or not (ARD), or x + 0.001 N(0, 1) unclipped (TRADES and the
distillation codes built on it: RSLAD, AdaAD).

Under bf16 autocast, the first step from x + 0.001 N runs in fp32: there the objective (a KL
between predictions 0.001 apart) is below bf16's resolution, and its gradient's signs would be
noise (measured: `python -m speed.bf16`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .devices import autocast

# objective(student logits on x', x') -> the scalar PGD maximises
Objective = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
STARTS = ("uniform", "uniform_unclipped", "gaussian")


def cross_entropy_objective(y: torch.Tensor) -> Objective:
    return lambda logits, x_adv: F.cross_entropy(logits, y)


def kl_to_fixed(target_probs: torch.Tensor) -> Objective:
    """KL(target || softmax(S(x'))) for a target fixed before the attack."""
    target = target_probs.detach().float()
    return lambda logits, x_adv: F.kl_div(F.log_softmax(logits, dim=1), target, reduction="batchmean")


def kl_to_teacher(teacher: nn.Module) -> Objective:
    """KL(softmax(T(x')) || softmax(S(x'))): the teacher sees the attacked input too."""

    def objective(logits: torch.Tensor, x_adv: torch.Tensor) -> torch.Tensor:
        target = F.softmax(teacher(x_adv).float(), dim=1)
        return F.kl_div(F.log_softmax(logits, dim=1), target, reduction="batchmean")

    return objective


def pgd_linf(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    step_size: float,
    steps: int,
    random_start: bool = True,
    generator: torch.Generator | None = None,
    autocast_dtype: torch.dtype | None = None,
    objective: Objective | None = None,
    start: str = "uniform",
) -> torch.Tensor:
    """Return x' with ||x' - x||_inf <= eps and x' in [0, 1], found by `steps` signed-gradient steps
    on `objective` (default: cross-entropy on `y`).

    The model is used in whatever mode (train/eval) the caller left it in. With `generator` the
    random start is reproducible. `autocast_dtype` runs the forward passes under autocast.
    """
    objective = objective or cross_entropy_objective(y)
    x = x.detach()
    if not random_start:
        x_adv = x.clone()
    elif start in ("uniform", "uniform_unclipped"):
        noise = torch.rand(x.shape, device=x.device, generator=generator, dtype=x.dtype)
        x_adv = x + (2 * noise - 1) * eps
        if start == "uniform":
            x_adv = x_adv.clamp_(0.0, 1.0)
    elif start == "gaussian":
        noise = torch.randn(x.shape, device=x.device, generator=generator, dtype=x.dtype)
        x_adv = x + 0.001 * noise
    else:
        raise ValueError(f"unknown PGD start {start!r}; allowed: {', '.join(STARTS)}")
    for step in range(steps):
        x_adv.requires_grad_(True)
        precise = step == 0 and random_start and start == "gaussian"  # an objective below bf16's resolution
        with autocast(x.device, None if precise else autocast_dtype):
            loss = objective(model(x_adv).float(), x_adv)
        (grad,) = torch.autograd.grad(loss, x_adv)
        with torch.no_grad():
            x_adv = x_adv + step_size * grad.sign()
            x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp_(0.0, 1.0)
    return x_adv.detach()
