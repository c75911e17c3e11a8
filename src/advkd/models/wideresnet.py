"""WideResNets (Zagoruyko and Komodakis 2016): WRN-34-10, the robust teacher of the adversarial
distillation literature, and the depths and widths of RobustBench's entries, in the layout of the
public robust checkpoints.

Facts from TRADES' models/wideresnet.py (github.com/yaodongyu/TRADES) and RobustBench's
model_zoo/architectures/wide_resnet.py, which copies it and takes `depth` and `widen_factor`: a
3x3 stem of 16 channels, three groups of (depth - 4) / 6 pre-activation blocks of 16, 32 and 64
times the widen factor channels (strides 1, 2, 2), a final
batch norm and ReLU, global average pooling and a linear classifier; a block is bn1-relu-conv1,
bn2-relu-conv2, plus a 1x1 `convShortcut` (taking the pre-activated input) when the width
changes. The parameter names (`conv1`, `block1.layer.0.bn1`, ..., `bn1`, `fc`) are theirs, so a
downloaded state dict loads as it is (`advkd.models.files`). These models take pixels in [0, 1]
without normalisation, as TRADES trained them and RobustBench serves them: no `Normalize` layer.

`width` scales the three groups' channels (1.0 = the architecture's widen factor; 0.1 of WRN-34-10
is a WRN-34-1 for tests and the demo). WRN-34-10 on 32x32 RGB inputs: 46.16 M parameters.
"""

from __future__ import annotations

import torch
from torch import nn


class PreActBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.convShortcut = None if in_planes == planes else nn.Conv2d(in_planes, planes, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = torch.relu(self.bn1(x))
        out = self.conv2(torch.relu(self.bn2(self.conv1(activated))))
        # When the width changes, the shortcut takes the pre-activated input (TRADES' layout).
        return out + (x if self.convShortcut is None else self.convShortcut(activated))


class Group(nn.Module):
    """One group of blocks; the `layer` attribute gives the checkpoints' `blockN.layer.i` names."""

    def __init__(self, in_planes: int, planes: int, stride: int, blocks: int):
        super().__init__()
        strides = [stride] + [1] * (blocks - 1)
        self.layer = nn.Sequential(
            *[PreActBlock(in_planes if i == 0 else planes, planes, s) for i, s in enumerate(strides)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


class WideResNet(nn.Module):
    def __init__(self, num_classes: int, in_channels: int, width: float = 1.0, depth: int = 34, widen: int = 10):
        super().__init__()
        blocks = (depth - 4) // 6
        planes = [max(1, round(c * widen * width)) for c in (16, 32, 64)]
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.block1 = Group(16, planes[0], 1, blocks)
        self.block2 = Group(planes[0], planes[1], 2, blocks)
        self.block3 = Group(planes[1], planes[2], 2, blocks)
        # The final batch norm follows the last block's residual sum, not a convolution: it is
        # registered after the pool (an order the batch-norm folding of advkd.models.folding reads).
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.bn1 = nn.BatchNorm2d(planes[2])
        self.fc = nn.Linear(planes[2], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        return self.fc(torch.flatten(self.pool(torch.relu(self.bn1(out))), 1))
