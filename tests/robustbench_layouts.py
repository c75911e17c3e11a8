"""State dicts named and shaped as RobustBench's files of each supported architecture, and the
networks those files compute, written from the layouts' descriptions (RobustBench's
model_zoo/architectures/wide_resnet.py and resnet.py), not from advkd's models, with random
weights: the reference advkd's loaded models are checked against.

`width` shrinks every layer's channels (1.0: the published sizes) so tests stay small.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class Layout:
    """A state dict being written: random convolutions, linear layers and batch norms by name."""

    def __init__(self, generator: torch.Generator):
        self.state: dict[str, torch.Tensor] = {}
        self.generator = generator

    def conv(self, name: str, c_out: int, c_in: int, k: int) -> None:
        scale = (2.0 / (c_in * k * k)) ** 0.5
        self.state[f"{name}.weight"] = torch.randn(c_out, c_in, k, k, generator=self.generator) * scale

    def bn(self, name: str, n: int) -> None:
        g = self.generator
        self.state[f"{name}.weight"] = 1 + 0.1 * torch.randn(n, generator=g)
        self.state[f"{name}.bias"] = 0.1 * torch.randn(n, generator=g)
        self.state[f"{name}.running_mean"] = 0.1 * torch.randn(n, generator=g)
        self.state[f"{name}.running_var"] = 0.5 + torch.rand(n, generator=g)
        self.state[f"{name}.num_batches_tracked"] = torch.tensor(100)

    def linear(self, name: str, n_out: int, n_in: int) -> None:
        self.state[f"{name}.weight"] = torch.randn(n_out, n_in, generator=self.generator) * n_in**-0.5
        self.state[f"{name}.bias"] = 0.1 * torch.randn(n_out, generator=self.generator)


def _bn(state: dict, h: torch.Tensor, name: str) -> torch.Tensor:
    return F.batch_norm(
        h, state[f"{name}.running_mean"], state[f"{name}.running_var"],
        state[f"{name}.weight"], state[f"{name}.bias"], False, 0.0, 1e-5,
    )  # fmt: skip


# -- WideResNet(depth, widen_factor, sub_block1) ------------------------------------------------------
def wide_resnet_layout(
    depth: int, widen: int, width: float, channels: int, classes: int, generator: torch.Generator, sub_block1: bool
) -> dict[str, torch.Tensor]:
    """conv1; groups block1..block3 of (depth - 4) / 6 BasicBlocks `layer.i` (bn1, conv1, bn2, conv2,
    convShortcut where the width changes); sub_block1, a copy of block1 the forward never uses;
    bn1; fc."""
    widths = [16, *(max(1, round(c * widen * width)) for c in (16, 32, 64))]
    out = Layout(generator)
    out.conv("conv1", 16, channels, 3)
    for name in ("block1", *(["sub_block1"] if sub_block1 else []), "block2", "block3"):
        group = 1 if name == "sub_block1" else int(name[-1])
        for i in range((depth - 4) // 6):
            prefix, planes_in, planes = (
                f"{name}.layer.{i}",
                widths[group - 1] if i == 0 else widths[group],
                widths[group],
            )
            out.bn(f"{prefix}.bn1", planes_in)
            out.conv(f"{prefix}.conv1", planes, planes_in, 3)
            out.bn(f"{prefix}.bn2", planes)
            out.conv(f"{prefix}.conv2", planes, planes, 3)
            if planes_in != planes:
                out.conv(f"{prefix}.convShortcut", planes, planes_in, 1)
    out.bn("bn1", widths[3])
    out.linear("fc", classes, widths[3])
    return out.state


def wide_resnet_forward(state: dict[str, torch.Tensor], x: torch.Tensor, depth: int) -> torch.Tensor:
    """A block with equal widths: x + conv2(relu(bn2(conv1(relu(bn1(x)))))); where the width changes
    the block first sets x = relu(bn1(x)), and both paths take it (the shortcut a 1x1 conv). Then
    relu(bn1), average pooling, fc. No normalisation of the input."""
    h = F.conv2d(x, state["conv1.weight"], padding=1)
    for group, stride in ((1, 1), (2, 2), (3, 2)):
        for i in range((depth - 4) // 6):
            prefix, step = f"block{group}.layer.{i}", stride if i == 0 else 1
            activated = F.relu(_bn(state, h, f"{prefix}.bn1"))
            out = F.conv2d(activated, state[f"{prefix}.conv1.weight"], stride=step, padding=1)
            out = F.conv2d(F.relu(_bn(state, out, f"{prefix}.bn2")), state[f"{prefix}.conv2.weight"], padding=1)
            shortcut = state.get(f"{prefix}.convShortcut.weight")
            h = out + (h if shortcut is None else F.conv2d(activated, shortcut, stride=step))
    pooled = F.relu(_bn(state, h, "bn1")).mean(dim=(2, 3))
    return F.linear(pooled, state["fc.weight"], state["fc.bias"])


# -- ResNet18 and PreActResNet(PreActBlockV2, [2, 2, 2, 2], bn_before_fc=True) ------------------------
def resnet18_layout(
    width: float, channels: int, classes: int, generator: torch.Generator, preact: bool
) -> dict[str, torch.Tensor]:
    """conv1 (and bn1 for the ResNet); layer1..layer4 of two blocks (ResNet: conv1, bn1, conv2, bn2,
    shortcut.0 conv and shortcut.1 bn where the shape changes; PreAct: bn1, conv1, bn2, conv2,
    shortcut.0 conv); PreAct's bn before the classifier; linear."""
    planes = [max(1, round(c * width)) for c in (64, 128, 256, 512)]
    out = Layout(generator)
    out.conv("conv1", planes[0], channels, 3)
    if not preact:
        out.bn("bn1", planes[0])
    c_in = planes[0]
    for stage, (p, stride) in enumerate(zip(planes, (1, 2, 2, 2)), start=1):
        for i in range(2):
            prefix, step = f"layer{stage}.{i}", stride if i == 0 else 1
            if preact:
                out.bn(f"{prefix}.bn1", c_in)
            out.conv(f"{prefix}.conv1", p, c_in, 3)
            out.bn(f"{prefix}.bn2" if preact else f"{prefix}.bn1", p)
            out.conv(f"{prefix}.conv2", p, p, 3)
            if not preact:
                out.bn(f"{prefix}.bn2", p)
            if step != 1 or c_in != p:
                out.conv(f"{prefix}.shortcut.0", p, c_in, 1)
                if not preact:
                    out.bn(f"{prefix}.shortcut.1", p)
            c_in = p
    if preact:
        out.bn("bn", c_in)
    out.linear("linear", classes, c_in)
    return out.state


