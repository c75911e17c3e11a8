"""Every architecture a config can name, declared once: its family, its shape and the name papers
and RobustBench give it. Imports no torch: the cost model, the records and the config check read
it at DAG time; `advkd.models` builds from it.

Families: `mlp`; `resnet`, advkd's CIFAR ResNets (normalisation inside, `stem`/`stageN` names that
Figure 1 groups by); `wide_resnet`, in TRADES' and RobustBench's parameter layout, raw pixels;
`robustbench_resnet` and `robustbench_preact`, the ResNet-18 and PreAct-ResNet-18 of RobustBench's
model_zoo/architectures/resnet.py (kuangliu/pytorch-cifar's names `conv1`, `layerN`, `linear`),
raw pixels, so that RobustBench's files of those entries load as they are.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Architecture:
    family: str
    title: str  # as RobustBench's model-info entries and papers write it
    expansion: int = 1  # resnet families: 1 for BasicBlock, 4 for Bottleneck
    depths: tuple[int, ...] = ()  # resnet families: blocks per stage
    depth: int = 0  # wide_resnet: total depth, (depth - 4) / 6 blocks per group
    widen: int = 0  # wide_resnet: widen factor


ARCHITECTURES = {
    "mlp": Architecture("mlp", "MLP"),
    "resnet18": Architecture("resnet", "ResNet-18", 1, (2, 2, 2, 2)),
    "resnet34": Architecture("resnet", "ResNet-34", 1, (3, 4, 6, 3)),
    "resnet50": Architecture("resnet", "ResNet-50", 4, (3, 4, 6, 3)),
    "wrn28_10": Architecture("wide_resnet", "WideResNet-28-10", depth=28, widen=10),
    "wrn34_10": Architecture("wide_resnet", "WideResNet-34-10", depth=34, widen=10),
    "wrn34_20": Architecture("wide_resnet", "WideResNet-34-20", depth=34, widen=20),
    "wrn70_16": Architecture("wide_resnet", "WideResNet-70-16", depth=70, widen=16),
    "rb_resnet18": Architecture("robustbench_resnet", "ResNet-18", 1, (2, 2, 2, 2)),
    "rb_preact_resnet18": Architecture("robustbench_preact", "PreActResNet-18", 1, (2, 2, 2, 2)),
}
