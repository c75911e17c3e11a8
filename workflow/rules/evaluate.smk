rule evaluate:
    input:
        model="results/runs/{run_id}/model.pt",
        data=get_run_dataset,
    output:
        "results/runs/{run_id}/metrics.json",
    params:
        spec=get_run_spec,
        device=COMPUTE.get("device", "auto"),
    threads: COMPUTE.get("threads_per_job", 1)
    resources:
        gpu=COMPUTE.get("gpus_per_job", 1),
    log:
        "logs/evaluate/{run_id}.log",
    benchmark:
        "benchmarks/evaluate/{run_id}.tsv"
    conda:
        "../../envs/advkd.yaml"
    script:
        "../scripts/evaluate.py"


rule autoattack:
    input:
        model="results/runs/{run_id}/model.pt",
        data=get_run_dataset,
    output:
        "results/runs/{run_id}/autoattack.json",
    params:
        spec=get_run_spec,
        attack=get_autoattack_params,
        device=COMPUTE.get("device", "auto"),
    threads: COMPUTE.get("threads_per_job", 1)
    resources:
        gpu=COMPUTE.get("gpus_per_job", 1),
        runtime=config["autoattack"].get("runtime", 120),
        mem_mb=config["autoattack"].get("mem_mb", 8000),
    log:
        "logs/autoattack/{run_id}.log",
    benchmark:
        "benchmarks/autoattack/{run_id}.tsv"
    conda:
        "../../envs/advkd.yaml"
    script:
        "../scripts/autoattack.py"
