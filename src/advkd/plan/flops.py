"""Forward FLOPs of advkd's models from their specs alone, without torch.

The Snakefile sizes cluster requests with these (no torch at DAG time), and `python -m
advkd.plan` prices a whole config in seconds. Counted as torch's FLOP counter counts them (2 per
multiply-add of every convolution and linear layer; normalisation, activations and pooling are
free); tests/test_plan.py checks every architecture against that counter.
"""

from __future__ import annotations

from ..architectures import ARCHITECTURES
from ..schema import complete

STAGE_CHANNELS = (64, 128, 256, 512)
STAGE_STRIDES = (1, 2, 2, 2)


def _conv(
    c_in: int, c_out: int, k: int, stride: int, padding: int, size: tuple[int, int]
) -> tuple[int, tuple[int, int]]:
    """FLOPs of one convolution on one image, and the output's spatial size."""
    h, w = ((s + 2 * padding - k) // stride + 1 for s in size)
    return 2 * c_in * c_out * k * k * h * w, (h, w)


def _linear(n_in: int, n_out: int) -> int:
    return 2 * n_in * n_out


def forward_flops(model: dict, in_shape: tuple[int, int, int], num_classes: int, every_exit: bool = False) -> int:
    """FLOPs of one forward pass on one image of `in_shape` (C, H, W). `every_exit`: the pass a
    multi-exit model makes in training (every exit's head and classifier), not just the deepest."""
    model = complete(model, "model")
    if model["arch"] == "mlp":
        sizes = [in_shape[0] * in_shape[1] * in_shape[2], *model["hidden"], num_classes]
        return sum(_linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
    arch = ARCHITECTURES[model["arch"]]
    if arch.family == "wide_resnet":
        return _wide_resnet(arch.depth, arch.widen, model["width"], in_shape, num_classes)
    expansion, depths = arch.expansion, arch.depths
    planes = [max(1, round(c * model["width"])) for c in STAGE_CHANNELS]
    flops, size = _conv(in_shape[0], planes[0], 3, 1, 1, in_shape[1:])
    channels, stage_outputs = planes[0], []
    for p, depth, first_stride in zip(planes, depths, STAGE_STRIDES):
        for stride in [first_stride] + [1] * (depth - 1):
            block, out_size = _block(channels, p, stride, expansion, size)
            flops, size, channels = flops + block, out_size, p * expansion
        stage_outputs.append((channels, size))
    flops += _linear(channels, num_classes)
    if every_exit and model.get("exits"):
        flops += sum(
            _head(c, channels, 2 ** (len(stage_outputs) - 1 - i), s, num_classes)
            for i, (c, s) in enumerate(stage_outputs[:-1])
        )
    return flops


def _wide_resnet(depth: int, widen: int, width: float, in_shape: tuple[int, int, int], num_classes: int) -> int:
    """A WideResNet (advkd.models.wideresnet): a 16-channel stem, three groups of (depth - 4) / 6
    pre-activation blocks (3x3 strided, 3x3; a 1x1 shortcut where the width changes), the fc."""
    flops, size = _conv(in_shape[0], 16, 3, 1, 1, in_shape[1:])
    channels = 16
    for planes, first_stride in zip((max(1, round(c * widen * width)) for c in (16, 32, 64)), (1, 2, 2)):
        for stride in [first_stride] + [1] * ((depth - 4) // 6 - 1):
            first, out_size = _conv(channels, planes, 3, stride, 1, size)
            flops += first + _conv(planes, planes, 3, 1, 1, out_size)[0]
            if channels != planes:
                flops += _conv(channels, planes, 1, stride, 0, size)[0]
            size, channels = out_size, planes
    return flops + _linear(channels, num_classes)


def _block(c_in: int, p: int, stride: int, expansion: int, size: tuple[int, int]) -> tuple[int, tuple[int, int]]:
    if expansion == 1:  # BasicBlock: 3x3 (strided), 3x3
        first, out_size = _conv(c_in, p, 3, stride, 1, size)
        flops = first + _conv(p, p, 3, 1, 1, out_size)[0]
    else:  # Bottleneck: 1x1, 3x3 (strided), 1x1 to p * expansion
        flops, _ = _conv(c_in, p, 1, 1, 0, size)
        second, out_size = _conv(p, p, 3, stride, 1, size)
        flops += second + _conv(p, p * expansion, 1, 1, 0, out_size)[0]
    if stride != 1 or c_in != p * expansion:  # projection shortcut
        flops += _conv(c_in, p * expansion, 1, stride, 0, size)[0]
    return flops, out_size


def _head(c_in: int, deepest: int, stride: int, size: tuple[int, int], num_classes: int) -> int:
    """BYOT's bottleneck head and classifier on one shallow stage (advkd.models.exits)."""
    middle = max(1, deepest // 4)
    flops, _ = _conv(c_in, middle, 1, 1, 0, size)
    second, out_size = _conv(middle, middle, stride, stride, 0, size)
    return flops + second + _conv(middle, deepest, 1, 1, 0, out_size)[0] + _linear(deepest, num_classes)
