"""Rule curves: test accuracy and loss per epoch for every row of one table."""

import json

from advkd.io import atomic_path, read_json
from advkd.joblog import job_log
from advkd.report import curves

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]):
    definition = json.loads(sm.params.definition)
    per_run: dict[str, list[list[dict]]] = {}
    for name, path in zip(json.loads(sm.params.run_names), sm.input.histories):
        per_run.setdefault(name, []).append(read_json(path))
    # Weights files evaluated only have no training to plot.
    rows = [(row["label"], per_run[row["run"]]) for row in definition["rows"] if row["run"] in per_run]
    with atomic_path(sm.output[0]) as tmp:
        curves.plot(rows, tmp, definition.get("title", ""))
