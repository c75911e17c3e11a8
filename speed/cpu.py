"""`python -m speed --sections cpu`: what the numeric and layout choices are worth on this CPU for
a CPU config's real shapes (default `config/fashion_robust.yaml`), measured in one run.

- The training step of the config's standard, KD, PGD and TRADES runs (their models, batch,
  attack, image shape; the threads a job gets), each in fp32, channels_last, bf16 autocast,
  bf16 + channels_last and compiled (fp32, channels_last, `compile: true`): ms per step
  (`advkd.train.repeated_step`, the loop's own step), the ratio to fp32 and to the config's own
  settings, and GFLOP/s (the cost model's FLOPs per image) against this machine's fp32 and bf16
  matrix-multiply peak. Compiling: its seconds, and whether one job's steps pay them back.
- AutoAttack's points/s with the config's attacks and eps, in fp32 and channels_last, on the
  folded twin as the workflow attacks, every point attacked with its whole budget (`Unfoolable`).
- Jobs side by side: two processes of one thread against one of two threads (`speed.shared`),
  for the standard and the PGD step in the config's settings.

Every figure comes from this process's own interleaved timing (`speed.timing`); nothing is a
pass/fail test. `--smoke` runs the same code at toy sizes (one step, two points, no compile).
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch._inductor.config

from advkd.config import check, load_merged
from advkd.evaluate import run_autoattack, run_metrics
from advkd.evaluate.autoattack import Unfoolable
from advkd.models.folding import folded
from advkd.plan.work import step_work
from advkd.runs import Run
from advkd.schema import complete
from advkd.sizes import dataset_size, training_images
from advkd.train import build_for_data, fit, repeated_step

from . import shared
from .timing import interleaved
from .workloads import Case, synthetic

CONFIG = Path("config/fashion_robust.yaml")
METHODS = ("ce", "kd", "at", "trades")  # the standard, KD, PGD and TRADES runs, in this order
VARIANTS = {  # label: recipe keys (compiled: fp32 + channels_last, the student's forward compiled)
    "fp32": {"precision": "fp32", "channels_last": False},
    "channels_last": {"precision": "fp32", "channels_last": True},
    "bf16": {"precision": "bf16", "channels_last": False},
    "bf16 + channels_last": {"precision": "bf16", "channels_last": True},
    "compiled": {"precision": "fp32", "channels_last": True, "compile": True},
}


@dataclass(frozen=True)
class Settings:
    trials: int = 2  # timed rounds after one warm-up round
    steps: int = 3  # training steps per timed call (one for bf16 where the CPU emulates it: ten times slower)
    points: int = 16  # AutoAttack points
    variants: tuple[str, ...] = tuple(VARIANTS)
    layout_steps: int = 20  # steps per process when timing jobs side by side
    job_trials: int = 2  # rounds of the whole training jobs (no warm-up: each is a minute or more)
    job_batches: int | None = None  # training batches of a timed job (None: the run's own)
    job_test: int | None = None  # test images of a timed job (None: the dataset's)
    matmul: int = 1024  # side of the peak probe's square matrices


# Toy sizes for the test suite: every code path once, bf16 and compiling left out (minutes on a
# CPU without native bf16; compiling is the variant's only difference and takes a minute).
SMOKE = Settings(trials=1, steps=1, points=2, variants=("fp32", "channels_last"), layout_steps=2, job_trials=1,
                 job_batches=2, job_test=256, matmul=256)  # fmt: skip


def native_bf16() -> str:
    """Which bf16 instructions this CPU has, as torch sees them ('none' when it must emulate)."""
    found = [name for name, test in (("avx512_bf16", "_is_avx512_bf16_supported"), ("amx", "_is_amx_tile_supported"))
             if getattr(torch.cpu, test, lambda: False)()]  # fmt: skip
    return ", ".join(found) or "none"


def matmul_peak(dtype: torch.dtype, n: int = 1024, reps: int = 5) -> float:
    """GFLOP/s of an n x n matrix multiply in `dtype` with this process's threads: the ceiling a
    convolution's arithmetic can approach here."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.mm(a, b)
    best = math.inf
    for _ in range(reps):
        started = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * n**3 / best / 1e9


