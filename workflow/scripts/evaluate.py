"""Rule evaluate: clean test accuracy (and on the omitted classes, and at every exit, if any), size and FLOPs."""

import json

from advkd.data import load
from advkd.devices import claim_device
from advkd.evaluate import accuracy_and_loss, count_flops, count_parameters, exit_accuracies, subset_accuracies
from advkd.io import write_json
from advkd.joblog import job_log
from advkd.models import MultiExitResNet
from advkd.train import load_weights

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0], sm.threads) as log, claim_device(sm.params.device) as device:
    spec = json.loads(sm.params.spec)
    data = load(sm.input.data)
    model = load_weights(spec["model"], data, sm.input.model, device)
    test_acc, test_loss = accuracy_and_loss(model, data.test_x, data.test_y)
    metrics = {"test_acc": test_acc, "test_loss": test_loss, **count_parameters(model), **count_flops(model, data.image_shape)}
    omitted = spec["data"].get("drop_classes")
    if omitted:
        metrics["subsets"] = {"classes": omitted, **subset_accuracies(model, data.test_x, data.test_y, omitted)}
    if isinstance(model, MultiExitResNet):
        metrics["exits"] = exit_accuracies(model, data.test_x, data.test_y)
    log.info("run %s: %s", sm.wildcards.run_id, metrics)
    write_json(sm.output[0], metrics)
