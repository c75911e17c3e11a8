"""Paper tables from run metrics: each cell the mean ± std over seeds (n), beside the paper's value.

A table definition (from the config) lists `columns` (metric names) and `rows`, each naming a run
and, optionally, the paper's value per metric: a number, or [mean, std].
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence

import pandas as pd

# metric -> (header, how to read it from one seed's metrics, is it a percentage)
METRICS: dict[str, tuple[str, Callable[[dict], float], bool]] = {
    "accuracy": ("Accuracy (%)", lambda m: 100 * m["eval"]["test_acc"], True),
    "without": ("Acc. w/o omitted (%)", lambda m: 100 * m["eval"]["subsets"]["without"], True),
    "only": ("Acc. only omitted (%)", lambda m: 100 * m["eval"]["subsets"]["only"], True),
    "autoattack": ("AutoAttack acc. (%)", lambda m: 100 * m["autoattack"]["robust_acc"], True),
    # Robust accuracy after each AutoAttack stage (each attacks what the earlier ones left standing).
    "apgd_ce": ("after APGD-CE (%)", lambda m: _after(m, "apgd-ce"), True),
    "apgd_t": ("after APGD-T (%)", lambda m: _after(m, "apgd-t"), True),
    "fab_t": ("after FAB-T (%)", lambda m: _after(m, "fab-t"), True),
    "square": ("after Square (%)", lambda m: _after(m, "square"), True),
    "pgd": ("PGD acc. (%)", lambda m: 100 * m["pgd"]["acc"], True),
    # The best-on-validation weights (recipe `validation`); the columns above are the last epoch's.
    # A run without a validation split has none: a dash.
    "best_accuracy": ("Best: accuracy (%)", lambda m: 100 * m["eval"].get("best", {}).get("test_acc", math.nan), True),
    "best_autoattack": (
        "Best: AutoAttack acc. (%)",
        lambda m: 100 * m.get("autoattack_best", {}).get("robust_acc", math.nan),
        True,
    ),
    "best_pgd": ("Best: PGD acc. (%)", lambda m: 100 * m.get("pgd_best", {}).get("acc", math.nan), True),
    # BYOT: the shallower exits and the ensemble of all exits ("accuracy" is the deepest exit).
    "exit1": ("Exit 1/4 (%)", lambda m: _exit(m, 0), True),
    "exit2": ("Exit 2/4 (%)", lambda m: _exit(m, 1), True),
    "exit3": ("Exit 3/4 (%)", lambda m: _exit(m, 2), True),
    "ensemble": ("Ensemble (%)", lambda m: 100 * m["eval"].get("exits", {}).get("ensemble", math.nan), True),
    "parameters": ("Parameters", lambda m: m["eval"]["parameters"], False),
    "weights": ("Weights", lambda m: m["eval"]["weights"], False),
    "macs": ("FLOPs (multiply-adds)", lambda m: m["eval"]["macs"], False),
}


# Marks a row whose run collapsed (advkd.evaluate.health); the Markdown says why under the table.
FLAG_MARK = "(collapsed?)"


def _after(metrics: dict, attack: str) -> float:
    """Robust accuracy after `attack`; NaN (shown as a dash) when the run's AutoAttack skipped it."""
    return 100 * metrics["autoattack"]["after"].get(attack, math.nan)


def _exit(metrics: dict, index: int) -> float:
    """Accuracy of a shallow exit; NaN (a dash) for a single-exit model."""
    exits = metrics["eval"].get("exits")
    return 100 * exits["accuracy"][index] if exits else math.nan


def summarize(values: Sequence[float]) -> tuple[float, float, int]:
    """(mean, sample std or 0 for one seed, n); NaN mean and std when a seed lacks the metric."""
    n = len(values)
    if any(math.isnan(v) for v in values):
        return math.nan, math.nan, n
    return statistics.fmean(values), (statistics.stdev(values) if n > 1 else 0.0), n


