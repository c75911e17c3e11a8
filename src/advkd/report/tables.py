"""Tables from the runs' evaluation files: each cell the mean ± std over seeds (n), beside the
paper's value.

A table definition (from the config) lists `columns` (names of `advkd.columns`) and `rows`, each
naming a run and, optionally, the paper's value per column: a number, or [mean, std].
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from ..columns import COLUMNS, Column
from ..io import read_json
from .protocol import REFERENCE_MARK, Deviations, markdown

# Marks a row whose run collapsed (advkd.evaluate.health); the Markdown says why under the table.
FLAG_MARK = "(collapsed?)"

# One seed of a run: its evaluation files' contents by file name (metrics.json, autoattack_last.json, ...).
Seed = dict[str, dict]


def read_evaluations(folders: dict[str, list[str]], available: Iterable[str]) -> dict[str, list[Seed]]:
    """Each run's evaluation files, per seed, among the `available` ones (the table's inputs: a run
    without a validation split has no best-weights attack files, so its cells there are dashes)."""
    available = {Path(path) for path in available}
    return {
        name: [{path.name: read_json(path) for path in available if path.parent == Path(folder)} for folder in seeds]
        for name, seeds in folders.items()
    }


def read_cell(column: Column, seed: Seed) -> float:
    found = seed.get(column.file)
    return math.nan if found is None else column.read(found)


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


def build(definition: dict, seeds: dict[str, list[Seed]], found: Deviations | None = None) -> pd.DataFrame:
    """One row per table row; per column: ours (mean, std, n), the paper's (mean, std), the
    difference; and the row's deviations from its official code and the table's protocol.

    `seeds[run_name]` holds one `Seed` per seed of the run.
    """
    found = found or Deviations()
    records = []
    for row in definition["rows"]:
        run_seeds = seeds[row["run"]]
        flags = [f"seed {i}: {flag}" for i, s in enumerate(run_seeds) for flag in s["metrics.json"].get("flags", [])]
        record = {
            "row": row["label"],
            "run": row["run"],
            "flags": "; ".join(flags),
            "deviations": "; ".join(found.rows.get(row["label"], [])),
            "reference_marked": row["label"] in found.marked,
        }
        for metric in definition["columns"]:
            mean, std, n = summarize([read_cell(COLUMNS[metric], seed) for seed in run_seeds])
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
        header, percent = COLUMNS[metric].header, COLUMNS[metric].percent
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
            + (f" {REFERENCE_MARK}" if r["reference_marked"] else "")
            for _, r in frame.iterrows()
        ]
        out[f"{header} Δ"] = [
            "–"
            if pd.isna(r[f"{metric}_diff"])
            else (f"{r[f'{metric}_diff']:+.2f}" if percent else f"{int(r[f'{metric}_diff']):+,}")
            for _, r in frame.iterrows()
        ]
    return out


def reference_note(definition: dict) -> str:
    """Where the 'paper' columns come from, when the table has any."""
    reference = definition.get("reference")
    if reference is None or not any(row.get("paper") for row in definition["rows"]):
        return ""
    return f"Reference ('paper' columns): {reference['source']}, measured on {reference['dataset']}."


def notes(frame: pd.DataFrame, definition: dict, found: Deviations | None = None) -> list[str]:
    """What stands under a table: where its reference values come from, what differs from each
    row's official code and the table's protocol, and which runs collapsed."""
    paragraphs = [reference_note(definition), markdown(found or Deviations(), definition)]
    paragraphs += [f"{FLAG_MARK} {r['row']}: {r['flags']}" for _, r in frame.iterrows() if r["flags"]]
    return [paragraph for paragraph in paragraphs if paragraph]


def to_markdown(frame: pd.DataFrame, definition: dict, found: Deviations | None = None) -> str:
    title = definition.get("title", "")
    table = formatted(frame, definition).to_markdown(index=False, disable_numparse=True)
    return f"### {title}\n\n{table}\n" + "".join(f"\n{note}\n" for note in notes(frame, definition, found))


def to_latex(frame: pd.DataFrame, definition: dict, found: Deviations | None = None) -> str:
    def escape(text: str) -> str:
        return text.replace("%", r"\%").replace("Δ", r"$\Delta$").replace("_", r"\_").replace("#", r"\#")

    table = formatted(frame, definition, pm=r"$\pm$")
    table = table.map(lambda v: escape(v) if isinstance(v, str) else v)
    table.columns = [escape(c) for c in table.columns]
    latex = table.to_latex(index=False, caption=definition.get("title"), escape=False)
    below = "\n\n".join(escape(note).replace("\n- ", "\n\n-- ") for note in notes(frame, definition, found))
    return latex + (f"\n{below}\n" if below else "")
