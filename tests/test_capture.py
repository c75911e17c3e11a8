"""The captured training step (recipe `capture: true`, advkd.train.capture), tested on the CPU by
replaying a recording of its operations (tests/graph_replay.py) the way a CUDA graph replays its
kernels. The GPU check (`python -m speed.gpu`) captures it for real."""

import os
import signal

import pytest
import torch

from advkd.methods import METHODS, example_options
from advkd.train import Preempted, build_for_data, fit
from advkd.train import capture as capture_module
from advkd.train.capture import WARMUP_STEPS, CapturedStep
from advkd.train.loop import _Training

from .conftest import mlp_spec
from .graph_replay import HostRead, ReplayGraph


class CountingReplay(ReplayGraph):
    instances: list["CountingReplay"] = []

    def __init__(self, device, generator):
        super().__init__(device, generator)
        CountingReplay.instances.append(self)


@pytest.fixture
def replayed(monkeypatch):
    """Register the replaying stand-in as the CPU's graph backend for the test."""
    CountingReplay.instances = []
    monkeypatch.setitem(capture_module.GRAPHS, "cpu", CountingReplay)
    return CountingReplay.instances


def resnet_spec(name: str, capture: bool) -> dict:
    """A small ResNet (batch norms to fold), 300 images in batches of 64 (the fifth is partial),
    two epochs under a warm-up + cosine schedule: the rate and progress change every step."""
    method = METHODS[name]
    return {
        "seed": 0,
        "model": {"arch": "resnet18", "width": 0.125, **({"exits": True} if method.exits else {})},
        "method": {"name": name, **example_options(method)},
        "data": {"limit": 300},
        "recipe": {
            "epochs": 2,
            "batch_size": 64,
            "optimizer": {"lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4},
            "schedule": {"name": "cosine", "warmup_epochs": 1},
            "augment": {"crop_padding": 1, "flip": True},
            "attack": {"eps": 0.1, "step_size": 0.05, "steps": 2},
            "capture": capture,
        },
    }


@pytest.fixture(scope="module")
def resnet_teacher(digits):
    torch.manual_seed(5)
    return build_for_data({"arch": "resnet18", "width": 0.125}, digits).eval()


def same_training(a, b) -> None:
    assert all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()))
    drop_time = [{k: v for k, v in row.items() if not k.endswith("seconds")} for row in a.history]
    assert drop_time == [{k: v for k, v in row.items() if not k.endswith("seconds")} for row in b.history]
    assert a.gradients == b.gradients


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_replays_its_recorded_step_exactly(name, digits, resnet_teacher, tmp_path, monkeypatch):
    """The graph-ready step run eagerly every time, and recorded once then replayed, end with
    bitwise the same weights, history and gradient statistics: nothing in the step is frozen by a
    capture (rate, progress, totals, generator), and nothing reads the device on the host."""
    teacher = resnet_teacher if METHODS[name].teacher == "real" else None
    spec = resnet_spec(name, capture=True)
    eager = fit(spec, digits, f"{name}.s0", tmp_path / "eager.pt", teacher=teacher, progress=False)
    CountingReplay.instances = []
    monkeypatch.setitem(capture_module.GRAPHS, "cpu", CountingReplay)
    replayed = fit(spec, digits, f"{name}.s0", tmp_path / "replayed.pt", teacher=teacher, progress=False)
    # 4 full batches an epoch for 2 epochs: WARMUP_STEPS eager, one recorded, the rest replayed
    assert [graph.replays for graph in CountingReplay.instances] == [8 - WARMUP_STEPS - 1]
    same_training(eager, replayed)


@pytest.mark.parametrize("name", ["kd", "at"])
def test_the_graph_ready_step_trains_like_the_eager_one(name, digits, resnet_teacher, tmp_path):
    """Fused SGD reading a tensor rate rounds differently from foreach SGD: the same run, within
    float32 rounding, not bitwise."""
    teacher = resnet_teacher if METHODS[name].teacher == "real" else None
    runs = [
        fit(resnet_spec(name, capture), digits, f"{name}.s0", tmp_path / f"{capture}.pt", teacher, progress=False)
        for capture in (False, True)
    ]
    for key, value in runs[0].model.state_dict().items():
        assert torch.allclose(value.float(), runs[1].model.state_dict()[key].float(), rtol=1e-4, atol=1e-5), key
    assert runs[0].history[-1]["train_loss"] == pytest.approx(runs[1].history[-1]["train_loss"], rel=1e-4)


def test_a_captured_run_resumes_bitwise_after_sigterm(trained_mlp, digits, tmp_path, replayed, monkeypatch):
    """Preempted mid-epoch while replaying, the rerun warms up and captures again, and ends where
    an uninterrupted captured run ends."""
    spec = mlp_spec(method={"name": "at_kd", "alpha": 0.5, "temperature": 2.0})
    spec["recipe"].update(epochs=2, log_every=1, capture=True, augment={"crop_padding": 1, "flip": True})
    spec["recipe"]["attack"] = {"eps": 0.1, "step_size": 0.05, "steps": 2}
    steps_per_epoch = -(-len(digits.train_y) // spec["recipe"]["batch_size"])
    train_step, calls = _Training.train_step, []

    def step_then_sigterm(run, *args):
        calls.append(1)
        if len(calls) == steps_per_epoch + 7:
            os.kill(os.getpid(), signal.SIGTERM)
        return train_step(run, *args)

    monkeypatch.setattr(_Training, "train_step", step_then_sigterm)
    with pytest.raises(Preempted, match="epoch 2, step 7"):
        fit(spec, digits, "t.s0", tmp_path / "ck.pt", teacher=trained_mlp.model, progress=False)
    monkeypatch.setattr(_Training, "train_step", train_step)
    resumed = fit(spec, digits, "t.s0", tmp_path / "ck.pt", teacher=trained_mlp.model, progress=False)
    straight = fit(spec, digits, "t.s0", tmp_path / "straight.pt", teacher=trained_mlp.model, progress=False)
    assert len(replayed) == 3 and all(graph.replays > 0 for graph in replayed)
    same_training(resumed, straight)


def test_the_replay_freezes_what_a_capture_freezes(replayed):
    """The stand-in can fail a step: a Python number read by the step keeps its recorded value, and
    a host read inside the step raises, as with a CUDA graph."""
    total, rate = torch.zeros(()), [1.0]

    def body(x, y):
        total.add_(x.sum() * rate[0])

    step = CapturedStep(body, batch_size=2, device=torch.device("cpu"), generator=None)
    for _ in range(WARMUP_STEPS + 1):  # eager warm-up, then recorded
        step(torch.ones(2), torch.zeros(2))
    rate[0] = 100.0
    step(torch.ones(2), torch.zeros(2))  # replayed: the rate the recording saw
    assert total.item() == 2.0 * (WARMUP_STEPS + 2)
    step(torch.ones(3), torch.zeros(3))  # another batch size: eager, the current rate
    assert total.item() == 2.0 * (WARMUP_STEPS + 2) + 300.0

    def reads_on_host(x, y):
        if x.sum() > 0:  # a branch on a device value
            total.add_(1.0)

    step = CapturedStep(reads_on_host, batch_size=2, device=torch.device("cpu"), generator=None)
    for _ in range(WARMUP_STEPS):
        step(torch.ones(2), torch.zeros(2))
    with pytest.raises(HostRead):
        step(torch.ones(2), torch.zeros(2))
