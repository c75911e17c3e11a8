"""The fault table (docs/reliability.md): one test per bad input or fault, and what the user sees.

Bad configs are checked in-process against `config/demo.yaml` with one value broken, and a few
through the Snakemake CLI to show the one-line error, the exit status and that no job started.
"""

from __future__ import annotations

import copy
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

import advkd.config
import advkd.io
import advkd.joblog
from advkd.data import CorruptDatasetError, DataUnavailableError, IdxFormatError, load, prepare, read_idx, write_idx
from advkd.data.readers import load_idx_dir
from advkd.errors import ConfigError
from advkd.evaluate import run_autoattack, run_metrics
from advkd.io import load_torch, write_json
from advkd.train import CheckpointMismatchError, NonFiniteLossError, Preempted, fit, load_weights
from advkd.train.ema import WeightAverage

from .conftest import REPO, mlp_spec, snakemake_dry_run

DEMO = yaml.safe_load((REPO / "config/demo.yaml").read_text())
WORKER = Path(__file__).with_name("fit_worker.py")


# -- bad configuration ---------------------------------------------------------------------------
def broken(edit) -> dict:
    config = copy.deepcopy(DEMO)
    edit(config)
    return config


def cycle(c):
    c["runs"]["mlp_teacher"].update(method={"name": "kd", "alpha": 0.5, "temperature": 2.0}, teacher="mlp_student_kd")


def with_reference(c, table, dataset):
    c["tables"][table]["reference"] = {"source": "a test", "dataset": dataset}


def two_reference_values(c):
    for table, row, value in (("table3", 1, [94.98, 0.1]), ("table4", 0, [95.29, 0.09])):
        with_reference(c, table, "digits")
        c["tables"][table]["rows"][row]["paper"] = {"accuracy": value}


