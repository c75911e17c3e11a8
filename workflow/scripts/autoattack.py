"""Rule autoattack: AutoAttack accuracy of one run on the first n test points, with the robust
accuracy after each attack and each attack's seconds. Progress goes to a state file beside the
output after every batch: a killed job's rerun continues from it (advkd.evaluate.autoattack). The
attack runs on the model's folded twin (the same function without its batch norms' passes)."""

import json
from pathlib import Path

from advkd.digests import file_sha256
from advkd.evaluate import run_autoattack
from advkd.io import write_json
from advkd.joblog import evaluation_job
from advkd.models.folding import folded
from advkd.schema import complete

sm = snakemake  # noqa: F821 (injected by Snakemake)
with evaluation_job(sm) as job:
    attack = complete(json.loads(sm.params.attack), "autoattack")
    n = attack["n"] or len(job.data.test_y)
    keys = ("eps", "norm", "version", "batch_size", "seed", "restarts", "target_classes")
    settings = {key: attack[key] for key in keys}
    output = Path(sm.output[0])
    result = run_autoattack(
        folded(job.model, attack["channels_last"]),
        job.data.test_x[:n],
        job.data.test_y[:n],
        attacks=attack.get("attacks"),
        state_path=output.with_name(f"{output.stem}.state.pt"),
        state_key=f"{file_sha256(sm.input.model)} {sm.params.attack}",
        **settings,
    )
    job.log.info("run %s: clean %.4f robust %.4f", sm.wildcards.run_id, result["clean_acc"], result["robust_acc"])
    write_json(output, result)
