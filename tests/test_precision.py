"""The GPU's runtime choices, bf16 autocast and channels_last, exercised on the CPU:
every method trains with them, PGD still attacks, AutoAttack stays fp32, resume stays exact."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from advkd.attacks import pgd_linf
from advkd.evaluate import run_autoattack
from advkd.methods import METHODS, example_options
from advkd.schema import complete_spec
from advkd.train import Preempted, Runtime, fit
from advkd.train.loop import _StepRunner
from advkd.train.objectives import Step

from .conftest import mlp_spec
from .test_faults import TermAtStep, same_training

GPU_PATH = {"precision": "bf16", "channels_last": True}


def gpu_path_spec(name: str, epochs: int = 3) -> dict:
    spec = mlp_spec(
        model={"arch": "resnet18", "width": 0.125, "exits": METHODS[name].exits},
        method={"name": name, **example_options(METHODS[name])},
        data={"limit": 512},
    )
    spec["recipe"].update(epochs=epochs, augment={"crop_padding": 1, "flip": False}, **GPU_PATH)
    spec["recipe"]["attack"] = {"eps": 0.1, "step_size": 0.05, "steps": 2}
    return spec


def test_the_runtime_honours_explicit_choices_on_the_cpu():
    runtime = Runtime.for_recipe(GPU_PATH, "cpu")
    assert runtime.autocast_dtype is torch.bfloat16 and runtime.channels_last
    default = Runtime.for_recipe({}, "cpu")
    assert default.autocast_dtype is None and not default.channels_last


@pytest.mark.slow
@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_trains_in_bf16_and_channels_last(name, digits, trained_mlp, tmp_path):
    teacher = trained_mlp.model if METHODS[name].teacher == "real" else None
    result = fit(gpu_path_spec(name), digits, f"{name}.s0", tmp_path / "ck.pt", teacher=teacher, progress=False)
    losses = [row["train_loss"] for row in result.history]
    assert all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < losses[0], losses
    assert {p.dtype for p in result.model.parameters()} == {torch.float32}  # autocast, not half weights


def test_pgd_in_bf16_still_lowers_accuracy(digits, trained_mlp):
    model = trained_mlp.model
    x = (digits.test_x.float() / 255).contiguous(memory_format=torch.channels_last)
    y = digits.test_y
    x_adv = pgd_linf(model, x, y, eps=0.1, step_size=0.025, steps=7, autocast_dtype=torch.bfloat16)
    with torch.no_grad():
        clean = (model(x).argmax(1) == y).float().mean().item()
        robust = (model(x_adv).argmax(1) == y).float().mean().item()
    assert (x_adv - x).abs().max() <= 0.1 + 1e-6
    assert clean > 0.9 and robust < clean - 0.2, (clean, robust)


class RecordsDtype(nn.Module):
    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner, self.dtypes = inner, set()

    def forward(self, x):
        out = self.inner(x)
        self.dtypes.add(out.dtype)
        return out


@pytest.mark.slow
def test_autoattack_of_a_bf16_trained_model_runs_in_fp32(digits, tmp_path):
    model = fit(gpu_path_spec("ce", epochs=2), digits, "ce.s0", tmp_path / "ck.pt", progress=False).model
    recorder = RecordsDtype(model)
    run_autoattack(recorder, digits.test_x[:16], digits.test_y[:16], eps=0.1, version="custom", attacks=["apgd-ce"])
    assert recorder.dtypes == {torch.float32}


@pytest.mark.slow
def test_resume_is_exact_in_bf16_and_channels_last(digits, trained_mlp, tmp_path):
    spec = gpu_path_spec("at_kd", epochs=2)
    spec["recipe"]["log_every"] = 1
    with pytest.raises(Preempted, match="step 3"):
        fit(spec, digits, "t.s0", tmp_path / "ck.pt", teacher=TermAtStep(trained_mlp.model, 3), progress=False)
    resumed = fit(spec, digits, "t.s0", tmp_path / "ck.pt", teacher=trained_mlp.model, progress=False)
    straight = fit(spec, digits, "t.s0", tmp_path / "straight.pt", teacher=trained_mlp.model, progress=False)
    same_training(resumed, straight)


def first_step(method: str, model: nn.Module, x, y, dtype) -> torch.Tensor:
    """x' after one step of the method's training attack, from the same Gaussian start."""
    spec = complete_spec(gpu_path_spec(method, epochs=1))
    spec["recipe"]["attack"]["steps"] = 1
    runner = _StepRunner(model, None, METHODS[method], spec, Runtime(torch.device("cpu"), dtype, False))
    step = Step(x, y, runner.forward, None, runner.rt.autocast, True, False)
    return runner._adversarial(step, torch.Generator().manual_seed(5))


def test_trades_first_attack_step_keeps_fp32_signs_under_bf16(digits, trained_mlp):
    """From x + 0.001 N, TRADES' objective (the student's KL to itself) is below bf16's
    resolution; its first step runs in fp32, so the signs are fp32's (`python -m speed.bf16`
    measures the whole attack, and how it went when bf16 was used everywhere)."""
    x, y = digits.test_x[:128].float() / 255, digits.test_y[:128]
    fp32 = first_step("trades", trained_mlp.model, x, y, None)
    bf16 = first_step("trades", trained_mlp.model, x, y, torch.bfloat16)
    assert (fp32 == bf16).float().mean().item() > 0.99
