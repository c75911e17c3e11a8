"""`python -m speed.gpu`: the GPU check, one command for the first GPU advkd meets.

Needs torch, torchvision, numpy, pyautoattack and this repository on PYTHONPATH; no Snakemake, no
internet, no dataset (synthetic images of the real shapes; a learnable synthetic task where a
check needs a model that has learned something). It prints one table: pass/fail for

  (a) every training method a few steps in bf16 autocast + channels_last, eagerly, compiled and
      captured as a CUDA graph (`capture: true`, its loss beside the eager one's);
  (b) PGD on the batch-norm-folded twin against the unfolded eval model;
  (c) AutoAttack of one small model on the same points, on the GPU and on the CPU;
  (d) a device claim with the GPUs this process sees;

and figures for (e): images/s and model-FLOP utilisation (MFU) of full-size 32x32 ResNet18,
ResNet50 and WideResNet-34-10 training (standard, KD, PGD-7), for `fit` (everything included) and
for the step alone in steady state, eager and captured (CUDA events over 200 steps, kernel launches
per step from the torch profiler), fp32 forward / forward-backward throughput and
AutoAttack points/s for a ResNet18, 1, 2 and 3 processes training ResNet18 on the device at once
(with CUDA MPS too, where it starts: `speed.shared`), and a process's start-up cost. `--json FILE` keeps every
figure for the cost model (`advkd.plan`). `--smoke` runs the same code at toy sizes on any device
(the test suite runs it on the CPU). Exit status 1 when any of (a)-(d) fails.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from advkd.attacks import pgd_linf
from advkd.data import PreparedDataset
from advkd.data.prepared import from_raw
from advkd.data.readers import RawSplits
from advkd.devices import claim_device, pick_device, visible_devices
from advkd.evaluate import count_flops, run_autoattack
from advkd.evaluate.autoattack import Unfoolable
from advkd.methods import METHODS, example_options
from advkd.models.folding import FoldedTwin, folded
from advkd.plan.gpus import datasheet_of
from advkd.plan.measured import WORKLOADS, AttackRate, GpuCheck, RobustAttack, SteadyRate, TrainingRate
from advkd.train import build_for_data, fit, repeated_step
from advkd.train.capture import WARMUP_STEPS

from . import machine, shared
from .timing import synchronize
from .workloads import ATTACK, AdvkdEpoch, Case, synthetic
from .workloads import spec as run_spec

# The KD workload's options; its teacher is a second model of the student's size.
KD = {"name": "kd", "alpha": 0.9, "temperature": 4.0}


COMPILE_BUDGET_S = 240  # compiling is minutes of CPU work: the check must still end within its 8 minutes
CAPTURE_TOLERANCE = 0.02  # relative, a captured run's mean loss vs the eager run's: bf16, fused SGD
FOLD_TOLERANCE = {"fp32": 5e-3, "bf16": 5e-2}  # relative logit error; cuDNN convolutions run TF32 in fp32
AUTOATTACK_TOLERANCE = 0.03  # robust accuracy, GPU vs CPU: attack randomness differs across devices


@dataclass(frozen=True)
class Size:
    """How big each check runs: the real check on a GPU, or a smoke run on any device."""

    side: int  # image side of check (a)
    width: float  # ResNet18 width multiplier of checks (a)-(c)
    steps: int  # training steps per method in (a)
    compile: tuple[str, ...]  # methods (a) also runs with compile: true
    reference_side: int  # image side of the small trained model of (b) and (c)
    attack_points: int  # points of (b) and (c)
    attacks: tuple[str, ...] | None  # AutoAttack's attacks in (c) and (e); None: the standard version
    epoch_models: tuple[tuple[str, float], ...]  # (arch, width) timed in (e)
    epoch_side: int
    epoch_steps: int
    autoattack_points: int
    steady_steps: int  # steps timed in the steady-state figures of (e), after a tenth as many to warm up
    robust_points: int  # AutoAttack points of the PGD-trained model in (e)
    robust_train: int  # its training images (3 epochs)


# Compiled in (a): one method per distinct compiled graph (plain forward, with a teacher, under
# attack, every exit); the others compile the same student forward as one of these.
COMPILED = ("ce", "kd", "at", "byot")
FULL = Size(
    32,
    0.125,
    4,
    COMPILED,
    16,
    100,
    None,
    (("resnet18", 1.0), ("resnet50", 1.0), ("wrn34_10", 1.0)),
    32,
    200,
    100,
    200,
    1000,
    4096,
)
SMOKE = Size(16, 0.125, 2, (), 16, 32, ("apgd-ce",), (("resnet18", 0.125),), 16, 2, 16, 3, 32, 256)
SECTIONS = ("checks", "timing", "robust-autoattack")  # (a)-(d); (e)'s timings; (e)'s robust AutoAttack
# The CUDA runtime and driver calls that start a kernel (or a captured graph of them), as the profiler names them.
LAUNCHES = ("cudaLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernel", "cuLaunchKernelEx", "cudaGraphLaunch")


@dataclass
class Report:
    """The verdicts as they come (printed at once), and the measured record for the cost model."""

    record: GpuCheck
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)

    def add(self, check: str, case: str, ok: bool | None, detail: str) -> None:
        verdict = {True: "pass", False: "FAIL", None: "-"}[ok]
        self.rows.append((check, case, verdict, detail))
        self.record.rows.append([check, case, verdict, detail])
        print(f"  ({check}) {case}: {verdict} {detail}", flush=True)

    @property
    def failed(self) -> list[tuple[str, str, str, str]]:
        return [row for row in self.rows if row[2] == "FAIL"]

    def table(self) -> str:
        header = ("check", "case", "result", "detail")
        widths = [max(len(r[i]) for r in [header, *self.rows]) for i in range(4)]
        lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in [header, *self.rows]]
        lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
        return "\n".join(lines)


def templates(n_train: int, n_test: int, side: int, seed: int = 0) -> PreparedDataset:
    """A learnable 10-class task: each class a smooth random colour template, each image its
    class's template plus pixel noise. A model can reach high accuracy in a few epochs, so
    attacks have correctly classified points to work on."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0.15, 0.85, (10, 3, 4, 4))
    base = np.kron(coarse, np.ones((1, 1, side // 4, side // 4)))  # (10, 3, side, side)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, n)
        images = base[labels] + rng.normal(0.0, 0.12, (n, 3, side, side))
        return (np.clip(images, 0, 1) * 255).round().astype(np.uint8), labels.astype(np.int64)

    train_x, train_y = draw(n_train)
    test_x, test_y = draw(n_test)
    return from_raw(RawSplits(train_x, train_y, test_x, test_y, [str(c) for c in range(10)]))


def recipe(steps: int, batch_size: int, **extra) -> dict:
    return {
        "epochs": 1,
        "batch_size": batch_size,
        "optimizer": {"lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4},
        "augment": {"crop_padding": 2, "flip": True},
        "attack": {"eps": 8 / 255, "step_size": 2 / 255, "steps": 3},
        "log_every": max(1, steps // 2),
        **extra,
    }


def check_methods(report: Report, size: Size, device: torch.device, folder: Path) -> None:
    """(a) Every method for a few steps under the GPU's runtime choices (bf16, channels_last)."""
    batch = 32
    data = templates(batch * size.steps, 64, size.side)
    torch.manual_seed(1)
    teacher = build_for_data({"arch": "resnet18", "width": size.width}, data).to(device).eval()
    # A captured run: warm-up steps, the capture, then at least two replays, on its own data.
    captured_steps = WARMUP_STEPS + 3
    captured_data = templates(batch * captured_steps, 64, size.side)
    cases = [(name, "eager") for name in METHODS] + [(name, "compiled") for name in size.compile]
    cases += [(name, mode) for name in METHODS for mode in ("eager, as captured", "captured")]
    section_started, losses = time.perf_counter(), {}
    for name, mode in cases:
        method = METHODS[name]
        label = name if mode == "eager" else f"{name}, {mode}"
        if mode == "compiled" and time.perf_counter() - section_started > COMPILE_BUDGET_S:
            report.add("a", label, None, f"not run: (a) is past its {COMPILE_BUDGET_S} s budget")
            continue
        steps, run_data = (captured_steps, captured_data) if "captured" in mode else (size.steps, data)
        extra = {"compile": mode == "compiled", "capture": mode == "captured"}
        spec = {
            "seed": 0,
            "model": {"arch": "resnet18", "width": size.width, **({"exits": True} if method.exits else {})},
            "method": {"name": name, **example_options(method)},
            "recipe": recipe(steps, batch, precision="bf16", channels_last=True, **extra),
        }
        started = time.perf_counter()
        try:
            result = fit(
                spec,
                run_data,
                f"gpu-check-{name}.s0",
                folder / f"{name}-{mode}.pt",
                teacher=teacher if method.teacher == "real" else None,
                device=device,
                progress=False,
            )
        except Exception as err:  # a failing method is a row of the table, not the end of the check
            report.add("a", label, False, f"{type(err).__name__}: {err}"[:300])
            traceback.print_exc()
            continue
        loss = losses[name, mode] = result.history[-1]["train_loss"]
        dtypes = {p.dtype for p in result.model.parameters()}
        ok = math.isfinite(loss) and dtypes == {torch.float32}
        detail = f"loss {loss:.3f}, weights {'/'.join(sorted(map(str, dtypes)))}, {time.perf_counter() - started:.1f} s"
        eager = losses.get((name, "eager, as captured"))
        if mode == "captured" and eager is not None:
            gap = abs(loss - eager) / max(abs(eager), 1e-8)
            ok = ok and gap <= CAPTURE_TOLERANCE
            detail += f", eager {eager:.3f} ({gap:.1%} apart, at most {CAPTURE_TOLERANCE:.0%})"
        report.add("a", label, ok, detail)


def trained_reference(size: Size, device: torch.device, folder: Path) -> tuple[torch.nn.Module, PreparedDataset]:
    """A small ResNet adversarially trained (fp32) on the template task: robust on some points,
    not on others, so (b) and (c) compare attacks that succeed and fail."""
    data = templates(2048, size.attack_points, size.reference_side, seed=1)
    spec = {
        "seed": 0,
        "model": {"arch": "resnet18", "width": size.width},
        "method": {"name": "at"},
        "recipe": {**recipe(64, 64, precision="fp32", channels_last=False), "epochs": 3},
    }
    model = fit(spec, data, "gpu-check-reference.s0", folder / "reference.pt", device=device, progress=False).model
    return model.eval(), data


def pgd_accuracy_at(model: torch.nn.Module, target: torch.nn.Module, x, y, eps: float) -> float:
    """The model's accuracy on PGD-7 points found against `target` (the model or its twin)."""
    generator = torch.Generator(device=x.device).manual_seed(0)
    x_adv = pgd_linf(target, x, y, eps=eps, step_size=eps / 4, steps=7, generator=generator)
    with torch.no_grad():
        return (model(x_adv).argmax(1) == y).float().mean().item()


def calibrated_eps(model: torch.nn.Module, data: PreparedDataset, device: torch.device) -> float:
    """The smallest eps of 1/255, 2/255, 4/255, ... at which PGD-7 leaves at most 70 % of the
    points correct: (b) and (c) then compare attacks that succeed on some points and fail on
    others, not a model that every attack breaks or none does."""
    x, y = data.test_x.to(device).float().div_(255), data.test_y.to(device)
    return next(k / 255 for k in (1, 2, 4, 8, 16, 32, 64, 128) if pgd_accuracy_at(model, model, x, y, k / 255) <= 0.7)


def check_folding(
    report: Report, model: torch.nn.Module, data: PreparedDataset, device: torch.device, eps: float
) -> None:
    """(b) The folded twin computes the eval model; PGD on it finds equally strong points."""
    x = data.test_x.to(device).float().div_(255)
    y = data.test_y.to(device)
    twin = FoldedTwin(model).sync()
    for precision, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            reference, folded = model(x).float(), twin(x).float()
        error = ((folded - reference).norm() / reference.norm()).item()
        report.add(
            "b",
            f"logits, {precision}",
            error <= FOLD_TOLERANCE[precision],
            f"relative error {error:.1e} (tolerance {FOLD_TOLERANCE[precision]:.0e})",
        )
    accuracies = {label: pgd_accuracy_at(model, target, x, y, eps) for label, target in
                  (("eval model", model), ("folded twin", twin))}  # fmt: skip
    gap = abs(accuracies["eval model"] - accuracies["folded twin"])
    report.add(
        "b",
        f"PGD-7 accuracy of the eval model, eps {eps * 255:.0f}/255",
        gap <= AUTOATTACK_TOLERANCE,
        f"attacking the eval model {accuracies['eval model']:.3f}, the twin {accuracies['folded twin']:.3f}",
    )


def attack_version(size: Size) -> dict:
    return {"version": "custom", "attacks": size.attacks} if size.attacks else {"version": "standard"}


def check_autoattack(
    report: Report, size: Size, model: torch.nn.Module, data: PreparedDataset, device: torch.device, eps: float
) -> None:
    """(c) AutoAttack standard gives the same robust accuracy on this device as on the CPU."""
    results = {}
    for where in dict.fromkeys([device, torch.device("cpu")]):
        on = copy.deepcopy(model).to(where).eval()
        results[str(where)] = run_autoattack(
            on, data.test_x, data.test_y, eps=eps, batch_size=500, **attack_version(size)
        )
    cpu, here = results["cpu"], results[str(device)]
    gap = abs(cpu["robust_acc"] - here["robust_acc"])
    report.add(
        "c",
        f"AutoAttack {'+'.join(cpu['attacks'])}, {len(data.test_y)} points, eps {eps * 255:.0f}/255",
        gap <= AUTOATTACK_TOLERANCE,
        f"clean {here['clean_acc']:.3f}; robust {device.type} {here['robust_acc']:.3f}, cpu {cpu['robust_acc']:.3f} "
        f"(tolerance {AUTOATTACK_TOLERANCE})",
    )


def check_claim(report: Report, device: torch.device) -> None:
    """(d) A job's device claim with the devices this process sees (one GPU: no lock, no wait)."""
    with tempfile.TemporaryDirectory() as locks, claim_device("auto", lock_dir=locks) as claimed:
        works = torch.ones(4, device=claimed).sum().item() == 4.0
        names = visible_devices() if claimed.type == "cuda" else []
        locked = sorted(os.listdir(locks))
    expected = device.type
    ok = claimed.type == expected and works and (len(names) > 1 or not locked)
    report.add(
        "d",
        f"claim_device('auto') with {len(names) or 'no'} visible GPU(s)",
        ok,
        f"got {claimed}, locks taken: {locked or 'none'}",
    )


def peak_flops(device: torch.device) -> float | None:
    """The device's dense bf16 peak (advkd.plan.gpus), or None for a CPU or an unknown GPU."""
    sheet = datasheet_of(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    return sheet.bf16_tflops * 1e12 if sheet else None


def time_epochs(report: Report, size: Size, device: torch.device) -> None:
    """(e) Images/s and MFU of `fit` (everything included) for standard, KD and PGD-7 training."""
    peak = peak_flops(device)
    for arch, width in size.epoch_models:
        model = {"arch": arch, "width": width}
        shape = (3, size.epoch_side, size.epoch_side)
        case = Case(f"{arch} x{width}", model, shape, 128, size.epoch_steps, 4, True)
        warm = Case(case.label, model, shape, 128, min(10, size.epoch_steps), 4, True)
        data, warm_data = synthetic(case), synthetic(warm)
        flops = count_flops(build_for_data(model, data).to(device), shape)["flops"]
        torch.manual_seed(1)
        teacher = build_for_data(model, data).to(device).eval()
        for label, (name, steps, taught) in WORKLOADS.items():  # as the cost model counts them
            method = KD if name == "kd" else {"name": name}
            attack = {**ATTACK, "steps": steps} if steps else None
            kd_teacher = teacher if taught else None
            AdvkdEpoch(
                warm, warm_data, device, method, teacher=kd_teacher, attack=attack
            )()  # cuDNN autotuning, allocator
            epoch = AdvkdEpoch(case, data, device, method, teacher=kd_teacher, attack=attack)
            synchronize(device)
            started = time.perf_counter()
            epoch()
            synchronize(device)
            seconds = time.perf_counter() - started
            figure = TrainingRate(model, size.epoch_side, label, case.n_train / seconds, flops, 128)
            report.record.training.append(figure)
            rate, mfu = figure.images_per_s, figure.utilisation(peak) if peak else None
            report.add(
                "e",
                f"{arch} x{width:g} {size.epoch_side}px, {label}, batch 128",
                None,
                f"{rate:,.0f} img/s, MFU {f'{mfu:.1%}' if mfu is not None else 'n/a'} "
                f"({case.n_train} images, {seconds:.1f} s)",
            )


def time_steady_state(report: Report, size: Size, device: torch.device) -> None:
    """(e) The training step alone at batch 128 (advkd.train.repeated_step: the loop's own step
    on one batch), steady state: images/s over `size.steady_steps` steps after a warm-up, timed
    with CUDA events on a GPU, and kernel launches per step counted by the torch profiler; eagerly,
    and captured as a CUDA graph (the warm-up includes the capture)."""
    peak = peak_flops(device)
    for arch, width in size.epoch_models:
        model = {"arch": arch, "width": width}
        case = Case(f"{arch} x{width}", model, (3, size.epoch_side, size.epoch_side), 128, 1, 4, True)
        data = synthetic(case)
        flops = count_flops(build_for_data(model, data).to(device), case.shape)["flops"]
        torch.manual_seed(1)
        teacher = build_for_data(model, data).to(device).eval()
        for (label, (name, steps, taught)), captured in itertools.product(WORKLOADS.items(), (False, True)):
            method = KD if name == "kd" else {"name": name}
            attack = {**ATTACK, "steps": steps} if steps else None
            spec = run_spec(case, method, attack)
            spec["recipe"]["capture"] = captured
            step, _ = repeated_step(spec, data, teacher if taught else None, device)
            for _ in range(max(WARMUP_STEPS + 1, size.steady_steps // 10)):  # cuDNN autotuning, allocator, capture
                step()
            seconds = _timed(step, size.steady_steps, device)
            launches = _launches_per_step(step, device)
            figure = SteadyRate(
                model,
                size.epoch_side,
                label,
                size.steady_steps * 128 / seconds,
                size.steady_steps,
                launches,
                128,
                captured,
            )
            report.record.steady.append(figure)
            mfu = (
                TrainingRate(model, size.epoch_side, label, figure.images_per_s, flops, 128).utilisation(peak)
                if peak
                else None
            )
            report.add(
                "e",
                f"{arch} x{width:g} {size.epoch_side}px, {label}, batch 128, steady state"
                + (", captured" if captured else ""),
                None,
                f"{figure.images_per_s:,.0f} img/s over {size.steady_steps} steps, MFU "
                f"{f'{mfu:.1%}' if mfu is not None else 'n/a'}, "
                f"{f'{launches:,.0f}' if launches is not None else 'n/a'} kernel launches per step",
            )


def _timed(step, steps: int, device: torch.device) -> float:
    """Seconds of `steps` calls: CUDA events on a GPU (the device's time, not the host's)."""
    if device.type != "cuda":
        started = time.perf_counter()
        for _ in range(steps):
            step()
        return time.perf_counter() - started
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(steps):
        step()
    end.record()
    torch.cuda.synchronize(device)
    return start.elapsed_time(end) / 1000


def _launches_per_step(step, device: torch.device, steps: int = 5) -> float | None:
    """Kernel launches the host makes per step (what bounds a small model's step on a fast GPU)."""
    if device.type != "cuda":
        return None
    activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=activities) as profile:
        for _ in range(steps):
            step()
        torch.cuda.synchronize(device)
    return sum(event.count for event in profile.key_averages() if event.key in LAUNCHES) / steps


def time_shared_device(report: Report, size: Size, device: torch.device) -> None:
    """(e) Several jobs on one device (`compute.jobs_per_gpu`): 1-3 processes of the ResNet18
    step, together, without and with MPS (speed.shared)."""
    arch, width = size.epoch_models[0]
    try:
        rates, no_mps = shared.time_shared(arch, width, size.epoch_side, size.steady_steps, device)
    except (RuntimeError, subprocess.SubprocessError) as err:
        report.add("e", "processes sharing the device", None, f"not measured: {err}")
        return
    report.record.shared.extend(rates)
    alone = {rate.mps: rate.images_per_s for rate in rates if rate.processes == 1}
    for rate in rates:
        report.add(
            "e",
            f"{arch} x{width:g} {size.epoch_side}px standard, {rate.processes} process(es) at once"
            + (", MPS" if rate.mps else ""),
            None,
            f"{rate.images_per_s:,.0f} img/s together, {rate.images_per_s / alone[rate.mps]:.2f}x one alone",
        )
    if no_mps:
        report.add("e", "processes sharing the device, MPS", None, f"not measured: {no_mps}")


def time_attack_passes(report: Report, size: Size, device: torch.device) -> None:
    """(e) fp32 throughput of the passes AutoAttack is made of, and a whole AutoAttack run."""
    arch, width = size.epoch_models[0]
    shape = (3, size.epoch_side, size.epoch_side)
    data = synthetic(Case("aa", {"arch": arch, "width": width}, shape, size.autoattack_points, 1, 0, False))
    torch.manual_seed(2)
    model = build_for_data({"arch": arch, "width": width}, data).to(device).eval().requires_grad_(False)
    x = data.train_x.to(device).float().div_(255)
    rates = {}
    for label in ("forward", "forward+input-backward"):

        def one_pass(x=x, label=label):
            if label == "forward":
                with torch.no_grad():
                    return model(x)
            x_req = x.clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(model(x_req).sum(), x_req)
            return grad

        one_pass()
        synchronize(device)
        started, reps = time.perf_counter(), 5
        for _ in range(reps):
            one_pass()
        synchronize(device)
        rates[label] = reps * len(x) / (time.perf_counter() - started)
        report.add("e", f"{arch} x{width:g} fp32 {label}, batch {len(x)}", None, f"{rates[label]:,.0f} img/s")
    budget = run_autoattack(
        Unfoolable(model),
        data.train_x,
        torch.zeros(len(x), dtype=torch.long),
        eps=8 / 255,
        batch_size=500,
        **attack_version(size),
    )
    per_attack = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in budget["attack_seconds"].items())
    report.add(
        "e",
        f"AutoAttack full budget, {arch} x{width:g}, {len(x)} points",
        None,
        f"{len(x) / budget['seconds']:,.1f} points/s (robust {budget['robust_acc']:.2f}: {per_attack})",
    )
    report.record.attacks.append(
        AttackRate(
            {"arch": arch, "width": width},
            size.epoch_side,
            rates["forward"],
            rates["forward+input-backward"],
            len(x),
            budget["attack_seconds"],
        )
    )


def time_robust_autoattack(report: Report, size: Size, device: torch.device, folder: Path) -> None:
    """(e) Standard AutoAttack on `size.robust_points` points of a ResNet18 PGD-trained on the
    template task, at the robust fraction it keeps (eps calibrated so that PGD-7 leaves at most
    70 %), on the folded twin as the workflow runs it, all points in one batch (AutoAttack halves a
    batch that does not fit): points/s beside the worst case's, and what each attack left."""
    arch, width = size.epoch_models[0]
    data = templates(size.robust_train, size.robust_points, size.epoch_side, seed=2)
    spec = {
        "seed": 0,
        "model": {"arch": arch, "width": width},
        "method": {"name": "at"},
        "recipe": {**recipe(64, 128), "epochs": 3},
    }
    model = fit(spec, data, "gpu-check-robust.s0", folder / "robust.pt", device=device, progress=False).model.eval()
    eps = calibrated_eps(model, data, device)
    done = run_autoattack(
        folded(model), data.test_x, data.test_y, eps=eps, batch_size=len(data.test_y), **attack_version(size)
    )
    record = RobustAttack(
        {"arch": arch, "width": width},
        size.epoch_side,
        len(data.test_y),
        eps,
        done["clean_acc"],
        done["after"],
        done["attack_seconds"],
    )
    report.record.robust_attacks.append(record)
    rate = record.points / sum(record.attack_seconds.values())
    worst = [a.autoattack_points / sum(a.attack_seconds.values()) for a in report.record.attacks]
    left = ", ".join(f"{name} {record.after[name]:.2f} in {s:.1f} s" for name, s in record.attack_seconds.items())
    report.add(
        "e",
        f"AutoAttack at the real robust fraction, {arch} x{width:g} PGD-trained, {record.points} points, "
        f"eps {eps * 255:.0f}/255",
        None,
        f"{rate:,.1f} points/s"
        + (f" ({rate / worst[0]:.1f}x the worst case's)" if worst else "")
        + f"; clean {record.clean_acc:.2f}, left after {left}",
    )


def time_startup(report: Report, device: torch.device) -> None:
    """(e) What every job pays before its first step: interpreter, `import torch`, device init."""
    code = "import torch; torch.zeros(1, device='cuda' if torch.cuda.is_available() else 'cpu').sum().item()"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    seconds = time.perf_counter() - started
    report.record.startup_s = seconds
    report.add("e", f"process start-up (python, import torch, first {device.type} op)", None, f"{seconds:.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m speed.gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="toy sizes, any device (the test suite's run)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--json", type=Path, help="also write every figure and verdict to this file")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated, of {', '.join(SECTIONS)} (default: all; to split the check over two calls)",
    )
    args = parser.parse_args(argv)
    sections = set(args.sections.split(","))
    if not sections <= set(SECTIONS):
        parser.error(f"--sections: unknown {', '.join(sorted(sections - set(SECTIONS)))}; known: {', '.join(SECTIONS)}")
    device = pick_device(args.device)
    size = SMOKE if args.smoke else FULL
    if device.type != "cuda" and not args.smoke:
        print("advkd: no CUDA device: run with --smoke for the CPU-sized check", file=sys.stderr)
        return 2
    described = machine.describe(device)
    print("\n".join(described), flush=True)
    sheet = datasheet_of(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    report = Report(GpuCheck(described, sheet.key if sheet else None, args.smoke))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "checks" in sections:
            check_methods(report, size, device, folder)
            model, data = trained_reference(size, device, folder)
            eps = calibrated_eps(model, data, device)
            check_folding(report, model, data, device, eps)
            check_autoattack(report, size, model, data, device, eps)
            check_claim(report, device)
        if "timing" in sections:
            time_epochs(report, size, device)
            time_steady_state(report, size, device)
            time_shared_device(report, size, device)
            time_attack_passes(report, size, device)
            time_startup(report, device)
        if "robust-autoattack" in sections:
            time_robust_autoattack(report, size, device, folder)
    print(f"\n{len(report.rows)} rows in {time.perf_counter() - started:.0f} s; {len(report.failed)} failed\n")
    print("\n".join(described))
    print(report.table())
    if args.json:
        report.record.write(args.json)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
