"""Rule table: one table as CSV, Markdown and LaTeX from its runs' evaluation files, with what
differs from each row's official code and from the table's protocol."""

import json

from advkd.io import atomic_path
from advkd.joblog import job_log
from advkd.report import tables
from advkd.report.protocol import deviations

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]):
    definition = json.loads(sm.params.definition)
    folders = json.loads(sm.params.runs)  # run name -> its folder per seed
    found = deviations(definition, json.loads(sm.params.specs), json.loads(sm.params.protocol))
    frame = tables.build(definition, tables.read_evaluations(folders, sm.input.evaluations), found)
    for path, text in (
        (sm.output.csv, frame.to_csv(index=False)),
        (sm.output.md, tables.to_markdown(frame, definition, found)),
        (sm.output.tex, tables.to_latex(frame, definition, found)),
    ):
        with atomic_path(path) as tmp:
            tmp.write_text(text)
