"""The loss of one training step, one function per method (named by `Method.loss` in
`advkd.methods`), from what the step computed: the student's output on its input (x' for an
adversarial method; every exit for a multi-exit one), the teacher's logits, and the labels.

Each function takes the declared options of its method as keyword arguments (a test keeps the
two equal); the formulas themselves are the pure functions of `advkd.losses`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from .. import losses
from ..methods import Method
from ..models import Exits


class Outputs(NamedTuple):
    student: torch.Tensor | Exits  # logits, or every exit of a multi-exit method
    teacher: torch.Tensor | None  # a real teacher's logits (float32) on the input it sees
    y: torch.Tensor


def cross_entropy(out: Outputs, *, label_smoothing: float) -> torch.Tensor:
    return losses.ce(out.student, out.y, label_smoothing)


def distillation(out: Outputs, *, alpha: float, temperature: float, multiplier: float) -> torch.Tensor:
    return losses.kd(out.student, out.teacher, out.y, alpha, temperature, multiplier)


def virtual_teacher(out: Outputs, *, alpha: float, temperature: float, multiplier: float, delta: float) -> torch.Tensor:
    return losses.tfkd_reg(out.student, out.y, alpha, temperature, delta, multiplier)


def self_distillation(out: Outputs, *, alpha: float, temperature: float, hint_weight: float) -> torch.Tensor:
    return losses.byot(out.student.logits, out.student.features, out.y, alpha, temperature, hint_weight)


def loss_function(method: Method) -> Callable[..., torch.Tensor]:
    """The step loss a method names."""
    return globals()[method.loss]
