"""Whole splits on the device, shuffled batches drawn by index, augmentation done per batch.

No DataLoader, no per-sample Python: one `randperm` per epoch, one gather per batch, and the
random crop and flip are tensor ops over the whole batch. Every random draw comes from the
generator the caller passes, so an epoch is reproducible from (seed, epoch) alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F


def epoch_generator(seed: int, epoch: int, device: torch.device | str) -> torch.Generator:
    """A generator whose state depends only on (seed, epoch): resumed runs redraw the same batches."""
    return reseed(torch.Generator(device=device), seed, epoch)


def reseed(generator: torch.Generator, seed: int, epoch: int) -> torch.Generator:
    """`generator` put in `epoch_generator(seed, epoch)`'s state (the same object: a captured
    training step keeps drawing from the generator it was captured with)."""
    return generator.manual_seed((int(seed) * 1_000_003 + int(epoch)) % (2**63))


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad by `padding` and cut a random HxW window per image (batched gather)."""
    if padding <= 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    top = torch.randint(0, 2 * padding + 1, (n,), device=x.device, generator=generator)
    left = torch.randint(0, 2 * padding + 1, (n,), device=x.device, generator=generator)
    rows = (top[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (n, h, 1)
    cols = (left[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (n, 1, w)
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


class DeviceBatches:
    """Batches of float pixels in [0, 1] drawn from uint8 tensors that live on `device`."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        device: torch.device | str,
        crop_padding: int = 0,
        flip: bool = False,
        shuffle: bool = True,
        channels_last: bool = False,
    ):
        if len(images) == 0:
            raise ValueError("no examples to draw batches from (check the class filter and limit)")
        self.images = images.to(device, non_blocking=True)
        self.labels = labels.to(device, non_blocking=True)
        self.batch_size = int(batch_size)
        self.crop_padding = int(crop_padding)
        self.flip = bool(flip)
        self.shuffle = shuffle
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def order(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """The epoch's example order: a permutation drawn from `generator`, or 0..n-1."""
        n = len(self.labels)
        if self.shuffle:
            return torch.randperm(n, device=self.images.device, generator=generator)
        return torch.arange(n, device=self.images.device)

    def iterate(
        self, generator: torch.Generator | None = None, order: torch.Tensor | None = None, first_step: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The epoch's batches from `first_step` on; a resumed epoch passes the order it drew first
        and a generator restored to where the interrupted epoch left it."""
        if order is None:
            order = self.order(generator)
        for start in range(first_step * self.batch_size, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            x = self.images[idx].float().div_(255.0)
            if self.crop_padding:
                x = random_crop(x, self.crop_padding, generator)
            if self.flip:
                x = random_flip(x, generator)
            yield x.contiguous(memory_format=self.memory_format), self.labels[idx]
