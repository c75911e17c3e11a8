"""Rule train: train one run (with its teacher, if any), evaluate it, and write its artifacts;
evaluating here spares a second process its start-up (torch, the device, the data)."""

import json
from pathlib import Path

from advkd.data import load
from advkd.devices import claim_device
from advkd.evaluate import run_metrics
from advkd.io import link_file, save_torch, write_json
from advkd.joblog import job_log
from advkd.train import fit, load_model

sm = snakemake  # noqa: F821 (injected by Snakemake)
run_id = sm.wildcards.run_id
claim = claim_device(sm.resources.device, jobs_per_gpu=sm.resources.jobs_per_gpu)
with job_log(sm.log[0], sm.threads) as log, claim as device:
    spec = json.loads(sm.params.spec)
    data = load(sm.input.data)
    teacher = load_model(spec["teacher"], data, sm.input.teacher, device) if spec["teacher"] else None
    checkpoint = Path(sm.output.model).with_name("checkpoint.pt")
    result = fit(spec, data, run_id, checkpoint, teacher=teacher, device=device)
    metrics = run_metrics(result.model, data, spec, result.history, run_id, result.best, result.final_test)
    log.info("run %s: %s", run_id, metrics)
    write_json(sm.output.history, result.history)
    write_json(sm.output.gradients, result.gradients)
    write_json(sm.output.metrics, metrics)
    save_torch(result.model.state_dict(), sm.output.model)
    if result.best is not None:
        save_torch(result.best["state"], sm.output.best)
    else:  # no validation split: the best weights are the last (a hard link, no second copy)
        link_file(sm.output.model, sm.output.best)
    checkpoint.unlink(missing_ok=True)  # the run is complete: its weights are the artifact now