# fmt: off
BAD_CONFIGS = {
    "best columns without a validation split": (lambda c: c["tables"]["table4"]["columns"].append("best_accuracy"), r"tables\.table4\.columns: best_accuracy show best-on-validation weights, and no run of the table holds out a validation split"),
    "unknown key": (lambda c: c["recipes"]["mlp"].update(epoch=3), r"recipes\.mlp: unknown key 'epoch'; allowed: epochs, batch_size"),
    "unknown top-level key": (lambda c: c.update(seed=[0]), r"\(top level\): unknown key 'seed'; allowed: name, seeds"),
    "wrong type": (lambda c: c["recipes"]["mlp"].update(epochs="ten"), r"recipes\.mlp\.epochs: 'ten' is not of type 'integer'"),
    "negative epochs": (lambda c: c["recipes"]["mlp"].update(epochs=-3), r"recipes\.mlp\.epochs: -3 is less than the minimum of 1"),
    "a learning rate that is not a number": (lambda c: c["recipes"]["mlp"]["optimizer"].update(lr=math.nan), r"recipes\.mlp\.optimizer\.lr: nan is not a finite number"),
    "an infinite claim margin": (lambda c: c["claims"]["kd_helps_the_student"].update(margin=-math.inf), r"claims\.kd_helps_the_student\.margin: -inf is not a finite number"),
    "a claim comparing a run with itself": (lambda c: c["claims"]["kd_helps_the_student"].update(b="mlp_student_kd"), r"claims\.kd_helps_the_student: compares run 'mlp_student_kd' with itself"),
    "alpha above 1": (lambda c: c["runs"]["mlp_student_kd"]["method"].update(alpha=1.5), r"runs\.mlp_student_kd\.method\.alpha: 1\.5 is greater than the maximum of 1"),
    "temperature 0": (lambda c: c["runs"]["mlp_student_kd"]["method"].update(temperature=0), r"runs\.mlp_student_kd\.method\.temperature: 0 is less than or equal to the minimum of 0"),
    "negative eps": (lambda c: c["recipes"]["adversarial"]["attack"].update(eps=-0.1), r"recipes\.adversarial\.attack\.eps: -0\.1 is less than the minimum of 0"),
    "unknown model": (lambda c: c["runs"]["resnet18"]["model"].update(arch="resnet19"), r"runs\.resnet18\.model\.arch: 'resnet19' is not allowed; allowed: mlp, resnet18"),
    "unknown method": (lambda c: c["runs"]["resnet18"]["method"].update(name="distill"), r"runs\.resnet18\.method\.name: 'distill' is not allowed; allowed: ce, kd, tfkd_reg"),
    "option of another method": (lambda c: c["runs"]["resnet18"]["method"].update(temperature=4.0), r"runs\.resnet18\.method: unknown key 'temperature'; allowed: name, label_smoothing"),
    "unknown schedule": (lambda c: c["recipes"]["resnet"]["schedule"].update(name="linear"), r"recipes\.resnet\.schedule\.name: 'linear' is not allowed; allowed: constant, multistep"),
    "unknown dataset source": (lambda c: c["datasets"]["digits"].update(source="mnist"), r"datasets\.digits\.source: 'mnist' is not allowed; allowed: digits, idx_dir, torchvision"),
    "unknown dataset": (lambda c: c["runs"]["resnet18"].update(dataset="cifar10"), r"runs\.resnet18\.dataset: 'cifar10' is not defined in datasets"),
    "export of no trained run": (lambda c: c["exports"].update(x={"run": "resnet18_trades_file"}), r"exports\.x\.run: 'resnet18_trades_file' is not a trained run of runs"),
    "export of a missing seed": (lambda c: c["exports"].update(x={"run": "resnet18_trades", "seed": 5}), r"exports\.x\.seed: run 'resnet18_trades' has no seed 5"),
    "unknown recipe": (lambda c: c["runs"]["resnet18"].update(recipe="fast"), r"runs\.resnet18\.recipe: 'fast' is not defined in recipes"),
    "teacher names no run": (lambda c: c["runs"]["mlp_student_kd"].update(teacher="mlp_big"), r"runs\.mlp_student_kd\.teacher: 'mlp_big' is not defined in runs"),
    "teacher cycle": (cycle, r"teacher cycle mlp_\w+ -> .* -> mlp_\w+"),
    "teacher missing": (lambda c: c["runs"]["mlp_student_kd"].pop("teacher"), r"runs\.mlp_student_kd: method 'kd' needs a teacher"),
    "teacher not taken": (lambda c: c["runs"]["mlp_student"].update(teacher="mlp_teacher"), r"runs\.mlp_student: method 'ce' takes no teacher"),
    "attack missing": (lambda c: c["recipes"]["adversarial"].pop("attack"), r"runs\.resnet18_at: method 'at' needs recipes\.adversarial\.attack"),
    "class the dataset lacks": (lambda c: c["runs"]["omit1_kd"]["data"].update(drop_classes=[10]), r"runs\.omit1_kd\.data\.drop_classes: class 10 is not in dataset 'digits'; allowed: 0\.\.9"),
    "BYOT on a single-exit model": (lambda c: c["runs"]["resnet18_byot"]["model"].pop("exits"), r"runs\.resnet18_byot\.model: method 'byot' needs a multi-exit model \(exits: true\)"),
    "multi-exit model without BYOT": (lambda c: c["runs"]["resnet18"]["model"].update(exits=True), r"runs\.resnet18\.model\.exits: only methods byot, at_byot train a multi-exit model"),
    "table row names no run": (lambda c: c["tables"]["table1"]["rows"][0].update(run="mlp_huge"), r"tables\.table1\.rows\[0\]\.run: 'mlp_huge' is not defined in runs"),
    "table column unknown": (lambda c: c["tables"]["table1"]["columns"].append("f1"), r"tables\.table1\.columns\[\d\]: 'f1' is not allowed; allowed: accuracy"),
    "claim on a run its table lacks": (lambda c: c["claims"]["kd_helps_the_student"].update(b="resnet18"), r"claims\.kd_helps_the_student\.b: table 'table1' shows no run 'resnet18'"),
    "claim on a column its table lacks": (lambda c: c["claims"]["kd_helps_the_student"].update(column="autoattack"), r"claims\.kd_helps_the_student\.column: table 'table1' has no column 'autoattack'"),
    # What used to pass the check and fail later, some after GPU time was spent:
    "multistep without milestones": (lambda c: c["recipes"]["resnet"]["schedule"].pop("milestones"), r"recipes\.resnet\.schedule: 'milestones' is a required property"),
    "exponential without gamma": (lambda c: c["recipes"]["adversarial"]["schedule"].pop("gamma"), r"recipes\.adversarial\.schedule: 'gamma' is a required property"),
    "custom AutoAttack without attacks": (lambda c: c["autoattack"].update(version="custom"), r"autoattack: 'attacks' is a required property"),
    "standard AutoAttack with attacks": (lambda c: c["autoattack"].update(attacks=["apgd-ce"]), r"autoattack\.attacks: version standard runs its own four attacks with their own budgets; set version: custom"),
    "standard AutoAttack with restarts": (lambda c: c["autoattack"].update(restarts=1), r"autoattack\.restarts: version standard runs its own four attacks with their own budgets; set version: custom"),
    "capture with compile": (lambda c: c["recipes"]["mlp"].update(capture=True, compile=True), r"recipes\.mlp: capture and compile together have never run \(a captured step replays the eager step's CUDA graph\); choose one"),
    "more target classes than wrong classes": (lambda c: c["autoattack"].update(version="custom", attacks=["apgd-t"], target_classes=10), r"autoattack\.target_classes: 10, but dataset 'digits' has 10 classes, so at most 9 wrong ones to target"),
    "dataset name not a plain name": (lambda c: c["datasets"].update({"digits (8x8)": {"source": "digits"}}), r"datasets: 'digits \(8x8\)' is not a plain name"),
    "table name not a plain name": (lambda c: c["tables"].update({"table.7": c["tables"]["table1"]}), r"tables: 'table\.7' is not a plain name"),
    "Figure 1 rows of different architectures": (lambda c: c["figure1"]["rows"].append({"label": "MLP", "run": "mlp_student"}), r"figure1\.rows: figure1\.rows\[0\] \(resnet18\) and figure1\.rows\[3\] \(mlp_student\) have different layers"),
    # Found by trying every key with a value a user could plausibly write:
    "Nesterov without momentum": (lambda c: (c["recipes"]["mlp"]["optimizer"].update(momentum=0), c["runs"]["mlp_teacher"]["method"].update(nesterov=True)), r"runs\.mlp_teacher\.method\.nesterov: Nesterov needs momentum, and recipes\.mlp has momentum 0"),
    "attack mode in a recipe": (lambda c: c["recipes"]["adversarial"]["attack"].update(model_mode="eval"), r"recipes\.adversarial\.attack: unknown key 'model_mode'; allowed: eps, step_size, steps, random_start"),
    "eps in 0-255 units": (lambda c: c["recipes"]["adversarial"]["attack"].update(eps=8), r"recipes\.adversarial\.attack\.eps: 8 is greater than the maximum of 1"),
    "AutoAttack eps in 0-255 units": (lambda c: c["autoattack"].update(eps=8), r"autoattack\.eps: 8 is greater than the maximum of 1"),
    "Figure 1 epochs past training": (lambda c: c["figure1"].update(epochs=[1, 99]), r"figure1\.epochs: \[1, 99\] must satisfy first <= last <= 8"),
    "Figure 1 epochs reversed": (lambda c: c["figure1"].update(epochs=[5, 2]), r"figure1\.epochs: \[5, 2\] must satisfy first <= last"),
    "omitted-class column on a run that omits none": (lambda c: c["tables"]["table2"]["rows"][0].update(run="mlp_student"), r"tables\.table2\.rows\[0\]\.run: columns only, without need a run that omits classes"),
    "AutoAttack column without autoattack": (lambda c: c.pop("autoattack"), r"tables\.table5\.columns: apgd_ce, apgd_t, autoattack, fab_t, pgd, square need an autoattack block"),
    "PGD column without autoattack.pgd": (lambda c: c["autoattack"].pop("pgd"), r"tables\.table5\.columns: column pgd needs autoattack\.pgd"),
    "teacher trained on other data": (lambda c: (c["datasets"].update(other={"source": "digits"}), c["runs"]["mlp_teacher"].update(dataset="other")), r"runs\.mlp_student_kd\.teacher: 'mlp_teacher' trains on dataset 'other', the student on 'digits'"),
    "every class dropped": (lambda c: c["runs"]["omit1_kd"]["data"].update(drop_classes=list(range(10))), r"runs\.omit1_kd\.data\.drop_classes: drops every class of dataset 'digits'"),
    "duplicate table column": (lambda c: c["tables"]["table1"]["columns"].append("accuracy"), r"tables\.table1\.columns: .* has non-unique elements"),
    "empty class filter": (lambda c: c["runs"]["omit1_kd"]["data"].update(drop_classes=[]), r"runs\.omit1_kd\.data\.drop_classes: \[\] needs at least 1 item\(s\)"),
    # One run, one reference value per column, in every table that shows it.
    "two paper values for one run": (two_reference_values, r"tables\.table4\.rows\[0\]\.paper\.accuracy: \[95\.29, 0\.09\] for run 'resnet18', but tables\.table3\.rows\[1\]\.paper\.accuracy gives \[94\.98, 0\.1\]"),
    "paper value of a column the table lacks": (lambda c: (with_reference(c, "table1", "digits"), c["tables"]["table1"]["rows"][0].update(paper={"autoattack": 40.0})), r"tables\.table1\.rows\[0\]\.paper\.autoattack: the table has no column 'autoattack'"),
    "reference values without their source": (lambda c: c["tables"]["table1"]["rows"][0].update(paper={"accuracy": 98.98}), r"tables\.table1\.rows\[0\]\.paper: say where reference values come from"),
    "reference values of another dataset": (lambda c: (with_reference(c, "table1", "mnist"), c["tables"]["table1"]["rows"][0].update(paper={"accuracy": 98.98})), r"tables\.table1\.rows\[0\]\.paper: the reference values were measured on mnist, and run 'mlp_teacher' trains on digits"),
    "validation split as large as the training set": (lambda c: c["recipes"]["adversarial"]["validation"].update(size=1437), r"recipes\.adversarial\.validation\.size: 1437 held out of run '\w+''s about 1437 training images leaves none to train on"),
    "'|' in a row label": (lambda c: c["tables"]["table1"]["rows"][0].update(label="Teacher | MLP"), r"tables\.table1\.rows\[0\]\.label: 'Teacher \| MLP' may not hold '\|'"),
    "temperature past float range": (lambda c: c["runs"]["mlp_student_kd"]["method"].update(temperature=1e30), r"runs\.mlp_student_kd\.method\.temperature: 1e\+30 is greater than the maximum of 1000"),
}
# fmt: on


