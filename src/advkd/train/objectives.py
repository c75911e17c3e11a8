"""One training step's forward passes (`Step`), and what each method computes from them: its loss,
its soft target, its attack's objective, each registered under one name where it is defined.

`LOSSES[name]` feeds the formula `advkd.losses.<name>` (named by `Method.loss`) from the step and
takes exactly the declared options of the methods that use it (a test keeps the two equal).
`ATTACK_OBJECTIVES[attack]` builds what PGD maximises for a method's `attack` trait.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import torch
import torch.nn.functional as F
from torch import nn

from .. import losses
from ..attacks import Objective, cross_entropy_objective, kl_to_fixed, kl_to_teacher
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
        self.student_forward, self.teacher_model, self.autocast = student, teacher, autocast
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
            with self.autocast():
                self._students[adversarial] = self.student_forward(self._input(adversarial))
        return self._students[adversarial]

    def teacher(self, adversarial: bool | None = None) -> torch.Tensor:
        adversarial = self._teacher_sees_adversarial if adversarial is None else adversarial
        if adversarial not in self._teachers:
            with torch.inference_mode(), self.autocast():
                logits = self.teacher_model(self._input(adversarial)).float()
            self._teachers[adversarial] = logits.clone()  # an ordinary tensor, usable by autograd
        return self._teachers[adversarial]

    def accuracy_logits(self) -> torch.Tensor:
        """What the training accuracy counts: the method's own input, the deepest exit."""
        out = self.student()
        return out.logits[-1] if isinstance(out, Exits) else out


LOSSES: dict[str, Callable[..., torch.Tensor]] = {}  # advkd.losses' name -> the step's loss
SOFT_TARGETS: dict[str, Callable[..., torch.Tensor]] = {}  # a loss's own target, for attack `kl_target`
ATTACK_OBJECTIVES: dict[str, Callable[..., Objective]] = {}  # advkd.methods.ATTACKS -> what PGD maximises


def registered(table: dict, name: str):
    """Files the decorated function in `table` under `name` (where it is defined, once)."""

    def register(function):
        if name in table:
            raise ValueError(f"{name!r} is registered twice")
        table[name] = function
        return function

    return register


@registered(LOSSES, "ce")
def ce_step(step: Step, *, label_smoothing: float) -> torch.Tensor:
    return losses.ce(step.student(), step.y, label_smoothing)


@registered(LOSSES, "kd")
def kd_step(step: Step, *, alpha: float, temperature: float, multiplier: float) -> torch.Tensor:
    return losses.kd(step.student(), step.teacher(), step.y, alpha, temperature, multiplier)


@registered(LOSSES, "tfkd_reg")
def tfkd_reg_step(step: Step, *, alpha: float, temperature: float, multiplier: float, delta: float) -> torch.Tensor:
    return losses.tfkd_reg(step.student(), step.y, alpha, temperature, delta, multiplier)


@registered(LOSSES, "byot")
def byot_step(step: Step, *, alpha: float, temperature: float, hint_weight: float) -> torch.Tensor:
    exits = step.student()
    return losses.byot(exits.logits, exits.features, step.y, alpha, temperature, hint_weight)


@registered(LOSSES, "trades")
def trades_step(step: Step, *, beta: float) -> torch.Tensor:
    clean, adversarial = step.student(False), step.student(True)
    # trades.py (`trades_loss`) passes the clean x through the model in train mode a second time
    # for the KL's target: the same logits, but batch norm's running statistics move a third time.
    with torch.no_grad(), step.autocast():
        step.student_forward(step.x)
    return losses.trades(clean, adversarial, step.y, beta)


@registered(LOSSES, "ard")
def ard_step(step: Step, *, alpha: float, temperature: float, multiplier: float) -> torch.Tensor:
    z_adv = step.student(True)  # before the clean pass, as ARD's main.py: batch norm sees them in that order
    return losses.ard(step.student(False), z_adv, step.teacher(False), step.y, alpha, temperature, multiplier)


@registered(LOSSES, "rslad")
def rslad_step(step: Step, *, alpha: float, multiplier: float) -> torch.Tensor:
    z_adv = step.student(True)  # before the clean pass, as RSLAD's scripts
    return losses.rslad(step.student(False), z_adv, step.teacher(False), alpha, multiplier)


@registered(LOSSES, "adaad")
def adaad_step(step: Step, *, alpha: float, multiplier: float) -> torch.Tensor:
    t_clean, t_adv = step.teacher(False), step.teacher(True)
    return losses.adaad(step.student(False), step.student(True), t_clean, t_adv, alpha, multiplier)


@registered(SOFT_TARGETS, "adr")
def adr_target(step: Step, *, temperature: list[float], interpolation: list[float]) -> torch.Tensor:
    """ADR's rectified labels at this step: tau and lambda annealed from [start, end] along
    training, the teacher the student's weight average on the clean x."""
    tau = losses.cosine_anneal(*temperature, step.progress)
    lam = losses.cosine_anneal(*interpolation, step.progress)
    return losses.rectified_labels(step.teacher(False), step.y, tau, lam)


@registered(LOSSES, "adr")
def adr_step(step: Step, *, temperature: list[float], interpolation: list[float]) -> torch.Tensor:
    """The soft-label cross-entropy of S(x') on the rectified labels."""
    return losses.adr(step.student(True), adr_target(step, temperature=temperature, interpolation=interpolation))


@registered(ATTACK_OBJECTIVES, "ce")
def attack_ce(step: Step, attacked: nn.Module, loss: str, options: dict) -> Objective:
    return cross_entropy_objective(step.y)


@registered(ATTACK_OBJECTIVES, "kl_student_clean")
def attack_kl_student_clean(step: Step, attacked: nn.Module, loss: str, options: dict) -> Objective:
    """TRADES: KL to the student's own clean prediction, in fp32 (one forward): near x the two
    predictions differ below bf16's resolution, and the first step's signs need them exact."""
    with torch.no_grad():
        clean = attacked(step.x).float()
    return kl_to_fixed(F.softmax(clean, dim=1))


@registered(ATTACK_OBJECTIVES, "kl_teacher_clean")
def attack_kl_teacher_clean(step: Step, attacked: nn.Module, loss: str, options: dict) -> Objective:
    return kl_to_fixed(F.softmax(step.teacher(False), dim=1))


@registered(ATTACK_OBJECTIVES, "kl_teacher_adversarial")
def attack_kl_teacher_adversarial(step: Step, attacked: nn.Module, loss: str, options: dict) -> Objective:
    return kl_to_teacher(step.teacher_model)


@registered(ATTACK_OBJECTIVES, "kl_target")
def attack_kl_target(step: Step, attacked: nn.Module, loss: str, options: dict) -> Objective:
    return kl_to_fixed(SOFT_TARGETS[loss](step, **options))
