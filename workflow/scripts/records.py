"""Rule records: reports/<name>/robustbench.json, a RobustBench-style record per attacked run."""

import datetime
import json

from advkd.io import read_json, write_json
from advkd.joblog import job_log
from advkd.report.records import robustbench_record
from advkd.workflow import code_version

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]):
    version, today = code_version(sm.scriptdir), datetime.date.today().isoformat()
    records = [
        robustbench_record(run, read_json(metrics), read_json(attack), version, today)
        for run, metrics, attack in zip(json.loads(sm.params.runs), sm.input.metrics, sm.input.attacks, strict=True)
    ]
    write_json(sm.output[0], records)
