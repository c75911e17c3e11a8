"""A reproduction is judged by its claims: per claim of the config (`claims:`), the paired
difference over seeds (the same seed on both sides), its mean, a 95 % Student-t interval and a
verdict. Imports no torch; reads only the runs' evaluation files.

A claim says that run `a` is `greater` (or `less`) than run `b`, or than a constant, on a column
of a table showing both, by more than `margin` points (0 by default; `margin: -3` with `greater`
reads "loses at most 3 points"). Verdicts: `holds` when the whole interval lies on the claimed side
of the margin, `contradicted` when it lies wholly on the other side, `inconclusive` otherwise. One
seed gives one difference and no interval: such a claim is always `inconclusive`, its difference
shown all the same.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass

import pandas as pd
from scipy import stats

from ..columns import COLUMNS
from .tables import read_cell

CONFIDENCE = 0.95
VERDICTS = ("holds", "contradicted", "inconclusive")


@dataclass(frozen=True)
class Verdict:
    claim: str
    source: str
    statement: str  # the claim in words
    n: int  # seeds paired
    mean: float  # mean difference a - b, in the column's unit (percentage points)
    low: float  # the interval's bounds, NaN with fewer than two seeds
    high: float
    paper: float | None  # the source's own difference, where it gives one
    verdict: str


def interval(differences: list[float]) -> tuple[float, float, float]:
    """(mean, low, high): the 95 % Student-t interval of the mean difference; NaN bounds for n = 1."""
    n, mean = len(differences), statistics.fmean(differences)
    if n < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * statistics.stdev(differences) / math.sqrt(n)
    return mean, mean - half, mean + half


def judge(low: float, high: float, expect: str, margin: float) -> str:
    if math.isnan(low):
        return "inconclusive"
    above, below = low > margin, high < margin
    if expect == "greater":
        return "holds" if above else "contradicted" if below else "inconclusive"
    return "holds" if below else "contradicted" if above else "inconclusive"


def statement(claim: dict) -> str:
    """`resnet18_akd > resnet18_at - 3 on accuracy`: the claim as the config gives it."""
    other = claim["b"] if isinstance(claim["b"], str) else f"{claim['b']:g}"
    margin = claim.get("margin", 0.0)
    side = ">" if claim["expect"] == "greater" else "<"
    shift = f" {'+' if margin > 0 else '-'} {abs(margin):g}" if margin else ""
    return f"{claim['a']} {side} {other}{shift} on {claim['column']}"


def evaluate(name: str, claim: dict, a: dict[int, float], b: dict[int, float] | float) -> Verdict:
    """`a` and `b`: the column's value per seed (`b` a number for a claim against a constant).
    Only seeds both sides have are paired; a seed whose value is missing (NaN) pairs with none."""
    seeds = sorted(a) if not isinstance(b, dict) else sorted(a.keys() & b.keys())
    differences = [a[s] - (b[s] if isinstance(b, dict) else b) for s in seeds]
    differences = [d for d in differences if not math.isnan(d)]
    mean, low, high = interval(differences) if differences else (math.nan, math.nan, math.nan)
    verdict = judge(low, high, claim["expect"], claim.get("margin", 0.0))
    paper = claim.get("paper")
    return Verdict(name, claim["source"], statement(claim), len(differences), mean, low, high, paper, verdict)


def per_seed(column: str, seeds: dict[str, dict]) -> dict[int, float]:
    """{seed: the column's value} from {seed: {file name: its contents}} of one run."""
    return {int(seed): read_cell(COLUMNS[column], files) for seed, files in seeds.items()}


def evaluate_all(claims: dict[str, dict], evaluations: dict[str, dict[str, dict]]) -> list[Verdict]:
    """`evaluations`: run name -> seed -> that seed's evaluation files (name -> contents)."""
    verdicts = []
    for name, claim in claims.items():
        a = per_seed(claim["column"], evaluations[claim["a"]])
        b = claim["b"] if not isinstance(claim["b"], str) else per_seed(claim["column"], evaluations[claim["b"]])
        verdicts.append(evaluate(name, claim, a, b))
    return verdicts


def to_frame(verdicts: list[Verdict]) -> pd.DataFrame:
    return pd.DataFrame([asdict(v) for v in verdicts], columns=list(Verdict.__dataclass_fields__))


def to_markdown(verdicts: list[Verdict], title: str) -> str:
    def cell(value: float | None) -> str:
        return "–" if value is None or math.isnan(value) else f"{value:+.2f}"

    lines = [
        f"# Claims: {title}",
        "",
        "| claim | source | statement | seeds | mean difference | 95 % interval | source's difference | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for v in verdicts:
        span = "–" if math.isnan(v.low) else f"[{v.low:+.2f}, {v.high:+.2f}]"
        cells = (v.claim, v.source, v.statement, str(v.n), cell(v.mean), span, cell(v.paper), v.verdict)
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Differences are a - b in points of the column, paired by seed (the same seed on both sides); "
        "the interval is Student t at 95 %. A claim holds when the whole interval lies on its side of "
        "the margin. One seed gives no interval: such a claim stays inconclusive whatever its sign.",
    ]
    return "\n".join(lines) + "\n"
