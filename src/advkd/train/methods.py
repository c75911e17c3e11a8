"""Training methods: a loss, whether a teacher is needed, whether inputs are attacked first, and
whether the loss sees every exit of a multi-exit model (BYOT) or the final logits only.

Adding a method is one entry here (plus its loss in `advkd.losses`) and one in the config schema.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .. import losses
from ..models import Exits

# (student output: logits, or `Exits` for a multi-exit method; teacher logits or None; labels; options)
LossFn = Callable[[torch.Tensor | Exits, torch.Tensor | None, torch.Tensor, dict], torch.Tensor]


@dataclass(frozen=True)
class Method:
    loss: LossFn
    needs_teacher: bool
    adversarial: bool
    exits: bool = False


def _ce(z_s, z_t, y, p):
    return losses.ce(z_s, y, p.get("label_smoothing", 0.0))


def _kd(z_s, z_t, y, p):
    return losses.kd(z_s, z_t, y, p["alpha"], p["temperature"], p.get("multiplier", 1.0))


def _tfkd_reg(z_s, z_t, y, p):
    return losses.tfkd_reg(z_s, y, p["alpha"], p["temperature"], p.get("delta", 0.99), p.get("multiplier", 1.0))


def _byot(exits, z_t, y, p):
    return losses.byot(exits.logits, exits.features, y, p["alpha"], p["temperature"], p["hint_weight"])


METHODS: dict[str, Method] = {
    "ce": Method(_ce, needs_teacher=False, adversarial=False),
    "kd": Method(_kd, needs_teacher=True, adversarial=False),
    "tfkd_reg": Method(_tfkd_reg, needs_teacher=False, adversarial=False),
    # Adversarial forms: the student sees x' = PGD(x). `at` is Madry et al.'s adversarial training;
    # `at_kd` is eq. 6 with teacher_input "clean" (or Maroto et al.'s AKD with "adversarial");
    # `at_tfkd_reg` is eq. 7.
    "at": Method(_ce, needs_teacher=False, adversarial=True),
    "at_kd": Method(_kd, needs_teacher=True, adversarial=True),
    "at_tfkd_reg": Method(_tfkd_reg, needs_teacher=False, adversarial=True),
    # BYOT self-distillation on a multi-exit ResNet (model `exits: true`); `at_byot` trains it on
    # x' = PGD(x) against the deepest exit, the classifier that is evaluated and attacked.
    "byot": Method(_byot, needs_teacher=False, adversarial=False, exits=True),
    "at_byot": Method(_byot, needs_teacher=False, adversarial=True, exits=True),
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; allowed: {', '.join(METHODS)}")
    return METHODS[name]
