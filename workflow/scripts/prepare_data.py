"""Rule prepare_data: fetch or read one dataset and cache it as a single uint8 tensor file."""

import json
from pathlib import Path

from advkd.data import prepare
from advkd.joblog import job_log

with job_log(snakemake.log[0]) as log:  # noqa: F821 (snakemake is injected)
    spec = json.loads(snakemake.params.spec)  # noqa: F821
    root = Path(snakemake.params.download_root)  # noqa: F821
    data = prepare(spec, root, snakemake.output[0])  # noqa: F821
    log.info("prepared %s: %d train, %d test, %d classes", spec, len(data.train_y), len(data.test_y), data.num_classes)
