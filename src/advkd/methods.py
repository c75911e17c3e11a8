"""Every training method, declared once. Imports no torch.

A method is its loss (a function of the step's outputs in `advkd.train.objectives`, named by
`loss`) and one `Method` entry below saying what it needs: a teacher (none, a real run, or a
virtual one built from the labels), adversarial inputs, every exit of a multi-exit model, and its
options with their defaults and ranges. The run registry (teacher and attack checks), the config
schema (`$defs/method` is generated from this table), the training loop and the cost model all
read this table; a test checks that each loss function takes exactly the declared options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REQUIRED = object()  # an option without a default: the config must give it
# none; a real one (a run of the config or a weights file); a virtual one built from the labels;
# the student's own weight average, kept by the training loop (ADR).
TEACHERS = ("none", "real", "virtual", "average")
# What PGD maximises for an adversarial method (advkd.attacks): cross-entropy on the labels;
# KL to the student's own clean prediction; KL to the teacher's prediction on the clean x; KL to
# the teacher's prediction on x' itself (the teacher's gradient enters the attack); KL to the
# method's own soft target (ADR's rectified labels: the same gradient as cross-entropy on them).
ATTACKS = ("ce", "kl_student_clean", "kl_teacher_clean", "kl_teacher_adversarial", "kl_target")
ATTACK_STARTS = ("uniform", "gaussian")  # uniform in the eps-ball (Madry et al.), or x + 0.001 N(0, 1) (TRADES)


@dataclass(frozen=True)
class Option:
    """One option of a method: its JSON-schema constraint and default (REQUIRED when none).

    `step` options are read by the training step (e.g. which input the teacher sees), not passed
    to the loss function."""

    schema: dict
    default: Any = REQUIRED
    step: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def probability(default: Any = REQUIRED) -> Option:
    return Option({"type": "number", "minimum": 0, "maximum": 1}, default)


def positive(default: Any = REQUIRED) -> Option:
    return Option({"type": "number", "exclusiveMinimum": 0}, default)


def non_negative(default: Any = REQUIRED) -> Option:
    return Option({"type": "number", "minimum": 0}, default)


@dataclass(frozen=True)
class Method:
    name: str
    loss: str  # a function of advkd.train.objectives
    teacher: str = "none"  # TEACHERS: none | real (a run or file) | virtual | average
    adversarial: bool = False  # the student trains on x' = PGD(x) (recipe `attack`)
    exits: bool = False  # the loss sees every exit of a multi-exit model (model `exits: true`)
    options: dict[str, Option] = field(default_factory=dict)
    attack: str = "ce"  # what PGD maximises (ATTACKS), for an adversarial method
    attack_start: str = "uniform"  # where PGD starts (ATTACK_STARTS)
    # Forward passes per training image, for the cost model: the student's with gradients (x and
    # x' for the robust-distillation losses) and the teacher's (x and x' for AdaAD).
    student_passes: int = 1
    teacher_passes: int = 1

    def __post_init__(self):
        if self.teacher not in TEACHERS:
            raise ValueError(f"method {self.name}: teacher must be one of {TEACHERS}")
        if self.attack not in ATTACKS or self.attack_start not in ATTACK_STARTS:
            raise ValueError(f"method {self.name}: attack must be one of {ATTACKS}, its start one of {ATTACK_STARTS}")
        if self.attack.startswith("kl_teacher") and self.teacher != "real":
            raise ValueError(f"method {self.name}: attack {self.attack} needs a real teacher")

    @property
    def distilled(self) -> bool:
        """Learns from a teacher, real, virtual or its own average (rule `distill`); else rule `train`."""
        return self.teacher != "none"

    def defaults(self) -> dict:
        return {key: option.default for key, option in self.options.items() if not option.required}

    def loss_options(self, method_spec: dict) -> dict:
        """The options the loss function takes, completed with their defaults."""
        given = {**self.defaults(), **method_spec}
        return {key: given[key] for key, option in self.options.items() if not option.step}

    def schema(self) -> dict:
        """JSON schema of this method's config entry (`then` branch of `$defs/method`)."""
        properties: dict[str, Any] = {"name": True}
        for key, option in self.options.items():
            properties[key] = {**option.schema, **({} if option.required else {"default": option.default})}
        required = [key for key, option in self.options.items() if option.required]
        return {"properties": properties, "additionalProperties": False, **({"required": required} if required else {})}


