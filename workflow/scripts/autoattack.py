"""Rule autoattack: AutoAttack accuracy of one run on the first n test points, with the robust
accuracy after each attack and each attack's seconds."""

import json

from advkd.evaluate import run_autoattack
from advkd.io import write_json
from advkd.joblog import evaluation_job
from advkd.schema import complete

sm = snakemake  # noqa: F821 (injected by Snakemake)
with evaluation_job(sm) as job:
    attack = complete(json.loads(sm.params.attack), "autoattack")
    n = attack["n"] or len(job.data.test_y)
    settings = {key: attack[key] for key in ("eps", "norm", "version", "batch_size", "seed")}
    result = run_autoattack(
        job.model, job.data.test_x[:n], job.data.test_y[:n], attacks=attack.get("attacks"), **settings
    )
    job.log.info("run %s: clean %.4f robust %.4f", sm.wildcards.run_id, result["clean_acc"], result["robust_acc"])
    write_json(sm.output[0], result)
