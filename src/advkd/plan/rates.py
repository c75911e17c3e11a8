"""How fast a machine does each kind of work: the GPU table and this machine's probe.

A GPU's rate for a kind of work is its datasheet peak (`gpus`) times a utilisation that the GPU
check (`python -m speed.gpu --json`) measured; every measured file in `measured/` is read here
(`measured.GpuCheck`), so a new GPU run updates the cost model by adding its file. A GPU without
a measurement of its own is priced with the utilisation measured on the others, a stated
assumption. This machine's rates come from a probe of a few seconds (`probe_cpu`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .flops import forward_flops
from .gpus import DATASHEETS
from .measured import WORKLOADS, GpuCheck, measured_checks
from .work import ATTACK_ITERATIONS, PASSES_PER_ITERATION, Job, model_key

PEAK_KIND = {"train": "bf16", "adversarial": "bf16", "attack": "tf32"}
# The paper's models: their utilisation prices every model a GPU check did not time. Larger
# convolutions run far closer to the peak (WideResNet-34-10: 22-25 % on an H100, ResNet18: 4-6 %).
DEFAULT_MODELS = ("resnet18", "resnet50")
# Beyond the measured rates, which include the launch gaps of the workloads they were measured on:
# per training step of a model too small to fill the GPU, and per epoch (checkpoint, history).
# Assumptions, not measured yet; an attack iteration's overhead is inside the attack's rate.
GPU_STEP_SECONDS = 1e-3
GPU_EPOCH_SECONDS = 0.5


@dataclass(frozen=True)
class Speed:
    """How fast one model runs on one machine: seconds per FLOP of each kind of work, and what a
    training step or an attack iteration costs beyond its FLOPs (Python and kernel launches)."""

    flop_seconds: dict[str, float]  # train | adversarial | attack | query (a forward-only attack pass)
    step_seconds: float
    iteration_seconds: float
    query_seconds: float  # a forward-only attack iteration (Square's query), beyond its FLOPs


@dataclass(frozen=True)
class Rates:
    """Seconds per job on one machine: each model's speed (the CPU probe measures every model; on
    a GPU, the models its checks timed, the rest at the ResNets' speed), and what each job and
    epoch cost beyond their steps. A teacher's share of a job's FLOPs runs at the teacher's speed."""

    machine: str
    default: Speed
    models: dict[str, Speed]  # by work.model_key
    job_seconds: float  # a job process's fixed cost: interpreter, imports, device, data, model
    epoch_seconds: float  # per epoch: its test pass's overhead, history, checkpoint
    source: str
    # train | adversarial -> the captured step's steady-state images/s over the eager one's, as
    # measured on this machine; a kind without a measurement runs captured at the eager rate
    capture_speedup: dict[str, float] = field(default_factory=dict)

    def seconds(self, job: Job) -> float:
        speed = self.models.get(job.model, self.default)
        teacher = self.models.get(job.teacher, self.default) if job.teacher else speed
        per_step = speed.iteration_seconds if job.kind == "attack" else speed.step_seconds
        speedup = self.capture_speedup.get(job.kind, 1.0) if job.captured else 1.0
        work = (
            (job.flops - job.teacher_flops - job.query_flops) * speed.flop_seconds[job.kind]
            + job.query_flops * speed.flop_seconds["query"]
            + job.teacher_flops * teacher.flop_seconds[job.kind]
        )
        return (
            self.job_seconds
            + job.epochs * self.epoch_seconds
            + job.steps * per_step
            + job.queries * speed.query_seconds
            + work / speedup
        )


