"""Rules train and distill: train one run (with its teacher, if any), evaluate it, and write its
artifacts; evaluating here spares a second process its start-up (torch, the device, the data)."""

import json
from pathlib import Path

from advkd.data import load
from advkd.devices import claim_device
from advkd.evaluate import run_metrics
from advkd.evaluate.accuracy import accuracy_and_loss
from advkd.io import save_torch, write_json
from advkd.joblog import job_log
from advkd.train import build_for_data, fit, load_teacher

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0], sm.threads) as log, claim_device(sm.resources.device) as device:
    spec = json.loads(sm.params.spec)
    data = load(sm.input.data)
    teacher = None
    if spec["teacher"] is not None:
        teacher = load_teacher(spec["teacher"], data, sm.input.teacher, device)
    checkpoint = Path(sm.output.model).with_name("checkpoint.pt")
    result = fit(spec, data, sm.wildcards.run_id, checkpoint, teacher=teacher, device=device)
    metrics = run_metrics(result.model, data, spec, result.history)
    if result.best is not None:  # the best-on-validation weights on the test set
        best = build_for_data(spec["model"], data).to(device)
        best.load_state_dict(result.best["state"])
        accuracy, _ = accuracy_and_loss(best, data.test_x, data.test_y)
        metrics["best"] = {"epoch": result.best["epoch"], "validation": result.best["score"], "test_acc": accuracy}
    for flag in metrics["flags"]:
        log.warning("run %s: COLLAPSED? %s", sm.wildcards.run_id, flag)
    log.info("run %s: %s", sm.wildcards.run_id, metrics)
    write_json(sm.output.history, result.history)
    write_json(sm.output.gradients, result.gradients)
    write_json(sm.output.metrics, metrics)
    save_torch(result.model.state_dict(), sm.output.model)
    if result.best is not None:  # rule train_validated / distill_validated
        save_torch(result.best["state"], sm.output.best)
    checkpoint.unlink(missing_ok=True)  # the run is complete: its weights are the artifact now
