"""A run's teacher: a run of the config (its `model.pt`) or a weights file the user downloaded."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..data import PreparedDataset
from ..experiments import file_sha256
from ..models.files import read_state_dict
from .loop import build_for_data, load_weights

SHOWN_KEYS = 3  # how many offending keys an error names


def load_teacher(teacher_spec: dict, data: PreparedDataset, path: str | Path, device: torch.device | str) -> nn.Module:
    """The teacher in eval mode; a file must still have the SHA-256 its students were planned with."""
    if "checkpoint_sha256" not in teacher_spec:
        return load_weights(teacher_spec["model"], data, path, device)
    actual, planned = file_sha256(path), teacher_spec["checkpoint_sha256"]
    if actual != planned:
        raise ValueError(f"{path}: SHA-256 {actual}, but this run was planned with {planned}: the file changed")
    model = build_for_data(teacher_spec["model"], data)
    state = read_state_dict(path)
    _check_fits(model, state, path, teacher_spec["model"])
    model.load_state_dict(state)
    return model.to(device).eval()


def _check_fits(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path, model_spec: dict) -> None:
    """One line naming what does not match, instead of torch's multi-line load error."""
    expected = model.state_dict()
    problems = {
        "missing": sorted(expected.keys() - state.keys()),
        "unexpected": sorted(state.keys() - expected.keys()),
        "of another shape": sorted(k for k in expected.keys() & state.keys() if expected[k].shape != state[k].shape),
    }
    found = [
        f"{len(keys)} {what} ({', '.join(keys[:SHOWN_KEYS])}{', ...' if len(keys) > SHOWN_KEYS else ''})"
        for what, keys in problems.items()
        if keys
    ]
    if found:
        raise ValueError(f"{path}: does not fit model {model_spec}: keys {'; '.join(found)}")
