"""Several training processes on one device at once: jobs sharing a GPU (`compute.jobs_per_gpu`),
with and without CUDA MPS, and on a CPU, jobs of one thread beside one job of all the threads.

`run_together` starts n processes, each repeating one run's training step
(`advkd.train.repeated_step`) on the same device with a given thread count; each warms up, waits
at a common start line (a file), times its steps and prints what it did. The figure is the images
per second of all of them together over the span from the first start to the last finish, so a
process that waits for the others counts against it. `time_shared`: 1, 2 and 3 processes of the
ResNet18 step at batch 128, then with MPS: the same after starting NVIDIA's MPS control daemon in
a private pipe directory (no root needed), when the machine has it and it starts.

`python -m speed.shared ...` is one such process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from advkd.plan.measured import SharedRate
from advkd.train import repeated_step

from .timing import synchronize
from .workloads import Case, synthetic
from .workloads import spec as run_spec

PROCESSES = (1, 2, 3)
START_TIMEOUT_S = 300  # every process built and warmed up by then


def worker(spec: dict, shape: tuple[int, ...], steps: int, start_line: Path, device: torch.device) -> dict:
    """One process: build the step of `spec` on images of `shape`, warm up, wait for the start
    line, time `steps` steps."""
    case = Case("worker", spec["model"], tuple(shape), spec["recipe"]["batch_size"], 1, 0, False)
    step, _ = repeated_step(spec, synthetic(case), device=device)
    for _ in range(max(3, steps // 10)):
        step()
    synchronize(device)
    Path(f"{start_line}.ready.{os.getpid()}").touch()
    while not start_line.exists():
        time.sleep(0.01)
    started = time.time()
    for _ in range(steps):
        step()
    synchronize(device)
    return {"images": steps * case.batch_size, "started": started, "ended": time.time()}


def run_together(
    n: int, spec: dict, shape: tuple[int, ...], steps: int, device: str, env: dict, threads: int | None = None
) -> float:
    """Images/s of `n` worker processes started together, each with `threads` torch threads
    (default: torch's own choice)."""
    with tempfile.TemporaryDirectory() as folder:
        start_line = Path(folder) / "go"
        args = ["--spec", json.dumps(spec), "--shape", ",".join(map(str, shape)), "--steps", str(steps)]
        args += ["--threads", str(threads)] if threads else []
        command = [sys.executable, "-m", "speed.shared", *args, "--start-line", str(start_line)]
        procs = [
            subprocess.Popen([*command, "--device", device], stdout=subprocess.PIPE, text=True, env=env)
            for _ in range(n)
        ]
        deadline = time.time() + START_TIMEOUT_S
        while len(list(Path(folder).glob("go.ready.*"))) < n:
            if time.time() > deadline or any(p.poll() not in (None, 0) for p in procs):
                for p in procs:
                    p.kill()
                raise RuntimeError(f"{n} processes did not all get ready")
            time.sleep(0.05)
        start_line.touch()
        results = []
        for p in procs:
            out, _ = p.communicate(timeout=START_TIMEOUT_S)
            if p.returncode != 0:
                raise RuntimeError(f"a worker exited with status {p.returncode}")
            results.append(json.loads(out.strip().splitlines()[-1]))
    span = max(r["ended"] for r in results) - min(r["started"] for r in results)
    return sum(r["images"] for r in results) / span


def start_mps(folder: Path) -> tuple[dict, str | None]:
    """The environment that sends CUDA work through a fresh MPS daemon, or why there is none."""
    control = shutil.which("nvidia-cuda-mps-control")
    if control is None:
        return {}, "nvidia-cuda-mps-control is not installed"
    env = {**os.environ, "CUDA_MPS_PIPE_DIRECTORY": str(folder / "pipe"), "CUDA_MPS_LOG_DIRECTORY": str(folder / "log")}
    for key in ("CUDA_MPS_PIPE_DIRECTORY", "CUDA_MPS_LOG_DIRECTORY"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    done = subprocess.run([control, "-d"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return {}, f"the MPS daemon did not start: {(done.stderr or done.stdout).strip()[:200]}"
    return env, None


def stop_mps(env: dict) -> None:
    subprocess.run(["nvidia-cuda-mps-control"], input="quit\n", env=env, capture_output=True, text=True)


def time_shared(arch: str, width: float, side: int, steps: int, device: torch.device) -> tuple[list[SharedRate], str]:
    """1-3 processes on `device` without MPS, then with it where it starts; and why not, if not."""
    model = {"arch": arch, "width": width}
    spec = run_spec(Case(f"{arch} x{width}", model, (3, side, side), 128, 1, 4, True), {"name": "ce"})

    def measured(n: int, mps: bool, env: dict) -> SharedRate:
        return SharedRate(model, side, n, mps, run_together(n, spec, (3, side, side), steps, str(device), env))

    rates = [measured(n, False, dict(os.environ)) for n in PROCESSES]
    if device.type != "cuda":
        return rates, "MPS is CUDA's"
    with tempfile.TemporaryDirectory() as folder:
        env, why_not = start_mps(Path(folder))
        if why_not is not None:
            return rates, why_not
        try:
            rates += [measured(n, True, env) for n in PROCESSES]
        finally:
            stop_mps(env)
    return rates, ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m speed.shared", description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True, help="the run spec (JSON) whose training step to repeat")
    parser.add_argument("--shape", required=True, help="the image shape, as C,H,W")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    parser.add_argument("--start-line", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    shape = tuple(int(side) for side in args.shape.split(","))
    done = worker(json.loads(args.spec), shape, args.steps, args.start_line, torch.device(args.device))
    print(json.dumps(done), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
