"""Report helpers on hand-made inputs: training curves average seeds epoch by epoch; table cells
are means over seeds, and a metric a run does not have is a dash."""

import numpy as np
import pytest

from advkd.report import curves, tables


def history(values):
    return [{"epoch": i + 1, "test_acc": v, "test_loss": 1 - v} for i, v in enumerate(values)]


def test_curves_average_seeds_per_epoch_over_the_common_length():
    seeds = [history([0.5, 0.7, 0.9]), history([0.3, 0.5])]  # a seed with fewer epochs (still running)
    epochs, accuracy = curves.scored_curve(seeds, "test_acc")
    assert epochs.tolist() == [1, 2] and accuracy == pytest.approx(np.array([0.4, 0.6]))
    assert curves.scored_curve(seeds, "test_loss")[1] == pytest.approx(np.array([0.6, 0.4]))


def test_curves_skip_the_epochs_without_a_test_pass(tmp_path):
    """`test_every: 2`: the odd epochs have no test figures (None), and the curve leaves them out."""
    seeds = [history([0.5, 0.6, 0.7]), history([0.3, 0.4, 0.5])]
    for seed in seeds:
        seed[1].update(test_acc=None, test_loss=None)
    epochs, accuracy = curves.scored_curve(seeds, "test_acc")
    assert epochs.tolist() == [1, 3] and accuracy == pytest.approx(np.array([0.4, 0.6]))
    path = tmp_path / "curves.tmp"
    curves.plot([("sparse", seeds)], path, "Table 4")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_curves_figure_is_a_png(tmp_path):
    path = tmp_path / "curves.tmp"  # no .png suffix, as under atomic_path
    curves.plot([("a", [history([0.1, 0.2])]), ("b", [history([0.3, 0.4])] * 2)], path, "Table 9")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_validation_curve_averages_the_epochs_every_seed_scored(tmp_path):
    """Validation is scored every few epochs: the curve has those epochs (those all seeds have),
    and a figure with such runs gains a third panel and still writes a PNG."""
    seeds = [history([0.5, 0.6, 0.7, 0.8]), history([0.4, 0.5, 0.6, 0.7])]
    for seed, robust in zip(seeds, ([0.2, 0.4], [0.3, 0.5])):
        seed[1]["val_robust_acc"], seed[3]["val_robust_acc"] = robust
    seeds[1][2]["val_robust_acc"] = 0.9  # scored by one seed only: left out
    epochs, values = curves.scored_curve(seeds, "val_robust_acc")
    assert epochs.tolist() == [2, 4] and values == pytest.approx(np.array([0.25, 0.45]))
    path = tmp_path / "curves.tmp"
    curves.plot([("validated", seeds), ("plain", [history([0.1, 0.2])])], path, "Table 7")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table_shows_exit_accuracies_and_a_dash_for_single_exit_runs():
    definition = {
        "columns": ["accuracy", "exit1", "ensemble"],
        "rows": [{"label": "base", "run": "a"}, {"label": "byot", "run": "b"}],
    }
    single = [{"metrics.json": {"test_acc": acc}} for acc in (0.9, 0.8)]
    multi = [
        {"metrics.json": {"test_acc": acc, "exits": {"accuracy": [acc - 0.2, 0, 0, acc], "ensemble": acc + 0.05}}}
        for acc in (0.9, 0.7)
    ]
    frame = tables.build(definition, {"a": single, "b": multi})
    byot = frame.set_index("row").loc["byot"]
    assert byot["exit1_mean"] == pytest.approx(60.0) and byot["ensemble_mean"] == pytest.approx(85.0)
    cells = tables.formatted(frame, definition).set_index("Method")
    assert cells.loc["base", "Exit 1/4 (%) ours"] == "–" and cells.loc["base", "Ensemble (%) ours"] == "–"
    assert cells.loc["byot", "Exit 1/4 (%) ours"] == "60.00 ± 14.14 (n=2)"


def test_a_collapsed_run_is_marked_in_the_table_and_says_why():
    definition = {"columns": ["accuracy"], "rows": [{"label": "kd", "run": "a"}, {"label": "plain", "run": "b"}]}
    collapsed = {
        "metrics.json": {
            "test_acc": 0.1,
            "flags": ["test accuracy 10.00% is at chance (10.00%, always the most common class)"],
        }
    }
    frame = tables.build(definition, {"a": [collapsed], "b": [{"metrics.json": {"test_acc": 0.9}}]})
    markdown = tables.to_markdown(frame, definition)
    assert f"kd {tables.FLAG_MARK}" in markdown and f"plain {tables.FLAG_MARK}" not in markdown
    assert f"{tables.FLAG_MARK} kd: seed 0: test accuracy 10.00% is at chance" in markdown
    assert frame.set_index("row").loc["plain", "flags"] == ""
