"""Fully connected network of Hinton et al.'s MNIST experiments (e.g. 784-1200-1200-10)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from .normalize import Normalize


class MLP(nn.Module):
    """Normalize -> flatten -> [Linear -> ReLU -> Dropout]* -> Linear; layers named fc1, fc2, ..."""

    def __init__(
        self,
        in_shape: Sequence[int],
        num_classes: int,
        hidden: Sequence[int],
        mean: Sequence[float],
        std: Sequence[float],
        dropout: float = 0.0,
    ):
        super().__init__()
        self.normalize = Normalize(mean, std)
        sizes = [int(torch.tensor(in_shape).prod())] + [int(h) for h in hidden]
        layers: list[tuple[str, nn.Module]] = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            layers += [(f"fc{i}", nn.Linear(fan_in, fan_out)), (f"relu{i}", nn.ReLU(inplace=True))]
            if dropout > 0:
                layers.append((f"drop{i}", nn.Dropout(dropout)))
        layers.append((f"fc{len(sizes)}", nn.Linear(sizes[-1], num_classes)))
        self.layers = nn.Sequential(OrderedDict(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(torch.flatten(self.normalize(x), 1))
