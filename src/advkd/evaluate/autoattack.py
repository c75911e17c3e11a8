"""AutoAttack (Croce & Hein 2020) through the `pyautoattack` package, with a per-attack breakdown.

pyautoattack runs its attacks one after another, each only on the points still classified
correctly, and only logs the intermediate accuracies. We drive the same object (built with the
requested version, so every sub-attack has that version's settings) one attack at a time on the
surviving points: the result is the same as one standard run, and each stage's accuracy is kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import torch
from torch import nn

log = logging.getLogger(__name__)

STANDARD_ATTACKS = ("apgd-ce", "apgd-t", "fab-t", "square")


def run_autoattack(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    norm: str = "Linf",
    version: str = "standard",
    attacks: Sequence[str] | None = None,
    batch_size: int = 500,
    seed: int = 0,
) -> dict:
    """Clean and robust accuracy of `model` on uint8 `images`, and robust accuracy after each attack.

    `version` is "standard" (APGD-CE, APGD-T, FAB-T, Square) or "custom" with `attacks` listed.
    The model is put in eval mode with its parameters frozen (FAB would otherwise also compute
    weight gradients it never uses); inputs are pixels in [0, 1].
    """
    from pyautoattack import AutoAttack

    device = next(model.parameters()).device
    model.eval()
    model.requires_grad_(False)
    x = images.to(device).float().div_(255.0)
    y = labels.to(device)
    adversary = AutoAttack(
        model,
        norm=norm,
        eps=eps,
        version=version,
        attacks=list(attacks) if version == "custom" else None,
        device=device,
        seed=seed,
    )
    sequence = list(adversary.attacks_to_run)
    with torch.no_grad():
        robust = torch.cat(
            [model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size] for i in range(0, len(y), batch_size)]
        )
    n = len(y)
    result = {
        "n": n,
        "eps": eps,
        "norm": norm,
        "version": version,
        "attacks": sequence,
        "clean_acc": robust.float().mean().item(),
        "after": {},
        "attack_seconds": {},
    }
    started = time.time()
    for attack in sequence:
        attack_started = time.time()
        idx = robust.nonzero().flatten()
        if len(idx):
            adversary.attacks_to_run = [attack]
            x_adv, batch_size = _run_fitting(adversary, x[idx], y[idx], batch_size)
            with torch.no_grad():
                still = torch.cat(
                    [
                        model(x_adv[i : i + batch_size]).argmax(1) == y[idx][i : i + batch_size]
                        for i in range(0, len(idx), batch_size)
                    ]
                )
            robust[idx] = still
        result["after"][attack] = robust.float().mean().item()
        result["attack_seconds"][attack] = round(time.time() - attack_started, 3)  # what a cost model is fitted to
        log.info("AutoAttack %s: robust accuracy %.4f (%.0f s)", attack, result["after"][attack], time.time() - started)
    result["robust_acc"] = robust.float().mean().item()
    result["batch_size"] = batch_size
    result["seconds"] = time.time() - started
    return result


class Unfoolable(nn.Module):
    """`model`'s logits, scaled down, plus a fixed margin for class 0: every gradient still flows
    through the whole network, but no attack can change the prediction, so each spends its whole
    budget on every point. AutoAttack's worst case, which the cost model is fitted to (the GPU
    check and `advkd.plan`'s probe time it)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = 1e-3 * self.model(x)
        margin = torch.nn.functional.one_hot(torch.zeros_like(logits[:, 0], dtype=torch.long), logits.shape[1])
        return logits + 100.0 * margin


def _run_fitting(adversary, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> tuple[torch.Tensor, int]:
    """Run the adversary's current attack with the largest batch (from `batch_size` down, halving)
    that fits in GPU memory; returns the adversarial points and the batch size that worked."""
    while True:
        try:
            x_adv, _ = adversary.run_standard_evaluation(x, y, batch_size=batch_size)
            return x_adv, batch_size
        except torch.cuda.OutOfMemoryError:
            if batch_size == 1:
                raise
            batch_size //= 2
            torch.cuda.empty_cache()
            log.warning("AutoAttack: out of GPU memory; retrying with batch size %d", batch_size)
