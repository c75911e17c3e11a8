"""Interleaved timing: run competing workloads in turns and keep each one's median."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    """Wall seconds of one call, with the device's queue drained before and after."""
    synchronize(device)
    started = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - started


def interleaved(
    workloads: dict[str, Callable[[], object]], device: torch.device, trials: int, warmup: bool = True
) -> dict[str, float]:
    """Median seconds per workload over `trials` rounds (A, B, C, A, B, C, ...) after one warm-up
    round (none with `warmup=False`, for workloads of minutes that warm up within themselves)."""
    if warmup:
        for fn in workloads.values():
            fn()
    seconds: dict[str, list[float]] = {name: [] for name in workloads}
    for _ in range(trials):
        for name, fn in workloads.items():
            seconds[name].append(timed(fn, device))
    return {name: statistics.median(values) for name, values in seconds.items()}