def test_a_config_without_attack_columns_needs_no_autoattack_block():
    config = broken(
        lambda c: (c.pop("autoattack"), c.pop("claims"), c["tables"].pop("table5"), c["tables"].pop("table7"))
    )
    advkd.config.check(config)


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=str)
def test_bad_config_names_the_key_and_what_is_allowed(case):
    edit, message = BAD_CONFIGS[case]
    with pytest.raises(ConfigError, match=message) as caught:
        advkd.config.check(broken(edit))
    assert "\n" not in str(caught.value)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nruns:\n  a: [1, 2\n  b: 3\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml, line \d+, column \d+: not valid YAML"):
        advkd.config.load(path)
    assert advkd.config.main([str(path)]) == 1


@pytest.mark.parametrize(
    "case, message",
    [
        ("negative epochs", "advkd: invalid config: recipes.mlp.epochs: -3 is less than the minimum of 1"),
        ("teacher cycle", "advkd: invalid config: runs.mlp_"),
    ],
)
def test_snakemake_stops_on_a_bad_config_with_one_line(tmp_path, case, message):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(broken(BAD_CONFIGS[case][0])))
    done = snakemake_dry_run(tmp_path, config)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.startswith("advkd:")]
    assert len(lines) == 1 and lines[0].startswith(message), done.stderr
    assert "Traceback" not in done.stderr and "Job stats" not in done.stdout + done.stderr
    assert not (tmp_path / "results").exists()


