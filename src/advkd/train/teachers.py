"""A model that is not this job's own run: a run of the config (its `model.pt`), or a weights file
(a downloaded checkpoint, or one this config exports), as a teacher or as a model to evaluate."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..data import PreparedDataset
from ..digests import file_sha256
from ..errors import ConfigError
from ..models import build_model
from ..models.files import check_fits, load_into, read_state_dict
from ..sizes import known_size
from .loop import build_for_data, load_weights


def load_model(spec: dict, data: PreparedDataset, path: str | Path, device: torch.device | str) -> nn.Module:
    """The model of a run's or teacher's `spec`, in eval mode; a downloaded file must still have
    the SHA-256 its runs were planned with."""
    if "checkpoint_sha256" in spec:
        actual, planned = file_sha256(path), spec["checkpoint_sha256"]
        if actual != planned:
            raise ValueError(f"{path}: SHA-256 {actual}, but this run was planned with {planned}: the file changed")
    elif "exported_from" not in spec:
        return load_weights(spec["model"], data, path, device)
    model = load_into(build_for_data(spec["model"], data), path, spec["model"])
    return model.to(device).eval()


def check_weights_files(files: list[tuple[str, str, dict, dict]]) -> None:
    """Before any job: each (config key, path, model spec, dataset spec) file that exists must fit
    its model built for its dataset (shapes and class count, where known without loading the data);
    a ConfigError names the key. Built on the meta device and read memory-mapped: no weights are
    copied, so a WideResNet-70-16 costs what its file's index does."""
    for where, path, model_spec, dataset in files:
        size = known_size(dataset)
        if size is None or not Path(path).is_file():
            continue  # an export not yet written, or data whose shape only loading tells: the job checks
        try:
            with torch.device("meta"):
                model = build_model(model_spec, size.shape, size.classes, [0.0] * size.shape[0], [1.0] * size.shape[0])
            check_fits(model, read_state_dict(path, mmap=True), path, model_spec)
        except ValueError as err:
            raise ConfigError(f"{where}: {err}") from None
