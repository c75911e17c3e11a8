"""The shipped configs: each passes the check, and config/fashion.yaml is the paper config's
Table 1-2 protocol with only the dataset changed; its shrunk version runs end to end on real data."""

import copy
import csv
import json
import subprocess
import sys

import pytest
import yaml

import advkd.config
from advkd.schema import complete
from advkd.workflow import snakemake_command

from .conftest import FASHION_DIR, REPO

PAPER = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
FASHION = yaml.safe_load((REPO / "config" / "fashion.yaml").read_text())


@pytest.mark.parametrize("name", ["config.yaml", "demo.yaml", "fashion.yaml", "fashion_robust.yaml"])
def test_the_shipped_configs_pass_the_check(name):
    advkd.config.check(advkd.config.load(REPO / "config" / name))


def test_the_gpu_overlay_moves_a_cpu_config_to_cuda_and_changes_no_run_id():
    fashion = advkd.config.check(advkd.config.load(REPO / "config" / "fashion.yaml"))
    on_gpu_config = advkd.config.load(REPO / "config" / "fashion.yaml")
    advkd.config.merge(on_gpu_config, advkd.config.load(REPO / "config" / "gpu.yaml"))
    on_gpu = advkd.config.check(on_gpu_config)
    assert (fashion.compute["device"], on_gpu.compute["device"]) == ("cpu", "cuda")
    assert on_gpu.compute["gpus_per_job"] == 1
    assert [run.id for run in on_gpu.runs] == [run.id for run in fashion.runs]


def test_fashion_runs_the_paper_protocol_with_only_the_dataset_changed():
    for name, run in FASHION["runs"].items():
        paper = copy.deepcopy(PAPER["runs"][name])
        assert paper.pop("dataset") == "mnist" and run["dataset"] == "fashion"
        assert paper.pop("seeds", PAPER["seeds"]) == FASHION["seeds"]
        assert {k: v for k, v in run.items() if k != "dataset"} == paper, name
    for name, recipe in FASHION["recipes"].items():
        drop = {"resources"}
        assert {k: v for k, v in recipe.items() if k not in drop} == {
            k: v for k, v in PAPER["recipes"][name].items() if k not in drop
        }
    for table in ("table1", "table2"):
        paper_rows = [row["run"] for row in PAPER["tables"][table]["rows"]]
        assert [row["run"] for row in FASHION["tables"][table]["rows"]] == paper_rows
    assert complete(FASHION["datasets"]["fashion"], "dataset")["path"] == str(FASHION_DIR)


# fashion_robust.yaml: one adversarial recipe serves Tables 5 and 7: Table 7's PGD-AT and Tf-KD rows are Table 5's runs
SHARED_RUNS = {
    "rd_at": "resnet18_at",
    "rd_at_tfkd_self": "resnet18_at_tfkd_self",
    "rd_at_tfkd_reg": "resnet18_at_tfkd_reg",
}


@pytest.mark.parametrize(("name", "renamed"), [("fashion.yaml", {}), ("fashion_robust.yaml", SHARED_RUNS)])
def test_a_real_data_config_declares_the_papers_claims_on_its_tables(name, renamed):
    config = yaml.safe_load((REPO / "config" / name).read_text())
    expected = {
        key: {**claim, "a": renamed.get(claim["a"], claim["a"]), "b": renamed.get(claim["b"], claim["b"])}
        for key, claim in PAPER["claims"].items()
        if claim["table"] in config["tables"]
    }
    assert config["claims"] == expected


def test_fashion_robust_runs_the_paper_methods_with_only_scale_changed():
    """Same method settings and teachers as the paper config, run for run (the Table 7 teacher is
    a ResNet18 standing in for the WideResNet)."""
    config = yaml.safe_load((REPO / "config" / "fashion_robust.yaml").read_text())
    for name, run in config["runs"].items():
        paper = PAPER["runs"]["wrn_trades" if name == "trades_teacher" else name]
        assert run["method"] == paper["method"], name
        teacher = {"wrn_trades": "trades_teacher"}.get(paper.get("teacher"), paper.get("teacher"))
        assert run.get("teacher") == teacher, name
    assert list(config["tables"]) == ["table3", "table4", "table5", "table6", "table7"]


