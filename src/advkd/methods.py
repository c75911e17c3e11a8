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
TEACHERS = ("none", "real", "virtual")


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
    teacher: str = "none"  # none | real (a run or file) | virtual (built from the labels)
    adversarial: bool = False  # the student trains on x' = PGD(x) (recipe `attack`)
    exits: bool = False  # the loss sees every exit of a multi-exit model (model `exits: true`)
    options: dict[str, Option] = field(default_factory=dict)

    def __post_init__(self):
        if self.teacher not in TEACHERS:
            raise ValueError(f"method {self.name}: teacher must be one of {TEACHERS}")

    @property
    def distilled(self) -> bool:
        """Learns from a teacher, real or virtual (rule `distill`); else rule `train`."""
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
