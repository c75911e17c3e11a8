"""Model registry: `build_model(spec, ...)` from a plain dict such as {"arch": "resnet18", "width": 0.25}.

Every architecture is declared in `advkd.architectures`; this builds it. A ResNet spec with
`exits: true` is the multi-exit network of BYOT self-distillation (`.exits`). The WideResNets and
the `rb_` ResNets are in the public checkpoints' layouts (no normalisation).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ..architectures import ARCHITECTURES
from ..schema import complete
from .exits import Exits, MultiExitResNet
from .mlp import MLP
from .normalize import Normalize
from .raw_resnets import RawResNet
from .resnet import BLOCKS, ResNet
from .wideresnet import WideResNet

MODEL_NAMES = tuple(ARCHITECTURES)
MIN_RESNET_SIZE = 8


def build_model(
    spec: dict,
    in_shape: Sequence[int],
    num_classes: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> nn.Module:
    """Build `spec["arch"]` for inputs of shape (C, H, W) with the dataset's channel statistics (which
    the public checkpoints' layouts, trained on raw pixels, do not use)."""
    spec = complete(spec, "model")
    if spec["arch"] not in ARCHITECTURES:
        raise ValueError(f"unknown model {spec['arch']!r}; allowed: {', '.join(MODEL_NAMES)}")
    arch = ARCHITECTURES[spec["arch"]]
    if arch.family == "mlp":
        return MLP(in_shape, num_classes, spec["hidden"], mean, std, spec["dropout"])
    if min(in_shape[1:]) < MIN_RESNET_SIZE:
        raise ValueError(
            f"{spec['arch']} needs inputs of at least {MIN_RESNET_SIZE}x{MIN_RESNET_SIZE} pixels, got {tuple(in_shape)}"
        )
    if arch.family == "wide_resnet":
        return WideResNet(num_classes, in_shape[0], spec["width"], arch.depth, arch.widen)
    if arch.family == "resnet":
        network = MultiExitResNet if spec["exits"] else ResNet
        return network(BLOCKS[arch.expansion], arch.depths, num_classes, in_shape[0], mean, std, spec["width"])
    return RawResNet(arch.depths, num_classes, in_shape[0], arch.family == "robustbench_preact", spec["width"])


__all__ = ["MLP", "MODEL_NAMES", "Exits", "MultiExitResNet", "Normalize", "ResNet", "WideResNet", "build_model"]
