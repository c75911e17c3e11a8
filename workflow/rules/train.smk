# Runs without a teacher (baselines, teachers, pretrained selves) are built by `train`;
# runs that learn from a teacher, real or virtual (Tf-KD-reg), by `distill`. Same script.


rule train:
    input:
        data=get_run_dataset,
    output:
        model="results/runs/{run_id}/model.pt",
        history="results/runs/{run_id}/history.json",
        gradients="results/runs/{run_id}/gradients.json",
    params:
        spec=get_run_spec,
        device=COMPUTE.get("device", "auto"),
    threads: COMPUTE.get("threads_per_job", 1)
    resources:
        gpu=COMPUTE.get("gpus_per_job", 1),
        runtime=get_runtime,
        mem_mb=get_mem_mb,
    wildcard_constraints:
        run_id=REGISTRY.id_pattern(distilled=False),
    log:
        "logs/train/{run_id}.log",
    benchmark:
        "benchmarks/train/{run_id}.tsv"
    conda:
        "../../envs/advkd.yaml"
    script:
        "../scripts/train.py"


use rule train as distill with:
    input:
        data=get_run_dataset,
        teacher=get_run_teacher,
    wildcard_constraints:
        run_id=REGISTRY.id_pattern(distilled=True),
    log:
        "logs/distill/{run_id}.log",
    benchmark:
        "benchmarks/distill/{run_id}.tsv"
