"""Report helpers on hand-made inputs: training curves average seeds epoch by epoch."""

import numpy as np
import pytest

from advkd.report import curves


def history(values):
    return [{"epoch": i + 1, "test_acc": v, "test_loss": 1 - v} for i, v in enumerate(values)]


def test_curves_average_seeds_per_epoch_over_the_common_length():
    seeds = [history([0.5, 0.7, 0.9]), history([0.3, 0.5])]  # a seed with fewer epochs (still running)
    assert curves.mean_curve(seeds, "test_acc") == pytest.approx(np.array([0.4, 0.6]))
    assert curves.mean_curve(seeds, "test_loss") == pytest.approx(np.array([0.6, 0.4]))


def test_curves_figure_is_a_png(tmp_path):
    path = tmp_path / "curves.tmp"  # no .png suffix, as under atomic_path
    curves.plot([("a", [history([0.1, 0.2])]), ("b", [history([0.3, 0.4])] * 2)], path, "Table 9")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
