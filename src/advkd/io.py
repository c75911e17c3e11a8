"""Atomic file writes: a crash mid-write never leaves a file that looks complete."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write `data` as indented, key-sorted JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def save_torch(obj: Any, path: str | os.PathLike) -> None:
    """`torch.save` atomically. Serialised in memory first: torch names the archive's root folder
    after the file it writes to, so saving to a buffer keeps the bytes independent of the name."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


def load_torch(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """Load a tensor file without unpickling arbitrary objects (`weights_only=True`)."""
    import torch

    return torch.load(path, map_location=map_location, weights_only=True)


def link_file(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """`target` as a second name of `source` (a hard link, so no second copy on disk; a copy where
    the file system has no hard links), put into place atomically."""
    import shutil

    with atomic_path(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
