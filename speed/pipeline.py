"""Item 5, the workflow's own overhead: planning the paper config, the demo, and a no-op rerun."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from advkd.workflow import QUICK, REPO, snakemake_command


def snakemake(workdir: Path, *args: str) -> tuple[float, str]:
    """Seconds for one Snakemake CLI call in `workdir` (a checkout-like folder with config/), and its output."""
    cmd = snakemake_command(workdir, "--cores", "all", *args)
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def run(report, full_demo: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        shutil.copytree(REPO / "config", work / "config")
        plan, planned = snakemake(work, "--dry-run", "--resources", "gpu=1")
        jobs = re.search(r"^total\s+(\d+)$", planned, flags=re.M).group(1)
        print(f"5. snakemake -n on the paper config ({jobs} jobs): {plan:.1f} s", flush=True)
        configs = [str(work / "config" / "demo.yaml")] + ([] if full_demo else [str(QUICK)])
        label = "demo" if full_demo else "quick demo (config/quick.yaml)"
        demo, _ = snakemake(work, "--configfile", *configs)
        noop, _ = snakemake(work, "--configfile", *configs)
        print(f"5. {label}: {demo:.1f} s; no-op rerun {noop:.1f} s", flush=True)
    report.ratio(
        f"5. snakemake -n on the paper config ({jobs} jobs), seconds", f"{plan:.1f} s", "-", plan, "<= 10 s (ours)"
    )
    report.ratio(f"5. no-op rerun / {label}", f"{noop:.1f} s", f"{demo:.1f} s", noop / demo, "<= 0.05 (ours)")
