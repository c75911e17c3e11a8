"""MNIST-format idx files (plain or gzip): a reader with the format's own consistency checks, and
a writer (for local copies, tests and benchmarks)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

# The idx header: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions.
_UBYTE = 0x08


class IdxFormatError(ValueError):
    """An idx file whose header or size does not match the format."""


def read_idx(path: str | Path) -> np.ndarray:
    """Read one idx file into a uint8 array of the shape its header declares."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:  # gzip raises these on a truncated or corrupt archive
        raise IdxFormatError(f"{path}: cannot read ({err})") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _UBYTE or raw[3] == 0:
        raise IdxFormatError(
            f"{path}: wrong magic number {raw[:4].hex() or '(empty)'}; "
            "expected 0000 08 0N (unsigned bytes, N dimensions)"
        )
    ndim = raw[3]
    header_end = 4 + 4 * ndim
    if len(raw) < header_end:
        raise IdxFormatError(f"{path}: header truncated")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    actual = len(raw) - header_end
    if actual != expected:
        raise IdxFormatError(
            f"{path}: header declares shape {shape} ({expected} bytes) but the file holds {actual} bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_end).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray, magic: bytes | None = None) -> None:
    """Write a uint8 `array` as an idx file, gzipped when `path` ends in .gz (`magic` overrides the
    header's first four bytes, to make deliberately broken files)."""
    path = Path(path)
    header = magic if magic is not None else bytes([0, 0, _UBYTE, array.ndim])
    header += b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
