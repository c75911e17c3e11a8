"""Which device a job computes on, and, with several GPUs on one machine, which of them.

Snakemake's `--resources gpu=N` runs up to N GPU jobs at once but does not say which GPU each
gets. A job claims one visible device by holding an exclusive `flock` on that device's lock file
under `.snakemake/advkd-gpus/` for as long as it runs. The kernel drops the lock when the process
ends, however it ends (SIGKILL included), so a dead job never keeps a GPU claimed.

Visible devices are those CUDA_VISIBLE_DEVICES lists when it is set (by you, or by a scheduler
such as SLURM, which gives a job exactly the GPUs it was allocated), else every device torch
sees. With a single visible device there is nothing to share out and no lock is taken.

A small model leaves most of a GPU idle (its step is bound by kernel launches, not arithmetic), so
`compute.jobs_per_gpu: N` gives each device N slots: `--resources gpu=N*G` on G GPUs then runs N
jobs on each, spread over the devices before any doubles up (README, section 4, "Several jobs per GPU").
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch

log = logging.getLogger(__name__)

LOCK_DIR = Path(".snakemake") / "advkd-gpus"


def pick_device(requested: str = "auto") -> torch.device:
    """'auto' takes CUDA when present, else the CPU; 'cpu' and 'cuda' are honoured as given."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {requested!r} requested but CUDA is not available")
    return torch.device(requested)


def autocast(device: torch.device | str, dtype: torch.dtype | None):
    """Autocast to `dtype` on `device`; a disabled context when `dtype` is None (full precision)."""
    device_type = torch.device(device).type
    return torch.autocast(device_type, dtype=dtype or torch.float32, enabled=dtype is not None)


def visible_devices() -> list[str]:
    """Names of the devices this process may use: CUDA_VISIBLE_DEVICES's entries, else 0..n-1."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [name.strip() for name in listed.split(",") if name.strip()]
    return [str(i) for i in range(torch.cuda.device_count())]


@contextmanager
def claim_slot(names: Sequence[str], lock_dir: str | Path = LOCK_DIR, poll_seconds: float = 1.0) -> Iterator[int]:
    """Hold one of `names` (its index is yielded) exclusively for the duration of the block,
    waiting while every one of them is held by another process."""
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    waiting = False
    while True:
        for index, name in enumerate(names):
            # held open for as long as the claim lasts (the lock lives with the open file)
            handle = open(lock_dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock", "a+")  # noqa: SIM115
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                handle.truncate(0)
                handle.write(f"pid {os.getpid()}\n")  # who holds it, for people looking
                handle.flush()
                yield index
            finally:
                handle.close()  # releases the lock
            return
        if not waiting:
            log.warning("all %d devices are claimed by other jobs; waiting for one to be released", len(names))
            waiting = True
        time.sleep(poll_seconds)


def device_slots(names: Sequence[str], jobs_per_gpu: int) -> list[str]:
    """The claimable slots of `names`, `jobs_per_gpu` per device: every device's first slot (named
    as the device), then every second one (`<device>.1`), ...; slot i is on device i % len(names)."""
    return [name if slot == 0 else f"{name}.{slot}" for slot in range(jobs_per_gpu) for name in names]


@contextmanager
def claim_device(
    requested: str = "auto", lock_dir: str | Path = LOCK_DIR, jobs_per_gpu: int = 1
) -> Iterator[torch.device]:
    """The device to compute on, claimed for the block when several GPUs are visible (see module)."""
    device = pick_device(requested)
    names = visible_devices() if device.type == "cuda" and device.index is None else []
    if len(names) <= 1:
        yield device
        return
    slots = device_slots(names, jobs_per_gpu)
    with claim_slot(slots, lock_dir) as index:
        log.info("claimed GPU slot %s of %s (cuda:%d)", slots[index], ",".join(names), index % len(names))
        yield torch.device("cuda", index % len(names))