def representative_runs(config: dict) -> dict[str, Run]:
    """The first run of each of `METHODS` in the config (the first seed)."""
    found: dict[str, Run] = {}
    for run in check(config).runs:
        name = None if run.evaluated else run.spec["method"]["name"]
        if name in METHODS and name not in found:
            found[name] = run
    return {name: found[name] for name in METHODS if name in found}


def training_spec(run: Run, recipe: dict, keep_epochs: bool = False) -> dict:
    """The run's spec with recipe keys replaced (its teacher's spec kept as it is); one epoch
    unless `keep_epochs`."""
    spec = copy.deepcopy(run.spec)
    spec["recipe"] = {**spec["recipe"], **recipe, **({} if keep_epochs else {"epochs": 1})}
    return spec


class StepCall:
    """`steps` training steps of a spec; built lazily so the compile time can be measured apart."""

    def __init__(self, spec: dict, data, teacher, steps: int):
        self.spec, self.data, self.teacher, self.steps = spec, data, teacher, steps
        started = time.perf_counter()
        self.step, _ = repeated_step(spec, data, teacher=teacher, device="cpu")
        self.step()  # the first step compiles, when compiling
        self.first_seconds = time.perf_counter() - started

    def __call__(self) -> None:
        for _ in range(self.steps):
            self.step()


def time_steps(run: Run, settings: Settings, variants: dict[str, dict]) -> tuple[dict[str, float], float]:
    """Seconds per step of each variant, interleaved; and the compiled variant's compile seconds,
    cold: Inductor's caches are off here, so no workload reuses another's (or an earlier
    process's) compiled code; jobs of one shape on one machine would share its on-disk cache."""
    torch._inductor.config.force_disable_caches = True
    size = dataset_size(run.spec["dataset"])
    case = Case(
        run.name, run.spec["model"], size.shape, complete(run.spec["recipe"], "recipe")["batch_size"], 1, 0, False
    )
    data = synthetic(case)
    teacher = None
    if run.spec["teacher"]:
        torch.manual_seed(1)
        teacher = build_for_data(run.spec["teacher"]["model"], data).eval()
    emulated = native_bf16() == "none"
    calls = {
        label: StepCall(
            training_spec(run, keys), data, teacher, 1 if emulated and keys["precision"] == "bf16" else settings.steps
        )
        for label, keys in variants.items()
    }
    seconds = interleaved(calls, torch.device("cpu"), settings.trials)
    per_step = {label: value / calls[label].steps for label, value in seconds.items()}
    compile_seconds = 0.0
    if "compiled" in calls:  # the first call's excess over a steady one, less the eager first call's
        eager = calls["channels_last"]
        compile_seconds = calls["compiled"].first_seconds - eager.first_seconds
    return per_step, compile_seconds


