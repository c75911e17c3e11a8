"""A ResNet with a classifier after every stage, for BYOT self-distillation.

Zhang et al. 2019 ("Be your own teacher", ICCV): each shallow stage gets a bottleneck head that
adapts its feature map to the deepest stage's width, then its own pool and linear classifier; the
deepest stage keeps the ResNet's pool and fc. The head shape (1x1 conv to a quarter of the output
width, k x k conv with stride k = 2^(stages left), 1x1 conv to the output width, each with batch norm
and ReLU) follows the widely used re-implementation github.com/luanyunteng/pytorch-be-your-own-teacher
(models/resnet.py), as Zhang et al.'s own code is not public.

`forward` is the deepest exit alone, the network used at test time, so accuracy, attacks, AutoAttack
and FLOP counts treat the model as an ordinary classifier; `exits` gives every exit's logits and
pooled features (shallow to deep) for the BYOT loss and the per-exit table.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .resnet import ResNet


class Exits(NamedTuple):
    logits: list[torch.Tensor]  # one (N, K) tensor per exit, shallow to deep
    features: list[torch.Tensor]  # the pooled (N, C) features each exit classifies


def bottleneck_head(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    middle = max(1, out_channels // 4)
    return nn.Sequential(
        nn.Conv2d(in_channels, middle, 1, bias=False),
        nn.BatchNorm2d(middle),
        nn.ReLU(inplace=True),
        nn.Conv2d(middle, middle, stride, stride, bias=False),
        nn.BatchNorm2d(middle),
        nn.ReLU(inplace=True),
        nn.Conv2d(middle, out_channels, 1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class MultiExitResNet(ResNet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        deepest = self.stage_channels[-1]
        shallow = self.stage_channels[:-1]
        # Stage i (1-based) is 2^(4 - i) times the deepest stage's size: a stride that size aligns them.
        self.heads = nn.ModuleList(bottleneck_head(c, deepest, 2 ** (len(shallow) - i)) for i, c in enumerate(shallow))
        self.head_fcs = nn.ModuleList(nn.Linear(deepest, self.fc.out_features) for _ in shallow)

    def exits(self, x: torch.Tensor) -> Exits:
        out = self.stem(self.normalize(x))
        logits, features = [], []
        for i, stage in enumerate(self.stages()):
            out = stage(out)
            deepest = i == len(self.heads)
            feature = torch.flatten(self.pool(out if deepest else self.heads[i](out)), 1)
            features.append(feature)
            logits.append((self.fc if deepest else self.head_fcs[i])(feature))
        return Exits(logits, features)
