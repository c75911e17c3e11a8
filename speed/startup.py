"""`python -m speed.startup DIR`: how much of a finished workflow's job time is fixed per-job cost.

Reads Snakemake's own job timings (DIR/benchmarks/<rule>/<wildcards>.tsv, wall seconds per job) and
what each job spent on its work, as the job recorded it: the training epochs (history.json's
`seconds`, test pass and checkpoint included), AutoAttack's attacks and PGD's steps (their JSON's
`seconds`). Everything else is fixed cost: the interpreter and Snakemake's script preamble,
`import torch`, the device, loading the data and the weights, the evaluation and the writes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from advkd.columns import ATTACKS, evaluation_file

WORK_RULES = ("train", *ATTACKS)  # the rules whose jobs record their work's seconds


def work_seconds(rule: str, wildcards: str, runs: Path) -> float:
    """What a job recorded as its work: a training job's epochs, an attack's seconds."""
    if rule == "train":
        return sum(row["seconds"] for row in json.loads((runs / wildcards / "history.json").read_text()))
    run_id, weights = wildcards.rsplit(".", 1)
    return json.loads((runs / run_id / evaluation_file(rule, weights)).read_text())["seconds"]


def shares(workdir: Path) -> dict[str, list[float]]:
    """Per rule: [jobs, wall seconds, work seconds]."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for timing in sorted((workdir / "benchmarks").glob("*/*.tsv")):
        rule, wildcards = timing.parent.name, timing.stem
        wall = float(timing.read_text().splitlines()[1].split("\t")[0])
        row = totals[rule]
        row[0] += 1
        row[1] += wall
        row[2] += work_seconds(rule, wildcards, workdir / "results" / "runs") if rule in WORK_RULES else 0.0
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m speed.startup", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="Snakemake's working directory of a finished run")
    args = parser.parse_args(argv)
    totals = shares(args.directory)
    if not totals:
        print(f"no job timings under {args.directory / 'benchmarks'}", file=sys.stderr)
        return 1
    print("| rule | jobs | job time (s) | work (s) | fixed cost (s) | fixed share |")
    print("| --- | --- | --- | --- | --- | --- |")
    totals["all"] = [sum(t[i] for t in totals.values()) for i in range(3)]
    for rule, (n, wall, work) in totals.items():
        fixed = wall - work
        cells = (
            rule,
            int(n),
            f"{wall:.1f}",
            f"{work:.1f}",
            f"{fixed:.1f} ({fixed / n:.1f} per job)",
            f"{fixed / wall:.0%}",
        )
        print("| " + " | ".join(map(str, cells)) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
