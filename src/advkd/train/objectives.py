"""The loss of one training step, one function per method (named by `Method.loss` in
`advkd.methods`), from the step's forward passes (`Step`).

Each function takes the step and exactly the declared options of its method as keyword arguments
(a test keeps the two equal); the formulas themselves are the pure functions of `advkd.losses`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import torch
from torch import nn

from .. import losses
from ..methods import Method
from ..models import Exits


class Step:
    """The forward passes of one training step, each computed when a loss first asks for it and
    then reused: the student on the clean x and on x' (logits, or every exit for a multi-exit
    method; with gradients), the teacher on x and on x' (float32, no gradients).

    `student()` and `teacher()` without an argument are the method's own inputs: x' for an
    adversarial student, and for the teacher what `teacher_input` says (the clean x by default).
    `progress` is how far training is, from 0 at its first step towards 1, for annealed options.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        student: Callable[[torch.Tensor], torch.Tensor | Exits],
        teacher: nn.Module | None,
        autocast: Callable[[], AbstractContextManager],
        adversarial: bool,
        teacher_sees_adversarial: bool,
        progress: float = 0.0,
    ):
        self.x, self.y, self.x_adv, self.progress = x, y, None, progress
        self._student_forward, self._teacher, self._autocast = student, teacher, autocast
        self._adversarial, self._teacher_sees_adversarial = adversarial, teacher_sees_adversarial
        self._students: dict[bool, torch.Tensor | Exits] = {}
        self._teachers: dict[bool, torch.Tensor] = {}

    def _input(self, adversarial: bool) -> torch.Tensor:
        if adversarial and self.x_adv is None:
            raise RuntimeError("x' asked for before the attack ran")
        return self.x_adv if adversarial else self.x

    def student(self, adversarial: bool | None = None) -> torch.Tensor | Exits:
        adversarial = self._adversarial if adversarial is None else adversarial
        if adversarial not in self._students:
            with self._autocast():
                self._students[adversarial] = self._student_forward(self._input(adversarial))
        return self._students[adversarial]

    def teacher(self, adversarial: bool | None = None) -> torch.Tensor:
        adversarial = self._teacher_sees_adversarial if adversarial is None else adversarial
        if adversarial not in self._teachers:
            with torch.inference_mode(), self._autocast():
                logits = self._teacher(self._input(adversarial)).float()
            self._teachers[adversarial] = logits.clone()  # an ordinary tensor, usable by autograd
        return self._teachers[adversarial]

    def accuracy_logits(self) -> torch.Tensor:
        """What the training accuracy counts: the method's own input, the deepest exit."""
        out = self.student()
        return out.logits[-1] if isinstance(out, Exits) else out


def cross_entropy(step: Step, *, label_smoothing: float) -> torch.Tensor:
    return losses.ce(step.student(), step.y, label_smoothing)


def distillation(step: Step, *, alpha: float, temperature: float, multiplier: float) -> torch.Tensor:
    return losses.kd(step.student(), step.teacher(), step.y, alpha, temperature, multiplier)


def virtual_teacher(step: Step, *, alpha: float, temperature: float, multiplier: float, delta: float) -> torch.Tensor:
    return losses.tfkd_reg(step.student(), step.y, alpha, temperature, delta, multiplier)


def self_distillation(step: Step, *, alpha: float, temperature: float, hint_weight: float) -> torch.Tensor:
    exits = step.student()
    return losses.byot(exits.logits, exits.features, step.y, alpha, temperature, hint_weight)


def trades(step: Step, *, beta: float) -> torch.Tensor:
    return losses.trades(step.student(False), step.student(True), step.y, beta)


def ard(step: Step, *, alpha: float, temperature: float, multiplier: float) -> torch.Tensor:
    return losses.ard(
        step.student(False), step.student(True), step.teacher(False), step.y, alpha, temperature, multiplier
    )


def rslad(step: Step, *, alpha: float, multiplier: float) -> torch.Tensor:
    return losses.rslad(step.student(False), step.student(True), step.teacher(False), alpha, multiplier)


def adaad(step: Step, *, alpha: float, multiplier: float) -> torch.Tensor:
    t_clean, t_adv = step.teacher(False), step.teacher(True)
    return losses.adaad(step.student(False), step.student(True), t_clean, t_adv, alpha, multiplier)


def rectified_labels(step: Step, temperature: tuple[float, float], interpolation: tuple[float, float]) -> torch.Tensor:
    """ADR's rectified labels at this step: tau and lambda annealed from their (start, end) along
    training, the teacher the student's weight average on the clean x."""
    tau = losses.cosine_anneal(*temperature, step.progress)
    lam = losses.cosine_anneal(*interpolation, step.progress)
    return losses.rectified_labels(step.teacher(False), step.y, tau, lam)


def adr(
    step: Step,
    *,
    temperature_start: float,
    temperature_end: float,
    interpolation_start: float,
    interpolation_end: float,
) -> torch.Tensor:
    target = rectified_labels(step, (temperature_start, temperature_end), (interpolation_start, interpolation_end))
    return losses.adr(step.student(True), target)


# A method's soft target, for an attack aimed at it (method trait `kl_target`), from its options.
TARGETS: dict[str, Callable[[Step, dict], torch.Tensor]] = {
    "adr": lambda step, o: rectified_labels(
        step, (o["temperature_start"], o["temperature_end"]), (o["interpolation_start"], o["interpolation_end"])
    ),
}


def loss_function(method: Method) -> Callable[..., torch.Tensor]:
    """The step loss a method names."""
    return globals()[method.loss]
