"""The Snakemake CLI on this checkout's workflow, for the tests and the speed checks. Imports no
torch. Needs a checkout (`pip install -e .`): the Snakefile is not part of the installed package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from . import __version__

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "Snakefile"
QUICK = REPO / "config" / "quick.yaml"  # config/demo.yaml shrunk to a smoke test of the DAG


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """The Snakemake CLI on this repository's Snakefile, working in `workdir`."""
    return [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(workdir), *args]


def code_version(folder: str | Path) -> str:
    """advkd's version and the commit of the repository holding `folder` (the workflow's own, which
    need not be where Snakemake works: `--directory` may put that in another repository)."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=folder, capture_output=True, text=True, check=True
        )
        return f"advkd {__version__}, git {described.stdout.strip()}"
    except (OSError, subprocess.CalledProcessError):
        return f"advkd {__version__}"
