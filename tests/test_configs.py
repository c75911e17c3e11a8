"""The shipped configs: each passes the check, and config/fashion.yaml is the paper config's
Table 1-2 protocol with only the dataset changed; its shrunk version runs end to end on real data."""

import copy
import csv
import json
import subprocess

import pytest
import yaml

import advkd.config
from advkd.schema import complete
from advkd.workflow import snakemake_command

from .conftest import FASHION_DIR, REPO

PAPER = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
FASHION = yaml.safe_load((REPO / "config" / "fashion.yaml").read_text())


@pytest.mark.parametrize("name", ["config.yaml", "demo.yaml", "fashion.yaml"])
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
    """README, "MNIST offline": the idx files replace the download by merging one key."""
    config = advkd.config.merge(
        copy.deepcopy(PAPER), {"datasets": {"mnist": {"source": "idx_dir", "path": "/data/mnist"}}}
    )
    registry = advkd.config.check(config)
    (teacher,) = registry.seeds("mnist_teacher")
    assert teacher.spec["dataset"] == {"key": "mnist", "source": "idx_dir", "name": "mnist", "path": "/data/mnist"}
