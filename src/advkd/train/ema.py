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
        self._floats = [pair for pair in pairs if pair[0].is_floating_point()]
        self._others = [pair for pair in pairs if not pair[0].is_floating_point()]

    @torch.no_grad()
    def update(self) -> None:
        """After an optimiser step: move the average (1 - decay) of the way to the current weights."""
        for mean, current in self._floats:
            mean.lerp_(current, 1.0 - self.decay)
        for mean, current in self._others:
            mean.copy_(current)
