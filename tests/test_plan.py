"""The cost model (advkd.plan): FLOPs from specs equal torch's counter, the plan prices every job
the workflow runs, cluster runtimes come from it, and a GPU plan started without CUDA says so."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

import advkd.config
from advkd.models import build_model
from advkd.plan import RuntimeRequests, cpu_only_notice, gpu_rates, plan_jobs, runtime_minutes
from advkd.plan.flops import forward_flops
from advkd.plan.gpus import DATASHEETS
from advkd.plan.measured import MEASURED, GpuCheck, SteadyRate, measured_checks, workload_passes
from advkd.plan.rates import Rates, Speed, measured_utilisation
from advkd.plan.survival import WORST_CASE, Survival, Survivals
from advkd.plan.work import Job, attack_jobs, model_key
from advkd.schema import definition
from advkd.sizes import dataset_size
from advkd.workflow import snakemake_command

from .conftest import FASHION_DIR, REPO

PAPER = advkd.config.load(REPO / "config" / "config.yaml")
DEMO = advkd.config.load(REPO / "config" / "demo.yaml")


@pytest.mark.parametrize("arch", ["mlp", "resnet18", "resnet34", "resnet50"])
@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28), (1, 8, 8)])
@pytest.mark.parametrize("exits", [False, True])
def test_flops_from_the_spec_equal_torchs_counter(arch, shape, exits):
    if arch == "mlp" and exits:
        pytest.skip("an MLP has no exits")
    spec = {"arch": arch, "hidden": [300, 100]} if arch == "mlp" else {"arch": arch, "width": 0.3, "exits": exits}
    model = build_model(spec, shape, 7, [0.5] * shape[0], [0.25] * shape[0]).eval()
    x = torch.zeros(1, *shape)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.exits(x) if exits else model(x)
    assert forward_flops(spec, shape, 7, every_exit=exits) == counter.get_total_flops()


@pytest.mark.parametrize("width", [1.0, 0.1])
@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 8, 8)])
def test_wideresnet_flops_from_the_spec_equal_torchs_counter(width, shape):
    spec = {"arch": "wrn34_10", "width": width}
    model = build_model(spec, shape, 7, [0.5] * shape[0], [0.25] * shape[0]).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, *shape))
    assert forward_flops(spec, shape, 7) == counter.get_total_flops()


def test_the_paper_plan_prices_every_gpu_job_of_the_workflow():
    jobs = plan_jobs(advkd.config.check(PAPER))
    labels = ("train", "autoattack", "autoattack (best)", "pgd")
    counts = {label: sum(job.label == label for job in jobs) for label in labels}
    # as snakemake -n plans them
    assert counts == {"train": 111, "autoattack": 60, "autoattack (best)": 48, "pgd": 60}
    by_run = {(job.label, job.target.split(".")[0]): job for job in jobs}
    # ResNet18, CIFAR-10, 200 epochs: 3 forward-equivalents per training image and one test pass per epoch
    flops = forward_flops({"arch": "resnet18"}, (3, 32, 32), 10)
    evaluation = 10_000 * flops  # metrics.json, in the same job
    assert by_run[("train", "resnet18")].flops == 200 * (50_000 * 3 * flops + 10_000 * flops) + evaluation
    # PGD-7 adds 7 forward + input-backward passes per image
    at = by_run[("train", "resnet18_at")]
    assert at.flops == 50 * (50_000 * (3 + 14) * flops + 10_000 * flops) + evaluation and at.kind == "adversarial"


def test_dataset_sizes_need_no_download():
    assert dataset_size({"source": "torchvision", "name": "cifar100"}).classes == 100
    if FASHION_DIR.is_dir():  # read from the idx headers
        size = dataset_size({"source": "idx_dir", "path": str(FASHION_DIR)})
        assert (size.shape, size.n_train, size.n_test) == ((1, 28, 28), 60_000, 10_000)


def test_every_priced_gpu_has_a_datasheet_and_the_schema_lists_them():
    assert set(definition("compute")["properties"]["gpu"]["enum"]) == set(DATASHEETS)


def test_the_gpu_check_and_the_cost_model_count_passes_alike():
    """One count of forward-pass equivalents: a step is 3, KD adds the teacher's forward, PGD-7
    seven forward + input-backward passes; every measured file reads back as its record."""
    assert [workload_passes(w) for w in ("standard", "KD", "PGD-7")] == [3, 4, 17]
    checks = measured_checks()
    assert checks and all(check.gpu in DATASHEETS and check.training and check.attacks for _, check in checks)


def test_measured_utilisation_is_read_from_the_gpu_checks_output():
    name = "nvidia-h200-2026-11-26.json"  # the first H200 check
    first = measured_utilisation(name, GpuCheck.read(MEASURED / name))
    assert first["gpu"] == "h200" and 0.03 < first["train"] < 0.04 and 0.045 < first["adversarial"] < 0.055
    runs = [measured_utilisation(name, check) for name, check in measured_checks() if check.gpu == "h200"]
    own, other = gpu_rates("h200"), gpu_rates("a100")
    mean_train = sum(m["train"] for m in runs) / len(runs)
    assert own.default.flop_seconds["train"] == pytest.approx(1 / (989.4e12 * mean_train))
    assert own.source.startswith("measured") and "measured on h100, h200" in other.source
    assert other.default.flop_seconds["train"] == pytest.approx(own.default.flop_seconds["train"] * 989.4 / 312.0)


def test_a_model_the_gpu_check_timed_is_priced_at_its_own_utilisation_a_teacher_too():
    """The WideResNet's big convolutions run far closer to the peak than the ResNets': its FLOPs,
    a teacher's share of a student's job included, are priced at its own measured utilisation."""
    rates = gpu_rates("h100")
    wrn, rn18 = model_key({"arch": "wrn34_10"}, (3, 32, 32)), model_key({"arch": "resnet18"}, (3, 32, 32))
    figures = [measured_utilisation(n, c)["models"].get(wrn) for n, c in measured_checks() if c.gpu == "h100"]
    timed = [f["train"] for f in figures if f]
    assert timed and rates.models[wrn].flop_seconds["train"] == pytest.approx(1 / (989.4e12 * sum(timed) / len(timed)))
    alone = Job("train", "s", 1e18, 0, "train", 0, rn18, 128)
    taught = Job("train", "s", 1e18, 0, "train", 0, rn18, 128, teacher=wrn, teacher_flops=0.9e18)
    student, teacher = rates.models[rn18].flop_seconds["train"], rates.models[wrn].flop_seconds["train"]
    assert rates.seconds(alone) - rates.job_seconds == pytest.approx(1e18 * student)
    assert rates.seconds(taught) - rates.job_seconds == pytest.approx(0.1e18 * student + 0.9e18 * teacher)


def test_every_run_has_a_runtime_request_also_one_no_table_shows():
    config = copy.deepcopy(DEMO)
    config["runs"]["extra"] = {**config["runs"]["resnet18"], "seeds": [5]}
    registry = advkd.config.check(config)
    requests = RuntimeRequests(registry)
    (extra,) = registry.seeds("extra")
    (at,) = registry.seeds("resnet18_at")
    assert requests("train", extra.id) >= 10 and requests("autoattack", at.id) >= 10 and requests("pgd", at.id) >= 10


def test_cluster_runtimes_have_a_safety_factor_and_a_floor():
    rates = gpu_rates("h100")
    tiny, big = Job("pgd", "x", 1e9, 1, "attack", 0, "m", 8), Job("train", "y", 1e18, 1000, "train", 10, "m", 128)
    assert runtime_minutes(tiny, rates) == 10
    assert runtime_minutes(big, rates) == pytest.approx(3 * rates.seconds(big) / 60, abs=1)


@pytest.mark.slow
def test_the_paper_plan_is_priced_in_seconds_from_the_command_line():
    done = subprocess.run(
        [sys.executable, "-m", "advkd.plan", str(REPO / "config" / "config.yaml"), "--rules-only"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^total +\| 279 \(0 done\)", done.stdout, re.M) and "hours h100" in done.stdout
    assert "COLLAPSED" not in done.stderr  # the probe's own runs stay quiet
    # Re-KD's +0.17 points: 3 seeds resolve about 2.6, so the plan calls it underpowered beforehand
    (row,) = [line for line in done.stdout.splitlines() if line.startswith("rekd_improves_the_teacher ")]
    assert [cell.strip() for cell in row.split("|")][-3:] == ["+0.17", "0.17", "no: underpowered"], row


def test_a_cpu_config_gets_no_notice_and_a_gpu_plan_without_cuda_does(tmp_path):
    assert cpu_only_notice(advkd.config.check(DEMO), tmp_path) is None
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    notice = cpu_only_notice(advkd.config.check(PAPER), tmp_path)
    assert "no CUDA device here" in notice and "config/demo.yaml" in notice and "hours on this CPU" in notice


@pytest.mark.slow
def test_snakemake_says_it_once_before_the_first_job(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    config["compute"] = {"device": "auto"}
    (tmp_path / "auto.yaml").write_text(yaml.safe_dump(config))
    cmd = snakemake_command(
        tmp_path, "--cores", "1", "--configfile", str(tmp_path / "auto.yaml"), "--until", "prepare_data"
    )
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("advkd: no CUDA device here") == 1


def test_robust_distillation_is_priced_by_its_passes():
    """At one model and recipe: PGD-AT < RSLAD (student on x and x', a teacher forward) < AdaAD
    (the teacher on x' too, and inside every attack step)."""
    jobs = {job.target.split(".")[0]: job for job in plan_jobs(advkd.config.check(DEMO)) if job.rule == "train"}
    at, rslad, adaad = (jobs[name].flops for name in ("resnet18_at", "resnet18_rslad", "resnet18_adaad"))
    student = forward_flops({"arch": "resnet18", "width": 0.125}, (1, 8, 8), 10)
    teacher = forward_flops({"arch": "resnet18", "width": 0.25}, (1, 8, 8), 10)
    images = 8 * 1437  # the adversarial recipe's epochs times the digits' training images
    assert rslad - at == images * (3 * student + teacher)
    assert adaad - rslad == images * (teacher + 2 * 7 * teacher)  # x' through the teacher; 7 PGD steps through it


def _autoattack_job(registry, name, **survival):
    (run,) = registry.seeds(name)[:1]
    fixed = (lambda run, weights: Survival(**survival, source="test")) if survival else None
    size = dataset_size(registry.config["datasets"][run.dataset])
    (job,) = attack_jobs(run, size, registry.autoattack, {("autoattack", "last")}, fixed)
    return job, forward_flops(run.spec["model"], size.shape, size.classes), size


def test_autoattack_runs_its_first_attack_on_the_correct_points_and_the_rest_on_the_survivors():
    """Standard AutoAttack on 10,000 CIFAR-10 points: APGD-CE's 100 iterations of 2 passes on
    the points classified correctly, APGD-T's 9 x 100 and FAB-T's 9 x 100 (3 passes) and Square's
    5,000 queries on those APGD-CE leaves, after one clean forward of every point. Square's
    queries (forward passes without gradients) are counted apart: a CPU prices them lower."""
    registry = advkd.config.check(PAPER)
    worst, forward, _ = _autoattack_job(registry, "resnet18_at")
    assert worst.flops == forward * 10_000 * (1 + 200 + 1800 + 2700 + 5000)
    assert worst.query_flops == forward * 10_000 * 5000
    assert (worst.steps, worst.queries) == (20 * (100 + 900 + 900), 20 * 5000)  # batches of 500, one after another
    expected, _, _ = _autoattack_job(registry, "resnet18_at", clean=0.8, robust=0.5)
    assert expected.flops == pytest.approx(forward * (10_000 + 8_000 * 200 + 5_000 * (1800 + 2700 + 5000)))
    assert expected.query_flops == pytest.approx(forward * 5_000 * 5000)
    assert (expected.steps, expected.queries) == (16 * 100 + 10 * (900 + 900), 10 * 5000)


def test_a_custom_budget_prices_its_restarts_and_target_classes_and_pgd_its_own_points():
    """APGD-CE with 1 restart of 100 iterations and APGD-T with 3 target classes of 100, on
    1,000 points; PGD-20 (41 passes a point) on its own 4,000."""
    config = copy.deepcopy(PAPER)
    config["autoattack"].update(
        version="custom", attacks=["apgd-ce", "apgd-t"], restarts=1, target_classes=3, n=1000, batch_size=500
    )
    config["autoattack"]["pgd"] = {**config["autoattack"]["pgd"], "n": 4000}
    registry = advkd.config.check(config)
    job, forward, size = _autoattack_job(registry, "resnet18_at")
    assert job.flops == forward * 1000 * (1 + 200 + 600)
    assert job.steps == 2 * 100 + 2 * 300
    (run,) = registry.seeds("resnet18_at")[:1]
    (pgd,) = attack_jobs(run, size, registry.autoattack, {("pgd", "last")})
    assert pgd.flops == forward * 4000 * (2 * registry.autoattack["pgd"]["steps"] + 1)


def _fractions(survival: Survival) -> tuple:
    return survival.clean, survival.robust, survival.source


def test_expected_survivors_come_from_the_runs_files_the_rows_reference_or_a_prior(tmp_path):
    registry = advkd.config.check(PAPER)
    survivals = Survivals(registry, tmp_path)
    (akd,) = registry.seeds("resnet18_akd")  # Table 5: 82.70 % clean, 47.66 % under AutoAttack
    assert _fractions(survivals(akd, "last")) == (pytest.approx(0.8270), pytest.approx(0.4766), "reference")
    # CIFAR-10's adversarially trained rows with values: Table 5's four and ADR's 82.41 / 50.39
    clean = (84.22 + 82.70 + 82.02 + 81.53 + 82.41) / 500
    robust = (46.99 + 47.66 + 48.28 + 48.83 + 50.39) / 500
    rd_at = registry.seeds("rd_at")[0]
    assert _fractions(survivals(rd_at, "best")) == (pytest.approx(clean), pytest.approx(robust), "prior")
    # the same run once its clean and PGD figures are measured
    folder = tmp_path / rd_at.folder
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text('{"test_acc": 0.8, "best": {"test_acc": 0.7}}')
    (folder / "pgd_best.json").write_text('{"acc": 0.4}')
    assert survivals(rd_at, "best") == Survival(0.7, 0.4, "measured")
    assert survivals(rd_at, "last").source == "prior"  # no pgd_last.json yet
    # without any reference on the dataset: standard training keeps nothing, robust training all
    demo = advkd.config.check(DEMO)
    plain = Survivals(demo)
    assert plain(demo.seeds("resnet18")[0], "last") == Survival(1.0, 0.0, "prior")
    assert plain(demo.seeds("resnet18_at")[0], "last") == WORST_CASE


def test_square_queries_are_priced_as_forward_passes():
    """An attack job's gradient iterations at the attack's rates, its queries at the query's."""
    speed = Speed({"train": 1.0, "adversarial": 1.0, "attack": 2.0, "query": 0.5}, 0.0, 3.0, 1.0)
    rates = Rates("a machine", speed, {}, 0.0, 0.0, "given")
    job = Job("autoattack", "r.s0", 10.0, 2, "attack", 0, "m", 1, queries=4, query_flops=6.0)
    assert rates.seconds(job) == 2 * 3.0 + 4 * 1.0 + (10.0 - 6.0) * 2.0 + 6.0 * 0.5


def test_a_captured_run_is_priced_at_the_measured_steady_state_speed_up():
    """A GPU check's paired steady-state figures (eager, captured) give the speed-up per kind;
    a run with `capture: true` is priced with it, an eager run and a kind never measured without."""
    check = GpuCheck.read(MEASURED / sorted(name for name, c in measured_checks() if c.gpu == "h100")[0])
    model = {"arch": "resnet18", "width": 1.0}
    check.steady = [
        SteadyRate(model, 32, "standard", 10_000.0, 200, None, 128, False),
        SteadyRate(model, 32, "standard", 25_000.0, 200, None, 128, True),
        SteadyRate(model, 32, "KD", 8_000.0, 200, None, 128, False),
        SteadyRate(model, 32, "KD", 16_000.0, 200, None, 128, True),
    ]
    assert measured_utilisation("a check", check)["capture"] == {"train": pytest.approx((2.5 + 2.0) / 2)}
    speed = Speed({"train": 1.0, "adversarial": 1.0, "attack": 1.0, "query": 1.0}, 0.0, 0.0, 0.0)
    rates = Rates("a GPU", speed, {}, 0.0, 0.0, "given", {"train": 2.25})
    eager = Job("train", "r.s0", 9.0, 0, "train", 0, "m", 128)
    assert rates.seconds(eager) == 9.0
    assert rates.seconds(dataclasses.replace(eager, captured=True)) == 4.0
    assert rates.seconds(dataclasses.replace(eager, kind="adversarial", captured=True)) == 9.0


def test_a_check_without_its_timing_section_prices_nothing(tmp_path, monkeypatch):
    """`python -m speed.gpu --sections robust-autoattack --json F` writes a record without training
    or attack rates: kept beside a full one, it changes no price."""
    name = sorted(name for name, c in measured_checks() if c.gpu == "h100")[0]
    (tmp_path / name).write_bytes((MEASURED / name).read_bytes())
    monkeypatch.setattr("advkd.plan.measured.MEASURED", tmp_path)
    alone = gpu_rates("h100")
    full = GpuCheck.read(MEASURED / name)
    GpuCheck(full.machine, full.gpu, False).write(tmp_path / "partial.json")
    beside = gpu_rates("h100")
    assert "partial.json" not in beside.source and name in beside.source
    assert beside.default.flop_seconds == alone.default.flop_seconds
    assert beside.job_seconds == alone.job_seconds


def test_each_claim_has_a_planned_resolution_from_a_prior_then_from_its_measured_noise(tmp_path):
    """The demo's table-4 claim: 3 paired seeds of the digits' 360 test points. With no runs, the
    prior; once its runs' metrics (with per-point results) exist under the directory, their noise."""
    from advkd.plan.resolution import POINT_SD, SEED_SD, resolutions
    from advkd.points import pack
    from advkd.report.inference import planned

    registry = advkd.config.check(DEMO)
    found = {r.claim: r for r in resolutions(registry, tmp_path)}
    assert set(found) == set(DEMO["claims"])
    tfkd = found["tfkd_reg_beats_the_baseline"]
    assert (tfkd.seeds, tfkd.points, tfkd.source) == (3, 360, "prior")
    assert tfkd.detectable == pytest.approx(planned(3, 360, SEED_SD["clean"], POINT_SD["clean"], 0.05 / tfkd.family))
    assert math.isnan(found["kd_helps_the_student"].detectable)  # one seed resolves nothing
    rng = np.random.default_rng(0)
    for name in ("resnet18", "resnet18_tfkd_reg"):
        for run in registry.seeds(name):
            correct = rng.random(360) < 0.9
            path = tmp_path / run.evaluation_path("metrics", "last")
            path.parent.mkdir(parents=True)
            path.write_text(json.dumps({"test_acc": correct.mean(), "points": {"clean": pack(correct)}}))
    measured = {r.claim: r for r in resolutions(registry, tmp_path)}["tfkd_reg_beats_the_baseline"]
    # independent 90 % runs disagree on 18 % of the points; averaged over the 3 seeds, 6 %
    assert measured.source == "measured" and measured.point_sd == pytest.approx(100 * math.sqrt(0.06), rel=0.25)
