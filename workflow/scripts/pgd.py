"""Rule pgd: PGD accuracy of one run (Madry et al.'s evaluation) on AutoAttack's points and eps, on
the model's folded twin (as AutoAttack); every point's outcome is kept for the claims."""

import json
import time

from advkd.evaluate import pgd_correct
from advkd.io import write_json
from advkd.joblog import evaluation_job
from advkd.models.folding import folded
from advkd.points import pack

sm = snakemake  # noqa: F821 (injected by Snakemake)
with evaluation_job(sm) as job:
    attack = json.loads(sm.params.attack)
    n = attack["n"] or len(job.data.test_y)
    x, y = job.data.test_x[:n], job.data.test_y[:n]
    started = time.time()
    correct = pgd_correct(
        folded(job.model, attack.get("channels_last", False)),
        x,
        y,
        attack["eps"],
        attack["step_size"],
        attack["steps"],
        attack["batch_size"],
        attack["seed"],
    )
    acc, seconds = int(correct.sum()) / n, round(time.time() - started, 3)
    job.log.info("run %s: PGD-%d accuracy %.4f on %d points", sm.wildcards.run_id, attack["steps"], acc, n)
    write_json(sm.output[0], {**attack, "n": n, "acc": acc, "seconds": seconds, "points": pack(correct)})
