"""Clean accuracy and loss on uint8 image tensors, batched on the device under inference mode."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..data.filters import class_mask
from ..devices import autocast
from ..models import MultiExitResNet


@torch.inference_mode()
def predict(
    model: nn.Module,
    images: torch.Tensor,
    batch_size: int = 1000,
    autocast_dtype: torch.dtype | None = None,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Logits (float32) for uint8 `images` (N, C, H, W); the model's device is used.

    `forward` (default: the model itself) may return (..., batch, K), e.g. one row per exit.
    """
    device = next(model.parameters()).device
    forward = forward or model
    was_training = model.training
    model.eval()
    outputs = []
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(device, non_blocking=True).float().div_(255.0)
        with autocast(device, autocast_dtype):
            outputs.append(forward(x).float())
    model.train(was_training)
    return torch.cat(outputs, dim=-2) if outputs else torch.empty(0)


def scored(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, **kwargs) -> tuple[torch.Tensor, float]:
    """(whether each example is classified correctly, on the CPU; mean cross-entropy)."""
    logits = predict(model, images, **kwargs)
    labels = labels.to(logits.device)
    return (logits.argmax(1) == labels).cpu(), F.cross_entropy(logits, labels).item()


def accuracy_and_loss(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, **kwargs) -> tuple[float, float]:
    """(accuracy in [0, 1], mean cross-entropy) over the given examples."""
    if len(labels) == 0:
        return float("nan"), float("nan")
    correct, loss = scored(model, images, labels, **kwargs)
    return correct.float().mean().item(), loss


def subset_accuracies(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    classes: Sequence[int],
    **kwargs,
) -> dict[str, float]:
    """Accuracy on all examples, on those without `classes`, and on those of `classes` only
    (Table 2's "w/o c" and "only c"); one forward pass over the whole set."""
    logits = predict(model, images, **kwargs)
    correct = (logits.argmax(1).cpu() == labels.cpu()).float()
    only = class_mask(labels.cpu(), keep=classes)

    def mean(mask: torch.Tensor) -> float:
        return correct[mask].mean().item() if mask.any() else float("nan")

    return {"all": correct.mean().item(), "without": mean(~only), "only": mean(only)}


def exit_accuracies(model: MultiExitResNet, images: torch.Tensor, labels: torch.Tensor, **kwargs) -> dict:
    """Accuracy of every exit (shallow to deep) and of their ensemble, for a BYOT table.

    The ensemble averages the exits' softmax probabilities (Zhang et al. combine all classifiers'
    outputs; averaging probabilities is our reading)."""
    logits = predict(model, images, forward=lambda x: torch.stack(model.exits(x).logits), **kwargs)
    labels = labels.to(logits.device)
    ensemble = logits.softmax(-1).mean(0)
    return {
        "accuracy": [(z.argmax(1) == labels).float().mean().item() for z in logits],
        "ensemble": (ensemble.argmax(1) == labels).float().mean().item(),
    }
