"""`python -m advkd.plan CONFIG... [--gpu h100] [--directory DIR] [--rules-only]`: what a plan costs.

Prints every job (rule, run, PFLOP, hours on this machine and on the GPU), then per rule and in
total. Jobs whose output already exists under DIR/results are shown as done and cost nothing.
Hours on this machine come from a probe of a few seconds; on the GPU from its datasheet peak
times the utilisation `python -m speed.gpu` measured (see advkd.plan.rates).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

from ..config import ConfigError, check, load_merged
from ..report.claims import effect_of_interest
from . import is_done, plan_jobs
from .rates import DATASHEETS, Rates, gpu_rates, probe_cpu
from .resolution import resolutions
from .survival import SOURCES, Survivals
from .work import Job


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m advkd.plan", description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", type=Path, help="config files, merged in order (as --configfile)")
    parser.add_argument("--gpu", choices=list(DATASHEETS), help="the GPU to price (default: the config's compute.gpu)")
    parser.add_argument("--directory", type=Path, default=Path("."), help="where results/ is (Snakemake's working dir)")
    parser.add_argument("--rules-only", action="store_true", help="per rule and in total, not every job")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="estimates against Snakemake's timings in DIR/benchmarks/<rule>/: here, or on the --gpu given",
    )
    args = parser.parse_args(argv)
    try:
        config = load_merged(args.configs)
        registry = check(config)
    except ConfigError as err:
        print(f"advkd: invalid config: {err}", file=sys.stderr)
        return 1
    jobs = plan_jobs(registry, args.directory)
    gpu = gpu_rates(args.gpu or registry.compute["gpu"])
    here = None if args.compare and args.gpu else probe_cpu(jobs, registry.compute["threads_per_job"])
    if args.compare:
        # Timings from a GPU run are compared with that GPU's estimate (--gpu), else with this machine's.
        where, rates = (args.gpu, gpu) if args.gpu else ("here", here)
        print(
            _table(
                ("rule", "jobs timed", f"estimate {where} (s)", "measured (s)", "estimate / measured"),
                compare(jobs, rates, args.directory),
            )
        )
        print(f"{where}: {rates.machine}, {rates.source}")
        return 0
    rows, per_rule = [], defaultdict(lambda: [0, 0, 0.0, 0.0, 0.0])
    for job in jobs:
        done = is_done(job, args.directory)
        cost = (0.0, 0.0, 0.0) if done else (job.flops / 1e15, here.seconds(job) / 3600, gpu.seconds(job) / 3600)
        rows.append((job.label, job.target, "done" if done else f"{cost[0]:.4f}", *(f"{c:.3f}" for c in cost[1:])))
        totals = per_rule[job.label]
        totals[0] += 1
        totals[1] += done
        for i, c in enumerate(cost):
            totals[2 + i] += c
    header = ("rule", "run", "PFLOP", "hours here", f"hours {args.gpu or registry.compute['gpu']}")
    if not args.rules_only:
        print(_table(header, rows))
        print()
    summary = [
        (rule, f"{n} ({d} done)", f"{p:.3f}", f"{h:.2f}", f"{g:.2f}") for rule, (n, d, p, h, g) in per_rule.items()
    ]
    total = [sum(t[i] for t in per_rule.values()) for i in range(5)]
    summary.append(("total", f"{total[0]} ({total[1]} done)", f"{total[2]:.3f}", f"{total[3]:.2f}", f"{total[4]:.2f}"))
    print(_table(("rule", "jobs", "PFLOP", "hours here", header[-1]), summary))
    print()
    for name, rates in (("here", here), (args.gpu or registry.compute["gpu"], gpu)):
        print(f"{name}: {rates.machine}, {rates.source}; fixed cost per job {rates.job_seconds:.1f} s")
    print("Hours are the sum over jobs (one job at a time).")
    if any(job.captured for job in jobs):
        speedups = ", ".join(f"{kind} x{s:.2f}" for kind, s in gpu.capture_speedup.items()) or "none measured"
        print(f"Captured training steps (recipe capture): the GPU's steady-state speed-up, {speedups}.")
    print(survival_summary(registry, args.directory))
    found = resolutions(registry, args.directory)
    if found:
        print()
        print(resolution_table(found, registry.config["claims"]))
    return 0


def resolution_table(found: list, claims: dict) -> str:
    """Per claim: the smallest difference its plan resolves (advkd.plan.resolution)."""
    rows = []
    for r in found:
        paper, effect = claims[r.claim].get("paper"), effect_of_interest(claims[r.claim])
        noise = f"{r.seed_sd:.2f} / {r.point_sd:.1f} ({r.source})"
        resolved = "-" if effect is None else ("yes" if r.detectable <= effect else "no: underpowered")
        cells = (
            r.claim,
            str(r.family),
            str(r.seeds),
            str(r.points),
            noise,
            f"{r.detectable:.2f}",
            f"{paper:+.2f}" if paper is not None else "-",
            "-" if effect is None else f"{effect:.2f}",
            resolved,
        )
        rows.append(cells)
    header = (
        "claim",
        "family",
        "seeds",
        "points",
        "noise: seed / point sd",
        "resolves (80 % power)",
        "source's difference",
        "effect of interest",
        "resolved",
    )
    note = (
        "Resolution: the smallest true difference (points) the planned seeds and test points find at 80 % power, "
        "two-sided at 0.05 over the family's size (Holm's first level); noise from a prior, or measured from the "
        "claim's runs under --directory (advkd.plan.resolution). Effect of interest: the claim's `effect`, else the "
        "source's difference; a claim that cannot resolve it is underpowered under this plan."
    )
    return _table(header, rows) + "\n" + note


def survival_summary(registry, workdir: Path) -> str:
    """Where the expected AutoAttack survivors of the attacked runs come from (advkd.plan.survival)."""
    survivals = Survivals(registry, workdir)
    sources = Counter(survivals(run, weights).source for run, weights in registry.attacked())
    counts = ", ".join(f"{sources[source]} {source}" for source in SOURCES if sources[source])
    return (
        "AutoAttack: its first attack priced on the points classified correctly, the later ones on the points "
        f"it leaves, as expected from ({counts or 'no attacked run'}): advkd.plan.survival says how."
    )


def compare(jobs: list[Job], rates: Rates, workdir: Path) -> list[tuple[str, ...]]:
    """Per rule: the estimate for this machine against Snakemake's own timings (`benchmark:` files)."""
    per_rule = defaultdict(lambda: [0, 0.0, 0.0])
    for job in jobs:
        timing = workdir / "benchmarks" / f"{job.benchmark}.tsv"
        if timing.exists():
            measured = float(timing.read_text().splitlines()[1].split("\t")[0])
            totals = per_rule[job.label]
            totals[0] += 1
            totals[1] += rates.seconds(job)
            totals[2] += measured
    rows = [(rule, str(n), f"{e:.1f}", f"{m:.1f}", f"{e / m:.2f}") for rule, (n, e, m) in per_rule.items()]
    n, e, m = (sum(t[i] for t in per_rule.values()) for i in range(3))
    return [*rows, ("total", str(n), f"{e:.1f}", f"{m:.1f}", f"{e / m:.2f}" if m else "-")]


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in [header, *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
