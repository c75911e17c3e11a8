"""Datasets: sources, the cached prepared file, class filters and on-device batches."""

from .batches import DeviceBatches, epoch_generator, random_crop, random_flip, reseed
from .filters import class_mask, hold_out, select
from .idx import IdxFormatError, read_idx, write_idx
from .prepared import CorruptDatasetError, PreparedDataset, load, prepare
from .readers import DataUnavailableError, load_source

__all__ = [
    "CorruptDatasetError",
    "DataUnavailableError",
    "DeviceBatches",
    "IdxFormatError",
    "PreparedDataset",
    "class_mask",
    "epoch_generator",
    "hold_out",
    "load",
    "load_source",
    "prepare",
    "random_crop",
    "random_flip",
    "read_idx",
    "reseed",
    "select",
    "write_idx",
]
