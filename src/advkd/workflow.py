"""The Snakemake CLI on this checkout's workflow, for the tests and the speed checks. Imports no
torch. Needs a checkout (`pip install -e .`): the Snakefile is not part of the installed package."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "Snakefile"
QUICK = REPO / "config" / "quick.yaml"  # config/demo.yaml shrunk to a smoke test of the DAG


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """The Snakemake CLI on this repository's Snakefile, working in `workdir`."""
    return [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(workdir), *args]
