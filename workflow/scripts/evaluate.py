"""Rule evaluate: what a table reads of a weights file besides its attacks (clean accuracy, size,
FLOPs), as rule train writes it for a trained run."""

from advkd.evaluate import run_metrics
from advkd.io import write_json
from advkd.joblog import evaluation_job

sm = snakemake  # noqa: F821 (injected by Snakemake)
with evaluation_job(sm) as job:
    metrics = run_metrics(job.model, job.data, job.spec, [], sm.wildcards.run_id)
    job.log.info("run %s: %s", sm.wildcards.run_id, metrics)
    write_json(sm.output[0], metrics)
