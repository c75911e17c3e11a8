"""Which device a job computes on."""

from __future__ import annotations

import torch


def pick_device(requested: str = "auto") -> torch.device:
    """'auto' takes CUDA when present, else the CPU; 'cpu' and 'cuda' are honoured as given."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {requested!r} requested but CUDA is not available")
    return torch.device(requested)
