"""Parameter and FLOP counts (torch's own flop counter) for Table 1."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module) -> dict[str, int]:
    """All trainable parameters, and the weights alone (what the paper's Table 1 lists)."""
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
    return {"parameters": total, "weights": weights}


def count_flops(model: nn.Module, in_shape: tuple[int, ...]) -> dict[str, int]:
    """FLOPs of one forward pass on one input, as torch counts them (2 per multiply-add), and the
    multiply-adds (MACs), which is what the paper's Table 1 reports as FLOPS."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros((1, *in_shape), device=device))
    model.train(was_training)
    flops = int(counter.get_total_flops())
    return {"flops": flops, "macs": flops // 2}
