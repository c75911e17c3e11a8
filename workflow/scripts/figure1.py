"""Rule figure1: the gradient heatmap (methods x layers, grouped by stage) as PNG and PDF."""

import json

import numpy as np

from advkd.io import read_json
from advkd.joblog import job_log
from advkd.report import heatmap

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]):
    definition = json.loads(sm.params.definition)
    run_names = json.loads(sm.params.run_names)
    per_run: dict[str, list[dict]] = {}
    for name, path in zip(run_names, sm.input.gradients):
        per_run.setdefault(name, []).append(read_json(path))
    labels, matrix, names = [], [], None
    for row in definition["rows"]:
        names, values = heatmap.average_gradients(per_run[row["run"]], definition.get("epochs"))
        labels.append(row["label"])
        matrix.append(values)
    heatmap.plot(labels, names, np.asarray(matrix), [sm.output.png, sm.output.pdf], definition.get("title", ""))
