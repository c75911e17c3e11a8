"""A reproduction is judged by its claims (`claims:` of the config): per claim, its premises are
checked first, then the paired difference a - b over seeds is estimated with an interval that
counts the seeds and the test points (`advkd.report.inference`), its p-value corrected with Holm's
method within the claim's family (its table by default), and a verdict given. Imports no torch;
reads only the runs' evaluation files.

A claim says that run `a` is `greater` (or `less`) than run `b`, or than a constant, on a column
of a table showing both, by more than `margin` points (0 by default; `margin: -3` with `greater`
reads "loses at most 3 points"). Verdicts, in the order they are decided:

- `premise unmet`: a premise in `requires` failed (its figure is shown); no verdict is drawn.
- `screening`: fewer paired seeds than `min_seeds` (default 3): the difference is shown only.
- `holds` / `reversed here`: the Holm-adjusted p-value of "a - b = margin" is below 0.05, the
  difference on the claimed side / on the other side (the 95 % interval then excludes the margin).
- `negligible`: not significant, and the whole 95 % interval lies within +-`equivalence`.
- `underpowered`: none of these, and the smallest difference these seeds and points resolve (at
  80 % power, Holm's first level) is larger than the claim's effect of interest (`effect`, else
  the source's own difference): the runs could not have found it.
- `inconclusive`: none of these, with the effect of interest resolvable (or none stated).

Premises (`requires`), each read from the same evaluation files: `stronger` (a run beats another
by at least some points on a column, means over their seeds), `converged` (a seed-0 twin trained
for twice the epochs, which the workflow adds, moves each named column by at most its points) and
`operating_point` (the claim's two runs within some points of each other on a column).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..columns import COLUMNS
from ..points import unpack
from ..runs import TWIN_SUFFIX
from .inference import Estimate, estimate, holm
from .tables import read_cell

ALPHA = 0.05


@dataclass(frozen=True)
class Verdict:
    claim: str
    source: str
    family: str
    statement: str  # the claim in words
    seeds: str  # every paired seed's a, b and difference
    n: int  # seeds paired
    points: int  # test points per seed behind the interval (0: not recorded)
    mean: float  # mean difference a - b, in the column's unit (percentage points)
    low: float  # the 95 % interval's bounds
    high: float
    p: float  # two-sided, of a - b = margin
    p_holm: float  # Holm-adjusted within the family (NaN for a claim not tested)
    probability: float  # P(the difference lies on the claimed side of the margin)
    detectable: float  # the smallest difference this run resolves at 80 % power, Holm's first level
    effect: float | None  # the claim's effect of interest, points
    premises: str  # each premise's figure and whether it holds
    paper: float | None  # the source's own difference, where it gives one
    raw: str  # the verdict without the multiplicity correction
    verdict: str


@dataclass(frozen=True)
class Values:
    """One run's column: per seed its value and, where recorded, its per-point results (0/1)."""

    value: dict[int, float]
    points: dict[int, np.ndarray | None]

    def mean(self) -> float:
        values = list(self.value.values())
        return statistics.fmean(values) if values else math.nan


def read_values(column: str, seeds: dict[str, dict]) -> Values:
    """A run's `column` from {seed: {file name: its contents}}."""
    spec = COLUMNS[column]
    value, points = {}, {}
    for seed, files in seeds.items():
        value[int(seed)] = read_cell(spec, files)
        found = files.get(spec.file)
        packed = spec.points(found) if found is not None else None
        points[int(seed)] = unpack(packed) if packed is not None else None
    return Values(value, points)


def statement(claim: dict) -> str:
    """`resnet18_akd > resnet18_at - 3 on accuracy`: the claim as the config gives it."""
    other = claim["b"] if isinstance(claim["b"], str) else f"{claim['b']:g}"
    margin = claim.get("margin", 0.0)
    side = ">" if claim["expect"] == "greater" else "<"
    shift = f" {'+' if margin > 0 else '-'} {abs(margin):g}" if margin else ""
    return f"{claim['a']} {side} {other}{shift} on {claim['column']}"


