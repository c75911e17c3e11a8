"""One line per fact about where the numbers were measured."""

from __future__ import annotations

import datetime
import os
import platform

import torch


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(device: torch.device) -> list[str]:
    lines = [
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='minutes')}",
        f"cpu: {cpu_model()}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}",
        f"torch {torch.__version__}, python {platform.python_version()}, device {device}",
    ]
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        lines.append(f"gpu: {props.name}, {props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}")
    return lines
