"""Every training method, declared once. Imports no torch.

A method is its loss (a formula of `advkd.losses`, named by `loss`, which `advkd.train.objectives`
feeds from the training step under the same name) and one `Method` entry below saying what it
needs: a teacher (none, a real run, or a virtual one built from the labels), adversarial inputs,
every exit of a multi-exit model, and its options with their defaults and ranges. The run registry
(teacher and attack checks), the config schema (`$defs/method` is generated from this table), the
training loop and the cost model all read this table; a test checks that each loss function takes
exactly the declared options.

A method's own choices belong here, not to a recipe: its loss and options, what its attack
maximises and where it starts, the model's mode while attacking (`attack_mode`) and Nesterov
momentum (`nesterov`). Their defaults are the official code's (`advkd.official` names the files);
a run may set another value in its `method:` entry, and its table lists it as a deviation. A
recipe holds what a table's rows share: epochs, schedule, weight decay, batch, the attack's eps
and steps.
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
# Where PGD starts: uniform in the eps-ball, clipped into [0, 1] (Madry et al., torchattacks); the
# same unclipped (ARD's AttackPGD); x + 0.001 N(0, 1), unclipped (TRADES and the codes built on it).
ATTACK_STARTS = ("uniform", "uniform_unclipped", "gaussian")
ATTACK_MODES = ("train", "eval")  # the student's batch norm while attacking: batch or running statistics


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


def non_negative(default: Any = REQUIRED) -> Option:
    return Option({"type": "number", "minimum": 0}, default)


def temperature(default: Any = REQUIRED) -> Option:
    """A softmax temperature: above 0, at most 1000 (Hinton's T^2 factor then stays far inside
    float32's range; the published settings go up to 30)."""
    return Option({"type": "number", "exclusiveMinimum": 0, "maximum": 1000}, default)


def annealed(value: Option) -> Option:
    """[start, end]: a value annealed from start to end along training (ADR's schedules)."""
    return Option({"type": "array", "items": value.schema, "minItems": 2, "maxItems": 2}, value.default)


@dataclass(frozen=True)
class Method:
    name: str
    loss: str  # a formula of advkd.losses, registered under this name in advkd.train.objectives
    teacher: str = "none"  # TEACHERS: none | real (a run or file) | virtual | average
    adversarial: bool = False  # the student trains on x' = PGD(x) (recipe `attack`)
    exits: bool = False  # the loss sees every exit of a multi-exit model (model `exits: true`)
    options: dict[str, Option] = field(default_factory=dict)
    attack: str = "ce"  # what PGD maximises (ATTACKS), for an adversarial method
    attack_start: str = "uniform"  # where PGD starts (ATTACK_STARTS)
    attack_mode: str = "eval"  # default of the option `attack_mode` (ATTACK_MODES)
    nesterov: bool = False  # default of the option `nesterov`: SGD with Nesterov momentum
    # Forward passes per training image, for the cost model: the student's with gradients (x and
    # x' for the robust-distillation losses), the student's without gradients (TRADES: its
    # attack's clean target, and the train-mode pass that moves batch norm as trades.py's third
    # forward does) and the teacher's (x and x' for AdaAD).
    student_passes: int = 1
    plain_passes: int = 0
    teacher_passes: int = 1

    def __post_init__(self):
        if self.teacher not in TEACHERS:
            raise ValueError(f"method {self.name}: teacher must be one of {TEACHERS}")
        if self.attack not in ATTACKS or self.attack_start not in ATTACK_STARTS:
            raise ValueError(f"method {self.name}: attack must be one of {ATTACKS}, its start one of {ATTACK_STARTS}")
        if self.attack.startswith("kl_teacher") and self.teacher != "real":
            raise ValueError(f"method {self.name}: attack {self.attack} needs a real teacher")
        own = {"nesterov": Option({"type": "boolean"}, self.nesterov, step=True)}
        if self.adversarial:
            own["attack_mode"] = Option({"enum": list(ATTACK_MODES)}, self.attack_mode, step=True)
        object.__setattr__(self, "options", {**self.options, **own})

    def loss_options(self, method_spec: dict) -> dict:
        """The options the loss takes, from a method entry whose defaults are filled in
        (`advkd.schema.complete`)."""
        return {key: method_spec[key] for key, option in self.options.items() if not option.step}

    def schema(self) -> dict:
        """JSON schema of this method's config entry (`then` branch of `$defs/method`)."""
        properties: dict[str, Any] = {"name": True}
        for key, option in self.options.items():
            properties[key] = {**option.schema, **({} if option.required else {"default": option.default})}
        required = [key for key, option in self.options.items() if option.required]
        return {"properties": properties, "additionalProperties": False, **({"required": required} if required else {})}


CE_OPTIONS = {"label_smoothing": probability(0.0)}  # mass spread uniformly over all K classes
# Hinton et al.: (1 - alpha) CE + alpha T^2 m KL; m rescales to Yuan et al.'s reductions (advkd.losses).
KD_OPTIONS = {"alpha": probability(), "temperature": temperature(), "multiplier": non_negative(1.0)}
# Yuan et al.'s virtual teacher: delta on the true class (their correct_prob, 0.99).
TFKD_OPTIONS = {**KD_OPTIONS, "delta": probability(0.99)}
# Zhang et al. (BYOT): alpha on the KD terms, T, and the feature-hint weight per example.
BYOT_OPTIONS = {"alpha": probability(), "temperature": temperature(), "hint_weight": non_negative()}
# Which input the teacher of an adversarial student sees: the clean x (the paper's eq. 6) or the
# student's x' (Maroto et al.'s AKD trainer).
TEACHER_INPUT = {"teacher_input": Option({"enum": ["clean", "adversarial"]}, "clean", step=True)}
# Defaults from each method's official code (advkd.losses names the files). `multiplier` scales
# the KL terms only, to convert a reference code's KL reduction to ours (see advkd.losses).
TRADES_OPTIONS = {"beta": non_negative(6.0)}
ARD_OPTIONS = {"alpha": probability(1.0), "temperature": temperature(30.0), "multiplier": non_negative(1.0)}
RSLAD_OPTIONS = {"alpha": probability(5 / 6), "multiplier": non_negative(1.0)}
ADAAD_OPTIONS = {"alpha": probability(1.0), "multiplier": non_negative(1.0)}
# ADR (github.com/yuyuwu5/ADR, config/cifar10/resnet18_pgd_sgd_adr.gin): the weight average's
# decay, and tau and lambda annealed along a cosine over every training step, [start, end].
ADR_OPTIONS = {
    "average_decay": Option({"type": "number", "minimum": 0, "exclusiveMaximum": 1}, 0.995, step=True),
    "temperature": annealed(temperature([2.5, 2.0])),
    "interpolation": annealed(probability([0.7, 0.95])),
}

_DECLARED = [
    Method("ce", "ce", options=CE_OPTIONS),
    Method("kd", "kd", teacher="real", options=KD_OPTIONS),
    Method("tfkd_reg", "tfkd_reg", teacher="virtual", options=TFKD_OPTIONS),
    Method("byot", "byot", exits=True, options=BYOT_OPTIONS),
    # Adversarial forms: the student sees x' = PGD(x). `at` is Madry et al.'s adversarial
    # training; `at_kd` the paper's eq. 6; `at_tfkd_reg` its eq. 7; `at_byot` BYOT on x', the
    # attack aimed at the deepest exit (the classifier that is evaluated and attacked). Their
    # attack is the paper's eq. 5 as Maroto et al.'s trainer runs it (kdmc, torchattacks' PGD:
    # eval mode, a uniform start clipped into [0, 1]).
    Method("at", "ce", adversarial=True, options=CE_OPTIONS),
    Method("at_kd", "kd", teacher="real", adversarial=True, options={**KD_OPTIONS, **TEACHER_INPUT}),
    Method("at_tfkd_reg", "tfkd_reg", teacher="virtual", adversarial=True, options=TFKD_OPTIONS),
    Method("at_byot", "byot", adversarial=True, exits=True, options=BYOT_OPTIONS),
    # Robust distillation: formulas, defaults and sources in advkd.losses. The student
    # trains on x and x' (TRADES, ARD, RSLAD, AdaAD); AdaAD's teacher sees both as well.
    # Attacks: TRADES' trades.py, RSLAD's rslad_loss.py and AdaAD's AT_helper.py set eval mode
    # and start at x + 0.001 N unclipped; ARD's main.py attacks inside net.train() from a
    # uniform start it does not clip; ADR's advTrainer.py keeps the student in train mode
    # (torchattacks' PGD, start clipped) and its optimizer_scheduler.py builds SGD with Nesterov.
    Method(
        "trades",
        "trades",
        adversarial=True,
        options=TRADES_OPTIONS,
        attack="kl_student_clean",
        attack_start="gaussian",
        student_passes=2,
        plain_passes=2,
    ),
    Method(
        "ard",
        "ard",
        teacher="real",
        adversarial=True,
        options=ARD_OPTIONS,
        attack_start="uniform_unclipped",
        attack_mode="train",
        student_passes=2,
    ),
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
    Method(
        "adr",
        "adr",
        teacher="average",
        adversarial=True,
        options=ADR_OPTIONS,
        attack="kl_target",
        attack_mode="train",
        nesterov=True,
    ),
]
METHODS: dict[str, Method] = {method.name: method for method in _DECLARED}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; allowed: {', '.join(METHODS)}")
    return METHODS[name]


def check_method_fits(method: Method, has_teacher: bool, model: dict) -> tuple[str, str] | None:
    """(where, what) when a run's teacher or model does not go with its method, else None: the
    config check and the training loop (which also sees runs built without a config) both ask."""
    if (method.teacher == "real") != has_teacher:
        return "", f"method {method.name!r} {'takes no teacher' if has_teacher else 'needs a teacher'}"
    if method.exits != model.get("exits", False):
        if method.exits:
            return ".model", f"method {method.name!r} needs a multi-exit model (exits: true)"
        exit_methods = ", ".join(m.name for m in METHODS.values() if m.exits)
        return ".model.exits", f"only methods {exit_methods} train a multi-exit model"
    return None


# Stand-ins for options without a default, where a check needs some value (the GPU check and the
# tests train every method): the paper's settings where it has them.
EXAMPLE_OPTIONS = {
    "kd": {"alpha": 0.9, "temperature": 4.0},
    "at_kd": {"alpha": 0.9, "temperature": 4.0},
    "tfkd_reg": {"alpha": 0.1, "temperature": 20.0, "multiplier": 10.0},
    "at_tfkd_reg": {"alpha": 0.1, "temperature": 20.0, "multiplier": 10.0},
    "byot": {"alpha": 0.1, "temperature": 3.0, "hint_weight": 1e-4},
    "at_byot": {"alpha": 0.1, "temperature": 3.0, "hint_weight": 1e-4},
}


def example_options(method: Method) -> dict:
    """A value for every required option of a method, so a new method is checked without an edit:
    EXAMPLE_OPTIONS, else 0.5 within [0, 1] and 2 otherwise (temperatures, weights)."""
    values = {key: 0.5 if o.schema.get("maximum") == 1 else 2.0 for key, o in method.options.items() if o.required}
    return {**values, **EXAMPLE_OPTIONS.get(method.name, {})}


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
