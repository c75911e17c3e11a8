"""`python -m speed.bf16`: how much weaker each method's training attack is under bf16 autocast
than in fp32, measured in one run on this machine (CPU bf16 autocast, the GPU's numerics choice).

For every adversarial method, the attack advkd runs in training (the method's objective, start and
model mode; `advkd.train.loop._StepRunner`) on one batch of 8x8 digits against trained ResNets, from
the same random start, three ways: fp32 throughout (the reference); bf16 throughout (autocast on
every forward, the TRADES target too); and advkd's choice (bf16, except the first
step from a Gaussian start and TRADES' clean target, in fp32). Printed per method: the share of the
first step's signs equal to fp32's, the objective the full attack reaches (fp32-evaluated, over
fp32's), and the student's accuracy on the attacked batch (lower is a stronger attack).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import sys
import tempfile
from pathlib import Path

import torch

import advkd.attacks
from advkd.data import prepare
from advkd.devices import autocast
from advkd.methods import METHODS, example_options
from advkd.schema import complete_spec
from advkd.train import fit
from advkd.train.ema import WeightAverage
from advkd.train.loop import Runtime, _StepRunner
from advkd.train.objectives import ATTACK_OBJECTIVES, Step

ATTACK = {"eps": 0.1, "step_size": 0.025, "steps": 10}


@contextlib.contextmanager
def bf16_everywhere():
    """advkd's earlier numerics: every attack forward under bf16 autocast, TRADES' target too."""
    saved_autocast, saved_objective = advkd.attacks.autocast, ATTACK_OBJECTIVES["kl_student_clean"]

    def always(device, dtype):
        return autocast(device, dtype or torch.bfloat16)

    def bf16_target(step: Step, attacked, loss, options):
        with step.autocast():
            return saved_objective(step, attacked, loss, options)

    advkd.attacks.autocast, ATTACK_OBJECTIVES["kl_student_clean"] = always, bf16_target
    try:
        yield
    finally:
        advkd.attacks.autocast, ATTACK_OBJECTIVES["kl_student_clean"] = saved_autocast, saved_objective


def trained(data, width: float, seed: int, folder: Path):
    spec = {
        "seed": seed,
        "model": {"arch": "resnet18", "width": width},
        "method": {"name": "ce"},
        "recipe": {"epochs": 6, "batch_size": 64, "optimizer": {"lr": 0.05}, "precision": "fp32"},
    }
    return fit(spec, data, f"bf16-{width}.s{seed}", folder / f"{width}.pt", progress=False).model.train()


def attack(name: str, student, teacher, x, y, dtype, steps: int):
    """x', the objective it reaches and the accuracy on it; a train-mode attack moves batch-norm
    statistics, so each call attacks its own copy of the student."""
    student, method = copy.deepcopy(student), METHODS[name]
    options = {"name": name, **example_options(method)}
    spec = complete_spec({"seed": 0, "model": {}, "method": options, "recipe": {"epochs": 1, "batch_size": 1,
                          "optimizer": {"lr": 0.1}, "attack": {**ATTACK, "steps": steps}}})  # fmt: skip
    if method.teacher == "average":
        teacher = WeightAverage(student, 0.995).model
    runner = _StepRunner(student, teacher if method.teacher != "none" else None, method, spec,
                         Runtime(torch.device("cpu"), dtype, False))  # fmt: skip
    step = Step(x, y, runner.forward, runner.teacher, runner.rt.autocast, True, False, 0.5)
    x_adv = runner._adversarial(step, torch.Generator().manual_seed(5))
    with torch.no_grad():
        objective = ATTACK_OBJECTIVES[method.attack](step, student.eval(), method.loss, runner.options)
        value = objective(student(x_adv).float(), x_adv).item()
        accuracy = (student(x_adv).argmax(1) == y).float().mean().item()
    student.train()
    return x_adv, value, accuracy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m speed.bf16", description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=128)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = prepare({"source": "digits"}, folder, folder / "digits.pt")
        student, teacher = trained(data, 0.25, 0, folder), trained(data, 0.5, 1, folder).eval()
    x, y = data.test_x[: args.points].float() / 255, data.test_y[: args.points]
    print(f"digits, {len(y)} points, PGD-{ATTACK['steps']} at eps {ATTACK['eps']}, CPU bf16 autocast")
    header = (
        "method",
        "start",
        "first step's signs equal to fp32 (bf16 everywhere / now)",
        "objective reached / fp32's (bf16 everywhere / now)",
        "accuracy on x' (fp32 / bf16 everywhere / now)",
    )
    print("| " + " | ".join(header) + " |")
    print("| --- | --- | --- | --- | --- |")
    for name, method in METHODS.items():
        if not method.adversarial or method.exits:
            continue
        first_fp32, *_ = attack(name, student, teacher, x, y, None, 1)
        _, value_fp32, acc_fp32 = attack(name, student, teacher, x, y, None, ATTACK["steps"])
        cells = {}
        for label, context in (("before", bf16_everywhere), ("now", contextlib.nullcontext)):
            with context():
                first, *_ = attack(name, student, teacher, x, y, torch.bfloat16, 1)
                _, value, acc = attack(name, student, teacher, x, y, torch.bfloat16, ATTACK["steps"])
            cells[label] = ((first == first_fp32).float().mean().item(), value / value_fp32, acc)
        b, n = cells["before"], cells["now"]
        print(f"| {name} | {method.attack_start} | {b[0]:.1%} / {n[0]:.1%} | {b[1]:.3f} / {n[1]:.3f} "
              f"| {acc_fp32:.1%} / {b[2]:.1%} / {n[2]:.1%} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
