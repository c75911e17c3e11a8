"""L-infinity PGD (Madry et al.; the paper's eq. 5): maximise CE inside an eps-ball around x.

Gradients are taken with respect to the input only (`torch.autograd.grad`), so an attack step
costs a forward and an input-backward, never the unused weight gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .devices import autocast


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
) -> torch.Tensor:
    """Return x' with ||x' - x||_inf <= eps and x' in [0, 1], found by `steps` signed-gradient steps.

    The model is used in whatever mode (train/eval) the caller left it in. With `generator` the
    random start is reproducible. `autocast_dtype` runs the forward passes under CUDA autocast.
    """
    x = x.detach()
    if random_start:
        noise = torch.rand(x.shape, device=x.device, generator=generator, dtype=x.dtype)
        x_adv = (x + (2 * noise - 1) * eps).clamp_(0.0, 1.0)
    else:
        x_adv = x.clone()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        with autocast(x.device, autocast_dtype):
            loss = F.cross_entropy(model(x_adv).float(), y)
        (grad,) = torch.autograd.grad(loss, x_adv)
        with torch.no_grad():
            x_adv = x_adv + step_size * grad.sign()
            x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp_(0.0, 1.0)
    return x_adv.detach()
