"""Shared fixtures: the offline digits dataset, a small model trained on it, and the shrunk demo
run once through the local Snakemake CLI (test_workflow checks it; test_slurm compares with it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from advkd.data import prepare
from advkd.train import fit
from advkd.workflow import QUICK, REPO, snakemake_command

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def mlp_spec(**overrides) -> dict:
    spec = {
        "seed": 0,
        "model": {"arch": "mlp", "hidden": [64]},
        "method": {"name": "ce"},
        "recipe": {
            "epochs": 8,
            "batch_size": 64,
            "optimizer": {"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4},
            "schedule": {"name": "cosine", "warmup_epochs": 1},
        },
    }
    spec.update(overrides)
    return spec


@pytest.fixture(scope="session")
def digits(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    return prepare({"source": "digits"}, folder, folder / "digits.pt")


@pytest.fixture(scope="session")
def trained_mlp(digits, tmp_path_factory):
    """An MLP trained with cross-entropy on the digits: the 'real model' several tests attack."""
    folder = tmp_path_factory.mktemp("mlp")
    return fit(mlp_spec(), digits, "mlp.s0.test", folder / "checkpoint.pt", progress=False)


def snakemake(workdir: Path, *args: str, extra_configs: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
    """The quick demo's Snakemake CLI in `workdir` (demo.yaml + config/quick.yaml + extras)."""
    configs = [str(workdir / "demo.yaml"), str(QUICK), *map(str, extra_configs)]
    cmd = snakemake_command(workdir, "--cores", "2", *args, "--configfile", *configs)  # targets before the files
    return subprocess.run(cmd, capture_output=True, text=True)


def planned(workdir: Path, **kw) -> set[tuple[str, str]]:
    """(rule, run name or table name or '') of every job a dry run plans."""
    result = snakemake(workdir, "--dry-run", **kw)
    assert result.returncode == 0, result.stderr + result.stdout
    jobs, rule = set(), None
    for line in result.stdout.splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):", line):
            rule = m.group(1)
            jobs.add((rule, ""))
        elif rule and (m := re.match(r"^\s+wildcards: (?:run_id=([\w-]+)\.s\d+\.|table=(\w+))", line)):
            jobs.discard((rule, ""))
            jobs.add((rule, m.group(1) or m.group(2)))
    return jobs


def checkout_like(folder: Path) -> Path:
    """A work folder as in a checkout: config/ (the Snakefile's default config) and demo.yaml."""
    shutil.copytree(REPO / "config", folder / "config")
    shutil.copy(REPO / "config" / "demo.yaml", folder / "demo.yaml")
    return folder


def snakemake_dry_run(workdir: Path, config: Path) -> subprocess.CompletedProcess:
    """`snakemake -n` with one config file in a checkout-like `workdir`: how a bad config is refused."""
    checkout_like(workdir)
    cmd = ["snakemake", "-n", "--snakefile", str(REPO / "Snakefile"), "--configfile", str(config), "--cores", "1"]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    """The shrunk demo, run to completion locally once per session."""
    work = checkout_like(tmp_path_factory.mktemp("workflow"))
    result = snakemake(work)
    assert result.returncode == 0, result.stderr[-5000:]
    return work
