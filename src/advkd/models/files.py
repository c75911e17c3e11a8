"""Weights files advkd did not write: the public robust checkpoints a user downloads, as a teacher
or as a model that is only evaluated.

Such files (RobustBench's model zoo, TRADES' release) hold a state dict either bare or under a
`state_dict` / `model_state_dict` key, often with the `module.` prefix that `nn.DataParallel`
adds or the `model.` one RobustBench's loader also strips, and TRADES' WideResNet carries a
`sub_block1` group that its forward pass never uses (RobustBench builds that model with
`sub_block1=True` only to load the file). `read_state_dict` undoes exactly these, and nothing
else, so a file of another layout fails loudly; `check_fits` says in one line what does not match.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

WRAPPER_KEYS = ("state_dict", "model_state_dict")
PREFIXES = ("module.", "model.")
UNUSED_PREFIXES = ("sub_block1.",)
SHOWN_KEYS = 3  # how many offending keys an error names


def read_state_dict(path: str | Path, mmap: bool = False) -> dict[str, torch.Tensor]:
    """The state dict in a downloaded checkpoint, read with `weights_only` (no code runs);
    `mmap`: the tensors stay in the file until read."""
    content = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    for key in WRAPPER_KEYS:
        if isinstance(content, dict) and key in content:
            content = content[key]
    if not isinstance(content, dict) or not all(isinstance(v, torch.Tensor) for v in content.values()):
        raise ValueError(f"{path}: not a state dict (bare or under {' or '.join(WRAPPER_KEYS)})")
    state = {}
    for key, value in content.items():
        for prefix in PREFIXES:
            key = key.removeprefix(prefix)
        state[key] = value
    return {key: value for key, value in state.items() if not key.startswith(UNUSED_PREFIXES)}


def check_fits(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path, model_spec: dict) -> None:
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


def load_into(model: nn.Module, path: str | Path, model_spec: dict) -> nn.Module:
    """`model` with the file's weights, after `check_fits`."""
    state = read_state_dict(path)
    check_fits(model, state, path, model_spec)
    model.load_state_dict(state)
    return model
