"""What a dataset holds, known before any download: shape, split sizes, classes. Imports no torch.

The config check (a validation split must leave training images) and the cost model (images per
epoch) read these without loading a dataset: torchvision's and scikit-learn's are known, an
idx_dir's are in its files' headers.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

from .datasets import DATASETS
from .schema import complete


@dataclass(frozen=True)
class DatasetSize:
    shape: tuple[int, int, int]
    n_train: int
    n_test: int
    classes: int


# Sizes known before any download: the dataset table's.
KNOWN_SIZES = {
    name: DatasetSize(dataset.shape, dataset.n_train, dataset.n_test, dataset.classes)
    for name, dataset in DATASETS.items()
}


def identity(spec: dict) -> str:
    """Which data a dataset entry holds, whatever its source: `digits`, or the torchvision name
    (an idx_dir says it with `name`; without one, its folder)."""
    return "digits" if spec["source"] == "digits" else spec.get("name", spec.get("path", ""))


def known_size(spec: dict) -> DatasetSize | None:
    """A dataset's shape and sizes without loading it, or None when an idx_dir's files are not here."""
    spec = complete(spec, "dataset")
    if spec["source"] in ("digits", "torchvision"):
        return KNOWN_SIZES[identity(spec)]
    headers = _idx_headers(Path(spec["path"]))
    if headers is None:
        return None
    n_train, n_test, shape = headers
    named = KNOWN_SIZES.get(spec.get("name"), KNOWN_SIZES["mnist"])
    classes = len(spec["classes"]) if "classes" in spec else named.classes
    return DatasetSize(shape, n_train, n_test, classes)


def dataset_size(spec: dict) -> DatasetSize:
    """`known_size`, or for an idx_dir whose files are not here, its named dataset's (else MNIST's)."""
    return known_size(spec) or KNOWN_SIZES.get(spec.get("name", "mnist"), KNOWN_SIZES["mnist"])


def known_classes(spec: dict) -> int | None:
    """The class count a config can check filters against: declared or known, else None."""
    if "classes" in spec:
        return len(spec["classes"])
    if spec["source"] == "digits" or "name" in spec:
        return KNOWN_SIZES[identity(spec)].classes
    return None


def _idx_headers(folder: Path) -> tuple[int, int, tuple[int, int, int]] | None:
    """(train count, test count, image shape) from the images' idx headers, or None."""
    counts, shape = [], None
    for stem in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
        path = next((p for p in (folder / stem, folder / f"{stem}.gz") if p.is_file()), None)
        if path is None:
            return None
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            header = f.read(16)
        n, h, w = (int.from_bytes(header[i : i + 4], "big") for i in (4, 8, 12))
        counts.append(n)
        shape = (1, h, w)
    return counts[0], counts[1], shape


def training_images(data_filter: dict, size: DatasetSize) -> int:
    """Training images after a run's class filter and limit (classes taken as balanced)."""
    kept = len(data_filter["keep_classes"]) if "keep_classes" in data_filter else size.classes
    kept -= len(set(data_filter.get("drop_classes", [])) - set(data_filter.get("keep_classes", range(size.classes))))
    n = round(size.n_train * kept / size.classes)
    return min(n, data_filter.get("limit", n))
