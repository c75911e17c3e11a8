"""The GPUs the cost model and the GPU check know: one datasheet table. Imports no torch.

Dense (no sparsity) peaks in TFLOP/s from NVIDIA's datasheets: bf16 tensor (training runs under
bf16 autocast) and TF32 tensor (cuDNN's default for fp32 convolutions: evaluation, attacks).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Datasheet:
    key: str  # what a config's compute.gpu and `--gpu` name
    label: str
    device_names: tuple[str, ...]  # substrings of torch.cuda.get_device_name() that identify it
    bf16_tflops: float
    tf32_tflops: float


_DECLARED = [
    Datasheet("h100", "NVIDIA H100 SXM", ("H100",), 989.4, 494.7),
    Datasheet("h200", "NVIDIA H200 SXM", ("H200",), 989.4, 494.7),  # the H100's chip with more, faster memory
    Datasheet("a100", "NVIDIA A100 SXM", ("A100",), 312.0, 156.0),
    Datasheet("l40s", "NVIDIA L40S", ("L40S",), 362.05, 183.2),
]
DATASHEETS: dict[str, Datasheet] = {sheet.key: sheet for sheet in _DECLARED}


def datasheet_of(device_name: str) -> Datasheet | None:
    """The datasheet of a device torch names ("NVIDIA H100 80GB HBM3"), or None when unknown."""
    return next((sheet for sheet in _DECLARED if any(n in device_name for n in sheet.device_names)), None)
