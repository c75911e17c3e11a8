"""`python -m speed`: every speed ratio of speed/README.md, measured in one run.

Each comparison times its workloads interleaved (one warm-up round, then `--trials` rounds) in
this process, and prints seconds per step of each side, the ratio, the goal and whether it is met.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

from advkd.devices import pick_device
from advkd.train import build_for_data

from . import cpu, machine, pipeline
from .timing import interleaved
from .workloads import (
    ATTACK,
    MLP,
    RESNET,
    AdvkdEpoch,
    BareSteps,
    Case,
    ConventionalEpoch,
    TeacherInference,
    synthetic,
)

SECTIONS = ("loops", "steps", "pipeline", "cpu")
CE = {"name": "ce"}
KD = {"name": "kd", "alpha": 0.9, "temperature": 4.0}


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms/step"


class Report:
    def __init__(self):
        self.rows: list[tuple[str, str, str, str, str]] = []

    def ratio(self, what: str, ours: str, reference: str, value: float, goal: str) -> None:
        """One measured ratio against its goal, written as ">= 0.90" or "<= 6.0 (ours)"."""
        sign, bound = goal.split()[:2]
        met = value >= float(bound.rstrip("x")) if sign == ">=" else value <= float(bound.rstrip("x"))
        verdict = "met" if met else "NOT met"
        self.rows.append((what, ours, reference, f"{value:.2f}", f"{goal} ({verdict})"))
        print(f"  {what}: {value:.2f} (goal {goal}: {verdict})", flush=True)

    def print(self) -> None:
        header = ("measure", "advkd", "reference", "ratio", "goal")
        widths = [max(len(r[i]) for r in [header, *self.rows]) for i in range(5)]
        for row in [header, tuple("-" * w for w in widths), *self.rows]:
            print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")


def loop_ratios(
    report: Report, case: Case, device: torch.device, trials: int, goal_bare: float, goal_conventional: float
) -> None:
    """Item 1 (advkd with the paper recipe's augmentation vs the bare step) and item 2 (advkd vs
    the conventional loop, both with random crop and flip)."""
    print(f"{case.label}: batch {case.batch_size}, {case.steps} steps per timed epoch", flush=True)
    data = synthetic(case)
    with tempfile.TemporaryDirectory() as root:
        sides = {
            "advkd": AdvkdEpoch(case, data, device, CE, augment=case.paper_augments),
            "bare": BareSteps(case, data, device),
            "advkd_augmented": AdvkdEpoch(case, data, device, CE),
            "conventional": ConventionalEpoch(case, data, device, Path(root)),
        }
        per_step = {k: v / case.steps for k, v in interleaved(sides, device, trials).items()}
    comparisons = (
        ("1. bare step / advkd loop", "advkd", "bare", per_step["bare"] / per_step["advkd"], f">= {goal_bare:.2f}"),
        ("2. conventional DataLoader loop / advkd loop", "advkd_augmented", "conventional",
         per_step["conventional"] / per_step["advkd_augmented"], f">= {goal_conventional:.1f}x"),
    )  # fmt: skip
    for what, ours, reference, value, goal in comparisons:
        report.ratio(f"{what}, {case.label}", ms(per_step[ours]), ms(per_step[reference]), value, goal)


def step_ratios(report: Report, case: Case, device: torch.device, trials: int) -> None:
    """Items 3 and 4: PGD-7 adversarial training and KD against plain training of the same model."""
    data = synthetic(case)
    torch.manual_seed(1)
    teacher = build_for_data(case.model, data).to(device).eval()
    sides = {
        "ce": AdvkdEpoch(case, data, device, CE),
        "at": AdvkdEpoch(case, data, device, {"name": "at"}, attack=ATTACK),
        "kd": AdvkdEpoch(case, data, device, KD, teacher=teacher),
        "teacher": TeacherInference(case, teacher, data, device),
    }
    per_step = {k: v / case.steps for k, v in interleaved(sides, device, trials).items()}
    pgd = per_step["at"] / per_step["ce"]
    report.ratio(
        f"3. PGD-7 training step / standard step, {case.label}", ms(per_step["at"]), ms(per_step["ce"]), pgd, "<= 6.0"
    )
    both = per_step["ce"] + per_step["teacher"]
    kd = per_step["kd"] / both
    report.ratio(
        f"4. KD step / (teacher inference + student step), {case.label}",
        ms(per_step["kd"]),
        ms(both),
        kd,
        "<= 1.10 (ours)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m speed", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--trials", type=int, default=2, help="timed rounds per comparison, after one warm-up round")
    parser.add_argument(
        "--demo",
        choices=["shrunk", "full", "skip"],
        default="shrunk",
        help="item 5: time the shrunk demo of the tests (default), the full demo, or skip it",
    )
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated, of {', '.join(SECTIONS)} (default: all); cpu is the CPU's numeric and layout choices",
    )
    parser.add_argument(
        "--config",
        type=Path,
        nargs="+",
        default=[cpu.CONFIG],
        help="section cpu: the CPU config (files merged in order) whose shapes and settings it times",
    )
    parser.add_argument("--smoke", action="store_true", help="section cpu at toy sizes (the test suite runs it)")
    args = parser.parse_args(argv)
    sections = args.sections.split(",")
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        parser.error(f"--sections: unknown {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    device = pick_device(args.device)
    for line in machine.describe(device):
        print(line)
    report = Report()
    if "loops" in sections:
        loop_ratios(report, RESNET, device, args.trials, goal_bare=0.90, goal_conventional=1.3)
        loop_ratios(report, MLP, device, args.trials, goal_bare=0.80, goal_conventional=3.0)
    if "steps" in sections:
        step_ratios(report, RESNET, device, args.trials)
    if "pipeline" in sections and args.demo != "skip":
        pipeline.run(report, full_demo=args.demo == "full")
    if "cpu" in sections:
        cpu.run(report, args.config, smoke=args.smoke)
    print()
    report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
