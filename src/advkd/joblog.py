"""Plumbing for workflow jobs: send a job's stderr and logging to its log file, and turn the
errors a user can fix (missing data, bad files, broken runs) into one readable line."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple


def expected_errors() -> tuple[type[BaseException], ...]:
    """Errors whose message says everything (imported lazily: torch loads only inside a job)."""
    from .data import CorruptDatasetError, DataUnavailableError, IdxFormatError
    from .errors import ConfigError
    from .train import CheckpointMismatchError, NonFiniteLossError, Preempted

    return (
        ConfigError,
        DataUnavailableError,
        CorruptDatasetError,
        IdxFormatError,
        CheckpointMismatchError,
        NonFiniteLossError,
        Preempted,
    )


@contextmanager
def job_log(path: str | Path, threads: int | None = None) -> Iterator[logging.Logger]:
    """Within the block, stderr and the `advkd` loggers write to `path`; a known error becomes
    'advkd: <message>' in the log and on the terminal, and the job exits with status 1; any other
    error leaves its traceback in both."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    terminal = sys.stderr
    with open(path, "w", buffering=1) as log_file:
        sys.stderr = log_file
        logging.basicConfig(
            stream=log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
        )
        if threads:
            import torch

            torch.set_num_threads(threads)
        try:
            yield logging.getLogger("advkd")
        except expected_errors() as err:
            message = f"advkd: {type(err).__name__}: {err}"
            print(message, file=log_file)
            print(message, file=terminal)
            raise SystemExit(1) from None
        except Exception:  # a bug: its traceback in the log too, not only on the terminal
            traceback.print_exc(file=log_file)
            raise
        finally:
            sys.stderr = terminal


class TrainedRun(NamedTuple):
    log: logging.Logger
    spec: dict  # the run's spec as the config writes it
    data: Any  # advkd.data.PreparedDataset
    model: Any  # the model (trained here or read from a file), in eval mode on the job's device


@contextmanager
def evaluation_job(sm) -> Iterator[TrainedRun]:
    """The frame of a job that evaluates one run, trained or a weights file (rules evaluate,
    autoattack, pgd): its log, its claimed device, the run's spec, dataset and weights."""
    from .data import load
    from .devices import claim_device
    from .train import load_model

    claim = claim_device(sm.resources.device, jobs_per_gpu=sm.resources.jobs_per_gpu)
    with job_log(sm.log[0], sm.threads) as log, claim as device:
        spec = json.loads(sm.params.spec)
        data = load(sm.input.data)
        yield TrainedRun(log, spec, data, load_model(spec, data, sm.input.model, device))