def paired(a: Values, b: Values | float) -> tuple[list[int], list[float], np.ndarray | None, str]:
    """Seeds both sides have (a value that is NaN pairs with none), their differences, the
    per-point differences (seeds x points, in points of the column) when both sides recorded them,
    and every seed's figures in words."""
    constant = not isinstance(b, Values)
    seeds = sorted(a.value if constant else a.value.keys() & b.value.keys())
    seeds = [s for s in seeds if not math.isnan(a.value[s]) and (constant or not math.isnan(b.value[s]))]
    differences = [a.value[s] - (b if constant else b.value[s]) for s in seeds]
    shown = [f"s{s} {a.value[s]:.2f}" + ("" if constant else f" - {b.value[s]:.2f}") + f" = {d:+.2f}"
             for s, d in zip(seeds, differences)]  # fmt: skip
    rows = []
    for s in seeds:
        mine, theirs = a.points.get(s), None if constant else b.points.get(s)
        if mine is None or (not constant and (theirs is None or len(theirs) != len(mine))):
            rows = None
            break
        rows.append(100.0 * mine - (b if constant else 100.0 * theirs))
    return seeds, differences, (np.array(rows) if rows else None), "; ".join(shown)


def check_premises(claim: dict, runs: dict[str, dict[str, dict]]) -> list[tuple[str, bool]]:
    """(the premise's figure in words, whether it holds) for each of the claim's premises."""
    results = []
    for premise in claim.get("requires", []):
        if "stronger" in premise:
            p = premise["stronger"]
            gap = read_values(p["column"], runs[p["run"]]).mean() - read_values(p["column"], runs[p["than"]]).mean()
            text = f"{p['run']} - {p['than']} on {p['column']}: {gap:+.2f} (needs >= {p['by']:+g})"
            results.append((text, gap >= p["by"]))
        elif "converged" in premise:
            p = premise["converged"]
            twin_runs = runs[p["run"] + TWIN_SUFFIX]
            (seed,) = twin_runs
            parts, holds = [], True
            for column, limit in p["columns"].items():
                base = read_values(column, {seed: runs[p["run"]][seed]}).mean()
                moved = read_values(column, twin_runs).mean() - base
                parts.append(f"{column} {moved:+.2f} (at most {limit:g})")
                holds = holds and abs(moved) <= limit
            results.append((f"{p['run']} with twice the epochs (seed {seed}): " + ", ".join(parts), holds))
        else:
            p = premise["operating_point"]
            a = read_values(p["column"], runs[claim["a"]]).mean()
            b = read_values(p["column"], runs[claim["b"]]).mean() if isinstance(claim["b"], str) else claim["b"]
            text = f"{claim['a']} and {claim['b']} on {p['column']}: {a:.2f} and {b:.2f} (within {p['within']:g})"
            results.append((text, abs(a - b) <= p["within"]))
    return results


def effect_of_interest(claim: dict) -> float | None:
    """Points: the smallest difference the claim is about (`effect`, else the source's own)."""
    if "effect" in claim:
        return claim["effect"]
    return abs(claim["paper"]) if claim.get("paper") is not None else None


def decide(claim: dict, found: Estimate, premises_hold: bool, p: float, detectable: float) -> str:
    """The verdict of a claim from its estimate, its p-value (raw or adjusted; see module) and
    the smallest difference its seeds and points resolve: an undecided claim that could not have
    found its effect of interest is underpowered, not inconclusive."""
    if not premises_hold:
        return "premise unmet"
    if found.seeds < claim.get("min_seeds", 3):
        return "screening"
    margin = claim.get("margin", 0.0)
    if p < ALPHA:
        above = found.mean > margin
        return "holds" if above == (claim["expect"] == "greater") else "reversed here"
    low, high = found.interval()
    bound = claim.get("equivalence")
    if bound is not None and -bound < low and high < bound:
        return "negligible"
    effect = effect_of_interest(claim)
    if effect is not None and detectable > effect:
        return "underpowered"
    return "inconclusive"


def evaluate_all(claims: Iterable[tuple[str, dict]], runs: dict[str, dict[str, dict]]) -> list[Verdict]:
    """`claims`: (name, claim) in the report's order. `runs`: run name -> seed -> that seed's
    evaluation files (name -> contents), for every run a claim or a premise reads."""
    claims = list(claims)
    prepared = []
    for name, claim in claims:
        a = read_values(claim["column"], runs[claim["a"]])
        b = read_values(claim["column"], runs[claim["b"]]) if isinstance(claim["b"], str) else claim["b"]
        _, differences, point_differences, shown = paired(a, b)
        found = estimate(differences, point_differences) if differences else None
        premises = check_premises(claim, runs)
        prepared.append((name, claim, found, shown, premises))
    families: dict[str, list[int]] = {}
    p_values = []
    for i, (_, claim, found, _, premises) in enumerate(prepared):
        tested = found is not None and all(ok for _, ok in premises) and found.seeds >= claim.get("min_seeds", 3)
        p_values.append(found.p_value(claim.get("margin", 0.0)) if tested else math.nan)
        families.setdefault(claim.get("family", claim["table"]), []).append(i)
    adjusted = [math.nan] * len(prepared)
    for members in families.values():
        for i, value in zip(members, holm([p_values[i] for i in members])):
            adjusted[i] = value
    verdicts = []
    for i, (name, claim, found, shown, premises) in enumerate(prepared):
        family = claim.get("family", claim["table"])
        verdicts.append(_verdict(name, claim, family, len(families[family]), found, shown, premises, adjusted[i]))
    return verdicts


