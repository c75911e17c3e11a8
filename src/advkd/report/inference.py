"""The statistics of a claim: a paired difference whose uncertainty counts both the seeds and the
test points, Holm's correction within a family of claims, and the smallest effect a plan can
resolve. Imports no torch.

Why this interval. A claim's difference d = mean over seeds s of (a_s - b_s) is measured on one
fixed set of n test points, shared by every seed and both runs. Its variance has two parts: the
seeds' (training randomness), estimated by the sample variance of the per-seed differences over
S, and the test points' (which points a finite test set happens to hold), estimated from the
per-point paired differences D_i = mean over seeds of (a_si - b_si): var(D_i) / n. The seeds'
spread does not contain the second part (every seed sees the same points), so the two are added;
the per-point term also holds a little of the seeds' noise again, which errs on the wide side.
The interval is Student t with Welch-Satterthwaite's degrees of freedom for that sum: close to
S - 1 when the seeds dominate, to n - 1 when the points do. Three seeds that agree exactly (an
AutoAttack accuracy on 200 points moves in 0.5-point steps) therefore still get the test points'
width, never zero. A two-level bootstrap was the alternative; with 3 seeds it has only 10 distinct
seed resamples, too coarse for a 95 % interval.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
POWER = 0.80


@dataclass(frozen=True)
class Estimate:
    """A paired difference a - b in points of its column (percentage points for a percentage)."""

    seeds: int
    mean: float
    seed_variance: float  # of the mean, from the seeds (NaN with one seed)
    point_variance: float  # of the mean, from the test points (0 when none were recorded)
    points: int  # test points per seed (0: not recorded)

    @property
    def variance(self) -> float:
        return (0.0 if math.isnan(self.seed_variance) else self.seed_variance) + self.point_variance

    @property
    def se(self) -> float:
        return math.sqrt(self.variance)

    @property
    def df(self) -> float:
        """Welch-Satterthwaite's degrees of freedom of the two variance terms."""
        parts = []
        if self.seeds > 1:
            parts.append((self.seed_variance, self.seeds - 1))
        if self.points > 1:
            parts.append((self.point_variance, self.points - 1))
        denominator = sum(v**2 / dof for v, dof in parts)
        if denominator == 0:
            return float(max((dof for _, dof in parts), default=math.inf))
        return self.variance**2 / denominator

    def interval(self, confidence: float = CONFIDENCE) -> tuple[float, float]:
        if self.seeds < 2 and self.points == 0:
            return math.nan, math.nan
        half = stats.t.ppf(0.5 + confidence / 2, self.df) * self.se
        return self.mean - half, self.mean + half

    def p_value(self, margin: float = 0.0) -> float:
        """Two-sided, of the hypothesis that the true difference is `margin`."""
        if self.seeds < 2 and self.points == 0:
            return math.nan
        if self.se == 0:
            return 1.0 if self.mean == margin else 0.0
        return float(2 * stats.t.sf(abs(self.mean - margin) / self.se, self.df))

    def probability_above(self, margin: float = 0.0) -> float:
        """P(true difference > margin) under the t approximation (a flat prior's posterior)."""
        if self.seeds < 2 and self.points == 0:
            return math.nan
        if self.se == 0:
            return 1.0 if self.mean > margin else 0.0 if self.mean < margin else 0.5
        return float(stats.t.cdf((self.mean - margin) / self.se, self.df))

    def detectable(self, alpha: float = 1 - CONFIDENCE, power: float = POWER) -> float:
        """The smallest true difference a two-sided test at `alpha` finds with `power`."""
        if self.seeds < 2 and self.points == 0:
            return math.nan
        return (stats.t.ppf(1 - alpha / 2, self.df) + stats.t.ppf(power, self.df)) * self.se


def estimate(differences: Sequence[float], point_differences: np.ndarray | None = None) -> Estimate:
    """`differences`: a - b per seed. `point_differences`: (seeds, points) per-point a - b in the
    same unit (100 x correct_a - 100 x correct_b for a percentage), or None where the evaluations
    kept no per-point results."""
    seeds = len(differences)
    mean = statistics.fmean(differences)
    seed_variance = statistics.variance(differences) / seeds if seeds > 1 else math.nan
    points, point_variance = 0, 0.0
    if point_differences is not None and point_differences.shape[1] > 1:
        per_point = point_differences.mean(axis=0)
        points = per_point.size
        point_variance = float(per_point.var(ddof=1)) / points
    return Estimate(seeds, mean, seed_variance, point_variance, points)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and does not count as a test)."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running, m = 0.0, len(tested)
    for rank, (p, index) in enumerate(tested):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted


def planned(
    seeds: int, points: int, seed_sd: float, point_sd: float, alpha: float = 1 - CONFIDENCE, power: float = POWER
) -> float:
    """The smallest difference a plan of `seeds` paired seeds on `points` test points resolves,
    from a noise prior: `seed_sd`, the spread of one seed's difference; `point_sd`, the spread of
    one point's paired difference (both in the column's unit). NaN for one seed: it cannot show
    the seeds' spread."""
    if seeds < 2:
        return math.nan
    seed_variance = seed_sd**2 / seeds
    point_variance = point_sd**2 / points if points > 1 else 0.0
    return Estimate(seeds, 0.0, seed_variance, point_variance, points if points > 1 else 0).detectable(alpha, power)
