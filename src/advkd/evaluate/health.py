"""Flags for a run that trained into a collapse, so that it never passes silently as a number.

Two signs, each cheap and hard to argue with: the final test accuracy is no better than always
answering the test set's most common class, or the training loss ended far above where its first
epoch left it (the run diverged). Training logs the flags; evaluation writes them into
metrics.json and every table marks the row that carries one.
"""

from __future__ import annotations

from collections.abc import Sequence

CHANCE_MARGIN = 0.01  # accuracy within one point of chance counts as chance
LOSS_GROWTH = 1.5  # a last epoch's loss above 1.5 x the first epoch's is a divergence


def collapse_flags(history: Sequence[dict], test_acc: float, test_labels: Sequence[int]) -> list[str]:
    """One sentence per sign of collapse; none for a healthy run."""
    flags = []
    counts = [0] * (max(test_labels) + 1) if len(test_labels) else []
    for label in test_labels:
        counts[label] += 1
    chance = max(counts) / len(test_labels) if counts else 0.0
    if test_acc <= chance + CHANCE_MARGIN:
        flags.append(
            f"test accuracy {100 * test_acc:.2f}% is at chance ({100 * chance:.2f}%, always the most common class)"
        )
    if history:
        first, last = history[0]["train_loss"], history[-1]["train_loss"]
        if last > LOSS_GROWTH * first:
            flags.append(
                f"training loss ended at {last:.4g}, {last / first:.1f}x its first epoch's {first:.4g}: "
                "the run diverged"
            )
    return flags
