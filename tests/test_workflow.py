"""The real Snakemake CLI on the demo config, shrunk: every report file, numbers traced back to
the runs, and the incremental-rerun promises (checked on dry-run job lists)."""

from __future__ import annotations

import csv
import json
import re
import statistics
import subprocess
from pathlib import Path

import pytest

from advkd.workflow import snakemake_command

from .conftest import REPO, planned, snakemake

REPORT_FILES = [f"table{i}{ext}" for i in range(1, 8) for ext in (".csv", ".md", ".tex", "_curves.png")] + [
    "figure1_gradients.png",
    "figure1_gradients.pdf",
    "claims.md",
    "claims.csv",
    "robustbench.json",
    "index.md",
]

pytestmark = pytest.mark.slow


def read_csv(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def run_files(workdir: Path, name: str, filename: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(workdir.glob(f"results/runs/{name}.s*/{filename}"))]


def test_every_report_file_is_made(workdir):
    folder = workdir / "reports" / "demo"
    for name in REPORT_FILES:
        assert (folder / name).stat().st_size > 0, name
    index = (folder / "index.md").read_text()
    assert "Table 4" in index and "figure1_gradients.png" in index and "demo.yaml" in index
    assert "table4_curves.png" in index
    assert "config/config.yaml" not in index  # the demo replaced the paper config
    # the workflow's own commit, though Snakemake worked in a folder outside the repository
    head = subprocess.run(["git", "rev-parse", "--short=7", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    assert f"git {head.strip()}" in index


def test_a_given_config_replaces_the_paper_config(workdir, tmp_path):
    """Keys the demo leaves out must not leak in from config/config.yaml: a row naming a run that
    only the paper config defines is refused."""
    row = tmp_path / "paper_row.yaml"
    row.write_text("tables: {table1: {columns: [accuracy], rows: [{label: x, run: mnist_teacher}]}}\n")
    result = snakemake(workdir, "--dry-run", extra_configs=(row,))
    assert result.returncode == 1
    assert "tables.table1.rows[0].run: 'mnist_teacher' is not defined in runs" in result.stderr


def test_table_cells_are_the_runs_numbers(workdir):
    table4 = {row["row"]: row for row in read_csv(workdir / "reports/demo/table4.csv")}
    baseline = run_files(workdir, "resnet18", "metrics.json")
    assert len(baseline) == 2  # two seeds
    expected = statistics.fmean(100 * m["test_acc"] for m in baseline)
    assert float(table4["ResNet18: baseline"]["accuracy_mean"]) == pytest.approx(expected)
    assert table4["ResNet18: baseline"]["accuracy_n"] == "2"
    assert {row["accuracy_paper"] for row in table4.values()} == {""}  # the paper's CIFAR values stay off digits

    claims = {row["claim"]: row for row in read_csv(workdir / "reports/demo/claims.csv")}
    tfkd = run_files(workdir, "resnet18_tfkd_reg", "metrics.json")  # seeds 0 and 1, as the baseline's
    differences = [100 * (t["test_acc"] - b["test_acc"]) for t, b in zip(tfkd, baseline, strict=True)]
    claim = claims["tfkd_reg_beats_the_baseline"]
    assert int(claim["n"]) == 2 and float(claim["mean"]) == pytest.approx(statistics.fmean(differences))
    assert claim["verdict"] == "screening"  # two seeds, fewer than the default three
    assert int(claim["points"]) == baseline[0]["points"]["clean"]["n"] == 360  # the digits' test points
    assert claims["kd_helps_the_student"]["n"] == "1" and claims["kd_helps_the_student"]["verdict"] == "screening"
    assert "[claims.csv](claims.csv)" in (workdir / "reports/demo/index.md").read_text()

    table5 = {row["row"]: row for row in read_csv(workdir / "reports/demo/table5.csv")}
    (attack,) = run_files(workdir, "resnet18_at", "autoattack_last.json")
    records = json.loads((workdir / "reports/demo/robustbench.json").read_text())
    attacked = sorted(workdir.glob("results/runs/*/autoattack_*.json"))
    assert len(records) == len(attacked)  # one record per attacked run and weights
    (at_record,) = [r for r in records if r["name"] == "resnet18_at (seed 0, last weights)"]
    assert at_record["autoattack_acc"] == f"{100 * attack['robust_acc']:.2f}" and at_record["n_points"] == 20
    assert float(table5["ResNet18 (AT), no teacher"]["autoattack_mean"]) == pytest.approx(100 * attack["robust_acc"])
    assert attack["robust_acc"] <= attack["clean_acc"] and attack["n"] == 20
    stages = [
        float(table5["ResNet18 (AT), no teacher"][f"{column}_mean"])
        for column in ("apgd_ce", "apgd_t", "fab_t", "square")
    ]
    assert stages == pytest.approx([100 * attack["after"][a] for a in ("apgd-ce", "apgd-t", "fab-t", "square")])
    assert stages == sorted(stages, reverse=True) and stages[-1] == pytest.approx(100 * attack["robust_acc"])
    (pgd,) = run_files(workdir, "resnet18_at", "pgd_last.json")
    assert pgd["steps"] == 20 and pgd["n"] == attack["n"] and 0 <= pgd["acc"] <= 1
    assert float(table5["ResNet18 (AT), no teacher"]["pgd_mean"]) == pytest.approx(100 * pgd["acc"])

    table1 = {row["row"]: row for row in read_csv(workdir / "reports/demo/table1.csv")}
    (defective,) = run_files(workdir, "mlp_teacher_defective", "history.json")
    assert len(defective) == 1  # the defective teacher trained for one epoch
    (defective_kd,) = run_files(workdir, "mlp_student_defective_kd", "metrics.json")
    row = table1["Student MLP, distilled from the defective teacher"]
    assert float(row["accuracy_mean"]) == pytest.approx(100 * defective_kd["test_acc"])
    lsr = run_files(workdir, "resnet18_lsr", "metrics.json")
    assert float(table4["LSR (epsilon = 0.1)"]["accuracy_mean"]) == pytest.approx(
        statistics.fmean(100 * m["test_acc"] for m in lsr)
    )

    table6 = {row["row"]: row for row in read_csv(workdir / "reports/demo/table6.csv")}
    byot = run_files(workdir, "resnet18_byot", "metrics.json")
    assert all(m["exits"]["accuracy"][-1] == m["test_acc"] for m in byot)  # "accuracy" is the deepest exit
    for i in range(3):
        expected = statistics.fmean(100 * m["exits"]["accuracy"][i] for m in byot)
        assert float(table6["ResNet18: BYOT"][f"exit{i + 1}_mean"]) == pytest.approx(expected)
    ensemble = statistics.fmean(100 * m["exits"]["ensemble"] for m in byot)
    assert float(table6["ResNet18: BYOT"]["ensemble_mean"]) == pytest.approx(ensemble)
    assert table6["ResNet18: baseline"]["exit1_mean"] == ""  # a single-exit model has no shallow exits
    (at_byot,) = run_files(workdir, "resnet18_at_byot", "autoattack_last.json")
    assert float(table5["ResNet18 (AT) BYOT, deepest exit"]["autoattack_mean"]) == pytest.approx(
        100 * at_byot["robust_acc"]
    )

    table7 = {row["row"]: row for row in read_csv(workdir / "reports/demo/table7.csv")}
    for label, name in (("RSLAD", "resnet18_rslad"), ("AdaAD", "resnet18_adaad"), ("PGD-AT", "resnet18_at")):
        (attack,) = run_files(workdir, name, "autoattack_last.json")
        (metrics,) = run_files(workdir, name, "metrics.json")
        assert float(table7[label]["autoattack_mean"]) == pytest.approx(100 * attack["robust_acc"])
        assert float(table7[label]["accuracy_mean"]) == pytest.approx(100 * metrics["test_acc"])
    assert float(table7["PGD-AT"]["autoattack_mean"]) == float(table5["ResNet18 (AT), no teacher"]["autoattack_mean"])
    # "Best": the best-on-validation weights (best.pt); their AutoAttack: tests/test_validation.py
    for label, name in (("ADR", "resnet18_adr"), ("ARD", "resnet18_ard")):
        (metrics,) = run_files(workdir, name, "metrics.json")
        (history,) = run_files(workdir, name, "history.json")
        assert metrics["best"]["epoch"] in [row["epoch"] for row in history if row.get("val_robust_acc") is not None]
        assert float(table7[label]["best_accuracy_mean"]) == pytest.approx(100 * metrics["best"]["test_acc"])

    table2 = {row["row"]: row for row in read_csv(workdir / "reports/demo/table2.csv")}
    (omit,) = run_files(workdir, "omit1_plain", "metrics.json")
    assert float(table2["Omit 1, no distillation (T = 1)"]["only_mean"]) == pytest.approx(100 * omit["subsets"]["only"])
    assert omit["subsets"]["only"] == 0.0  # a student that never saw a 1 never predicts one


def test_a_complete_run_plans_nothing(workdir):
    assert planned(workdir) == set()


def test_one_changed_value_reruns_only_what_depends_on_it(workdir, tmp_path):
    change = tmp_path / "change.yaml"
    change.write_text("runs:\n  resnet18_tfkd_reg:\n    method: {alpha: 0.2}\n")
    assert planned(workdir, extra_configs=(change,)) == {
        ("train", "resnet18_tfkd_reg"),
        ("table", "table4"),
        ("curves", "table4"),
        ("figure1", ""),
        ("claims", ""),  # tfkd_reg_beats_the_baseline compares it
        ("index", ""),
        ("all", ""),
    }
    assert planned(workdir) == set()  # the value put back: nothing again


def test_a_teacher_change_reaches_its_students(workdir, tmp_path):
    change = tmp_path / "change.yaml"
    change.write_text("runs:\n  resnet18_at:\n    method: {label_smoothing: 0.1}\n")
    jobs = planned(workdir, extra_configs=(change,))
    runs = {run for rule, run in jobs if rule in ("train", "autoattack")}
    assert runs == {"resnet18_at", "resnet18_akd", "resnet18_at_tfkd_self"}
    assert ("table", "table5") in jobs and ("curves", "table5") in jobs and ("table", "table4") not in jobs


def test_how_to_run_plans_nothing(workdir):
    """The device, threads and GPU model are runtime choices (job resources), not part of any result."""
    config = workdir / "demo.yaml"
    original = config.read_text()
    edited = original.replace("  device: cpu ", "  device: cuda ").replace("threads_per_job: 1", "threads_per_job: 2")
    assert edited != original
    config.write_text(edited)
    try:
        assert planned(workdir) == set()
    finally:
        config.write_text(original)


@pytest.mark.parametrize("pgd", ["{steps: 10, step_size: 0.025}", "{steps: 20, step_size: 0.025, n: 150}"])
def test_pgd_settings_rerun_pgd_and_no_autoattack(workdir, tmp_path, pgd):
    """Its steps, or its own points (more than AutoAttack's)."""
    change = tmp_path / "pgd.yaml"
    change.write_text(f"autoattack: {{pgd: {pgd}}}\n")
    jobs = planned(workdir, extra_configs=(change,))
    assert {rule for rule, _ in jobs} == {"pgd", "table", "index", "all"}
    assert {run for rule, run in jobs if rule == "pgd"} == {
        "resnet18_at",
        "resnet18_akd",
        "resnet18_at_tfkd_reg",
        "resnet18_at_tfkd_self",
        "resnet18_at_byot",
        "robust_teacher",
        "resnet18_trades",
        "resnet18_ard",
        "resnet18_rslad",
        "resnet18_adaad",
        "resnet18_adr",
    }


def test_editing_a_comment_plans_nothing(workdir):
    config = workdir / "demo.yaml"
    original = config.read_text()
    config.write_text(original.replace("name: demo", "name: demo  # an edited comment", 1) + "# trailing note\n")
    try:
        assert planned(workdir) == set()
    finally:
        config.write_text(original)


def test_the_paper_config_plans_every_job_without_downloading(tmp_path):
    config = str(REPO / "config" / "config.yaml")
    cmd = snakemake_command(tmp_path, "--configfile", config, "--dry-run", "--cores", "all", "--resources", "gpu=1")
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, flags=re.M))
    # MNIST, CIFAR-10 and CIFAR-100; Tables 1-7 and the CIFAR-100 versions of Tables 3-5 and 7
    assert counts["prepare_data"] == "3" and counts["train"] == "111"
    # AutoAttack of 60 runs' last weights and of Table 7's 48 students' best weights
    assert counts["autoattack"] == "108" and counts["pgd"] == "60"
    assert counts["table"] == "11" and counts["figure1"] == "1"
    # Table 7: one WRN-34-10 teacher per dataset; every student at seeds 0-2, each attacked
    jobs = set(re.findall(r"^rule (\w+):\n(?:\s+\w+: .*\n)*?\s+wildcards: run_id=(\w+)\.s(\d)\.", result.stdout, re.M))
    assert {(rule, seed) for rule, run, seed in jobs if run == "wrn_trades"} == {
        ("train", "0"),
        ("autoattack", "0"),
        ("pgd", "0"),
    }
    for run in ("rd_ard", "rd_adr_c100", "rd_at_tfkd_self"):
        assert {seed for rule, name, seed in jobs if name == run and rule == "autoattack"} == {"0", "1", "2"}, run
    assert not (tmp_path / "resources").exists()


def test_the_exported_student_evaluated_as_a_file_scores_as_its_run(workdir):
    """The path a user with a RobustBench folder takes: the demo exports its TRADES student in
    RobustBench's layout, and a run that names only that folder and id gets the same numbers."""
    assert (workdir / "results/robustbench/digits/Linf/advkd-demo-trades.pt").is_file()
    table7 = {row["row"]: row for row in read_csv(workdir / "reports/demo/table7.csv")}
    trained, exported = table7["TRADES"], table7["TRADES, its exported file evaluated only"]
    for column in ("accuracy", "autoattack", "apgd_ce", "apgd_t", "fab_t", "square", "pgd"):
        assert exported[f"{column}_mean"] == trained[f"{column}_mean"], column
    assert exported["best_accuracy_mean"] == ""  # a file has no validation split
    (folder,) = workdir.glob("results/runs/resnet18_trades_file.file.*")
    assert not (folder / "model.pt").exists() and (folder / "metrics.json").is_file()
    records = json.loads((workdir / "reports/demo/robustbench.json").read_text())
    (record,) = [r for r in records if r["run_id"] == folder.name]
    assert record["name"] == "resnet18_trades_file (a weights file)" and record["seed"] is None
    assert record["autoattack_acc"] == f"{float(trained['autoattack_mean']):.2f}"