def measured_utilisation(name: str, check: GpuCheck) -> dict:
    """Utilisation per kind of work (of the bf16 or TF32 peak) and start-up, from one GPU check:
    training and PGD training for the paper's ResNets together (the rate of any model not timed)
    and for each model timed (by work.model_key); and per kind, how much faster the captured step
    ran than the eager one in steady state (`capture`, from the check's paired figures)."""
    sheet = DATASHEETS[check.gpu]
    bf16, tf32 = sheet.bf16_tflops * 1e12, sheet.tf32_tflops * 1e12
    timed: dict[str, dict[str, list[float]]] = {}  # model_key -> workload -> utilisation
    for rate in check.training:
        model = model_key(rate.model, (3, rate.side, rate.side))
        timed.setdefault(model, {}).setdefault(rate.workload, []).append(rate.utilisation(bf16))
    resnets = [workloads for key, workloads in timed.items() if json.loads(key)["model"]["arch"] in DEFAULT_MODELS]
    by_workload = {w: [u for workloads in resnets for u in workloads.get(w, [])] for w in WORKLOADS}
    speedups: dict[str, list[float]] = {}  # kind -> captured / eager steady-state images/s
    plain = {(_model_id(r.model), r.side, r.workload): r.images_per_s for r in check.steady if not r.captured}
    for rate in check.steady:
        key = (_model_id(rate.model), rate.side, rate.workload)
        if rate.captured and key in plain:
            kind = "adversarial" if WORKLOADS[rate.workload][1] else "train"
            speedups.setdefault(kind, []).append(rate.images_per_s / plain[key])
    attack = check.attacks[0]
    forward = forward_flops(attack.model, (3, attack.side, attack.side), 10)
    passes = 1 + sum(ATTACK_ITERATIONS["standard"][a] * PASSES_PER_ITERATION[a] for a in attack.attack_seconds)
    attack_rate = attack.autoattack_points * forward * passes / sum(attack.attack_seconds.values())
    return {
        "gpu": check.gpu,
        "train": _mean(by_workload["standard"] + by_workload["KD"]),
        "adversarial": _mean(by_workload["PGD-7"]),
        "models": {
            key: {"train": _mean(w["standard"] + w["KD"]), "adversarial": _mean(w["PGD-7"])} for key, w in timed.items()
        },
        "attack": attack_rate / tf32,
        "capture": {kind: _mean(ratios) for kind, ratios in speedups.items()},
        "startup_seconds": check.startup_s,
        "source": name,
    }


def _model_id(model: dict) -> str:
    return json.dumps(model, sort_keys=True)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def gpu_rates(gpu: str) -> Rates:
    """A GPU's rates: its datasheet peaks times the utilisation measured on it (the mean over its
    GPU checks), or measured on the other GPUs when it has none of its own (said in `source`)."""
    if gpu not in DATASHEETS:
        raise ValueError(f"unknown GPU {gpu!r}; known: {', '.join(DATASHEETS)}")
    measured = [
        measured_utilisation(name, check)
        for name, check in measured_checks()
        if not check.smoke and check.training and check.attacks  # a check run without its timing section has none
    ]
    own = [m for m in measured if m["gpu"] == gpu]
    use = own or measured
    mean = {key: _mean([m[key] for m in use]) for key in (*PEAK_KIND, "startup_seconds")}
    sheet = DATASHEETS[gpu]
    peaks = {"bf16": sheet.bf16_tflops * 1e12, "tf32": sheet.tf32_tflops * 1e12}
    flop_seconds = {kind: 1 / (peaks[PEAK_KIND[kind]] * mean[kind]) for kind in PEAK_KIND}
    flop_seconds["query"] = flop_seconds["attack"]  # the measured attack rate is AutoAttack's whole run
    models = {}
    for key in sorted({key for m in use for key in m["models"]}):
        own_rate = {
            kind: _mean([m["models"][key][kind] for m in use if key in m["models"]])
            for kind in ("train", "adversarial")
        }
        model_seconds = {**flop_seconds, **{kind: 1 / (peaks[PEAK_KIND[kind]] * u) for kind, u in own_rate.items()}}
        models[key] = Speed(model_seconds, GPU_STEP_SECONDS, 0.0, 0.0)
    checks = ", ".join(m["source"] for m in use)
    others = ", ".join(sorted({m["gpu"] for m in use}))
    source = f"measured ({checks})" if own else f"datasheet peak x utilisation measured on {others} ({checks})"
    speed = Speed(flop_seconds, GPU_STEP_SECONDS, 0.0, 0.0)
    capture = {
        kind: _mean([m["capture"][kind] for m in use if kind in m["capture"]])
        for kind in ("train", "adversarial")
        if any(kind in m["capture"] for m in use)
    }
    return Rates(sheet.label, speed, models, mean["startup_seconds"], GPU_EPOCH_SECONDS, source, capture)