def resnet18_forward(state: dict[str, torch.Tensor], x: torch.Tensor, preact: bool) -> torch.Tensor:
    """ResNet: relu(bn1(conv1)); blocks relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut(x)); pool.
    PreAct (V2): conv1; blocks a = relu(bn1 x), conv2(relu(bn2(conv1 a))) + (shortcut(a) or x);
    relu(bn); pool. Both: linear."""
    h = F.conv2d(x, state["conv1.weight"], padding=1)
    if not preact:
        h = F.relu(_bn(state, h, "bn1"))
    for stage, stride in enumerate((1, 2, 2, 2), start=1):
        for i in range(2):
            prefix, step = f"layer{stage}.{i}", stride if i == 0 else 1
            shortcut = state.get(f"{prefix}.shortcut.0.weight")
            if preact:
                a = F.relu(_bn(state, h, f"{prefix}.bn1"))
                out = F.conv2d(a, state[f"{prefix}.conv1.weight"], stride=step, padding=1)
                out = F.conv2d(F.relu(_bn(state, out, f"{prefix}.bn2")), state[f"{prefix}.conv2.weight"], padding=1)
                h = out + (h if shortcut is None else F.conv2d(a, shortcut, stride=step))
            else:
                out = F.relu(
                    _bn(state, F.conv2d(h, state[f"{prefix}.conv1.weight"], stride=step, padding=1), f"{prefix}.bn1")
                )
                out = _bn(state, F.conv2d(out, state[f"{prefix}.conv2.weight"], padding=1), f"{prefix}.bn2")
                skip = h if shortcut is None else _bn(state, F.conv2d(h, shortcut, stride=step), f"{prefix}.shortcut.1")
                h = F.relu(out + skip)
    if preact:
        h = F.relu(_bn(state, h, "bn"))
    return F.linear(h.mean(dim=(2, 3)), state["linear.weight"], state["linear.bias"])


def layout(arch: str, width: float, channels: int, classes: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """The file's state dict of advkd arch `arch` (advkd.architectures), as RobustBench names it."""
    from advkd.architectures import ARCHITECTURES

    generator, a = torch.Generator().manual_seed(seed), ARCHITECTURES[arch]
    if a.family == "wide_resnet":
        return wide_resnet_layout(a.depth, a.widen, width, channels, classes, generator, sub_block1=True)
    return resnet18_layout(width, channels, classes, generator, preact=a.family == "robustbench_preact")


def forward(arch: str, state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    from advkd.architectures import ARCHITECTURES

    a = ARCHITECTURES[arch]
    if a.family == "wide_resnet":
        return wide_resnet_forward(state, x, a.depth)
    return resnet18_forward(state, x, preact=a.family == "robustbench_preact")
