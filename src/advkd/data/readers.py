"""Dataset readers, one per `source` of a dataset entry: each returns raw uint8 images
(N, C, H, W), int64 labels and class names.

- `torchvision`: the table's torchvision datasets (`advkd.datasets`), downloaded into a root folder;
  torchvision verifies the MD5 of every archive it fetches and fetches again on a mismatch.
- `idx_dir`: a local folder of MNIST-format idx files (plain or .gz), for air-gapped machines.
- `digits`: scikit-learn's bundled 8x8 digits, offline, with a fixed split (see `load_digits`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets import DATASETS, DIGIT_NAMES, IDX, TORCHVISION
from ..schema import complete
from .idx import read_idx


class DataUnavailableError(RuntimeError):
    """A dataset that is neither on disk nor downloadable here."""


@dataclass(frozen=True)
class RawSplits:
    train_x: np.ndarray  # uint8 (N, C, H, W)
    train_y: np.ndarray  # int64 (N,)
    test_x: np.ndarray
    test_y: np.ndarray
    classes: list[str]


DIGITS_TRAIN_SIZE = DATASETS["digits"].n_train  # 80 % of sklearn's 1797 digits
DIGITS_SPLIT_SEED = 0

MNIST_CLASSES = list(DIGIT_NAMES)
IDX_CLASSES = {name: list(DATASETS[name].idx_names) for name in IDX}  # an idx_dir's `name`

IDX_FILES = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}


def load_digits() -> RawSplits:
    """scikit-learn's 8x8 digits (values 0..16 scaled to 0..255), split 1437/360.

    The split is a permutation drawn with numpy's `default_rng(0)`: the first 1437 indices are the
    training set, the remaining 360 the test set. It never changes, so runs stay comparable.
    """
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    labels = bunch.target.astype(np.int64)
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(labels))
    train, test = order[:DIGITS_TRAIN_SIZE], order[DIGITS_TRAIN_SIZE:]
    return RawSplits(images[train], labels[train], images[test], labels[test], MNIST_CLASSES)


def load_idx_dir(path: str | Path, classes: list[str] | None = None) -> RawSplits:
    """Read the four MNIST-format files from `path` (each plain or gzipped)."""
    folder = Path(path)
    if not folder.is_dir():
        raise DataUnavailableError(f"idx_dir {folder} does not exist or is not a folder")
    arrays = {}
    for key, stem in IDX_FILES.items():
        candidates = [folder / stem, folder / f"{stem}.gz"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise DataUnavailableError(f"idx_dir {folder} lacks {stem} (looked for {candidates[0]} and .gz)")
        arrays[key] = read_idx(found)
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataUnavailableError(
                f"idx_dir {folder}: {split} images {images.shape} and labels {labels.shape} do not match"
            )
    n_classes = int(max(arrays["train_y"].max(), arrays["test_y"].max())) + 1
    return RawSplits(
        arrays["train_x"][:, None].copy(),
        arrays["train_y"].astype(np.int64),
        arrays["test_x"][:, None].copy(),
        arrays["test_y"].astype(np.int64),
        classes or [str(c) for c in range(n_classes)],
    )


def load_torchvision(name: str, root: str | Path, download: bool = True) -> RawSplits:
    """Fetch (or reuse) a torchvision dataset under `root` and return its uint8 splits."""
    from torchvision import datasets

    if name not in TORCHVISION:
        raise ValueError(f"unknown torchvision dataset {name!r}; allowed: {', '.join(TORCHVISION)}")
    cls = getattr(datasets, DATASETS[name].torchvision)
    splits = {}
    for split, train in (("train", True), ("test", False)):
        try:
            ds = cls(root=str(root), train=train, download=download)
        except Exception as err:  # network errors arrive as many types (URLError, OSError, RuntimeError)
            damaged = damaged_files(cls, root)
            if damaged:
                raise DataUnavailableError(
                    f"{name}: {', '.join(damaged)} failed the MD5 check and could not be fetched again "
                    f"({type(err).__name__}: {err}); delete or replace the file(s) and rerun"
                ) from err
            raise DataUnavailableError(
                f"{name} could not be read from {root} nor downloaded ({type(err).__name__}: {err}). "
                "On an offline machine, copy the files there or use the idx_dir source."
            ) from err
        images = np.asarray(ds.data)
        images = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
        splits[split] = (np.ascontiguousarray(images, dtype=np.uint8), np.asarray(ds.targets, dtype=np.int64))
        classes = list(ds.classes)
    return RawSplits(*splits["train"], *splits["test"], classes)


def damaged_files(cls, root: str | Path) -> list[str]:
    """Files present under `root` whose MD5 differs from torchvision's own table for `cls`
    (CIFAR: the archive and its extracted batches; MNIST family: the downloaded .gz archives)."""
    from torchvision.datasets.utils import check_integrity

    if hasattr(cls, "train_list"):
        folder = Path(root) / cls.base_folder
        listed = [(Path(root) / cls.filename, cls.tgz_md5)] + [
            (folder / f, md5) for f, md5 in cls.train_list + cls.test_list
        ]
    else:
        folder = Path(root) / cls.__name__ / "raw"
        listed = [(folder / Path(url).name, md5) for url, md5 in cls.resources]
    return [str(path) for path, md5 in listed if path.is_file() and not check_integrity(str(path), md5)]


def load_source(spec: dict, root: str | Path) -> RawSplits:
    """Dispatch on `spec["source"]`: digits | idx_dir (needs `path`) | torchvision (needs `name`)."""
    spec = complete(spec, "dataset")
    source = spec["source"]
    if source == "digits":
        return load_digits()
    if source == "idx_dir":
        return load_idx_dir(spec["path"], spec.get("classes") or IDX_CLASSES.get(spec.get("name")))
    if source == "torchvision":
        return load_torchvision(spec["name"], root, download=spec["download"])
    raise ValueError(f"unknown dataset source {source!r}; allowed: digits, idx_dir, torchvision")
