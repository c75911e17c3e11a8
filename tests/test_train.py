import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from advkd.data import prepare
from advkd.train import CheckpointMismatchError, NonFiniteLossError, fit, learning_rate
from advkd.train.loop import Runtime, _StepRunner
from advkd.train.methods import METHODS

from .conftest import mlp_spec

WORKER = Path(__file__).with_name("fit_worker.py")


def test_mlp_learns_the_digits(trained_mlp):
    history = trained_mlp.history
    assert len(history) == 8
    assert history[-1]["test_acc"] > 0.9  # chance is 0.1
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert set(history[0]) == {"epoch", "lr", "train_loss", "train_acc", "test_acc", "test_loss", "seconds"}


def test_resnet_student_distilled_from_the_mlp(trained_mlp, digits, tmp_path):
    spec = mlp_spec(
        model={"arch": "resnet18", "width": 0.125},
        method={"name": "kd", "alpha": 0.9, "temperature": 4.0},
    )
    spec["recipe"].update(epochs=4, augment={"crop_padding": 1, "flip": False})
    result = fit(spec, digits, "kd.s0.test", tmp_path / "ck.pt", teacher=trained_mlp.model, progress=False)
    assert result.history[-1]["test_acc"] > 0.8
    names = result.gradients["names"]
    assert names[0] == "stem.0" and "stage4.1.conv2" in names and names[-1] == "fc"
    assert len(result.gradients["epochs"]) == 4 and all(v > 0 for v in result.gradients["epochs"][-1])


def test_method_and_teacher_must_agree(trained_mlp, digits, tmp_path):
    with pytest.raises(ValueError, match="needs a teacher"):
        fit(mlp_spec(method={"name": "kd", "alpha": 0.5, "temperature": 2}), digits, "x", tmp_path / "a.pt")
    with pytest.raises(ValueError, match="takes no teacher"):
        fit(mlp_spec(), digits, "x", tmp_path / "b.pt", teacher=trained_mlp.model)


class Recorder(nn.Module):
    """A teacher that remembers the inputs it was shown."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, []

    def forward(self, x):
        self.seen.append(x.clone())
        return self.inner(x)


@pytest.mark.parametrize("teacher_input", ["clean", "adversarial"])
def test_adversarial_kd_shows_the_teacher_the_configured_input(trained_mlp, digits, teacher_input):
    spec = mlp_spec(method={"name": "at_kd", "alpha": 0.5, "temperature": 2.0, "teacher_input": teacher_input})
    spec["recipe"]["attack"] = {"eps": 0.1, "step_size": 0.05, "steps": 2}
    student = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    teacher = Recorder(trained_mlp.model)
    runner = _StepRunner(student, teacher, METHODS["at_kd"], spec, Runtime.for_recipe(spec["recipe"], "cpu"))
    x, y = digits.train_x[:16].float() / 255, digits.train_y[:16]
    runner(x, y, torch.Generator().manual_seed(0))
    shown = teacher.seen[0]
    if teacher_input == "clean":
        assert torch.equal(shown, x)
    else:
        assert 0 < (shown - x).abs().max() <= 0.1 + 1e-6


def test_learning_rate_schedules():
    lr = lambda sched, epoch, step=0: learning_rate(0.1, sched, epoch, step, steps_per_epoch=10, epochs=200)  # noqa: E731
    multistep = {"name": "multistep", "milestones": [60, 120, 160], "gamma": 0.2, "warmup_epochs": 1}
    assert lr(multistep, 0, 0) == pytest.approx(0.01)  # first warm-up step: 1/10 of an epoch
    assert lr(multistep, 0, 9) == pytest.approx(0.1)
    assert lr(multistep, 59) == pytest.approx(0.1) and lr(multistep, 60) == pytest.approx(0.02)
    assert lr(multistep, 199) == pytest.approx(0.1 * 0.2**3)
    assert lr({"name": "exponential", "gamma": 0.9}, 3) == pytest.approx(0.1 * 0.9**3)
    cosine = {"name": "cosine"}
    assert lr(cosine, 0) == pytest.approx(0.1) and lr(cosine, 100) == pytest.approx(0.05)
    assert lr(cosine, 199, 9) < 1e-5


def test_non_finite_loss_names_run_epoch_and_step(digits, tmp_path):
    spec = mlp_spec()
    spec["recipe"]["optimizer"]["lr"] = math.nan
    spec["recipe"]["schedule"] = {"name": "constant"}
    with pytest.raises(NonFiniteLossError, match=r"run nan\.s0: .* epoch 1, step 2"):
        fit(spec, digits, "nan.s0", tmp_path / "ck.pt", progress=False)


def test_checkpoint_of_another_run_is_refused(digits, tmp_path):
    spec = mlp_spec()
    spec["recipe"]["epochs"] = 1
    fit(spec, digits, "one.s0.aaaa", tmp_path / "ck.pt", progress=False)
    with pytest.raises(CheckpointMismatchError, match="one.s0.aaaa"):
        fit(spec, digits, "two.s0.bbbb", tmp_path / "ck.pt", progress=False)


def resumable_spec():
    spec = mlp_spec(model={"arch": "resnet18", "width": 0.25})
    spec["recipe"].update(epochs=6, augment={"crop_padding": 1, "flip": True})
    return spec


def start_worker(tmp_path, spec, name):
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    args = [sys.executable, str(WORKER), str(tmp_path / "spec.json"), str(tmp_path / "digits.pt"), str(tmp_path / f"{name}.ck"), str(tmp_path / f"{name}.out")]
    return subprocess.Popen(args, stderr=subprocess.PIPE, text=True)


def wait_for(path, proc, timeout=120):
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline
        time.sleep(0.01)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_weights(tmp_path):
    """SIGKILL after the first checkpoint; a new call resumes and matches an uninterrupted run bitwise."""
    prepare({"source": "digits"}, tmp_path, tmp_path / "digits.pt")
    spec = resumable_spec()
    proc = start_worker(tmp_path, spec, "killed")
    wait_for(tmp_path / "killed.ck", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = torch.load(tmp_path / "killed.ck", weights_only=True)["epoch"]
    assert 1 <= done < spec["recipe"]["epochs"]

    from advkd.data import load

    data = load(tmp_path / "digits.pt")
    resumed = fit(spec, data, "worker.s0", tmp_path / "killed.ck", progress=False)
    straight = fit(spec, data, "worker.s0", tmp_path / "straight.ck", progress=False)
    for (name, a), b in zip(resumed.model.state_dict().items(), straight.model.state_dict().values()):
        assert torch.equal(a, b), name

    def without_timing(history):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in history]

    assert without_timing(resumed.history) == without_timing(straight.history)


@pytest.mark.slow
def test_sigterm_stops_the_run_with_its_checkpoint_kept(tmp_path):
    prepare({"source": "digits"}, tmp_path, tmp_path / "digits.pt")
    spec = resumable_spec()
    spec["recipe"].update(epochs=40, log_every=1)
    proc = start_worker(tmp_path, spec, "termed")
    wait_for(tmp_path / "termed.ck", proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "Preempted" in stderr and "SIGTERM" in stderr
    assert not (tmp_path / "termed.out").exists()
    assert torch.load(tmp_path / "termed.ck", weights_only=True)["epoch"] < 40
