"""Item 5, the workflow's own overhead: planning the paper config, the demo, and a no-op rerun."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHRINK = REPO / "tests" / "workflow" / "shrink.yaml"  # the end-to-end test's shrunk demo


def snakemake(workdir: Path, *args: str) -> float:
    """Seconds for one Snakemake CLI call in `workdir` (a checkout-like folder with config/)."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "all", *args]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return seconds


def run(report, full_demo: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        shutil.copytree(REPO / "config", work / "config")
        plan = snakemake(work, "--dry-run", "--resources", "gpu=1")
        print(f"5. snakemake -n on the paper config: {plan:.1f} s", flush=True)
        configs = [str(work / "config" / "demo.yaml")] + ([] if full_demo else [str(SHRINK)])
        label = "demo" if full_demo else "shrunk demo (tests/workflow/shrink.yaml)"
        demo = snakemake(work, "--configfile", *configs)
        noop = snakemake(work, "--configfile", *configs)
        print(f"5. {label}: {demo:.1f} s; no-op rerun {noop:.1f} s", flush=True)
    report.ratio("5. snakemake -n on the paper config (156 jobs), seconds", f"{plan:.1f} s", "-", plan, "<= 10 s (ours)", plan <= 10)
    report.ratio(f"5. no-op rerun / {label}", f"{noop:.1f} s", f"{demo:.1f} s", noop / demo, "<= 0.05 (ours)", noop / demo <= 0.05)