def _verdict(name, claim, family, size, found, shown, premises, p_holm) -> Verdict:
    margin, hold = claim.get("margin", 0.0), all(ok for _, ok in premises)
    words = "; ".join(f"{text}: {'met' if ok else 'NOT met'}" for text, ok in premises) or "none stated"
    if found is None:  # no seed has both values
        nan = math.nan
        verdict = "premise unmet" if not hold else "screening"
        return Verdict(name, claim["source"], family, statement(claim), shown, 0, 0, nan, nan, nan, nan, nan, nan, nan,
                       effect_of_interest(claim), words, claim.get("paper"), verdict, verdict)  # fmt: skip
    low, high = found.interval()
    p = found.p_value(margin)
    above = found.probability_above(margin)
    probability = above if claim["expect"] == "greater" else 1 - above
    detectable = found.detectable(ALPHA / size)
    raw = decide(claim, found, hold, p, found.detectable(ALPHA))
    final = decide(claim, found, hold, p_holm if not math.isnan(p_holm) else p, detectable)
    return Verdict(name, claim["source"], family, statement(claim), shown, found.seeds, found.points, found.mean,
                   low, high, p, p_holm, probability, detectable, effect_of_interest(claim), words, claim.get("paper"),
                   raw, final)  # fmt: skip


def to_frame(verdicts: list[Verdict]) -> pd.DataFrame:
    return pd.DataFrame([asdict(v) for v in verdicts], columns=list(Verdict.__dataclass_fields__))


def to_markdown(verdicts: list[Verdict], title: str) -> str:
    def signed(value: float | None) -> str:
        return "–" if value is None or math.isnan(value) else f"{value:+.2f}"

    def plain(value: float, pattern: str = "{:.3f}") -> str:
        return "–" if math.isnan(value) else pattern.format(value)

    lines = [
        f"# Claims: {title}",
        "",
        "| claim | source | statement | family | premises | seeds (a - b = difference) | points | mean difference "
        "| 95 % interval | p (Holm) | P(claimed side) | resolution | effect of interest | source's difference "
        "| verdict (raw) | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for v in verdicts:
        span = "–" if math.isnan(v.low) else f"[{v.low:+.2f}, {v.high:+.2f}]"
        p = "–" if math.isnan(v.p) else f"{v.p:.3f} ({plain(v.p_holm)})"
        verdict = f"{v.verdict} under this protocol" if v.verdict == "holds" else v.verdict
        cells = (v.claim, v.source, v.statement, v.family, v.premises, v.seeds or "–", str(v.points or "–"),
                 signed(v.mean), span, p, plain(v.probability, "{:.2f}"), plain(v.detectable, "{:.2f}"),
                 "–" if v.effect is None else f"{v.effect:.2f}", signed(v.paper), v.raw, verdict)  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Differences are a - b in points of the column, paired by seed (the same seed on both sides). The "
        "interval is Student t at 95 % over the seeds' spread plus the test points' (Welch-Satterthwaite "
        "degrees of freedom; `points` test points per seed, – where the evaluations kept none); p tests a - b = "
        "margin, two-sided, Holm-adjusted within the family in brackets; P(claimed side) is the t approximation's "
        "probability that the true difference lies on the claimed side of the margin. Resolution: the smallest "
        "true difference these seeds and points find at 80 % power at Holm's first level (0.05 / the family's "
        "size). Verdicts (see advkd.report.claims): premises first; fewer seeds than the claim's minimum screen "
        "only; holds or reversed here when the adjusted p is below 0.05; negligible when the interval lies "
        "within the claim's equivalence bound; underpowered when the resolution is coarser than the claim's "
        "effect of interest (`effect`, else the source's difference), so these runs could not have found it; "
        "else inconclusive. Every verdict is about these runs under this "
        "config's protocol.",
    ]
    return "\n".join(lines) + "\n"