class TrainingJob:
    """A training job's work as rule train does it: `fit` from scratch, then the run's metrics."""

    def __init__(self, spec: dict, data, teacher):
        self.spec, self.data, self.teacher = spec, data, teacher

    def __call__(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            result = fit(self.spec, self.data, "job.s0", Path(folder) / "ck.pt", teacher=self.teacher, progress=False)
            run_metrics(result.model, self.data, self.spec, result.history, "job.s0", result.best, result.final_test)


def time_job(run: Run, settings: Settings) -> dict[str, float]:
    """Seconds of the run's whole training job (its training and test sizes unless `settings`
    shrink them; synthetic images) in the config's settings and in fp32 with a test pass every
    epoch (the defaults)."""
    size = dataset_size(run.spec["dataset"])
    recipe = complete(run.spec["recipe"], "recipe")
    steps = settings.job_batches or math.ceil(training_images(run.spec["data"], size) / recipe["batch_size"])
    case = Case(run.name, run.spec["model"], size.shape, recipe["batch_size"], steps, 0, False)
    data = synthetic(case, n_test=settings.job_test or size.n_test)
    teacher = None
    if run.spec["teacher"]:
        torch.manual_seed(1)
        teacher = build_for_data(run.spec["teacher"]["model"], data).eval()
    defaults = {**VARIANTS["fp32"], "test_every": 1}
    jobs = {"config": TrainingJob(training_spec(run, {}, keep_epochs=True), data, teacher),
            "defaults": TrainingJob(training_spec(run, defaults, keep_epochs=True), data, teacher)}  # fmt: skip
    return interleaved(jobs, torch.device("cpu"), settings.job_trials, warmup=False)


def time_autoattack(run: Run, attack: dict, points: int, trials: int) -> dict[str, float]:
    """Points/s of the config's AutoAttack on `points` points, fp32 and channels_last, every point
    attacked with its whole budget."""
    size = dataset_size(run.spec["dataset"])
    case = Case(run.name, run.spec["model"], size.shape, points, 1, 0, False)
    data = synthetic(case, n_test=points)
    torch.manual_seed(0)
    model = build_for_data(run.spec["model"], data).eval()
    settings = {key: attack[key] for key in ("eps", "norm", "version", "seed")}
    labels = torch.zeros_like(data.test_y)  # Unfoolable answers class 0 for every point: all attacked

    def attacking(channels_last: bool) -> Callable[[], object]:
        target = Unfoolable(folded(model, channels_last))
        return lambda: run_autoattack(target, data.test_x, labels, attacks=attack.get("attacks"),
                                      batch_size=points, **settings)  # fmt: skip

    seconds = interleaved({"fp32": attacking(False), "channels_last": attacking(True)}, torch.device("cpu"), trials)
    return {label: points / value for label, value in seconds.items()}


def time_layout(run: Run, threads: int, steps: int) -> dict[str, float]:
    """Images/s of all together: `threads` processes of one thread against one of `threads`."""
    size = dataset_size(run.spec["dataset"])
    spec = training_spec(run, {})
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return {
        f"{threads} jobs x 1 thread": shared.run_together(threads, spec, size.shape, steps, "cpu", env, threads=1),
        f"1 job x {threads} threads": shared.run_together(1, spec, size.shape, steps, "cpu", dict(os.environ), threads),
    }


def steps_per_job(run: Run) -> int:
    recipe = complete(run.spec["recipe"], "recipe")
    n = training_images(run.spec["data"], dataset_size(run.spec["dataset"]))
    return recipe["epochs"] * math.ceil(n / recipe["batch_size"])


def own_variant(run: Run) -> str:
    """The variant the config's own recipe settings are (on a CPU, where `auto` means fp32 and the
    default layout)."""
    recipe = complete(run.spec["recipe"], "recipe")
    bf16, layout = recipe["precision"] == "bf16", recipe["channels_last"] is True
    label = ("bf16" if bf16 else "") + (" + channels_last" if bf16 and layout else "")
    return label or ("channels_last" if layout else "fp32")


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms/step"


def step_rows(report, run: Run, settings: Settings, variants: dict[str, dict], peaks: dict[str, float]) -> None:
    """Every variant of one run's step against fp32, the config's own against the fastest, and
    whether compiling pays back within one job."""
    size = dataset_size(run.spec["dataset"])
    work = step_work(run.spec, size)
    batch = complete(run.spec["recipe"], "recipe")["batch_size"]
    per_step, compile_seconds = time_steps(run, settings, variants)
    method = run.spec["method"]["name"]
    label = f"{method} step ({run.name}), {'x'.join(map(str, size.shape))}, batch {batch}"

    def achieved(variant: str) -> str:
        gflops = batch * (work.student + work.teacher) / per_step[variant] / 1e9
        # bf16 against the higher of the two peaks: without native bf16 its multiply is emulated
        peak = max(peaks.values()) if variant.startswith("bf16") else peaks["fp32"]
        return f"{ms(per_step[variant])} ({gflops:.1f} GFLOP/s, {gflops / peak:.0%} of peak)"

    for variant, seconds in per_step.items():
        if variant != "fp32":
            ratio = per_step["fp32"] / seconds
            report.ratio(f"{label}: fp32 / {variant}", achieved(variant), achieved("fp32"), ratio, ">= 1.0")
    own, best = own_variant(run), min(per_step, key=per_step.get)
    ratio = per_step[own] / per_step[best]
    what = f"{label}: the config's {own} / the fastest ({best})"
    report.ratio(what, ms(per_step[best]), ms(per_step[own]), ratio, "<= 1.05 (ours)")
    if "compiled" in per_step:
        steps = steps_per_job(run)
        saved = steps * (per_step["channels_last"] - per_step["compiled"])
        ratio = compile_seconds / saved if saved > 0 else math.inf
        what = f"{label}: compile seconds / seconds compiling saves in one job ({steps} steps)"
        report.ratio(what, f"{compile_seconds:.1f} s", f"{saved:.1f} s", ratio, "<= 1.0 (ours)")


def run(report, config_paths: list[Path], smoke: bool = False) -> None:
    """Print and record (in `report`, a speed.__main__.Report) every figure of the section."""
    settings = SMOKE if smoke else Settings()
    config = load_merged(config_paths)
    threads = check(config).compute["threads_per_job"]
    cores = os.cpu_count() or 1
    torch.set_num_threads(threads)
    peaks = {"fp32": matmul_peak(torch.float32, settings.matmul), "bf16": matmul_peak(torch.bfloat16, settings.matmul)}
    print(
        f"cpu section: {config.get('name', config_paths[0].stem)}, {threads} thread(s) per job, {cores} cores, "
        f"native bf16: {native_bf16()}; matrix-multiply peak fp32 {peaks['fp32']:.1f} GFLOP/s, "
        f"bf16 {peaks['bf16']:.1f} GFLOP/s",
        flush=True,
    )
    runs = representative_runs(config)
    variants = {label: VARIANTS[label] for label in settings.variants}
    for chosen in runs.values():
        step_rows(report, chosen, settings, variants, peaks)
    for method in ("ce", "at"):
        if method in runs:
            seconds = time_job(runs[method], settings)
            what = f"{method} training job ({runs[method].name}): fp32 + a test pass every epoch / the config's"
            ratio = seconds["defaults"] / seconds["config"]
            report.ratio(what, f"{seconds['config']:.1f} s", f"{seconds['defaults']:.1f} s", ratio, ">= 1.8")
    if "at" in runs and "autoattack" in config:
        attack = complete(config["autoattack"], "autoattack")
        rates = time_autoattack(runs["at"], attack, settings.points, settings.trials)
        attacks = ", ".join(attack.get("attacks") or ["standard"])
        what = f"AutoAttack ({attacks}, {settings.points} points, whole budget): channels_last / fp32 points per second"
        ours, reference = f"{rates['channels_last']:.2f} points/s", f"{rates['fp32']:.2f} points/s"
        report.ratio(what, ours, reference, rates["channels_last"] / rates["fp32"], ">= 1.3")
    if cores >= 2 and threads == 1:
        for method in ("ce", "at"):
            if method in runs:
                (side, side_rate), (single, single_rate) = time_layout(runs[method], 2, settings.layout_steps).items()
                what = f"{method} step: {side} / {single}, images per second"
                report.ratio(
                    what, f"{side_rate:.0f} img/s", f"{single_rate:.0f} img/s", side_rate / single_rate, ">= 1.0"
                )
