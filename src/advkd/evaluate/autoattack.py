"""AutoAttack (Croce & Hein 2020) through the `pyautoattack` package, with a per-attack breakdown,
resumable after a kill.

pyautoattack runs its attacks one after another, each only on the points still classified
correctly, in batches of those survivors, reseeding every attack of every batch with its seed
(its `apgd`, `fab` and `square` modules call `torch.random.manual_seed(self.seed)` in `perturb`),
so a batch's outcome depends only on its points and the seed. We drive the same object (built with
the requested version, so every sub-attack has that version's settings) one attack and one batch
of survivors at a time: the result equals one standard run, each stage's accuracy is kept, and
the state after every batch can go to a file. pyautoattack's own `state_path` saves only after a
whole attack; ours loses at most the current attack on the current batch, and a rerun with the
same settings continues from it to the same result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from ..io import load_torch, save_torch
from ..points import pack

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
    restarts: int | None = None,
    target_classes: int | None = None,
    state_path: str | Path | None = None,
    state_key: str = "",
) -> dict:
    """Clean and robust accuracy of `model` on uint8 `images`, and robust accuracy after each attack.

    `version` is "standard" (APGD-CE, APGD-T, FAB-T, Square) or "custom" with `attacks` listed;
    a custom version's `restarts` (APGD-CE, APGD-DLR, FAB) and `target_classes` (APGD-T, FAB-T)
    replace the budgets pyautoattack's constructors give it (None keeps them: 5 restarts, 9 classes).
    The model is put in eval mode with its parameters frozen (FAB would otherwise also compute
    weight gradients it never uses); inputs are pixels in [0, 1]. With `state_path`, progress is
    saved there after every batch and resumed from it when its `state_key` (what identifies the
    model and settings) matches; the file is removed once the attack is complete.
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
    _set_budget(adversary, version, restarts, target_classes)
    sequence = list(adversary.attacks_to_run)
    state = _resume(state_path, state_key, len(y))
    if state is None:
        with torch.no_grad():
            robust = torch.cat([model(xb).argmax(1) == yb for xb, yb in _batches(x, y, batch_size)]).cpu()
        state = {"key": state_key, "robust": robust, "batch_size": batch_size, "stage": 0, "survivors": None}
        state.update(clean_acc=robust.float().mean().item(), after={}, attack_seconds={}, done=0)
        state["points"] = {"clean": pack(robust)}
    robust, batch_size = state["robust"], state["batch_size"]
    started = time.time()
    for stage in range(state["stage"], len(sequence)):
        attack = sequence[stage]
        adversary.attacks_to_run = [attack]
        if state["survivors"] is None:  # the points this attack runs on, fixed when it starts
            state.update(survivors=robust.nonzero().flatten(), done=0, stage_seconds=0.0)
        survivors = state["survivors"]
        while state["done"] < len(survivors):
            chunk_started = time.time()
            chunk = survivors[state["done"] : state["done"] + batch_size]
            x_adv, batch_size = _run_fitting(adversary, x[chunk.to(device)], y[chunk.to(device)], batch_size)
            with torch.no_grad():
                robust[chunk] = (model(x_adv).argmax(1) == y[chunk.to(device)]).cpu()
            state["stage_seconds"] += time.time() - chunk_started
            state.update(done=state["done"] + len(chunk), batch_size=batch_size)
            _save(state_path, state)
            log.info(
                "AutoAttack %s: %d of %d points attacked, robust accuracy %.4f",
                attack,
                state["done"],
                len(survivors),
                robust.float().mean().item(),
            )
        state["after"][attack] = robust.float().mean().item()
        state["points"][attack] = pack(robust)
        # Seconds of this attack, summed over restarts: what the cost model is fitted to.
        state["attack_seconds"][attack] = round(state.pop("stage_seconds"), 3)
        state.update(stage=stage + 1, survivors=None)
        _save(state_path, state)
        log.info("AutoAttack %s: robust accuracy %.4f (%.0f s)", attack, state["after"][attack], time.time() - started)
    if state_path is not None:
        Path(state_path).unlink(missing_ok=True)
    return {
        "n": len(y),
        "eps": eps,
        "norm": norm,
        "version": version,
        "attacks": sequence,
        "restarts": restarts,  # a custom version's budgets; None: pyautoattack's
        "target_classes": target_classes,
        "clean_acc": state["clean_acc"],
        "after": state["after"],
        "attack_seconds": state["attack_seconds"],
        "robust_acc": robust.float().mean().item(),
        "batch_size": batch_size,
        "seconds": sum(state["attack_seconds"].values()),
        "points": state["points"],  # per point: correct clean, and still robust after each attack
    }


def _set_budget(adversary, version: str, restarts: int | None, target_classes: int | None) -> None:
    """A custom version's restarts and target classes, on the attack objects pyautoattack's
    `AutoAttack` builds (autoattack.py: `apgd`, `fab` untargeted, `apgd_targeted`, `fab` targeted;
    its standard version sets 1 restart and 9 target classes in `_set_version`)."""
    if version != "custom" and (restarts, target_classes) != (None, None):
        raise ValueError("restarts and target_classes apply to version custom; the standard version sets its own")
    if restarts is not None:
        adversary.apgd.n_restarts = adversary.fab.n_restarts = restarts
    if target_classes is not None:
        adversary.apgd_targeted.n_target_classes = adversary.fab.n_target_classes = target_classes


def _batches(x: torch.Tensor, y: torch.Tensor, size: int):
    return ((x[i : i + size], y[i : i + size]) for i in range(0, len(y), size))


def _resume(path: str | Path | None, key: str, n: int) -> dict | None:
    """The saved state, when there is one for this model, these settings and these points."""
    if path is None or not Path(path).is_file():
        return None
    state = load_torch(path)
    if state.get("key") != key or len(state["robust"]) != n or "points" not in state:
        log.warning("AutoAttack: %s was saved for another model or other settings; starting afresh", path)
        return None
    log.info("AutoAttack: resuming from %s at attack %d, %d points attacked", path, state["stage"] + 1, state["done"])
    return state


def _save(path: str | Path | None, state: dict) -> None:
    if path is not None:
        save_torch(state, path)


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
