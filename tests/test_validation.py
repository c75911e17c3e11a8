"""The validation split (recipe `validation`): a fixed draw held out of the training data, scored
every few epochs, the best weights kept beside the last, all of it surviving a resume."""

import csv
import json
import os
import signal
import subprocess

import pytest
import torch
import yaml

from advkd.data import hold_out
from advkd.train import Preempted, fit
from advkd.train.validation import Validation
from advkd.workflow import snakemake_command

from .conftest import checkout_like, mlp_spec
from .test_faults import same_training


def test_the_held_out_split_is_a_fixed_draw_disjoint_from_training():
    images, labels = torch.arange(100).view(100, 1, 1, 1), torch.arange(100) % 10
    train_x, train_y, val_x, val_y = hold_out(images, labels, 20)
    assert len(val_y) == 20 and len(train_y) == 80
    assert set(train_x.flatten().tolist()).isdisjoint(val_x.flatten().tolist())
    assert torch.equal(hold_out(images, labels, 20)[2], val_x)  # the same draw every time
    assert val_x.flatten().tolist() != list(range(20))  # a draw, not the first 20
    with pytest.raises(ValueError, match="validation size 100 must be between 1 and 99"):
        hold_out(images, labels, 100)


def validated_spec(epochs: int, **validation) -> dict:
    spec = mlp_spec(method={"name": "at"})
    spec["recipe"].update(epochs=epochs, schedule={"name": "constant"}, validation={"size": 200, **validation})
    spec["recipe"]["attack"] = {"eps": 0.1, "step_size": 0.05, "steps": 2}
    return spec


def test_the_best_weights_are_those_of_the_epoch_that_scored_best(digits, tmp_path):
    """Scored every 2nd epoch and at the last; the kept weights are bitwise those a run stopped at
    that epoch ends with (a constant rate, so the shorter run is the longer one's beginning)."""
    result = fit(validated_spec(5, every=2), digits, "v.s0", tmp_path / "long.pt", progress=False)
    scored = [row["epoch"] for row in result.history if row.get("val_robust_acc") is not None]
    assert scored == [2, 4, 5]
    best_row = max((row for row in result.history if row["epoch"] in scored), key=lambda r: r["val_robust_acc"])
    assert result.best["epoch"] == best_row["epoch"] and result.best["score"] == best_row["val_robust_acc"]
    shorter = fit(validated_spec(best_row["epoch"], every=2), digits, "v.s0", tmp_path / "short.pt", progress=False)
    for key, value in shorter.model.state_dict().items():
        assert torch.equal(result.best["state"][key], value.cpu()), key


def test_a_run_without_an_attack_keeps_its_best_clean_weights(digits, tmp_path):
    spec = mlp_spec()
    spec["recipe"].update(epochs=2, validation={"size": 100})
    result = fit(spec, digits, "c.s0", tmp_path / "ck.pt", progress=False)
    assert all(row["val_robust_acc"] is None for row in result.history)
    assert result.best["score"] == max(row["val_acc"] for row in result.history)


def test_a_preempted_validated_run_resumes_bitwise_best_weights_included(digits, tmp_path, monkeypatch):
    spec = validated_spec(3, every=1)
    spec["recipe"]["log_every"] = 1
    score, calls = Validation.score, []

    def score_then_sigterm(validation, model, epoch):
        row = score(validation, model, epoch)
        calls.append(epoch)
        if len(calls) == 2:  # after the second scoring: the next epoch's first step saves and stops
            os.kill(os.getpid(), signal.SIGTERM)
        return row

    monkeypatch.setattr(Validation, "score", score_then_sigterm)
    with pytest.raises(Preempted):
        fit(spec, digits, "v.s0", tmp_path / "ck.pt", progress=False)
    monkeypatch.undo()
    resumed = fit(spec, digits, "v.s0", tmp_path / "ck.pt", progress=False)
    straight = fit(spec, digits, "v.s0", tmp_path / "straight.pt", progress=False)
    same_training(resumed, straight)
    assert resumed.best["epoch"] == straight.best["epoch"]
    assert all(torch.equal(resumed.best["state"][k].cpu(), v) for k, v in straight.best["state"].items())


@pytest.mark.slow
def test_snakemake_attacks_the_best_weights_in_their_own_job_and_tables_show_both(tmp_path):
    """A validated adversarial run writes best.pt beside model.pt, its best weights get their own
    AutoAttack and PGD jobs, and the table's Best cells read them; a run without a split links its
    last weights as best.pt, is never attacked there, and shows a dash."""
    config = {
        "name": "best",
        "datasets": {"digits": {"source": "digits"}},
        "compute": {"device": "cpu", "gpus_per_job": 0},
        "recipes": {
            "plain": {"epochs": 1, "batch_size": 64, "optimizer": {"lr": 0.05}},
            "validated": {
                "epochs": 2,
                "batch_size": 64,
                "optimizer": {"lr": 0.05},
                "attack": {"eps": 0.1, "step_size": 0.05, "steps": 2},
                "validation": {"size": 100, "pgd_steps": 2},
            },
        },
        "runs": {
            "robust": {
                "dataset": "digits",
                "model": {"arch": "mlp", "hidden": [32]},
                "method": {"name": "at"},
                "recipe": "validated",
            },
            "plain": {
                "dataset": "digits",
                "model": {"arch": "mlp", "hidden": [32]},
                "method": {"name": "ce"},
                "recipe": "plain",
            },
        },
        "autoattack": {
            "n": 20,
            "batch_size": 20,
            "version": "custom",
            "attacks": ["apgd-ce"],
            "eps": 0.1,
            "pgd": {"steps": 2, "step_size": 0.05},
        },
        "tables": {
            "t": {
                "columns": ["accuracy", "autoattack", "best_accuracy", "best_autoattack", "best_pgd"],
                "rows": [{"label": "robust", "run": "robust"}, {"label": "plain", "run": "plain"}],
            }
        },
    }
    path = tmp_path / "best.yaml"
    path.write_text(yaml.safe_dump(config))
    checkout_like(tmp_path)
    cmd = snakemake_command(tmp_path, "--cores", "2", "--configfile", str(path))
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    (folder,) = tmp_path.glob("results/runs/robust.s0.*")
    assert {"model.pt", "best.pt", "autoattack_best.json", "pgd_best.json"} <= {p.name for p in folder.iterdir()}
    assert (folder / "model.pt").stat().st_ino != (folder / "best.pt").stat().st_ino
    (plain,) = tmp_path.glob("results/runs/plain.s0.*")
    assert (plain / "best.pt").stat().st_ino == (plain / "model.pt").stat().st_ino  # one file, two names
    assert not list(plain.glob("*_best.json"))
    rows = {row["row"]: row for row in csv.DictReader((tmp_path / "reports/best/t.csv").read_text().splitlines())}
    best_attack = json.loads((folder / "autoattack_best.json").read_text())
    best = json.loads((folder / "metrics.json").read_text())["best"]
    assert float(rows["robust"]["best_autoattack_mean"]) == pytest.approx(100 * best_attack["robust_acc"])
    assert float(rows["robust"]["best_accuracy_mean"]) == pytest.approx(100 * best["test_acc"])
    assert rows["plain"]["best_accuracy_mean"] in ("", "nan")  # no split: a dash in the Markdown