def paper_value(row: dict, metric: str) -> tuple[float | None, float | None]:
    value = row.get("paper", {}).get(metric)
    if value is None:
        return None, None
    if isinstance(value, (list, tuple)):
        return float(value[0]), float(value[1])
    return float(value), None


def build(definition: dict, metrics: dict[str, list[dict]]) -> pd.DataFrame:
    """One row per table row; per metric: ours (mean, std, n), the paper's (mean, std), the difference.

    `metrics[run_name]` holds one dict per seed: {"eval": evaluate output, "autoattack": ...}.
    """
    records = []
    for row in definition["rows"]:
        flags = [f"seed {i}: {flag}" for i, m in enumerate(metrics[row["run"]]) for flag in m["eval"].get("flags", [])]
        record = {"row": row["label"], "run": row["run"], "flags": "; ".join(flags)}
        for metric in definition["columns"]:
            _, read, _ = METRICS[metric]
            mean, std, n = summarize([read(m) for m in metrics[row["run"]]])
            paper, paper_std = paper_value(row, metric)
            record.update(
                {
                    f"{metric}_mean": mean,
                    f"{metric}_std": std,
                    f"{metric}_n": n,
                    f"{metric}_paper": paper,
                    f"{metric}_paper_std": paper_std,
                    f"{metric}_diff": None if paper is None else mean - paper,
                }
            )
        records.append(record)
    return pd.DataFrame.from_records(records)


def _fmt(mean: float, std: float | None, n: int | None, percent: bool, pm: str) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    if not percent:
        return f"{int(round(mean)):,}"
    text = f"{mean:.2f}"
    if std is not None and not math.isnan(std):
        text += f" {pm} {std:.2f}"
    if n is not None:
        text += f" (n={n})"
    return text


def formatted(frame: pd.DataFrame, definition: dict, pm: str = "±") -> pd.DataFrame:
    """Human-readable cells: 'ours', and where the paper has values, 'paper' and 'Δ', per metric."""
    out = pd.DataFrame({"Method": [f"{r['row']} {FLAG_MARK}" if r["flags"] else r["row"] for _, r in frame.iterrows()]})
    for metric in definition["columns"]:
        header, _, percent = METRICS[metric]
        out[f"{header} ours"] = [
            _fmt(
                r[f"{metric}_mean"],
                r[f"{metric}_std"] if percent else None,
                r[f"{metric}_n"] if percent else None,
                percent,
                pm,
            )
            for _, r in frame.iterrows()
        ]
        if frame[f"{metric}_paper"].isna().all():
            continue  # no paper value in this column: no 'paper' and 'Δ' columns of dashes
        out[f"{header} paper"] = [
            "–"
            if pd.isna(r[f"{metric}_paper"])
            else _fmt(
                r[f"{metric}_paper"],
                None if pd.isna(r[f"{metric}_paper_std"]) else r[f"{metric}_paper_std"],
                None,
                percent,
                pm,
            )
            for _, r in frame.iterrows()
        ]
        out[f"{header} Δ"] = [
            "–"
            if pd.isna(r[f"{metric}_diff"])
            else (f"{r[f'{metric}_diff']:+.2f}" if percent else f"{int(r[f'{metric}_diff']):+,}")
            for _, r in frame.iterrows()
        ]
    return out


def to_markdown(frame: pd.DataFrame, definition: dict) -> str:
    title = definition.get("title", "")
    notes = "".join(f"\n{FLAG_MARK} {r['row']}: {r['flags']}\n" for _, r in frame.iterrows() if r["flags"])
    return f"### {title}\n\n{formatted(frame, definition).to_markdown(index=False, disable_numparse=True)}\n{notes}"


def to_latex(frame: pd.DataFrame, definition: dict) -> str:
    table = formatted(frame, definition, pm=r"$\pm$")
    table = table.map(lambda v: v.replace("%", r"\%").replace("Δ", r"$\Delta$") if isinstance(v, str) else v)
    table.columns = [c.replace("%", r"\%").replace("Δ", r"$\Delta$") for c in table.columns]
    return table.to_latex(index=False, caption=definition.get("title"), escape=False)
