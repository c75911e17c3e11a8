"""Rule autoattack: AutoAttack accuracy of one run on the first n test points (with the per-attack
breakdown), and PGD accuracy on the same points when `autoattack.pgd` is configured."""

import json

from advkd.data import load
from advkd.devices import claim_device
from advkd.evaluate import pgd_accuracy, run_autoattack
from advkd.io import write_json
from advkd.joblog import job_log
from advkd.train import load_weights

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0], sm.threads) as log, claim_device(sm.params.device) as device:
    spec, attack = json.loads(sm.params.spec), json.loads(sm.params.attack)
    data = load(sm.input.data)
    model = load_weights(spec["model"], data, sm.input.model, device)
    n = attack.get("n") or len(data.test_y)
    result = run_autoattack(
        model,
        data.test_x[:n],
        data.test_y[:n],
        eps=attack["eps"],
        norm=attack.get("norm", "Linf"),
        version=attack.get("version", "standard"),
        attacks=attack.get("attacks"),
        batch_size=attack.get("batch_size", 500),
        seed=attack.get("seed", 0),
    )
    pgd = attack.get("pgd")
    if pgd:
        result["pgd"] = {**pgd, "eps": attack["eps"]}
        result["pgd"]["acc"] = pgd_accuracy(
            model, data.test_x[:n], data.test_y[:n], eps=attack["eps"], step_size=pgd["step_size"],
            steps=pgd["steps"], batch_size=attack.get("batch_size", 500), seed=attack.get("seed", 0),
        )  # fmt: skip
    log.info("run %s: clean %.4f robust %.4f", sm.wildcards.run_id, result["clean_acc"], result["robust_acc"])
    write_json(sm.output[0], result)
