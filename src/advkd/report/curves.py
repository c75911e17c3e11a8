"""Training curves: test accuracy and test loss per epoch for every row of a table, averaged over
seeds, so a reader sees how each method got to its final number (and whether it had converged)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def mean_curve(histories: Sequence[list[dict]], key: str) -> np.ndarray:
    """The per-epoch mean of `key` over seeds (each item is one seed's history.json)."""
    length = min(len(history) for history in histories)
    return np.mean([[row[key] for row in history[:length]] for history in histories], axis=0)


def plot(rows: Sequence[tuple[str, Sequence[list[dict]]]], path: str | Path, title: str = "") -> None:
    """One line per (label, histories) row: test accuracy (%) on the left, test loss on the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (accuracy, loss) = plt.subplots(1, 2, figsize=(11, 4))
    for label, histories in rows:
        acc = 100 * mean_curve(histories, "test_acc")
        epochs = np.arange(1, len(acc) + 1)
        accuracy.plot(epochs, acc, label=f"{label} (n={len(histories)})")
        loss.plot(epochs, mean_curve(histories, "test_loss"), label=label)
    accuracy.set(xlabel="epoch", ylabel="test accuracy (%)")
    loss.set(xlabel="epoch", ylabel="test loss")
    accuracy.legend(fontsize="small")
    fig.suptitle(f"{title}: training curves, mean over seeds" if title else "Training curves, mean over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")  # explicit: the path may be a temporary name
    plt.close(fig)
