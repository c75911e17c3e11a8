"""The cost of a plan before it runs: `python -m advkd.plan CONFIG... [--gpu h100]`.

`work` counts each job's FLOPs and sequential steps from the config alone (no dataset, no torch),
`rates` says how fast a machine does each kind of work (a GPU: datasheet peak times the
utilisation the GPU check measured; this machine: a probe), and this module puts them together:
hours per job, per rule and in total, and the runtime a cluster job should ask for.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..runs import Registry
from ..sizes import dataset_size
from .rates import Rates, gpu_rates
from .work import Job, attack_jobs, evaluation_job, plan_jobs, training_job

SAFETY = 3.0  # a cluster job asks for 3x its estimate ...
MIN_RUNTIME_MINUTES = 10  # ... and at least 10 minutes (start-up, a slow node, a shared GPU)


def is_done(job: Job, workdir: Path) -> bool:
    return (workdir / "results" / "runs" / job.target / job.output).exists()


def runtime_minutes(job: Job, rates: Rates) -> int:
    """What a cluster job asks for: the estimate on the profile's GPU with a safety factor and a floor."""
    return max(MIN_RUNTIME_MINUTES, math.ceil(SAFETY * rates.seconds(job) / 60))


class RuntimeRequests:
    """Minutes a cluster job of (rule, run id) asks for on the config's `compute.gpu`, priced
    when Snakemake asks: any run of the config, also one no table shows (a target on the command
    line). Either weights of a run cost an attack the same."""

    def __init__(self, registry: Registry):
        self.registry, self.rates = registry, gpu_rates(registry.compute["gpu"])
        self.sizes = {key: dataset_size(spec) for key, spec in registry.config["datasets"].items()}

    def __call__(self, rule: str, run_id: str) -> int:
        run = self.registry.by_id(run_id)
        size = self.sizes[run.dataset]
        if rule == "train":
            job = training_job(run, size)
        elif rule == "evaluate":
            job = evaluation_job(run, size)
        else:
            (job,) = attack_jobs(run, size, self.registry.autoattack, {(rule, "last")})
        return runtime_minutes(job, self.rates)


def cpu_only_notice(registry: Registry, workdir: Path) -> str | None:
    """One paragraph for a user who starts a GPU-scale plan where there is no CUDA device: what it
    would take here, and the configs that fit a CPU. None when the config asks for the CPU itself
    or a CUDA device is present. Nothing is refused."""
    if registry.compute["device"] == "cpu":
        return None
    import torch

    if torch.cuda.is_available():
        return None
    from .rates import probe_cpu

    todo = [job for job in plan_jobs(registry, workdir) if not is_done(job, workdir)]
    here = probe_cpu(todo, registry.compute["threads_per_job"])
    hours = sum(here.seconds(job) for job in todo) / 3600
    return (
        f"advkd: no CUDA device here. This plan's {len(todo)} training and evaluation jobs would take about "
        f"{hours:,.1f} hours on this CPU (the sum over jobs, from a probe; `python -m advkd.plan` has the detail). "
        "config/demo.yaml runs the whole DAG on digits in minutes, and config/fashion.yaml the paper's Tables 1-2 "
        "on real data in about 13 minutes. Going on."
    )


__all__ = [
    "Job",
    "Rates",
    "RuntimeRequests",
    "cpu_only_notice",
    "gpu_rates",
    "is_done",
    "plan_jobs",
    "runtime_minutes",
]
