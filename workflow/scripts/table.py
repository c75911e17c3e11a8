"""Rule table: one paper table as CSV, Markdown and LaTeX from the runs' metrics."""

import json
from pathlib import Path

from advkd.io import atomic_path, read_json
from advkd.joblog import job_log
from advkd.report import tables

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]):
    definition = json.loads(sm.params.definition)
    run_names = json.loads(sm.params.run_names)  # one name per metrics file, in input order
    metrics: dict[str, list[dict]] = {}
    # Each evaluation file sits in its run's folder beside metrics.json; a run without one (no
    # validation split for a best_* column) has none of that kind.
    kinds = [kind for kind in ("autoattack", "pgd", "autoattack_best", "pgd_best") if hasattr(sm.input, kind)]
    for name, path in zip(run_names, sm.input.metrics):
        seed_metrics = {"eval": read_json(path)}
        folder = Path(path).parent
        for kind in kinds:
            if str(folder / f"{kind}.json") in map(str, getattr(sm.input, kind)):
                seed_metrics[kind] = read_json(folder / f"{kind}.json")
        metrics.setdefault(name, []).append(seed_metrics)
    frame = tables.build(definition, metrics)
    for path, text in (
        (sm.output.csv, frame.to_csv(index=False)),
        (sm.output.md, tables.to_markdown(frame, definition)),
        (sm.output.tex, tables.to_latex(frame, definition)),
    ):
        with atomic_path(path) as tmp:
            tmp.write_text(text)
