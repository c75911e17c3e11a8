"""Rules train and distill: train one run (with its teacher, if any) and write its artifacts."""

import json
from pathlib import Path

from advkd.data import load
from advkd.devices import claim_device
from advkd.io import save_torch, write_json
from advkd.joblog import job_log
from advkd.train import fit, load_weights

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0], sm.threads), claim_device(sm.params.device) as device:
    spec = json.loads(sm.params.spec)
    data = load(sm.input.data)
    teacher = None
    if spec["teacher"] is not None:
        teacher = load_weights(spec["teacher"]["model"], data, sm.input.teacher, device)
    checkpoint = Path(sm.output.model).with_name("checkpoint.pt")
    result = fit(spec, data, sm.wildcards.run_id, checkpoint, teacher=teacher, device=device)
    write_json(sm.output.history, result.history)
    write_json(sm.output.gradients, result.gradients)
    save_torch(result.model.state_dict(), sm.output.model)
    checkpoint.unlink(missing_ok=True)  # the run is complete: its weights are the artifact now
