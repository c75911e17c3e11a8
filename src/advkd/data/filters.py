"""Subsets of a prepared dataset: keep or drop classes, and take the first n training examples."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def class_mask(
    labels: torch.Tensor, keep: Sequence[int] | None = None, drop: Sequence[int] | None = None
) -> torch.Tensor:
    """Boolean mask of the examples whose label is in `keep` (if given) and not in `drop`."""
    mask = torch.ones_like(labels, dtype=torch.bool)
    if keep is not None:
        mask &= torch.isin(labels, torch.as_tensor(list(keep), dtype=labels.dtype))
    if drop:
        mask &= ~torch.isin(labels, torch.as_tensor(list(drop), dtype=labels.dtype))
    return mask


def select(
    images: torch.Tensor,
    labels: torch.Tensor,
    keep: Sequence[int] | None = None,
    drop: Sequence[int] | None = None,
    limit: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the class filter, then keep the first `limit` remaining examples."""
    mask = class_mask(labels, keep, drop)
    images, labels = images[mask], labels[mask]
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images, labels
