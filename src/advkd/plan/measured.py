"""What the GPU check measured, as typed records: `speed.gpu` writes them, the cost model
(`advkd.plan.rates`) reads them, one file per check in `measured/`. Imports no torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..methods import get_method
from .work import forward_passes

MEASURED = Path(__file__).with_name("measured")

# The training workloads the check times: (method, PGD steps, teacher): a teacher of the
# student's own size for KD.
WORKLOADS = {"standard": ("ce", 0, False), "KD": ("kd", 0, True), "PGD-7": ("at", 7, False)}


def workload_passes(workload: str) -> float:
    """Forward-pass equivalents per image of a workload, counted as the cost model counts them."""
    method, steps, teacher = WORKLOADS[workload]
    student, attacked, teacher_passes = forward_passes(get_method(method), steps)
    return student + attacked + (teacher_passes if teacher else 0)


@dataclass(frozen=True)
class TrainingRate:
    """Images/s of `fit` (everything included) for one model and workload."""

    model: dict  # {"arch": ..., "width": ...}
    side: int  # square images of 3 x side x side
    workload: str  # a WORKLOADS key
    images_per_s: float
    forward_flops: float  # of one image
    batch_size: int

    def utilisation(self, peak_flops: float) -> float:
        return self.images_per_s * self.forward_flops * workload_passes(self.workload) / peak_flops


@dataclass(frozen=True)
class SteadyRate:
    """The training step alone, repeated on one batch after a warm-up: images/s over `steps`
    steps (CUDA events on a GPU), and kernel launches per step (torch profiler; None on a CPU)."""

    model: dict
    side: int
    workload: str  # a WORKLOADS key
    images_per_s: float
    steps: int
    launches_per_step: float | None
    batch_size: int
    captured: bool = False  # the step replayed as one CUDA graph (recipe `capture: true`)


@dataclass(frozen=True)
class AttackRate:
    """fp32 throughput of the passes AutoAttack is made of, and a full-budget AutoAttack run."""

    model: dict
    side: int
    forward_per_s: float
    forward_backward_per_s: float
    autoattack_points: int
    attack_seconds: dict[str, float]  # per attack of the standard version, every point surviving


@dataclass(frozen=True)
class RobustAttack:
    """Standard AutoAttack on a PGD-trained model at the robust fraction it really keeps (not the
    worst case of `AttackRate`): how many points each attack left, and its seconds."""

    model: dict
    side: int
    points: int
    eps: float
    clean_acc: float
    after: dict[str, float]  # robust accuracy after each attack
    attack_seconds: dict[str, float]


@dataclass(frozen=True)
class SharedRate:
    """`processes` copies of the ResNet18 training step on one GPU at once (with CUDA MPS or not):
    their images/s together, from the first one's start to the last one's finish."""

    model: dict
    side: int
    processes: int
    mps: bool
    images_per_s: float


@dataclass
class GpuCheck:
    machine: list[str]  # what speed.machine.describe says
    gpu: str | None  # the DATASHEETS key of the device, None when not a known GPU
    smoke: bool
    rows: list[list[str]] = field(default_factory=list)  # (check, case, verdict, detail)
    training: list[TrainingRate] = field(default_factory=list)
    attacks: list[AttackRate] = field(default_factory=list)
    startup_s: float | None = None
    steady: list[SteadyRate] = field(default_factory=list)  # absent from checks before it was measured
    shared: list[SharedRate] = field(default_factory=list)  # likewise
    robust_attacks: list[RobustAttack] = field(default_factory=list)  # likewise

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> GpuCheck:
        found = json.loads(path.read_text())
        found["training"] = [TrainingRate(**rate) for rate in found["training"]]
        found["attacks"] = [AttackRate(**rate) for rate in found["attacks"]]
        found["steady"] = [SteadyRate(**rate) for rate in found.get("steady", [])]
        found["shared"] = [SharedRate(**rate) for rate in found.get("shared", [])]
        found["robust_attacks"] = [RobustAttack(**attack) for attack in found.get("robust_attacks", [])]
        return cls(**found)


def measured_checks() -> list[tuple[str, GpuCheck]]:
    """Every GPU check the cost model reads: (file name, its record)."""
    return [(path.name, GpuCheck.read(path)) for path in sorted(MEASURED.glob("*.json"))]