def test_snakemake_refuses_a_yaml_syntax_error(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("name: x\nruns: [1, 2\n")
    done = snakemake_dry_run(tmp_path, config)
    assert done.returncode != 0
    assert "not valid JSON or YAML" in done.stdout + done.stderr  # Snakemake's message; advkd.config gives the line


# -- bad data ------------------------------------------------------------------------------------
def test_truncated_dataset_file_is_refused(tmp_path):
    path = tmp_path / "d.pt"
    prepare({"source": "digits"}, tmp_path, path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CorruptDatasetError, match="d.pt: unreadable"):
        load(path)


def test_bit_flipped_dataset_file_fails_its_checksum(tmp_path):
    path = tmp_path / "d.pt"
    prepare({"source": "digits"}, tmp_path, path)
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # inside the pixel data: shapes and types stay valid
    path.write_bytes(bytes(damaged))
    with pytest.raises(CorruptDatasetError, match="d.pt: checksum mismatch"):
        load(path)


def test_damaged_download_names_the_file(tmp_path):
    """torchvision's MD5 table catches the damaged CIFAR-10 batch; the message names it."""
    from advkd.data.readers import load_torchvision

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(b"\0" * 1000)
    with pytest.raises(DataUnavailableError, match=r"data_batch_1 failed the MD5 check"):
        load_torchvision("cifar10", tmp_path, download=False)


def test_idx_file_with_wrong_magic_or_size_is_refused(tmp_path):
    images = np.zeros((2, 3, 4), dtype=np.uint8)
    write_idx(tmp_path / "bad_magic", images, magic=bytes([0, 0, 9, 3]))
    with pytest.raises(IdxFormatError, match="magic"):
        read_idx(tmp_path / "bad_magic")
    write_idx(tmp_path / "short", images)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-1])
    with pytest.raises(IdxFormatError, match="23 bytes"):
        read_idx(tmp_path / "short")


