# Runs without a teacher (baselines, teachers, pretrained selves) are built by `train`;
# runs that learn from a teacher, real or virtual (Tf-KD-reg), by `distill`. Same script, which
# also evaluates the run (metrics.json): a job of its own would pay torch's start-up for it again.
# A run whose recipe holds out a validation split also writes its best weights on it (best.pt):
# the `_validated` twins of both rules.


rule train:
    input:
        data=get_run_dataset,
    output:
        model="results/runs/{run_id}/model.pt",
        history="results/runs/{run_id}/history.json",
        gradients="results/runs/{run_id}/gradients.json",
        metrics="results/runs/{run_id}/metrics.json",
    log:
        "logs/train/{run_id}.log",
    benchmark:
        "benchmarks/train/{run_id}.tsv"
    wildcard_constraints:
        run_id=REGISTRY.id_pattern(distilled=False, validated=False),
    conda:
        "../../envs/advkd.yaml"
    threads: COMPUTE["threads_per_job"]
    resources:
        gpu=COMPUTE["gpus_per_job"],
        device=COMPUTE["device"],
        runtime=get_training_runtime,
        mem_mb=get_mem_mb,
    params:
        spec=get_run_spec,
    script:
        "../scripts/train.py"


use rule train as distill with:
    input:
        data=get_run_dataset,
        teacher=get_run_teacher,
    log:
        "logs/distill/{run_id}.log",
    benchmark:
        "benchmarks/distill/{run_id}.tsv"
    wildcard_constraints:
        run_id=REGISTRY.id_pattern(distilled=True, validated=False),


use rule train as train_validated with:
    output:
        model="results/runs/{run_id}/model.pt",
        best="results/runs/{run_id}/best.pt",
        history="results/runs/{run_id}/history.json",
        gradients="results/runs/{run_id}/gradients.json",
        metrics="results/runs/{run_id}/metrics.json",
    wildcard_constraints:
        run_id=REGISTRY.id_pattern(distilled=False, validated=True),


use rule distill as distill_validated with:
    output:
        model="results/runs/{run_id}/model.pt",
        best="results/runs/{run_id}/best.pt",
        history="results/runs/{run_id}/history.json",
        gradients="results/runs/{run_id}/gradients.json",
        metrics="results/runs/{run_id}/metrics.json",
    wildcard_constraints:
        run_id=REGISTRY.id_pattern(distilled=True, validated=True),
