"""Rule claims: every claim of the config, its premises checked, judged over paired seeds and test
points, as Markdown and CSV."""

import json

from advkd.io import atomic_path
from advkd.joblog import job_log
from advkd.report import claims
from advkd.report.tables import read_evaluations

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]):
    folders = json.loads(sm.params.seeds)  # run name -> seed -> its folder
    found = read_evaluations({name: list(seeds.values()) for name, seeds in folders.items()}, sm.input.evaluations)
    evaluations = {name: dict(zip(seeds, found[name])) for name, seeds in folders.items()}
    verdicts = claims.evaluate_all(map(tuple, json.loads(sm.params.claims)), evaluations)
    for path, text in (
        (sm.output.md, claims.to_markdown(verdicts, sm.params.title)),
        (sm.output.csv, claims.to_frame(verdicts).to_csv(index=False)),
    ):
        with atomic_path(path) as tmp:
            tmp.write_text(text)