def test_idx_dir_names_the_missing_path(tmp_path):
    with pytest.raises(DataUnavailableError, match=f"{tmp_path / 'nowhere'} does not exist"):
        load_idx_dir(tmp_path / "nowhere")
    with pytest.raises(DataUnavailableError, match=f"lacks train-images-idx3-ubyte .*{tmp_path}"):
        load_idx_dir(tmp_path)


def test_class_filter_outside_the_data_is_refused_by_training(digits, tmp_path):
    spec = mlp_spec(data={"keep_classes": [3, 12]})
    with pytest.raises(ConfigError, match=r"data\.keep_classes names class 12; the dataset has classes 0\.\.9"):
        fit(spec, digits, "x.s0", tmp_path / "ck.pt", progress=False)


# -- faults during runs --------------------------------------------------------------------------
def resumable_spec():
    spec = mlp_spec(model={"arch": "resnet18", "width": 0.25})
    spec["recipe"].update(epochs=6, augment={"crop_padding": 1, "flip": True})
    return spec


def start_worker(tmp_path, spec, name):
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    args = [
        sys.executable,
        str(WORKER),
        str(tmp_path / "spec.json"),
        str(tmp_path / "digits.pt"),
        str(tmp_path / f"{name}.ck"),
        str(tmp_path / f"{name}.out"),
    ]
    return subprocess.Popen(args, stderr=subprocess.PIPE, text=True)