@pytest.mark.slow
@pytest.mark.skipif(
    not FASHION_DIR.is_dir(), reason="needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"
)
def test_the_fashion_protocol_runs_end_to_end_on_real_data(tmp_path):
    shrink = REPO / "tests" / "workflow" / "fashion_shrink.yaml"
    cmd = snakemake_command(
        tmp_path, "--cores", "2", "--configfile", str(REPO / "config" / "fashion.yaml"), str(shrink)
    )
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    with open(tmp_path / "reports" / "fashion" / "table2.csv") as f:
        table2 = {row["row"]: row for row in csv.DictReader(f)}
    (omit,) = [json.loads(p.read_text()) for p in tmp_path.glob("results/runs/omit1_kd.s0.*/metrics.json")]
    row = table2["Omit 1 (Trouser), distillation (T = 10)"]
    assert float(row["only_mean"]) == pytest.approx(100 * omit["subsets"]["only"])
    assert omit["subsets"]["classes"] == [1] and omit["test_acc"] > 0.5  # real data, one epoch, ten classes


def test_mnist_offline_is_one_merged_key_away():
    """README, section 4 (MNIST files at hand): the idx files replace the download by merging one key."""
    config = advkd.config.merge(
        copy.deepcopy(PAPER), {"datasets": {"mnist": {"source": "idx_dir", "path": "/data/mnist"}}}
    )
    registry = advkd.config.check(config)
    (teacher,) = registry.seeds("mnist_teacher")
    assert teacher.spec["dataset"] == {"key": "mnist", "source": "idx_dir", "name": "mnist", "path": "/data/mnist"}


@pytest.mark.slow
@pytest.mark.skipif(
    not FASHION_DIR.is_dir(), reason="needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"
)
def test_the_robust_fashion_protocol_runs_end_to_end_with_its_claims(tmp_path):
    shrink = REPO / "tests" / "workflow" / "fashion_robust_shrink.yaml"
    config = REPO / "config" / "fashion_robust.yaml"
    done = subprocess.run(
        snakemake_command(tmp_path, "--cores", "2", "--configfile", str(config), str(shrink)),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    reports = tmp_path / "reports" / "fashion_robust"
    with open(reports / "claims.csv") as f:
        claims = {row["claim"]: row for row in csv.DictReader(f)}
    assert set(claims) == set(yaml.safe_load(config.read_text())["claims"])
    assert {row["n"] for row in claims.values()} == {"1"}  # one seed: a difference, no interval
    assert {row["verdict"] for row in claims.values()} == {"screening"}
    (attack,) = [json.loads(p.read_text()) for p in tmp_path.glob("results/runs/rd_adr.s0.*/autoattack_last.json")]
    with open(reports / "table7.csv") as f:
        adr = next(row for row in csv.DictReader(f) if row["run"] == "rd_adr")
    assert attack["n"] == 20 and float(adr["autoattack_mean"]) == pytest.approx(100 * attack["robust_acc"])
    # the config's AutoAttack budget against the standard version, on one trained run of this workdir
    budget = subprocess.run(
        [sys.executable, "-m", "speed.attack_budget", str(tmp_path), str(config), str(shrink), "--run", "resnet18_at"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert budget.returncode == 0, budget.stderr[-3000:]
    (pgd_at,) = [json.loads(p.read_text()) for p in tmp_path.glob("results/runs/resnet18_at.s0.*/autoattack_last.json")]
    assert f"config   apgd-ce, apgd-t: robust {100 * pgd_at['robust_acc']:.2f} %" in budget.stdout, budget.stdout
    assert "standard apgd-ce, apgd-t, fab-t, square: robust" in budget.stdout
    assert "points only the standard version breaks:" in budget.stdout
