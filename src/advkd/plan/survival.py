"""How many points each AutoAttack stage is expected to attack. Imports no torch.

AutoAttack runs its first attack only on the points the model classifies correctly, and each later
attack only on the points still standing (pyautoattack 0.2.0, autoattack.py; APGD-T and FAB-T
attack each target class on the survivors of the one before, Square queries only unbroken points).
Its cost is therefore set by the clean accuracy and the robust fraction of the attacked model, which
a plan knows before anything runs only as an expectation. In order of preference:

1. **measured**: the run's own metrics.json (clean) and PGD file (robust: PGD-20 leaves at least the
   points AutoAttack's first attack leaves, so it errs on the expensive side), once they exist;
2. **reference**: the values the table gives beside the row (`paper: {accuracy, autoattack}`);
3. **prior**: a run not adversarially trained keeps no point past the first attack (Croce & Hein
   2020, Table 2: 0 % for every standard model); an adversarially trained one or a weights file keeps
   the mean of the reference values the config gives for adversarially trained rows on its dataset;
4. **worst case**: every point survives every attack, where none of these says otherwise.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..columns import COLUMNS
from ..methods import get_method
from ..runs import Registry, Run


@dataclass(frozen=True)
class Survival:
    """Fractions of the attacked points: classified correctly (the first attack runs on them) and
    left by the first attack (the later attacks run on them); where the figures come from."""

    clean: float
    robust: float
    source: str


WORST_CASE = Survival(1.0, 1.0, "worst case")
SOURCES = ("measured", "reference", "prior", "worst case")  # the order of preference


class Survivals:
    """The expected survival of each attacked run and weights (see the module's order); `workdir`
    is where results/ is, None to plan from the config alone."""

    def __init__(self, registry: Registry, workdir: Path | None = None):
        self.workdir = workdir
        self.references: dict[str, Survival] = {}  # run name -> its row's reference values
        for table in registry.config.get("tables", {}).values():
            for row in table["rows"]:
                paper = row.get("paper") or {}
                if "accuracy" in paper and "autoattack" in paper:
                    survival = Survival(paper["accuracy"] / 100, paper["autoattack"] / 100, "reference")
                    self.references.setdefault(row["run"], survival)
        robust_references: dict[str, list[Survival]] = {}  # dataset key -> its adversarially trained rows'
        for name, survival in self.references.items():
            run = registry.seeds(name)[0]
            if _robust(run):
                robust_references.setdefault(run.dataset, []).append(survival)
        self.priors = {  # dataset key -> the mean of those
            dataset: Survival(
                sum(s.clean for s in known) / len(known), sum(s.robust for s in known) / len(known), "prior"
            )
            for dataset, known in robust_references.items()
        }

    def __call__(self, run: Run, weights: str) -> Survival:
        measured = self._measured(run, weights)
        if measured is not None:
            return measured
        if run.name in self.references:
            return self.references[run.name]
        if not _robust(run):
            return Survival(1.0, 0.0, "prior")
        return self.priors.get(run.dataset, WORST_CASE)

    def _measured(self, run: Run, weights: str) -> Survival | None:
        if self.workdir is None:
            return None
        files = [self.workdir / run.evaluation_path(evaluation, weights) for evaluation in ("metrics", "pgd")]
        if not all(path.is_file() for path in files):
            return None
        metrics, pgd = (json.loads(path.read_text()) for path in files)
        clean = COLUMNS["accuracy" if weights == "last" else "best_accuracy"].read(metrics) / 100
        if math.isnan(clean):
            return None
        return Survival(clean, COLUMNS["pgd"].read(pgd) / 100, "measured")


def _robust(run: Run) -> bool:
    """Trained adversarially, or a weights file (what one benchmarks for robustness)."""
    return run.evaluated or get_method(run.spec["method"]["name"]).adversarial
