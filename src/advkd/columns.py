"""Every table column, declared once. Imports no torch.

A column is its header, the evaluation it reads (`metrics`: what the training job measured;
`autoattack` and `pgd`: their own jobs), of which weights (the `last` epoch's, or the `best` on
the run's validation split), and how one seed's value is read from that evaluation's file. The
config schema's column names, the config checks, the rule inputs of a table, the table builder and
the cost model all read this table, so a new column is one entry here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

EVALUATIONS = ("metrics", "autoattack", "pgd")  # metrics.json comes from the training job
ATTACKS = ("autoattack", "pgd")  # evaluations with a rule (and a job per run and weights) of their own
# A run's weights files: its last epoch's, and the best on its validation split (recipe
# `validation`; a run without one writes its last weights there too, never read by a table).
WEIGHTS_FILES = {"last": "model.pt", "best": "best.pt"}
WEIGHTS = tuple(WEIGHTS_FILES)


@dataclass(frozen=True)
class Column:
    name: str
    header: str
    read: Callable[[dict], float]  # one seed's value from the evaluation's file (a dict)
    evaluation: str = "metrics"
    weights: str = "last"
    percent: bool = True  # shown as mean ± std (n) of a percentage; else a count
    omitted_classes: bool = False  # only meaningful for a run that omits classes (Table 2)
    # The per-test-point results behind the value (advkd.points), for the claims; None where the
    # evaluation keeps none (or an older file lacks them).
    points: Callable[[dict], dict | None] = lambda found: None

    def __post_init__(self):
        if self.evaluation not in EVALUATIONS or self.weights not in WEIGHTS:
            raise ValueError(f"column {self.name}: evaluation one of {EVALUATIONS}, weights one of {WEIGHTS}")

    @property
    def file(self) -> str:
        """The evaluation's file in a run's folder."""
        return evaluation_file(self.evaluation, self.weights)


def evaluation_file(evaluation: str, weights: str) -> str:
    """metrics.json holds both weights' clean figures; an attack writes one file per weights."""
    return "metrics.json" if evaluation == "metrics" else f"{evaluation}_{weights}.json"


def percent(*keys: str) -> Callable[[dict], float]:
    """100 x the value at `keys` in the file; NaN (a dash) where the file lacks it."""

    def read(found: dict) -> float:
        for key in keys:
            if not isinstance(found, dict) or key not in found:
                return math.nan
            found = found[key]
        return 100 * found

    return read


def packed(*keys: str) -> Callable[[dict], dict | None]:
    """The packed per-point results at `keys` in the file, or None."""

    def read(found: dict) -> dict | None:
        for key in keys:
            if not isinstance(found, dict) or key not in found:
                return None
            found = found[key]
        return found

    return read


def after_last_attack(found: dict) -> dict | None:
    """AutoAttack's per-point robustness after its last attack: what its accuracy counts."""
    return packed("points", found.get("attacks", [""])[-1])(found)


def exit_accuracy(index: int) -> Callable[[dict], float]:
    """A shallow exit of a multi-exit model; NaN (a dash) for a single-exit model."""
    return lambda metrics: 100 * metrics["exits"]["accuracy"][index] if "exits" in metrics else math.nan


def count(key: str) -> Callable[[dict], float]:
    return lambda metrics: metrics[key]


_DECLARED = [
    Column("accuracy", "Accuracy (%)", percent("test_acc"), points=packed("points", "clean")),
    Column("without", "Acc. w/o omitted (%)", percent("subsets", "without"), omitted_classes=True),
    Column("only", "Acc. only omitted (%)", percent("subsets", "only"), omitted_classes=True),
    Column("autoattack", "AutoAttack acc. (%)", percent("robust_acc"), "autoattack", points=after_last_attack),
    # Robust accuracy after each AutoAttack stage (each attacks what the earlier ones left standing).
    Column(
        "apgd_ce", "after APGD-CE (%)", percent("after", "apgd-ce"), "autoattack", points=packed("points", "apgd-ce")
    ),
    Column("apgd_t", "after APGD-T (%)", percent("after", "apgd-t"), "autoattack", points=packed("points", "apgd-t")),
    Column("fab_t", "after FAB-T (%)", percent("after", "fab-t"), "autoattack", points=packed("points", "fab-t")),
    Column("square", "after Square (%)", percent("after", "square"), "autoattack", points=packed("points", "square")),
    Column("pgd", "PGD acc. (%)", percent("acc"), "pgd", points=packed("points")),
    # The best-on-validation weights; the columns above are the last epoch's. A run without a
    # validation split has none: a dash.
    Column(
        "best_accuracy",
        "Best: accuracy (%)",
        percent("best", "test_acc"),
        weights="best",
        points=packed("best", "points", "clean"),
    ),
    Column(
        "best_autoattack",
        "Best: AutoAttack acc. (%)",
        percent("robust_acc"),
        "autoattack",
        "best",
        points=after_last_attack,
    ),
    Column("best_pgd", "Best: PGD acc. (%)", percent("acc"), "pgd", "best", points=packed("points")),
    # BYOT: the shallower exits and the ensemble of all exits ("accuracy" is the deepest exit).
    Column("exit1", "Exit 1/4 (%)", exit_accuracy(0)),
    Column("exit2", "Exit 2/4 (%)", exit_accuracy(1)),
    Column("exit3", "Exit 3/4 (%)", exit_accuracy(2)),
    Column("ensemble", "Ensemble (%)", percent("exits", "ensemble")),
    Column("parameters", "Parameters", count("parameters"), percent=False),
    Column("weights", "Weights", count("weights"), percent=False),
    Column("macs", "FLOPs (multiply-adds)", count("macs"), percent=False),
]
COLUMNS: dict[str, Column] = {column.name: column for column in _DECLARED}


def column_schema() -> dict:
    """`$defs/column` of the config schema: a name from the table."""
    return {"enum": list(COLUMNS)}
