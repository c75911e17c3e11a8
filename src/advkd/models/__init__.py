"""Model registry: `build_model(spec, ...)` from a plain dict such as {"arch": "resnet18", "width": 0.25}.

A ResNet spec with `exits: true` is the multi-exit network of BYOT self-distillation (`.exits`).
`wrn34_10` is the robust teachers' WideResNet in the public checkpoints' layout (no normalisation).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ..schema import complete
from .exits import Exits, MultiExitResNet
from .mlp import MLP
from .normalize import Normalize
from .resnet import ARCHITECTURES, ResNet
from .wideresnet import WideResNet

MODEL_NAMES = ("mlp", *ARCHITECTURES, "wrn34_10")
MIN_RESNET_SIZE = 8


def build_model(
    spec: dict,
    in_shape: Sequence[int],
    num_classes: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> nn.Module:
    """Build `spec["arch"]` for inputs of shape (C, H, W) with the dataset's channel statistics (which
    the WideResNet, trained on raw pixels like the public robust checkpoints, does not use)."""
    spec = complete(spec, "model")
    arch = spec["arch"]
    if arch == "mlp":
        return MLP(in_shape, num_classes, spec["hidden"], mean, std, spec["dropout"])
    if arch in MODEL_NAMES and min(in_shape[1:]) < MIN_RESNET_SIZE:
        raise ValueError(
            f"{arch} needs inputs of at least {MIN_RESNET_SIZE}x{MIN_RESNET_SIZE} pixels, got {tuple(in_shape)}"
        )
    if arch == "wrn34_10":
        return WideResNet(num_classes, in_shape[0], spec["width"])
    if arch in ARCHITECTURES:
        block, depths = ARCHITECTURES[arch]
        network = MultiExitResNet if spec["exits"] else ResNet
        return network(block, depths, num_classes, in_shape[0], mean, std, spec["width"])
    raise ValueError(f"unknown model {arch!r}; allowed: {', '.join(MODEL_NAMES)}")


__all__ = ["MLP", "MODEL_NAMES", "Exits", "MultiExitResNet", "Normalize", "ResNet", "WideResNet", "build_model"]