def wait_for(path, proc, timeout=120):
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline
        time.sleep(0.01)


def same_training(a, b):
    for (name, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(x, y), name

    def without_timing(history):
        return [{k: v for k, v in row.items() if not k.endswith("seconds")} for row in history]

    assert without_timing(a.history) == without_timing(b.history)
    assert a.gradients == b.gradients


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_same_weights(tmp_path):
    """SIGKILL mid-epoch after the first checkpoint; a re-run resumes and matches bitwise."""
    prepare({"source": "digits"}, tmp_path, tmp_path / "digits.pt")
    spec = resumable_spec()
    proc = start_worker(tmp_path, spec, "killed")
    wait_for(tmp_path / "killed.ck", proc)
    time.sleep(0.2)  # into the next epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = torch.load(tmp_path / "killed.ck", weights_only=True)["epoch"]
    assert 1 <= done < spec["recipe"]["epochs"]
    data = load(tmp_path / "digits.pt")
    resumed = fit(spec, data, "worker.s0", tmp_path / "killed.ck", progress=False)
    straight = fit(spec, data, "worker.s0", tmp_path / "straight.ck", progress=False)
    same_training(resumed, straight)


class TermAtStep(nn.Module):
    """A teacher that sends this process SIGTERM on its n-th call: preemption at a known step."""

    def __init__(self, inner: nn.Module, n: int):
        super().__init__()
        self.inner, self.calls, self.n = inner, 0, n

    def forward(self, x):
        self.calls += 1
        if self.calls == self.n:
            os.kill(os.getpid(), signal.SIGTERM)
        return self.inner(x)


def test_sigterm_saves_mid_epoch_and_the_rerun_matches_bitwise(trained_mlp, digits, tmp_path):
    """Adversarial KD with augmentation: the saved generator, order and partial sums all matter."""
    spec = mlp_spec(method={"name": "at_kd", "alpha": 0.5, "temperature": 2.0})
    spec["recipe"].update(epochs=3, log_every=1, augment={"crop_padding": 1, "flip": True})
    spec["recipe"]["attack"] = {"eps": 0.1, "step_size": 0.05, "steps": 2}
    steps_per_epoch = -(-len(digits.train_y) // spec["recipe"]["batch_size"])
    with pytest.raises(Preempted, match=r"checkpoint saved at epoch 2, step 7"):
        fit(
            spec,
            digits,
            "t.s0",
            tmp_path / "ck.pt",
            teacher=TermAtStep(trained_mlp.model, steps_per_epoch + 7),
            progress=False,
        )
    saved = load_torch(tmp_path / "ck.pt")
    assert saved["epoch"] == 1 and saved["partial"]["step"] == 7
    resumed = fit(spec, digits, "t.s0", tmp_path / "ck.pt", teacher=trained_mlp.model, progress=False)
    straight = fit(spec, digits, "t.s0", tmp_path / "straight.pt", teacher=trained_mlp.model, progress=False)
    same_training(resumed, straight)


@pytest.mark.slow
def test_sigterm_to_a_training_process_exits_non_zero_with_a_checkpoint(tmp_path):
    prepare({"source": "digits"}, tmp_path, tmp_path / "digits.pt")
    spec = resumable_spec()
    spec["recipe"].update(epochs=40, log_every=1)
    proc = start_worker(tmp_path, spec, "termed")
    wait_for(tmp_path / "termed.ck", proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "Preempted" in stderr and "SIGTERM received; checkpoint saved" in stderr
    assert not (tmp_path / "termed.out").exists()
    assert torch.load(tmp_path / "termed.ck", weights_only=True)["epoch"] < 40


def test_crash_while_writing_leaves_no_complete_looking_file(tmp_path):
    """A process killed in the middle of writing an artifact leaves only a hidden temporary."""
    target = tmp_path / "metrics.json"
    code = (
        "import os, signal, sys\n"
        "from advkd.io import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_text('{\"accuracy\": 0.9')\n"  # half a JSON document
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(target)])
    assert proc.returncode == -signal.SIGKILL
    assert not target.exists()
    assert [p.name.startswith(".metrics.json.") for p in tmp_path.iterdir()] == [True]
    with pytest.raises(RuntimeError), advkd.io.atomic_path(target) as tmp:  # an exception: nothing is left behind
        tmp.write_text("partial")
        raise RuntimeError("disk full")
    assert not target.exists()
    write_json(target, {"accuracy": 0.9})
    assert json.loads(target.read_text()) == {"accuracy": 0.9}


def test_checkpoint_of_another_run_is_refused(digits, tmp_path):
    spec = mlp_spec()
    spec["recipe"]["epochs"] = 1
    fit(spec, digits, "one.s0.aaaa", tmp_path / "ck.pt", progress=False)
    with pytest.raises(CheckpointMismatchError, match="one.s0.aaaa"):
        fit(spec, digits, "two.s0.bbbb", tmp_path / "ck.pt", progress=False)


def test_non_finite_loss_names_run_epoch_and_step(digits, tmp_path):
    spec = mlp_spec()
    spec["recipe"]["optimizer"]["lr"] = math.nan
    spec["recipe"]["schedule"] = {"name": "constant"}
    with pytest.raises(NonFiniteLossError, match=r"run nan\.s0: .* epoch 1, step 2"):
        fit(spec, digits, "nan.s0", tmp_path / "ck.pt", progress=False)


def test_a_run_that_collapses_is_flagged_in_its_log(digits, tmp_path, caplog):
    """A student that only ever saw one class answers it for everything: chance accuracy. The
    job's evaluation (run_metrics) logs it once and keeps it for the tables."""
    spec = mlp_spec(data={"keep_classes": [3]})
    spec["recipe"]["epochs"] = 2
    result = fit(spec, digits, "one-class.s0", tmp_path / "ck.pt", progress=False)
    with caplog.at_level("WARNING", logger="advkd"):
        metrics = run_metrics(result.model, digits, spec, result.history, "one-class.s0")
    assert metrics["test_acc"] < 0.15 and metrics["flags"]
    warnings = [r.getMessage() for r in caplog.records if "COLLAPSED?" in r.getMessage()]
    assert len(warnings) == len(metrics["flags"]) and "run one-class.s0: COLLAPSED? test accuracy" in warnings[0]


class Payload:
    """Unpickling this runs a shell command: what a malicious checkpoint would carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused(digits, tmp_path):
    """Teacher weights (`load_weights`) and resume checkpoints (`fit`) both load weights-only."""
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    torch.save({"weights": torch.zeros(2), "extra": Payload(marker)}, path)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        load_weights({"arch": "mlp", "hidden": [4]}, digits, path)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        fit(mlp_spec(), digits, "x.s0", path, progress=False)
    assert not marker.exists()


def test_a_second_snakemake_in_the_same_folder_is_refused(tmp_path):
    """Snakemake's own lock: while one instance runs, another one on the same outputs stops."""
    (tmp_path / "Snakefile").write_text('rule slow:\n    output: "done"\n    shell: "sleep 30 && touch {output}"\n')
    cmd = ["snakemake", "--cores", "1", "--snakefile", "Snakefile"]
    first = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        locks = tmp_path / ".snakemake" / "locks"
        deadline = time.time() + 60
        while not (locks.is_dir() and any(locks.iterdir())):
            assert first.poll() is None and time.time() < deadline
            time.sleep(0.1)
        second = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert "cannot be locked" in second.stdout + second.stderr
    finally:
        first.terminate()
        first.wait(timeout=60)


def test_an_unexpected_error_leaves_its_traceback_in_the_job_log(tmp_path):
    log = tmp_path / "job.log"
    with pytest.raises(ZeroDivisionError), advkd.joblog.job_log(log):
        _ = 1 / 0
    assert "Traceback" in log.read_text() and "ZeroDivisionError" in log.read_text()


def test_adr_resumes_bitwise_with_its_weight_average(digits, tmp_path, monkeypatch):
    """ADR's teacher is state of the run: a SIGTERM mid-epoch saves the weight average with the
    student, and the rerun ends bitwise where an uninterrupted run does."""
    spec = mlp_spec(method={"name": "adr"})
    spec["recipe"].update(epochs=2, log_every=1)
    spec["recipe"]["attack"] = {"eps": 0.1, "step_size": 0.05, "steps": 2}
    update, calls = WeightAverage.update, []

    def update_then_sigterm_at_step_30(average):
        update(average)
        calls.append(1)
        if len(calls) == 30:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(WeightAverage, "update", update_then_sigterm_at_step_30)
    with pytest.raises(Preempted, match="epoch 2, step 7"):
        fit(spec, digits, "adr.s0", tmp_path / "ck.pt", progress=False)
    monkeypatch.undo()
    resumed = fit(spec, digits, "adr.s0", tmp_path / "ck.pt", progress=False)
    straight = fit(spec, digits, "adr.s0", tmp_path / "straight.pt", progress=False)
    same_training(resumed, straight)


# -- a killed AutoAttack ---------------------------------------------------------------------------
class Killed(Exception):
    """Stands for the signal that ends a job: nothing after it runs in this process."""


class KilledAtCall(nn.Module):
    """`inner`, until its n-th forward pass, which raises: a job killed in the middle of an attack."""

    def __init__(self, inner: nn.Module, n: int | None = None):
        super().__init__()
        self.inner, self.calls, self.n = inner, 0, n

    def forward(self, x):
        self.calls += 1
        if self.calls == self.n:
            raise Killed
        return self.inner(x)


AUTOATTACK = {"eps": 0.1, "version": "custom", "attacks": ["apgd-ce", "apgd-t"], "batch_size": 8, "seed": 3}


def without_seconds(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ("seconds", "attack_seconds")}


def killed_autoattack(model: nn.Module, x, y, share: float, state: Path, key: str = "") -> dict:
    """An uninterrupted run's result, after a run killed at `share` of its forward passes left `state`."""
    counter = KilledAtCall(model)
    straight = run_autoattack(counter, x, y, **AUTOATTACK)
    with pytest.raises(Killed):
        run_autoattack(
            KilledAtCall(model, int(share * counter.calls)), x, y, state_path=state, state_key=key, **AUTOATTACK
        )
    return straight


@pytest.mark.parametrize("share", [0.3, 0.8])  # in the first attack, in the second
def test_autoattack_killed_mid_attack_resumes_to_the_same_result(trained_mlp, digits, tmp_path, share):
    x, y = digits.test_x[:40], digits.test_y[:40]
    state = tmp_path / "autoattack.state.pt"
    straight = killed_autoattack(trained_mlp.model, x, y, share, state)
    saved = load_torch(state)
    assert saved["stage"] == int(share > 0.5) and 0 < saved["done"] < len(saved["survivors"])
    resumed = run_autoattack(trained_mlp.model, x, y, state_path=state, **AUTOATTACK)
    assert without_seconds(resumed) == without_seconds(straight)
    assert resumed["robust_acc"] < resumed["clean_acc"]  # the attacks did find something
    assert not state.exists()  # a finished attack leaves no state behind


def test_autoattack_state_of_other_settings_is_not_resumed(trained_mlp, digits, tmp_path, caplog):
    x, y = digits.test_x[:16], digits.test_y[:16]
    state = tmp_path / "autoattack.state.pt"
    straight = killed_autoattack(trained_mlp.model, x, y, 0.5, state, key="A")
    assert state.exists()
    other = run_autoattack(trained_mlp.model, x, y, state_path=state, state_key="B", **AUTOATTACK)
    assert "saved for another model or other settings; starting afresh" in caplog.text
    assert without_seconds(other) == without_seconds(straight)
