"""The GPU check (`python -m speed.gpu`) at its smoke size on the CPU: every check runs, every
training method is in it, and its verdicts and figures come out as documented."""

import subprocess
import sys

import pytest

from advkd.plan.measured import WORKLOADS, GpuCheck
from advkd.train import METHODS

from .conftest import REPO


@pytest.mark.slow
def test_gpu_check_runs_at_smoke_size(tmp_path):
    out = tmp_path / "gpu.json"
    done = subprocess.run(
        [sys.executable, "-m", "speed.gpu", "--smoke", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = GpuCheck.read(out)  # read back as the cost model reads it
    verdicts = {(check, case): verdict for check, case, verdict, _ in report.rows}
    assert {case for check, case in verdicts if check == "a"} >= set(METHODS) | {f"{m}, captured" for m in METHODS}
    assert {check for check, _ in verdicts} == {"a", "b", "c", "d", "e"}
    assert all(v == "pass" for (check, _), v in verdicts.items() if check in "abcd")
    assert {rate.workload for rate in report.training} == set(WORKLOADS)
    assert all(rate.images_per_s > 0 and rate.forward_flops > 0 for rate in report.training)
    assert report.gpu is None and report.smoke  # no datasheet peak on a CPU
    assert report.startup_s > 0
    steady = {(rate.workload, rate.captured) for rate in report.steady}  # the step alone, steady state
    assert steady == {(workload, captured) for workload in WORKLOADS for captured in (False, True)}
    assert all(rate.images_per_s > 0 and rate.launches_per_step is None for rate in report.steady)  # no CUDA
    assert [(rate.processes, rate.mps) for rate in report.shared] == [(1, False), (2, False), (3, False)]
    assert all(rate.images_per_s > 0 for rate in report.shared)  # processes sharing the device; MPS is CUDA's
    (robust,) = report.robust_attacks  # AutoAttack at the robust fraction a PGD-trained model keeps
    assert robust.points == 32 and set(robust.after) == set(robust.attack_seconds) == {"apgd-ce"}
    assert "| check | case" in done.stdout  # the table is the last thing printed


def test_gpu_check_refuses_full_size_without_cuda():
    if __import__("torch").cuda.is_available():
        pytest.skip("a CUDA device is present")
    done = subprocess.run([sys.executable, "-m", "speed.gpu"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and "--smoke" in done.stderr


def test_gpu_check_names_an_unknown_section():
    done = subprocess.run(
        [sys.executable, "-m", "speed.gpu", "--smoke", "--sections", "checks,speed"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "--sections: unknown speed; known: checks, timing, robust-autoattack" in done.stderr


@pytest.mark.slow
def test_cpu_section_runs_at_smoke_size():
    """`python -m speed --sections cpu --smoke`: every step of the Fashion-MNIST proxy's standard,
    KD, PGD and TRADES runs in each smoke variant, the whole training jobs, AutoAttack in both
    layouts and the job layout on two cores, each a measured ratio with its goal."""
    done = subprocess.run(
        [sys.executable, "-m", "speed", "--sections", "cpu", "--smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "---" not in line][1:]
    measures = [row.split("|")[1].strip() for row in rows]
    for method, run in (
        ("ce", "resnet18"),
        ("kd", "resnet50_rekd"),
        ("at", "resnet18_at"),
        ("trades", "trades_teacher"),
    ):
        assert any(m.startswith(f"{method} step ({run})") and m.endswith("fp32 / channels_last") for m in measures)
    assert sum("training job" in m for m in measures) == 2
    assert sum(m.startswith("AutoAttack (apgd-ce, apgd-t") for m in measures) == 1
    ratios = [float(row.split("|")[4]) for row in rows]
    assert all(ratio > 0 for ratio in ratios)
    assert "native bf16:" in done.stdout and "matrix-multiply peak fp32" in done.stdout


def test_speed_names_an_unknown_section():
    done = subprocess.run(
        [sys.executable, "-m", "speed", "--sections", "cpu,gpu"], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 2 and "--sections: unknown gpu; known: loops, steps, pipeline, cpu" in done.stderr
