"""A run's validation split (recipe `validation`): held out of its training data by a fixed draw,
scored every few epochs (clean accuracy, and PGD accuracy for an adversarial method), the best
weights on it kept beside the last. Robust overfitting is why: an adversarially trained model's
robust accuracy can peak long before its last epoch (Rice et al. 2020)."""

from __future__ import annotations

import torch
from torch import nn

from ..evaluate.accuracy import accuracy_and_loss
from ..evaluate.pgd import pgd_accuracy


def scored_after(epoch: int, epochs: int, every: int) -> bool:
    """Whether a pass scored every `every` epochs, and always after the last, runs after `epoch`."""
    return (epoch + 1) % every == 0 or epoch + 1 == epochs


class Validation:
    def __init__(self, x: torch.Tensor, y: torch.Tensor, settings: dict, attack: dict | None, autocast_dtype):
        self.x, self.y, self.settings, self.attack, self.autocast_dtype = x, y, settings, attack, autocast_dtype
        self.best: dict | None = None  # {"epoch", "score", "state"}: the best weights so far, on the CPU

    def due(self, epoch: int, epochs: int) -> bool:
        return scored_after(epoch, epochs, self.settings["every"])

    def score(self, model: nn.Module, epoch: int) -> dict:
        """This epoch's history columns; keeps the weights if they are the best yet (PGD accuracy
        for an adversarial method, clean accuracy otherwise; the earliest of equals)."""
        clean, _ = accuracy_and_loss(model, self.x, self.y, autocast_dtype=self.autocast_dtype)
        robust = None
        if self.attack:  # fp32, eval mode, a fixed start per epoch: the same on a resumed run
            attack = (self.attack["eps"], self.attack["step_size"], self.settings["pgd_steps"])
            robust = pgd_accuracy(model, self.x, self.y, *attack, seed=epoch)
            model.train()
        score = clean if robust is None else robust
        if self.best is None or score > self.best["score"]:
            state = {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()}
            self.best = {"epoch": epoch + 1, "score": score, "state": state}
        return {"val_acc": clean, "val_robust_acc": robust}
