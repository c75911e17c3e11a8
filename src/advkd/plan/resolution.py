"""What each claim of a plan can resolve before anything runs: the smallest true difference its
planned seeds and test points find at 80 % power at Holm's first level (0.05 over the size of
the claim's family), from a noise prior, or from the measured noise where the claim's runs exist
under the working directory. Imports no torch.

The noise has the two parts the claims report counts (`advkd.report.inference`): the spread of one
seed's difference, and the spread of one test point's paired difference. Priors, ours: a seed's
difference spreads by 1 point for clean accuracy and 2 for a robust one (the Fashion-MNIST proxy's
seeds spread 0.3 to 8.5 points when they were undertrained, so these hold only for runs trained to
their plateau); a point's paired difference by 100 x sqrt(d) points, d the share of points on which
the two runs disagree, taken as 0.1 for clean accuracy (about 90 %) and 0.25 for a robust one
(about 50 %, the two runs' outcomes half correlated).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..columns import COLUMNS
from ..report.claims import ALPHA, paired, read_values
from ..report.inference import estimate, planned
from ..runs import Registry
from ..sizes import dataset_size
from .work import attacked_points

SEED_SD = {"clean": 1.0, "robust": 2.0}  # points, one seed's difference
POINT_SD = {"clean": 100 * math.sqrt(0.1), "robust": 100 * math.sqrt(0.25)}  # points, one point's difference


@dataclass(frozen=True)
class Resolution:
    claim: str
    family: int  # claims in its family
    seeds: int  # planned paired seeds
    points: int  # test points per seed
    seed_sd: float
    point_sd: float
    source: str  # "prior" or "measured"
    detectable: float  # points


def kind(column: str) -> str:
    return "clean" if COLUMNS[column].evaluation == "metrics" else "robust"


def planned_points(registry: Registry, claim: dict) -> int:
    """Test points per seed behind the claim's column: the test set, or the attacked points."""
    dataset = registry.config["datasets"][registry.config["runs"][claim["a"]]["dataset"]]
    n_test = dataset_size(dataset).n_test
    evaluation = COLUMNS[claim["column"]].evaluation
    return n_test if evaluation == "metrics" else attacked_points(registry.autoattack, evaluation, n_test)


def measured_noise(registry: Registry, claim: dict, workdir: Path) -> tuple[float, float] | None:
    """(seed sd, point sd) of the claim's existing evaluation files, when every seed has its files
    and per-point results, scaled back to one seed and one point; else None."""
    column = COLUMNS[claim["column"]]
    runs = {}
    for side in ("a", "b"):
        if not isinstance(claim[side], str):
            continue
        seeds = {}
        for run in registry.seeds(claim[side]):
            path = workdir / run.evaluation_path(column.evaluation, column.weights)
            if not path.is_file():
                return None
            seeds[str(run.seed)] = {path.name: json.loads(path.read_text())}
        runs[claim[side]] = seeds
    a = read_values(claim["column"], runs[claim["a"]])
    b = read_values(claim["column"], runs[claim["b"]]) if isinstance(claim["b"], str) else claim["b"]
    _, differences, point_differences, _ = paired(a, b)
    if len(differences) < 2 or point_differences is None:
        return None
    found = estimate(differences, point_differences)
    return math.sqrt(found.seed_variance * found.seeds), math.sqrt(found.point_variance * found.points)


def resolutions(registry: Registry, workdir: Path | None = None) -> list[Resolution]:
    claims = registry.config.get("claims", {})
    families: dict[str, int] = {}
    for claim in claims.values():
        family = claim.get("family", claim["table"])
        families[family] = families.get(family, 0) + 1
    found = []
    for name, claim in claims.items():
        seeds = set(registry.seeds_of(claim["a"]))
        if isinstance(claim["b"], str):
            seeds &= set(registry.seeds_of(claim["b"]))
        points = planned_points(registry, claim)
        noise = measured_noise(registry, claim, workdir) if workdir is not None else None
        source = "measured" if noise is not None else "prior"
        seed_sd, point_sd = noise or (SEED_SD[kind(claim["column"])], POINT_SD[kind(claim["column"])])
        size = families[claim.get("family", claim["table"])]
        detectable = planned(len(seeds), points, seed_sd, point_sd, ALPHA / size)
        found.append(Resolution(name, size, len(seeds), points, seed_sd, point_sd, source, detectable))
    return found
