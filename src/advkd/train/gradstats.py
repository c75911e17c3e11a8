"""Mean absolute gradient of every convolution and linear weight, accumulated on the device.

One fused multi-tensor L1-norm per step (`torch._foreach_norm`), no host sync, the step count
kept on the device too (a captured step adds to the same tensors); Figure 1 groups the
names (`stage2.1.conv1`, `fc`, ...) by stage and block.
"""

from __future__ import annotations

import torch
from torch import nn


class GradientStats:
    def __init__(self, model: nn.Module):
        self.names: list[str] = []
        self.weights: list[torch.Tensor] = []
        for name, module in model.named_modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                self.names.append(name)
                self.weights.append(module.weight)
        device = self.weights[0].device
        self._numel = torch.tensor([float(w.numel()) for w in self.weights], device=device)
        self._sum = torch.zeros(len(self.weights), device=device)
        self._steps = torch.zeros((), device=device)

    def accumulate(self) -> None:
        """Add this step's mean |grad| per weight (call after backward, before the optimiser step)."""
        grads = [w.grad for w in self.weights]
        if any(g is None for g in grads):
            return
        self._sum += torch.stack(torch._foreach_norm(grads, 1)).float() / self._numel
        self._steps += 1

    def state(self) -> dict:
        """The epoch's partial sums, for a mid-epoch checkpoint."""
        return {"sum": self._sum.clone(), "steps": int(self._steps.item())}

    def load_state(self, state: dict) -> None:
        self._sum.copy_(state["sum"])
        self._steps.fill_(state["steps"])

    def pop_epoch(self) -> list[float]:
        """The epoch's per-weight averages (one host sync), and reset for the next epoch."""
        means = (self._sum / self._steps.clamp(min=1)).tolist()
        self._sum.zero_()
        self._steps.zero_()
        return means
