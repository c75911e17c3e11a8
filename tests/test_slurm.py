"""The shrunk demo's Table 7 through a real one-node SLURM cluster (Debian's slurm-wlm and munge)
and `--workflow-profile profiles/slurm`: GPU jobs go through sbatch with a GPU request, the table
equals the local run's, and a training job cancelled mid-run (scancel) resumes from its checkpoint.
Table 7 alone has a job of every GPU rule (train, evaluate, autoattack, pgd) and a third of the
demo's jobs, each of which costs a SLURM round trip here.

The daemons run as root from tests/slurm/ (rendered into /etc/slurm, where the nested srun of
each job looks) and are stopped by PID afterwards. `.ci/run` installs the packages; elsewhere
the tests skip when SLURM is not installed, and fail instead when CI=true.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

import advkd.config
from advkd.workflow import snakemake_command

from .conftest import QUICK, REPO, checkout_like

pytestmark = pytest.mark.slow

TEMPLATES = Path(__file__).with_name("slurm")
ETC = Path("/etc/slurm")
MARKER = "ClusterName=advkd-test"
GPU_RULES = {"train", "evaluate", "autoattack", "pgd"}
TABLE = [f"reports/demo/table7.{ext}" for ext in ("csv", "md", "tex")]
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unavailable() -> str | None:
    if missing := [d for d in DAEMONS if shutil.which(d) is None]:
        return f"SLURM is not installed (apt-get install slurm-wlm munge): {', '.join(missing)} missing"
    if os.geteuid() != 0:
        return "the test cluster's daemons run as root"
    conf = ETC / "slurm.conf"
    if conf.exists() and MARKER not in conf.read_text():
        return f"{conf} belongs to a real SLURM installation; not overwriting it"
    return None


def wait_until(check, timeout: float, what: str):
    deadline = time.time() + timeout
    while not (result := check()):
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
    return result


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """munged, slurmctld and slurmd on localhost; yields nothing, stops them by PID at the end."""
    if reason := unavailable():
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("slurm")
    munge = state / "munge"
    munge.mkdir(mode=0o700)
    key = munge / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o400)
    values = {
        "HOST": socket.gethostname().split(".")[0],
        "STATE": str(state),
        "CTLD_PORT": str(free_port()),
        "SLURMD_PORT": str(free_port()),
        "MEMORY_MB": "20000",  # what jobs may request; nothing enforces it here
        "MUNGE_SOCKET": str(munge / "munge.socket"),
    }
    conf = (TEMPLATES / "slurm.conf.in").read_text()
    for name, value in values.items():
        conf = conf.replace(f"@{name}@", value)
    ETC.mkdir(exist_ok=True)
    (ETC / "slurm.conf").write_text(conf)
    shutil.copy(TEMPLATES / "gres.conf", ETC / "gres.conf")
    (state / "ctld").mkdir()
    (state / "slurmd").mkdir()
    pid_files = [munge / "munged.pid", state / "slurmctld.pid", state / "slurmd.pid"]
    try:
        subprocess.run(
            [
                "munged",
                "--force",
                f"--socket={munge / 'munge.socket'}",
                f"--key-file={key}",
                f"--log-file={munge / 'munged.log'}",
                f"--pid-file={pid_files[0]}",
                f"--seed-file={munge / 'munged.seed'}",
            ],
            check=True,
        )
        subprocess.run(["slurmctld"], check=True)
        subprocess.run(["slurmd"], check=True)
        wait_until(lambda: "idle" in squeue_like(["sinfo", "-h", "-o", "%T"]), 60, "the node to come up idle")
        yield
    finally:
        for pid_file in reversed(pid_files):
            if pid_file.exists():
                pid = int(pid_file.read_text())
                try:
                    os.kill(pid, signal.SIGTERM)
                    wait_until(lambda pid=pid: not Path(f"/proc/{pid}").exists(), 30, f"{pid_file.stem} to stop")
                except ProcessLookupError:
                    pass
        for name in ("slurm.conf", "gres.conf"):
            (ETC / name).unlink(missing_ok=True)


def squeue_like(cmd: list[str]) -> str:
    return subprocess.run(cmd, capture_output=True, text=True).stdout


def slurm_jobs() -> list[dict]:
    """Every job the controller remembers (MinJobAge keeps finished ones): its fields by name."""
    jobs = []
    for line in squeue_like(["scontrol", "show", "job", "-o"]).splitlines():
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if "JobId" in fields:
            jobs.append(fields)
    return jobs


def slurm_snakemake(workdir: Path, *args: str, configs=()) -> list[str]:
    profile, shrink = str(REPO / "profiles" / "slurm"), str(QUICK)
    configs = [str(workdir / "demo.yaml"), shrink, str(TEMPLATES / "gpu.yaml"), *map(str, configs)]
    # squeue, not sacct: no accounting daemon here
    status = ["--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1"]
    return snakemake_command(
        workdir,
        "--workflow-profile",
        profile,
        "--configfile",
        *configs,
        *status,
        "--seconds-between-status-checks",
        "1",
        "--verbose",  # the log keeps every sbatch call
        *args,
    )


@pytest.fixture(scope="module")
def slurm_workdir(cluster, tmp_path_factory):
    work = checkout_like(tmp_path_factory.mktemp("slurm-workflow"))
    done = subprocess.run(slurm_snakemake(work, *TABLE), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-5000:]
    return work


def rule_of(job: dict) -> str:
    return job.get("Comment", "").removeprefix("rule_").split("_wildcards_")[0]


def sbatch_calls(workdir: Path) -> list[str]:
    """Every sbatch call Snakemake made (its --verbose log): a record that, unlike the controller's
    memory of finished jobs (MinJobAge), does not depend on how long the run took."""
    (log,) = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"))[:1]
    return re.findall(r"sbatch call: (.*)", log.read_text())


def test_every_gpu_job_went_through_sbatch_with_a_gpu_request(slurm_workdir):
    calls = sbatch_calls(slurm_workdir)
    runs = list((slurm_workdir / "results" / "runs").iterdir())
    outputs = ("model.pt", "autoattack_*.json", "pgd_*.json")
    expected = sum(len(list(r.glob(pattern))) for r in runs for pattern in outputs)
    expected += sum(".file." in r.name for r in runs)  # a weights file's evaluate job (metrics.json)
    assert len(calls) == expected  # one SLURM job per training and attack; nothing else
    rules = {re.search(r"--comment '?rule_(\w+?)_wildcards", call).group(1) for call in calls}
    assert rules == GPU_RULES  # prepare_data and the reports ran locally
    assert all(" --gpus=1" in call for call in calls)


def test_the_table_equals_that_of_the_local_run(slurm_workdir, workdir):
    for name in TABLE:
        assert (slurm_workdir / name).read_bytes() == (workdir / name).read_bytes(), name


def test_a_cancelled_training_job_resumes_from_its_checkpoint(slurm_workdir, tmp_path):
    """scancel (SIGTERM, as preemption sends) mid-run; the profile's retry resumes, not restarts."""
    slow = tmp_path / "slow.yaml"
    slow.write_text(
        yaml.safe_dump(
            {
                "recipes": {
                    "slow": {
                        "epochs": 6,
                        "batch_size": 64,
                        "optimizer": {"lr": 0.05, "momentum": 0.9},
                        "augment": {"crop_padding": 1},
                        "log_every": 1,
                    }
                },
                "runs": {
                    "slow": {
                        "dataset": "digits",
                        "model": {"arch": "resnet18", "width": 0.25},
                        "method": {"name": "ce"},
                        "recipe": "slow",
                        "seeds": [0],
                    }
                },
            }
        )
    )
    config = {}
    for path in (slurm_workdir / "demo.yaml", QUICK, TEMPLATES / "gpu.yaml", slow):
        advkd.config.merge(config, advkd.config.load(path))
    run = advkd.config.check(config).seeds("slow")[0]
    folder = slurm_workdir / run.folder
    proc = subprocess.Popen(
        slurm_snakemake(slurm_workdir, f"{run.folder}/model.pt", configs=[slow]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: (folder / "checkpoint.pt").exists(), 300, "the first epoch's checkpoint")
        job_id = wait_until(
            lambda: next((j["JobId"] for j in slurm_jobs() if run.id in j.get("Comment", "")), None), 30, "the job"
        )
        subprocess.run(["scancel", job_id], check=True)
        _, stderr = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr[-5000:]
    attempts = [j for j in slurm_jobs() if run.id in j.get("Comment", "")]
    assert [j["JobState"] for j in attempts] == ["CANCELLED", "COMPLETED"]
    cancelled_log = slurm_workdir / ".snakemake" / "slurm_logs" / "rule_train" / run.id / f"{attempts[0]['JobId']}.log"
    assert "advkd: Preempted: " in cancelled_log.read_text()  # it saved a checkpoint on SIGTERM and exited
    log = (slurm_workdir / "logs" / "train" / f"{run.id}.log").read_text()
    assert f"run {run.id}: resuming at epoch" in log  # the retry continued; it did not start over
    assert len(yaml.safe_load((folder / "history.json").read_text())) == 6


def test_a_cancelled_autoattack_job_continues_where_it_stopped(slurm_workdir, tmp_path):
    """scancel in the middle of AutoAttack; the profile's retry continues from the saved batches.
    (That the continued result equals an uninterrupted one: tests/test_faults.py.)"""
    small_batches = tmp_path / "small_batches.yaml"
    small_batches.write_text(yaml.safe_dump({"autoattack": {"n": 40, "batch_size": 4}}))
    config = {}
    for path in (slurm_workdir / "demo.yaml", QUICK, TEMPLATES / "gpu.yaml", small_batches):
        advkd.config.merge(config, advkd.config.load(path))
    run = advkd.config.check(config).seeds("robust_teacher")[0]
    target = slurm_workdir / run.folder / "autoattack_last.json"
    state = target.with_name("autoattack_last.state.pt")
    proc = subprocess.Popen(
        slurm_snakemake(slurm_workdir, str(target.relative_to(slurm_workdir)), configs=[small_batches]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(state.exists, 300, "the first attacked batch")
        job_id = wait_until(
            lambda: next(
                (
                    j["JobId"]
                    for j in slurm_jobs()
                    if j["JobState"] == "RUNNING" and f"rule_autoattack_wildcards_{run.id}" in j.get("Comment", "")
                ),
                None,
            ),
            30,
            "the job",
        )  # fmt: skip  (the controller also remembers the run's finished attack of the first run)
        subprocess.run(["scancel", job_id], check=True)
        _, stderr = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr[-5000:]
    log = (slurm_workdir / "logs" / "autoattack" / f"{run.id}.last.log").read_text()
    assert "AutoAttack: resuming from" in log  # the retry continued; it did not start over
    result = yaml.safe_load(target.read_text())
    assert result["n"] == 40 and not state.exists()
