"""Per-epoch training checkpoints that a new call resumes from, bound to one run identity."""

from __future__ import annotations

from pathlib import Path

import torch

from ..io import load_torch, save_torch


class CheckpointMismatchError(RuntimeError):
    """A checkpoint written by a different run spec: never silently resumed."""


def save_checkpoint(path: str | Path, run_id: str, state: dict) -> None:
    save_torch({"run_id": run_id, **state}, path)


def load_checkpoint(path: str | Path, run_id: str, device: torch.device | str) -> dict | None:
    """The saved state if `path` exists and belongs to `run_id`; None if there is none."""
    path = Path(path)
    if not path.exists():
        return None
    state = load_torch(path, map_location=device)
    if state.get("run_id") != run_id:
        raise CheckpointMismatchError(
            f"{path} belongs to run {state.get('run_id')!r}, not {run_id!r}; "
            "delete it to start over, or point the run at its own folder"
        )
    return state
