"""Subsets of a prepared dataset: keep or drop classes, take the first n training examples, hold
out a validation split."""

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


HOLD_OUT_SEED = 0  # the validation draw is the same for every run and seed of a dataset and filter


def hold_out(
    images: torch.Tensor, labels: torch.Tensor, size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train images, train labels, validation images, validation labels): `size` examples drawn
    with a fixed seed, so no run ever trains on another's validation split."""
    if not 0 < size < len(labels):
        raise ValueError(f"validation size {size} must be between 1 and {len(labels) - 1}, the training examples left")
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(HOLD_OUT_SEED))
    train, held = order[size:].sort().values, order[:size].sort().values
    return images[train], labels[train], images[held], labels[held]
