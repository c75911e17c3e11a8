"""RobustBench's local model folder: which model ids advkd can load, with the architecture
RobustBench declares for each, and where its `load_model` keeps the file. Imports no torch.

Layout (RobustBench's utils.py `load_model`): `<model_dir>/<dataset>/<threat_model>/<model_name>.pt`,
the dataset and threat model as its enums write them (`cifar10`, `Linf`). Its loader strips a
leading `module.` and `model.` and reads a `state_dict` entry when there is one; so does
advkd.models.files. Architectures from its model_zoo/cifar10.py and cifar100.py (the `model`
lambdas, named beside each id); ids whose architecture advkd does not build (DeepMind's
WideResNets with Swish, transformers, ensembles) and ids RobustBench lists in `_safe_load_state_dict`
as not loading strictly are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATASETS = ("cifar10", "cifar100", "imagenet")


@dataclass(frozen=True)
class Entry:
    model: dict  # advkd's model spec of the architecture
    declared: str  # what RobustBench's model zoo builds for it


def _wrn(arch: str, declared: str) -> Entry:
    return Entry({"arch": arch}, declared)


# (dataset, threat model, id) -> entry. `sub_block1=True` adds an unused group that advkd drops on load.
SUPPORTED: dict[tuple[str, str, str], Entry] = {
    ("cifar10", "Linf", "Standard"): _wrn("wrn28_10", "WideResNet(depth=28, widen_factor=10)"),
    ("cifar10", "Linf", "Carmon2019Unlabeled"): _wrn(
        "wrn28_10", "WideResNet(depth=28, widen_factor=10, sub_block1=True)"
    ),
    ("cifar10", "Linf", "Zhang2019Theoretically"): _wrn(
        "wrn34_10", "WideResNet(depth=34, widen_factor=10, sub_block1=True)"
    ),
    ("cifar10", "Linf", "Chen2021LTD_WRN34_20"): _wrn(
        "wrn34_20", "WideResNet(depth=34, widen_factor=20, sub_block1=False)"
    ),
    ("cifar10", "Linf", "Jia2022LAS-AT_70_16"): _wrn("wrn70_16", "WideResNet(depth=70, widen_factor=16)"),
    ("cifar10", "Linf", "Sehwag2021Proxy_R18"): Entry({"arch": "rb_resnet18"}, "ResNet18"),
    ("cifar10", "Linf", "Addepalli2022Efficient_RN18"): Entry({"arch": "rb_resnet18"}, "ResNet18"),
    ("cifar100", "Linf", "Addepalli2022Efficient_RN18"): Entry(
        {"arch": "rb_resnet18"}, "ResNet(BasicBlock, [2, 2, 2, 2], num_classes=100)"
    ),
    ("cifar100", "Linf", "Addepalli2021Towards_PARN18"): Entry(
        {"arch": "rb_preact_resnet18"}, "PreActResNet(PreActBlockV2, [2, 2, 2, 2], num_classes=100, bn_before_fc=True)"
    ),
    ("cifar100", "Linf", "Jia2022LAS-AT_34_20"): _wrn(
        "wrn34_20", "WideResNet(depth=34, widen_factor=20, num_classes=100)"
    ),
    ("cifar100", "Linf", "Addepalli2022Efficient_WRN_34_10"): _wrn(
        "wrn34_10", "WideResNet(depth=34, widen_factor=10, num_classes=100)"
    ),
}


def cache_path(model_dir: str | Path, dataset: str, threat: str, model_id: str) -> Path:
    """Where RobustBench's `load_model(model_id, model_dir, dataset, threat_model)` keeps the file."""
    return Path(model_dir) / dataset / threat / f"{model_id}.pt"


def declared_model(dataset: str, threat: str, model_id: str) -> dict | None:
    """advkd's spec of the architecture RobustBench declares for an id, or None if not supported."""
    entry = SUPPORTED.get((dataset, threat, model_id))
    return None if entry is None else dict(entry.model)


def supported_ids(dataset: str, threat: str) -> list[str]:
    return [model_id for (d, t, model_id) in SUPPORTED if (d, t) == (dataset, threat)]
