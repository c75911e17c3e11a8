"""Training curves: test accuracy and test loss per epoch for every row of a table, averaged over
seeds, so a reader sees how each method got to its final number (and whether it had converged);
for runs with a validation split also its PGD accuracy, where robust overfitting shows."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def scored_curve(histories: Sequence[list[dict]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, mean over seeds) of `key` (each item is one seed's history.json) over the epochs
    every seed scored: a seed still running has fewer, and the test pass (`test_every`) and the
    validation may score only every few epochs."""
    scored = [{row["epoch"]: row[key] for row in history if row.get(key) is not None} for history in histories]
    epochs = sorted(set.intersection(*(set(seed) for seed in scored)))
    return np.array(epochs), np.array([np.mean([seed[e] for seed in scored]) for e in epochs])


def plot(rows: Sequence[tuple[str, Sequence[list[dict]]]], path: str | Path, title: str = "") -> None:
    """One line per (label, histories) row: test accuracy (%) on the left, test loss on the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    validated = any(row.get("val_robust_acc") is not None for _, runs in rows for run in runs for row in run)
    fig, axes = plt.subplots(1, 3 if validated else 2, figsize=(16 if validated else 11, 4))
    accuracy, loss = axes[:2]
    for label, histories in rows:
        epochs, acc = scored_curve(histories, "test_acc")
        accuracy.plot(epochs, 100 * acc, marker=".", label=f"{label} (n={len(histories)})")
        loss.plot(*scored_curve(histories, "test_loss"), marker=".", label=label)
        if validated:
            scored, robust = scored_curve(histories, "val_robust_acc")
            axes[2].plot(scored, 100 * robust, marker=".", label=label)
    accuracy.set(xlabel="epoch", ylabel="test accuracy (%)")
    loss.set(xlabel="epoch", ylabel="test loss")
    if validated:
        axes[2].set(xlabel="epoch", ylabel="validation PGD accuracy (%)")
    accuracy.legend(fontsize="small")
    fig.suptitle(f"{title}: training curves, mean over seeds" if title else "Training curves, mean over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")  # explicit: the path may be a temporary name
    plt.close(fig)
