"""GPU claiming on one machine, tested on CPU with pretend devices: concurrent processes each hold
a distinct one, a fifth waits, and a claim held by a killed process is released."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from advkd.devices import claim_device, device_slots, visible_devices

HOLDER = """
import sys, time
from pathlib import Path
from advkd.devices import claim_slot
names, lock_dir, out = sys.argv[1].split(","), sys.argv[2], Path(sys.argv[3])
with claim_slot(names, lock_dir, poll_seconds=0.05) as index:
    out.write_text(names[index])
    time.sleep(600)  # hold the claim until killed
"""


def start_holder(tmp_path: Path, name: str, devices: str = "0,1,2,3") -> tuple[subprocess.Popen, Path]:
    out = tmp_path / f"{name}.claimed"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, devices, str(tmp_path / "locks"), str(out)])
    return proc, out


def wait_for_files(paths, timeout=60.0):
    deadline = time.time() + timeout
    while not all(p.exists() and p.read_text() for p in paths):
        assert time.time() < deadline, "a holder never claimed a device"
        time.sleep(0.05)
    return [p.read_text() for p in paths]


def test_concurrent_jobs_claim_distinct_devices_and_a_killed_job_releases_its_claim(tmp_path):
    holders = [start_holder(tmp_path, f"job{i}") for i in range(4)]
    try:
        claimed = wait_for_files([out for _, out in holders])
        assert sorted(claimed) == ["0", "1", "2", "3"]
        waiting, waiting_out = start_holder(tmp_path, "job4")
        time.sleep(1.5)
        assert waiting.poll() is None and not waiting_out.exists()  # every device is taken: it waits
        victim, victim_out = holders[2]
        victim.send_signal(signal.SIGKILL)  # dies holding its claim
        victim.wait()
        assert wait_for_files([waiting_out], timeout=30) == [victim_out.read_text()]
        holders.append((waiting, waiting_out))
    finally:
        for proc, _ in holders:
            proc.kill()
            proc.wait()


def test_two_jobs_per_gpu_fill_every_device_once_before_doubling_up(tmp_path):
    slots = device_slots(["0", "1"], 2)
    assert slots == ["0", "1", "0.1", "1.1"]
    holders = [start_holder(tmp_path, f"job{i}", ",".join(slots)) for i in range(2)]
    try:
        assert sorted(wait_for_files([out for _, out in holders])) == ["0", "1"]  # one job on each GPU first
        holders += [start_holder(tmp_path, f"job{i}", ",".join(slots)) for i in range(2, 4)]
        claimed = wait_for_files([out for _, out in holders])
        assert sorted(claimed) == sorted(slots)
        assert sorted(slots.index(c) % 2 for c in claimed) == [0, 0, 1, 1]  # two jobs per device
    finally:
        for proc, _ in holders:
            proc.kill()
            proc.wait()


def test_visible_devices_follow_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2, 3")
    assert visible_devices() == ["2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_devices() == []


def test_cpu_jobs_claim_nothing(tmp_path):
    with claim_device("cpu", tmp_path / "locks") as device:
        assert device.type == "cpu"
    assert not (tmp_path / "locks").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_refused():
    with pytest.raises(RuntimeError, match="CUDA is not available"), claim_device("cuda"):
        pass
