"""Figure 1: average gradient magnitude per layer, grouped by ResNet stage, one row per method."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def stage_of(layer: str) -> str:
    """'stage2.1.conv1' -> 'stage2'; 'stem.0' -> 'stem'; 'fc' -> 'fc'."""
    return layer.split(".")[0]


def short_label(layer: str) -> str:
    """'stage2.1.conv1' -> '1.conv1', 'stage2.0.shortcut.0' -> '0.short'; stem and fc stay."""
    parts = layer.split(".")
    if parts[0].startswith("stage"):
        return f"{parts[1]}.{'short' if parts[2] == 'shortcut' else parts[2]}"
    return parts[0]


def average_gradients(runs: Sequence[dict], epochs: Sequence[int] | None = None) -> tuple[list[str], list[float]]:
    """Average one method's gradient statistics over the chosen epochs (1-based [first, last]),
    then over seeds. Each item of `runs` is one seed's gradients.json."""
    names = runs[0]["names"]
    per_seed = []
    for run in runs:
        if run["names"] != names:
            raise ValueError("runs of one Figure 1 row have different layers")
        rows = run["epochs"]
        if epochs is not None:
            first, last = epochs
            rows = rows[first - 1 : last]
        per_seed.append(np.mean(np.asarray(rows), axis=0))
    return names, [statistics.fmean(v) for v in zip(*per_seed)]


def plot(
    labels: Sequence[str], names: Sequence[str], values: np.ndarray, out_paths: Sequence[str | Path], title: str = ""
) -> None:
    """Heatmap with a shared logarithmic colour scale; stages separated and named above."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    values = np.asarray(values, dtype=float)
    positive = values[values > 0]
    norm = LogNorm(vmin=positive.min(), vmax=positive.max()) if positive.size else None
    width = max(8.0, 0.32 * len(names) + 2.5)
    fig, ax = plt.subplots(figsize=(width, 1.1 + 0.55 * len(labels)), constrained_layout=True)
    image = ax.imshow(np.where(values > 0, values, np.nan), aspect="auto", cmap="viridis", norm=norm)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xticks(range(len(names)), [short_label(n) for n in names], rotation=90, fontsize=7)
    stages = [stage_of(n) for n in names]
    start = 0
    for i in range(1, len(stages) + 1):
        if i == len(stages) or stages[i] != stages[start]:
            if i < len(stages):
                ax.axvline(i - 0.5, color="white", linewidth=1.5)
            ax.text((start + i - 1) / 2, -0.7, stages[start], ha="center", va="bottom", fontsize=9, fontweight="bold")
            start = i
    ax.set_ylim(len(labels) - 0.5, -1.2)
    fig.colorbar(image, ax=ax, label="mean |gradient| (log scale)")
    if title:
        ax.set_title(title, pad=18)
    for path in out_paths:
        fig.savefig(path, dpi=150)
    plt.close(fig)
