"""Every dataset a config can name, declared once: its shape, split sizes and classes, where
torchvision keeps it and whether it ships as MNIST-format idx files. Imports no torch.

The schema's dataset names (a `torchvision` source's, an `idx_dir`'s), the sizes the config check
and the cost model read before any download (`advkd.sizes`), the loaders (`advkd.data.readers`)
and docs/extending.md's list all come from this table; tests/test_data.py loads every entry.
"""

from __future__ import annotations

from dataclasses import dataclass

DIGIT_NAMES = tuple(str(d) for d in range(10))
FASHION_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


@dataclass(frozen=True)
class Dataset:
    shape: tuple[int, int, int]  # one image: channels, height, width
    n_train: int
    n_test: int
    classes: int
    torchvision: str | None = None  # its class in torchvision.datasets; None: not a torchvision dataset
    idx_names: tuple[str, ...] | None = None  # its class names, when it ships as MNIST-format idx files


DATASETS = {
    "digits": Dataset((1, 8, 8), 1437, 360, 10),  # scikit-learn's, split 1437 / 360 (advkd.data.readers)
    "mnist": Dataset((1, 28, 28), 60_000, 10_000, 10, "MNIST", DIGIT_NAMES),
    "fashion_mnist": Dataset((1, 28, 28), 60_000, 10_000, 10, "FashionMNIST", FASHION_NAMES),
    "cifar10": Dataset((3, 32, 32), 50_000, 10_000, 10, "CIFAR10"),
    "cifar100": Dataset((3, 32, 32), 50_000, 10_000, 100, "CIFAR100"),
}
TORCHVISION = tuple(name for name, dataset in DATASETS.items() if dataset.torchvision)
IDX = tuple(name for name, dataset in DATASETS.items() if dataset.idx_names)
