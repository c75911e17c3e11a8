"""On CUDA only: throughput, model FLOP utilisation (MFU) and full-size CIFAR-10 ResNet18 epochs.

Synthetic data of CIFAR-10's real size (50,048 training images, so 391 full batches of 128, and
10,000 test images); one warm-up epoch, then one timed epoch, for standard and PGD-7 training.
"""

from __future__ import annotations

import torch

from advkd.evaluate import count_flops
from advkd.train import build_for_data

from .timing import interleaved
from .workloads import ATTACK, AdvkdEpoch, Case, synthetic

# Dense bf16 tensor-core peaks from the vendors' datasheets, in TFLOP/s (SXM parts).
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "RTX 4090": 165.0}

# Forward-pass equivalents per image: a training step is forward + backward (about 2 forwards);
# a PGD step is forward + input-only backward (about 2 forwards), seven of them before the step.
PASSES = {"standard": 3, "PGD-7": 3 + 7 * 2}

FULL_RESNET18 = Case("CIFAR-10 ResNet18, width 64", {"arch": "resnet18", "width": 1.0}, (3, 32, 32), 128, 391, 4, True)


def peak_flops(device: torch.device) -> float | None:
    name = torch.cuda.get_device_name(device)
    return next((tflops * 1e12 for key, tflops in PEAK_BF16_TFLOPS.items() if key in name), None)


def run(device: torch.device) -> None:
    data = synthetic(FULL_RESNET18, n_test=10_000)
    flops = count_flops(build_for_data(FULL_RESNET18.model, data).to(device), FULL_RESNET18.shape)["flops"]
    peak = peak_flops(device)
    for label, method, attack in (("standard", {"name": "ce"}, None), ("PGD-7", {"name": "at"}, ATTACK)):
        epoch = AdvkdEpoch(FULL_RESNET18, data, device, method, attack=attack)
        seconds = interleaved({label: epoch}, device, trials=1)[label]
        images_per_s = FULL_RESNET18.n_train / seconds
        mfu = f"{flops * PASSES[label] * images_per_s / peak:.1%}" if peak else "n/a (unknown peak)"
        print(f"GPU {label} epoch, {FULL_RESNET18.label}: {seconds:.1f} s, {images_per_s:,.0f} img/s, MFU {mfu}", flush=True)
