rule autoattack:
    input:
        model="results/runs/{run_id}/model.pt",
        data=get_run_dataset,
    output:
        "results/runs/{run_id}/autoattack.json",
    log:
        "logs/autoattack/{run_id}.log",
    benchmark:
        "benchmarks/autoattack/{run_id}.tsv"
    conda:
        "../../envs/advkd.yaml"
    threads: COMPUTE["threads_per_job"]
    resources:
        gpu=COMPUTE["gpus_per_job"],
        device=COMPUTE["device"],
        runtime=get_autoattack_runtime,
        mem_mb=REGISTRY.autoattack["mem_mb"],
    params:
        spec=get_run_spec,
        attack=get_autoattack_params,
    script:
        "../scripts/autoattack.py"


# PGD beside AutoAttack, its own job and file: turning it on or off reruns no AutoAttack.
rule pgd:
    input:
        model="results/runs/{run_id}/model.pt",
        data=get_run_dataset,
    output:
        "results/runs/{run_id}/pgd.json",
    log:
        "logs/pgd/{run_id}.log",
    benchmark:
        "benchmarks/pgd/{run_id}.tsv"
    conda:
        "../../envs/advkd.yaml"
    threads: COMPUTE["threads_per_job"]
    resources:
        gpu=COMPUTE["gpus_per_job"],
        device=COMPUTE["device"],
        runtime=get_pgd_runtime,
    params:
        spec=get_run_spec,
        attack=get_pgd_params,
    script:
        "../scripts/pgd.py"


# The best-on-validation weights (best.pt) of a run whose recipe holds out a validation split.
use rule autoattack as autoattack_best with:
    input:
        model="results/runs/{run_id}/best.pt",
        data=get_run_dataset,
    output:
        "results/runs/{run_id}/autoattack_best.json",
    log:
        "logs/autoattack_best/{run_id}.log",
    benchmark:
        "benchmarks/autoattack_best/{run_id}.tsv"
    wildcard_constraints:
        run_id=REGISTRY.id_pattern(validated=True),


use rule pgd as pgd_best with:
    input:
        model="results/runs/{run_id}/best.pt",
        data=get_run_dataset,
    output:
        "results/runs/{run_id}/pgd_best.json",
    log:
        "logs/pgd_best/{run_id}.log",
    benchmark:
        "benchmarks/pgd_best/{run_id}.tsv"
    wildcard_constraints:
        run_id=REGISTRY.id_pattern(validated=True),
