"""Each robust-distillation method, and the paper's adversarial Tf-KD rows, takes the same training
step as its official code (tests/official_steps.py), with the options, multipliers and attack
settings that the paper config resolves for the run, on CIFAR-10 and on CIFAR-100: the same x', the
same loss, the same parameter gradients, the same batch-norm statistics after the step (TRADES
excepted: advkd.official says why). An edit of the config or of a method's defaults that breaks
fidelity fails here.

The models are small ResNets on 8x8 images with batch norm, so the model's mode while attacking
matters; the step is fp32 on the CPU.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import advkd.config
from advkd.methods import get_method
from advkd.models import build_model
from advkd.official import SOURCES
from advkd.schema import complete_spec
from advkd.train.ema import WeightAverage
from advkd.train.loop import Runtime, _StepRunner
from advkd.train.schedule import build_optimizer

from . import official_steps as official
from .conftest import REPO

PAPER = advkd.config.check(advkd.config.load(REPO / "config" / "config.yaml"))
BATCH, SIDE = 16, 8
PROGRESS = (37, 200)  # ADR's schedules at global step 37 of 200


def tiny(classes: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = build_model({"arch": "resnet18", "width": 0.0625}, (3, SIDE, SIDE), classes, [0.5] * 3, [0.25] * 3)
    return model.train()


def batch(classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    x = torch.rand(BATCH, 3, SIDE, SIDE, generator=generator)
    x[:, :, :2] = 0.0  # saturated pixels, where an unclipped start and a clipped one differ
    return x, torch.randint(0, classes, (BATCH,), generator=generator)


def official_settings(run_name: str) -> tuple[dict, dict]:
    """The run's completed spec as the paper config resolves it, and its source's settings."""
    run = PAPER.seeds(run_name)[0]
    spec = complete_spec(run.spec)
    return spec, spec["dataset"]["name"]


def noise_like(x: torch.Tensor, start: str) -> torch.Tensor:
    """The random start's noise, drawn as advkd's PGD draws it from a generator seeded 11."""
    generator = torch.Generator().manual_seed(11)
    draw = torch.randn if start.startswith("gaussian") else torch.rand
    return draw(x.shape, generator=generator, dtype=x.dtype)


def advkd_step(spec: dict, student: nn.Module, teacher: nn.Module | None, x, y):
    method = get_method(spec["method"]["name"])
    runner = _StepRunner(student, teacher, method, spec, Runtime(torch.device("cpu"), None, False))
    # The official codes attack the model itself; ours attacks its folded twin, the same function up
    # to float rounding (tests/test_models.py), which can flip the sign of a gradient within rounding.
    runner.folded = None
    loss, step = runner(x, y, torch.Generator().manual_seed(11), PROGRESS[0] / PROGRESS[1])
    return step.x_adv, loss


def official_facts(name: str, dataset: str) -> dict:
    """The source's settings for the dataset; TRADES has no CIFAR-100 script: its CIFAR-10 ones."""
    settings = SOURCES[name].settings if name in SOURCES else {}
    return settings.get(dataset) or settings.get("cifar10", {})


def official_step(spec: dict, student: nn.Module, teacher: nn.Module | None, x, y):
    """The official code's step with the method's own values from that code (advkd.official), not
    the config's: a config that strays from them gives another loss. The attack's eps, step size
    and steps are the table's protocol, shared by every row (differences listed beside the table)."""
    name, dataset = spec["method"]["name"], spec["dataset"]["name"]
    facts = official_facts(name, dataset)
    attack = spec["recipe"]["attack"]
    eps, step, steps = attack["eps"], attack["step_size"], attack["steps"]
    noise = noise_like(x, get_method(name).attack_start)
    k = 100 if dataset == "cifar100" else 10
    if name == "trades":
        return official.trades(student, teacher, x, y, noise, eps, step, steps, facts["method.beta"])
    if name == "ard":
        return official.ard(
            student, teacher, x, y, noise, eps, step, steps, facts["method.alpha"], facts["method.temperature"]
        )
    if name == "rslad":
        return official.rslad(student, teacher, x, y, noise, eps, step, steps, 10.0 if k == 100 else 1.0)
    if name == "adaad":
        return official.adaad(student, teacher, x, y, noise, eps, step, steps, facts["method.alpha"], k == 10)
    if name == "adr":
        temperature, interpolation = facts["method.temperature"], facts["method.interpolation"]
        return official.adr(student, teacher, x, y, noise, eps, step, steps, temperature, interpolation, *PROGRESS)
    # The paper's eq. 6 and 7 with Yuan et al.'s losses and their own multipliers (params.json:
    # Tf-KD-reg alpha 0.1, T 20, multiplier 100; Tf-KD-self alpha 0.95, T 6, multiplier 50).
    if name == "at_tfkd_reg":
        return official.at_tfkd_reg(student, teacher, x, y, noise, eps, step, steps, 0.1, 20.0, 100.0)
    return official.at_tfkd_self(student, teacher, x, y, noise, eps, step, steps, 0.95, 6.0, 50.0)


RUNS = [
    f"{name}{suffix}"
    for name in ("rd_trades", "rd_ard", "rd_rslad", "rd_adaad", "rd_adr", "rd_at_tfkd_reg", "rd_at_tfkd_self")
    for suffix in ("", "_c100")
]


@pytest.mark.parametrize("run_name", RUNS)
def test_one_training_step_equals_the_official_codes(run_name):
    spec, dataset = official_settings(run_name)
    k = 100 if dataset == "cifar100" else 10
    x, y = batch(k)
    method = get_method(spec["method"]["name"])
    ours = tiny(k, seed=0)
    teacher = None
    if method.teacher == "real":
        teacher = tiny(k, seed=1).eval().requires_grad_(False)
    elif method.teacher == "average":  # ADR's weight average, a few steps behind the student
        teacher = WeightAverage(ours, spec["method"]["average_decay"]).model
        with torch.no_grad():
            for p in ours.parameters():
                p.add_(0.05 * torch.randn_like(p))
    theirs = copy.deepcopy(ours)

    x_ours, loss_ours = advkd_step(spec, ours, teacher, x, y)
    x_theirs, loss_theirs = official_step(spec, theirs, copy.deepcopy(teacher) if teacher else None, x, y)
    assert torch.equal(x_ours, x_theirs)
    # RSLAD's code adds 1e-5 inside the teacher's log: a constant of about 1e-5 x its scale
    offset = 1e-4 if method.name == "rslad" else 0.0
    assert loss_ours.item() == pytest.approx(loss_theirs.item(), rel=1e-5, abs=offset)
    loss_ours.backward()
    loss_theirs.backward()
    # Within float rounding of the tensor's scale: TRADES' code takes the KL target's gradient
    # through a second forward of x, the same sum in another order (within 1e-6 of the scale here).
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-7 + 1e-5 * q.grad.abs().max().item()), name
    for (name, b), c in zip(ours.named_buffers(), theirs.buffers()):  # batch norm's running statistics
        assert torch.allclose(b.float(), c.float(), rtol=1e-5, atol=1e-7), name


@pytest.mark.parametrize("run_name", RUNS)
def test_the_optimiser_is_the_official_codes(run_name):
    """Nesterov momentum where the official code has it (ADR), plain momentum elsewhere."""
    spec, dataset = official_settings(run_name)
    optimizer = build_optimizer(nn.Linear(2, 2), spec["recipe"]["optimizer"], spec["method"])
    expected = official_facts(spec["method"]["name"], dataset).get("method.nesterov", False)
    assert optimizer.defaults["nesterov"] is expected