def probe_cpu(jobs: list[Job], threads: int = 1) -> Rates:
    """This machine, measured in seconds with `threads` threads per job (the config's
    `compute.threads_per_job`): every model the jobs train or attack, at two batch sizes (what a
    step costs beyond its images, and per image); advkd's own loop on a tiny model (per call,
    epoch and step); AutoAttack's Python per iteration; a job process's start-up."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        setup, epoch, loop_step = _loop_overheads()
        iteration = _attack_iteration_seconds()
        batches: dict[str, int] = {}
        for job in jobs:
            batches[job.model] = max(batches.get(job.model, 2), job.batch)
        batches = batches or {DEFAULT_PROBE_MODEL: 32}
        models = {key: _model_speed(key, batch, loop_step, iteration) for key, batch in sorted(batches.items())}
    finally:
        torch.set_num_threads(previous)
    source = f"a probe of {len(models)} model(s) with {threads} thread(s) per job"
    return Rates("this machine (CPU)", next(iter(models.values())), models, _startup_seconds() + setup, epoch, source)


DEFAULT_PROBE_MODEL = model_key({"arch": "resnet18", "width": 0.25}, (3, 32, 32))


PROBE_STEP_SECONDS = 0.25  # the probe stops doubling a model's batch when a step takes this long


def _model_speed(key: str, batch: int, loop_step: float, iteration: float) -> Speed:
    """A training step, an attack pass (forward + input-backward) and an attack query (a forward
    without gradients, Square's; both on the folded twin, as the evaluation attacks run) of the
    model at doubling batch sizes from 2 (batch norm needs two) up to the jobs' `batch`, or until a
    step takes PROBE_STEP_SECONDS: between the last two sizes, the difference is what the images
    cost (per FLOP), the rest what a step costs whatever its batch. AutoAttack's Python per
    iteration (`iteration`, APGD's) is taken for Square's too."""
    import torch
    from torch import nn

    from ..models import build_model
    from ..models.folding import folded

    spec = json.loads(key)
    model, shape = spec["model"], tuple(spec["shape"])
    net = build_model(model, shape, 10, [0.5] * shape[0], [0.25] * shape[0])
    attacked = folded(net)  # what AutoAttack and PGD-20 run: eval mode, batch norms folded away
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    every_exit = bool(model.get("exits"))

    def train_step(x):
        optimizer.zero_grad()
        out = net.exits(x).logits if every_exit else [net(x)]
        sum(nn.functional.cross_entropy(z, torch.zeros(len(x), dtype=torch.long)) for z in out).backward()
        optimizer.step()

    def attack_pass(x):
        x = x.clone().requires_grad_(True)
        torch.autograd.grad(attacked(x).sum(), x)

    def query(x):
        with torch.no_grad():
            attacked(x)

    costs = {}
    for name, fn in (("train", train_step), ("attack", attack_pass), ("query", query)):
        sizes, times = [2], [_seconds(lambda fn=fn: fn(torch.rand(2, *shape)), repeat=2)]
        while 2 * sizes[-1] <= batch and times[-1] < PROBE_STEP_SECONDS:
            sizes.append(2 * sizes[-1])
            times.append(_seconds(lambda b=sizes[-1], fn=fn: fn(torch.rand(b, *shape)), repeat=2))
        if len(sizes) == 1:  # a big model (a WideResNet): one timed call at the second size is plenty
            sizes.append(4)
            times.append(_seconds(lambda fn=fn: fn(torch.rand(4, *shape)), repeat=1))
        per_image = max((times[-1] - times[-2]) / (sizes[-1] - sizes[-2]), 1e-9)
        costs[name] = (per_image, max(times[-1] - per_image * sizes[-1], 0.0))
    train_flops = 3 * forward_flops(model, shape, 10, every_exit=every_exit)
    attack_flops = 2 * forward_flops(model, shape, 10)
    per_flop = costs["train"][0] / train_flops
    return Speed(
        {
            "train": per_flop,
            "adversarial": per_flop,
            "attack": costs["attack"][0] / attack_flops,
            "query": costs["query"][0] / forward_flops(model, shape, 10),
        },
        costs["train"][1] + loop_step,
        costs["attack"][1] + iteration,
        costs["query"][1] + iteration,
    )


def _loop_overheads() -> tuple[float, float, float]:
    """(per call, per epoch, per step) seconds of `advkd.train.fit` on a model too small to cost
    anything: from three short runs, t = call + epochs * epoch + steps * step."""
    import logging
    import tempfile

    import numpy as np

    from ..data.prepared import from_raw
    from ..data.readers import RawSplits
    from ..train import fit

    logging.getLogger("advkd.train").setLevel(logging.ERROR)  # random labels: every probe run is "at chance"
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64 * 32, 1, 8, 8), dtype=np.uint8)
    labels = rng.integers(0, 10, 64 * 32)
    data = from_raw(RawSplits(images, labels, images[:64], labels[:64], [str(c) for c in range(10)]))
    timings = {}
    with tempfile.TemporaryDirectory() as folder:
        for epochs, steps_per_epoch in ((1, 8), (1, 32), (3, 8)):
            recipe = {"epochs": epochs, "batch_size": 64, "optimizer": {"lr": 0.01}}
            spec = {"seed": 0, "model": {"arch": "mlp", "hidden": [32]}, "method": {"name": "ce"}, "recipe": recipe}
            spec["data"] = {"limit": 64 * steps_per_epoch}
            started = time.perf_counter()
            fit(
                spec,
                data,
                f"probe{epochs}x{steps_per_epoch}.s0",
                Path(folder) / f"{epochs}x{steps_per_epoch}.pt",
                progress=False,
            )
            timings[(epochs, steps_per_epoch)] = time.perf_counter() - started
    step = max((timings[(1, 32)] - timings[(1, 8)]) / 24, 0.0)
    epoch = max((timings[(3, 8)] - timings[(1, 8)] - 16 * step) / 2, 0.0)
    return max(timings[(1, 8)] - epoch - 8 * step, 0.0), epoch, step


def _attack_iteration_seconds() -> float:
    """AutoAttack's APGD-CE (custom version: 5 restarts of 100 iterations) on a tiny model that
    no attack can fool, so every iteration runs: seconds per iteration."""
    import torch

    from ..evaluate.autoattack import Unfoolable, run_autoattack
    from ..models import build_model

    torch.manual_seed(0)
    model = Unfoolable(build_model({"arch": "mlp", "hidden": [32]}, (1, 8, 8), 10, [0.5], [0.25]))
    images = torch.randint(0, 256, (8, 1, 8, 8), dtype=torch.uint8)
    result = run_autoattack(
        model, images, torch.zeros(8, dtype=torch.long), eps=0.1, version="custom", attacks=["apgd-ce"]
    )
    return result["attack_seconds"]["apgd-ce"] / ATTACK_ITERATIONS["custom"]["apgd-ce"]


def _seconds(fn, repeat: int = 3) -> float:
    """Median seconds of `fn` after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def _startup_seconds() -> float:
    """A job process's fixed cost: the interpreter and the imports a training job makes."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import advkd.train, advkd.data"], check=True)
    return time.perf_counter() - started
