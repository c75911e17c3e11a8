"""Weights files advkd did not write: the public robust checkpoints a user downloads, as a teacher
or as a model that is only evaluated.

Such files (RobustBench's model zoo, TRADES' release) hold a state dict either bare or under a
`state_dict` / `model_state_dict` key, often with the `module.` prefix that `nn.DataParallel`
adds or the `model.` one RobustBench's loader also strips, and TRADES' WideResNet carries a
`sub_block1` group that its forward pass never uses (RobustBench builds that model with
`sub_block1=True` only to load the file). `read_state_dict` undoes exactly these, and nothing
else, so a file of another layout fails loudly; `check_fits` says in one line what does not match.
A file saved by a torch older than 0.4 has no batch-norm `num_batches_tracked` entries; torch's
`BatchNorm._load_from_state_dict` fills them in (with 0) for a state dict without version
metadata, which `read_state_dict`'s always is, so such a file loads as torch (and RobustBench's
loader, which calls `load_state_dict`) loads it.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch
from torch import nn

WRAPPER_KEYS = ("state_dict", "model_state_dict")
PREFIXES = ("module.", "model.")
UNUSED_PREFIXES = ("sub_block1.",)
SHOWN_KEYS = 3  # how many offending keys an error names
FILLED_IN = ".num_batches_tracked"  # a state dict may lack these: loading fills them in


def read_state_dict(path: str | Path, mmap: bool = False) -> dict[str, torch.Tensor]:
    """The state dict in a downloaded checkpoint, read with `weights_only` (no code runs);
    `mmap`: the tensors stay in the file until read."""
    content = _load(path, mmap and zipfile.is_zipfile(path))  # a legacy (non-zip) file cannot be mapped
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


def _load(path: str | Path, mmap: bool):
    """`torch.load` with `weights_only`, its refusals as one line."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        # weights_only names the global (a function or class) that loading would have to call
        calls = [line.strip() for line in str(err).splitlines() if "GLOBAL" in line]
        if not calls:
            unpickled = [line.strip() for line in str(err).splitlines() if line.strip()][-2:]
            raise ValueError(f"{path}: not a PyTorch checkpoint (UnpicklingError: {unpickled[0][:200]})") from None
        raise ValueError(
            f"{path}: refused: it holds objects that loading would run code to build, not only tensors ({calls[0]})"
        ) from None
    except (RuntimeError, KeyError, EOFError, OSError, ValueError) as err:
        raise ValueError(f"{path}: not a PyTorch checkpoint ({type(err).__name__}: {_first_line(err)})") from None


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [""])[0][:200]


def check_fits(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path, model_spec: dict) -> None:
    """One line naming what does not match, instead of torch's multi-line load error."""
    expected = model.state_dict()
    problems = {
        "missing": sorted(k for k in expected.keys() - state.keys() if not k.endswith(FILLED_IN)),
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
