"""CIFAR-style ResNets (He et al. 2016, as used by Yuan et al.'s Tf-KD code): 3x3 stem, no max-pool.

Four stages with strides 1, 2, 2, 2 and a width multiplier on every channel count. Any input
channel count works, and any input of at least 8x8 pixels (global average pooling at the end).
At width 1 on 32x32 RGB inputs: ResNet18 has 11.17 M parameters, ResNet50 23.52 M.
Module names (`stem`, `stage1`..`stage4`, block index, `conv1`..) are what the gradient
statistics and Figure 1 group by.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .normalize import Normalize


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.shortcut = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu(out + self.shortcut(x))


def _shortcut(in_planes: int, out_planes: int, stride: int) -> nn.Module:
    """Identity when shapes match, else a strided 1x1 projection with batch norm."""
    if stride == 1 and in_planes == out_planes:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, stride, bias=False), nn.BatchNorm2d(out_planes))


class ResNet(nn.Module):
    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        depths: Sequence[int],
        num_classes: int,
        in_channels: int,
        mean: Sequence[float],
        std: Sequence[float],
        width: float = 1.0,
    ):
        super().__init__()
        planes = [max(1, round(c * width)) for c in (64, 128, 256, 512)]
        self.normalize = Normalize(mean, std)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, planes[0], 3, 1, 1, bias=False),
            nn.BatchNorm2d(planes[0]),
            nn.ReLU(inplace=True),
        )
        in_planes = planes[0]
        self.stage_channels: list[int] = []  # output channels of stage1..stage4
        for index, (p, depth, stride) in enumerate(zip(planes, depths, (1, 2, 2, 2)), start=1):
            blocks = []
            for s in [stride] + [1] * (depth - 1):
                blocks.append(block(in_planes, p, s))
                in_planes = p * block.expansion
            self.add_module(f"stage{index}", nn.Sequential(*blocks))
            self.stage_channels.append(in_planes)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)

    def stages(self) -> list[nn.Sequential]:
        return [self.stage1, self.stage2, self.stage3, self.stage4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stem(self.normalize(x))
        out = self.stage4(self.stage3(self.stage2(self.stage1(out))))
        return self.fc(torch.flatten(self.pool(out), 1))


BLOCKS = {BasicBlock.expansion: BasicBlock, Bottleneck.expansion: Bottleneck}
