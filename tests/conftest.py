"""Shared fixtures: the offline digits dataset and a small model trained on it once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from advkd.data import prepare
from advkd.train import fit

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def mlp_spec(**overrides) -> dict:
    spec = {
        "seed": 0,
        "model": {"arch": "mlp", "hidden": [64]},
        "method": {"name": "ce"},
        "recipe": {
            "epochs": 8,
            "batch_size": 64,
            "optimizer": {"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4},
            "schedule": {"name": "cosine", "warmup_epochs": 1},
        },
    }
    spec.update(overrides)
    return spec


@pytest.fixture(scope="session")
def digits(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    return prepare({"source": "digits"}, folder, folder / "digits.pt")


@pytest.fixture(scope="session")
def trained_mlp(digits, tmp_path_factory):
    """An MLP trained with cross-entropy on the digits: the 'real model' several tests attack."""
    folder = tmp_path_factory.mktemp("mlp")
    return fit(mlp_spec(), digits, "mlp.s0.test", folder / "checkpoint.pt", progress=False)
