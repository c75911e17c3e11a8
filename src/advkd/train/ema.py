"""A weight-averaged copy of the student: ADR's teacher (Wu et al. 2024).

ADR's official code keeps it with timm's ModelEmaV2 (src/advTrainer.py, decay 0.995 in its
CIFAR configs): a copy of the model in eval mode, and after every optimiser step each floating
entry of its state dict (weights and batch-norm statistics) becomes
decay * average + (1 - decay) * current. Integer entries (batch counts) are copied.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        # state_dict tensors share storage with the modules: updating them updates the average.
        pairs = list(zip(self.model.state_dict().values(), model.state_dict().values()))
        self._means, self._currents = [[p[i] for p in pairs if p[0].is_floating_point()] for i in (0, 1)]
        self._counts, self._current_counts = [[p[i] for p in pairs if not p[0].is_floating_point()] for i in (0, 1)]

    @torch.no_grad()
    def update(self) -> None:
        """After an optimiser step: move the average (1 - decay) of the way to the current weights
        (multi-tensor ops: a few kernel launches for the whole model, not one per tensor)."""
        torch._foreach_lerp_(self._means, self._currents, 1.0 - self.decay)
        if self._counts:  # a model without batch norm has none
            torch._foreach_copy_(self._counts, self._current_counts)
