"""One cached file per dataset: uint8 images, int64 labels, class names, per-channel mean/std.

Saved with `torch.save` (deterministic bytes for the same content) and read back with
`weights_only=True`; every load checks shapes, dtypes, label range and a SHA-256 of the arrays,
so a truncated, bit-flipped or tampered file is refused with its path in the message.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..io import load_torch, save_torch
from .readers import RawSplits, load_source

FORMAT_VERSION = 2  # 2 adds the arrays' SHA-256; files of format 1 still load, unverified
READABLE_FORMATS = (1, 2)
ARRAYS = ("train_x", "train_y", "test_x", "test_y")


class CorruptDatasetError(ValueError):
    """A prepared dataset file that cannot be read or fails its consistency checks."""


@dataclass(frozen=True)
class PreparedDataset:
    train_x: torch.Tensor  # uint8 (N, C, H, W)
    train_y: torch.Tensor  # int64 (N,)
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]
    mean: list[float]  # per channel, pixels scaled to [0, 1]
    std: list[float]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])


def from_raw(raw: RawSplits) -> PreparedDataset:
    """Tensors plus channel statistics of the training split (computed in float64)."""
    pixels = raw.train_x.astype(np.float64) / 255.0
    mean = pixels.mean(axis=(0, 2, 3))
    std = pixels.std(axis=(0, 2, 3))
    return PreparedDataset(
        torch.from_numpy(np.ascontiguousarray(raw.train_x)),
        torch.from_numpy(raw.train_y.astype(np.int64)),
        torch.from_numpy(np.ascontiguousarray(raw.test_x)),
        torch.from_numpy(raw.test_y.astype(np.int64)),
        list(raw.classes),
        [round(float(m), 6) for m in mean],
        [round(float(s), 6) for s in std],
    )


def prepare(spec: dict, root: str | Path, path: str | Path) -> PreparedDataset:
    """Read a source (see `sources.load_source`), validate it, and cache it at `path`."""
    data = from_raw(load_source(spec, root))
    validate(data, str(path))
    save_torch(
        {
            "format": FORMAT_VERSION,
            **{name: getattr(data, name) for name in ARRAYS},
            "sha256": digest(data),
            "classes": data.classes,
            "mean": data.mean,
            "std": data.std,
        },
        path,
    )
    return data


def digest(data: PreparedDataset) -> str:
    """SHA-256 over the four arrays' bytes: catches corruption that keeps shapes and types."""
    h = hashlib.sha256()
    for name in ARRAYS:
        h.update(getattr(data, name).contiguous().numpy().tobytes())
    return h.hexdigest()


def load(path: str | Path) -> PreparedDataset:
    """Load a cached dataset, refusing files that are unreadable or inconsistent."""
    try:
        blob = load_torch(path)
    except FileNotFoundError:
        raise
    except Exception as err:  # truncated zip, bad pickle opcode, ...
        raise CorruptDatasetError(f"{path}: unreadable dataset file ({type(err).__name__}: {err})") from err
    if not isinstance(blob, dict) or blob.get("format") not in READABLE_FORMATS:
        raise CorruptDatasetError(
            f"{path}: not an advkd dataset file (formats {READABLE_FORMATS}); delete it and rerun"
        )
    try:
        data = PreparedDataset(*(blob[k] for k in ("train_x", "train_y", "test_x", "test_y", "classes", "mean", "std")))
    except KeyError as err:
        raise CorruptDatasetError(f"{path}: missing field {err}") from err
    validate(data, str(path))
    if blob["format"] >= 2 and digest(data) != blob["sha256"]:
        raise CorruptDatasetError(f"{path}: checksum mismatch, the file is damaged; delete it and rerun to rebuild it")
    return data


def validate(data: PreparedDataset, where: str) -> None:
    """Raise CorruptDatasetError unless every field has the shape and type it must have."""
    problems = []
    for split in ("train", "test"):
        x, y = getattr(data, f"{split}_x"), getattr(data, f"{split}_y")
        if x.dtype != torch.uint8 or x.dim() != 4:
            problems.append(f"{split} images must be uint8 (N, C, H, W), got {x.dtype} {tuple(x.shape)}")
        if y.dtype != torch.int64 or y.dim() != 1 or len(y) != len(x):
            problems.append(f"{split} labels must be int64 (N,) matching the images, got {y.dtype} {tuple(y.shape)}")
        elif len(y) and (int(y.min()) < 0 or int(y.max()) >= len(data.classes)):
            problems.append(f"{split} labels fall outside 0..{len(data.classes) - 1}")
    if data.train_x.shape[1:] != data.test_x.shape[1:]:
        problems.append(
            f"train and test images differ in shape: {tuple(data.train_x.shape[1:])} vs {tuple(data.test_x.shape[1:])}"
        )
    channels = data.train_x.shape[1] if data.train_x.dim() == 4 else -1
    if len(data.mean) != channels or len(data.std) != channels:
        problems.append("mean/std need one value per channel")
    if problems:
        raise CorruptDatasetError(f"{where}: " + "; ".join(problems))