CE_OPTIONS = {"label_smoothing": probability(0.0)}  # mass spread uniformly over all K classes
# Hinton et al.: (1 - alpha) CE + alpha T^2 m KL; m rescales to Yuan et al.'s reductions (advkd.losses).
KD_OPTIONS = {"alpha": probability(), "temperature": positive(), "multiplier": non_negative(1.0)}
# Yuan et al.'s virtual teacher: delta on the true class (their correct_prob, 0.99).
TFKD_OPTIONS = {**KD_OPTIONS, "delta": probability(0.99)}
# Zhang et al. (BYOT): alpha on the KD terms, T, and the feature-hint weight per example.
BYOT_OPTIONS = {"alpha": probability(), "temperature": positive(), "hint_weight": non_negative()}
# Which input the teacher of an adversarial student sees: the clean x (the paper's eq. 6) or the
# student's x' (Maroto et al.'s AKD trainer).
TEACHER_INPUT = {"teacher_input": Option({"enum": ["clean", "adversarial"]}, "clean", step=True)}
# Defaults from each method's official code (advkd.losses names the files). `multiplier` scales
# the KL terms only, to convert a reference code's KL reduction to ours (see advkd.losses).
TRADES_OPTIONS = {"beta": non_negative(6.0)}
ARD_OPTIONS = {"alpha": probability(1.0), "temperature": positive(30.0), "multiplier": non_negative(1.0)}
RSLAD_OPTIONS = {"alpha": probability(5 / 6), "multiplier": non_negative(1.0)}
ADAAD_OPTIONS = {"alpha": probability(1.0), "multiplier": non_negative(1.0)}
# ADR (github.com/yuyuwu5/ADR, config/cifar10/resnet18_pgd_sgd_adr.gin): the weight average's
# decay, and tau and lambda annealed along a cosine over every training step.
ADR_OPTIONS = {
    "average_decay": Option({"type": "number", "minimum": 0, "exclusiveMaximum": 1}, 0.995, step=True),
    "temperature_start": positive(2.5),
    "temperature_end": positive(2.0),
    "interpolation_start": probability(0.7),
    "interpolation_end": probability(0.95),
}

_DECLARED = [
    Method("ce", "cross_entropy", options=CE_OPTIONS),
    Method("kd", "distillation", teacher="real", options=KD_OPTIONS),
    Method("tfkd_reg", "virtual_teacher", teacher="virtual", options=TFKD_OPTIONS),
    Method("byot", "self_distillation", exits=True, options=BYOT_OPTIONS),
    # Adversarial forms: the student sees x' = PGD(x). `at` is Madry et al.'s adversarial
    # training; `at_kd` the paper's eq. 6; `at_tfkd_reg` its eq. 7; `at_byot` BYOT on x', the
    # attack aimed at the deepest exit (the classifier that is evaluated and attacked).
    Method("at", "cross_entropy", adversarial=True, options=CE_OPTIONS),
    Method("at_kd", "distillation", teacher="real", adversarial=True, options={**KD_OPTIONS, **TEACHER_INPUT}),
    Method("at_tfkd_reg", "virtual_teacher", teacher="virtual", adversarial=True, options=TFKD_OPTIONS),
    Method("at_byot", "self_distillation", adversarial=True, exits=True, options=BYOT_OPTIONS),
    # Robust distillation (issue 15): formulas, defaults and sources in advkd.losses. The student
    # trains on x and x' (TRADES, ARD, RSLAD, AdaAD); AdaAD's teacher sees both as well.
    Method(
        "trades",
        "trades",
        adversarial=True,
        options=TRADES_OPTIONS,
        attack="kl_student_clean",
        attack_start="gaussian",
        student_passes=2,
    ),
    Method("ard", "ard", teacher="real", adversarial=True, options=ARD_OPTIONS, student_passes=2),
    Method(
        "rslad",
        "rslad",
        teacher="real",
        adversarial=True,
        options=RSLAD_OPTIONS,
        attack="kl_teacher_clean",
        attack_start="gaussian",
        student_passes=2,
    ),
    Method(
        "adaad",
        "adaad",
        teacher="real",
        adversarial=True,
        options=ADAAD_OPTIONS,
        attack="kl_teacher_adversarial",
        attack_start="gaussian",
        student_passes=2,
        teacher_passes=2,
    ),
    # ADR (Wu et al. 2024), teacher-free: PGD-AT on rectified labels from the student's own
    # weight average, the attack aimed at the same labels; the robust AT Tf-KD-reg.
    Method("adr", "adr", teacher="average", adversarial=True, options=ADR_OPTIONS, attack="kl_target"),
]
METHODS: dict[str, Method] = {method.name: method for method in _DECLARED}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; allowed: {', '.join(METHODS)}")
    return METHODS[name]


def method_schema() -> dict:
    """`$defs/method` of the config schema: a name from the table, then that method's options."""
    return {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"enum": list(METHODS)}},
        "allOf": [
            {"if": {"properties": {"name": {"const": name}}}, "then": method.schema()}
            for name, method in METHODS.items()
        ],
    }
