"""ResNet-18 and PreAct-ResNet-18 as RobustBench builds them, so its checkpoints of those entries
load as they are (arch `rb_resnet18`, `rb_preact_resnet18`; advkd.architectures).

Facts from RobustBench's model_zoo/architectures/resnet.py (kuangliu/pytorch-cifar's layout):
both take raw pixels in [0, 1] (no normalisation), have a 3x3 stem `conv1` of 64 channels and four
stages `layer1`..`layer4` of 64-512 channels (strides 1, 2, 2, 2), average-pool the 4x4 map of a
32x32 input (`F.avg_pool2d(out, 4)`; global pooling here, the same there) and end in `linear`.
ResNet: stem `conv1`-`bn1`-ReLU, blocks conv1-bn1-ReLU-conv2-bn2 plus a `shortcut` of 1x1
conv and batch norm where the shape changes, ReLU after the sum. PreActResNet as its entry
Addepalli2021Towards_PARN18 builds it (`PreActResNet(PreActBlockV2, [2, 2, 2, 2],
bn_before_fc=True)`): a bare stem conv; blocks bn1-ReLU-conv1, bn2-ReLU-conv2, plus the block's
input or, where the shape changes, a `shortcut` 1x1 conv (no batch norm) of its pre-activated
input; then `bn`-ReLU before the pool. (Its PreActBlock variant, taking the shortcut from the raw
input without the final `bn`, serves entries RobustBench itself lists as not loading strictly.)
`width` scales every stage's channels (1.0 as RobustBench's; smaller for tests).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .resnet import BasicBlock


class PreActBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(x))
        shortcut = self.shortcut(out) if hasattr(self, "shortcut") else x
        return self.conv2(torch.relu(self.bn2(self.conv1(out)))) + shortcut


class RawResNet(nn.Module):
    """`preact`: RobustBench's PreActResNet, else its ResNet."""

    def __init__(self, depths: Sequence[int], num_classes: int, in_channels: int, preact: bool, width: float = 1.0):
        super().__init__()
        planes = [max(1, round(c * width)) for c in (64, 128, 256, 512)]
        block = PreActBlock if preact else BasicBlock  # advkd's BasicBlock is this layout's
        self.conv1 = nn.Conv2d(in_channels, planes[0], 3, 1, 1, bias=False)
        self.bn1 = None if preact else nn.BatchNorm2d(planes[0])
        in_planes = planes[0]
        for index, (p, depth, stride) in enumerate(zip(planes, depths, (1, 2, 2, 2)), start=1):
            blocks = []
            for s in [stride] + [1] * (depth - 1):
                blocks.append(block(in_planes, p, s))
                in_planes = p
            self.add_module(f"layer{index}", nn.Sequential(*blocks))
        # The final batch norm follows the last block's sum, not a convolution: registered after the
        # pool, an order the batch-norm folding of advkd.models.folding reads.
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.bn = nn.BatchNorm2d(in_planes) if preact else None
        self.linear = nn.Linear(in_planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        if self.bn1 is not None:
            out = torch.relu(self.bn1(out))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        if self.bn is not None:
            out = torch.relu(self.bn(out))
        return self.linear(torch.flatten(self.pool(out), 1))
