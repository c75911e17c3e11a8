"""Weights files advkd did not write: the public robust checkpoints a user downloads as a teacher.

Such files (RobustBench's model zoo, TRADES' release) hold a state dict either bare or under a
`state_dict` / `model_state_dict` key, often with the `module.` prefix that `nn.DataParallel`
adds, and TRADES' WideResNet carries a `sub_block1` group that its forward pass never uses
(RobustBench builds that model with `sub_block1=True` only to load the file). `read_state_dict`
undoes exactly these, and nothing else, so a file of another layout fails loudly.
"""

from __future__ import annotations

from pathlib import Path

import torch

WRAPPER_KEYS = ("state_dict", "model_state_dict")
UNUSED_PREFIXES = ("sub_block1.",)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict in a downloaded checkpoint, read with `weights_only` (no code runs)."""
    content = torch.load(path, map_location="cpu", weights_only=True)
    for key in WRAPPER_KEYS:
        if isinstance(content, dict) and key in content:
            content = content[key]
    if not isinstance(content, dict) or not all(isinstance(v, torch.Tensor) for v in content.values()):
        raise ValueError(f"{path}: not a state dict (bare or under {' or '.join(WRAPPER_KEYS)})")
    state = {key.removeprefix("module."): value for key, value in content.items()}
    return {key: value for key, value in state.items() if not key.startswith(UNUSED_PREFIXES)}
