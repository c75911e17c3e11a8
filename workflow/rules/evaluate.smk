# A weights file that is only evaluated (a run with `weights:`): what rule train scores of a run,
# without training. Its attacks are the autoattack and pgd rules', as for a trained run.
rule evaluate:
    input:
        model=get_weights_file_of_run,
        data=get_run_dataset,
    output:
        "results/runs/{run_id}/metrics.json",
    log:
        "logs/evaluate/{run_id}.log",
    benchmark:
        "benchmarks/evaluate/{run_id}.tsv"
    wildcard_constraints:
        run_id=EVALUATED_ID,
    conda:
        "../../envs/advkd.yaml"
    threads: COMPUTE["threads_per_job"]
    resources:
        gpu=COMPUTE["gpus_per_job"],
        device=COMPUTE["device"],
        jobs_per_gpu=COMPUTE["jobs_per_gpu"],
        runtime=get_evaluate_runtime,
    params:
        spec=get_run_spec,
    script:
        "../scripts/evaluate.py"


# The attacks of a run's last weights (model.pt) or of its best on validation (best.pt): the
# {weights} in the file name says which. Each its own job and file: AutoAttack is the expensive
# one, and turning PGD on or off reruns none of it.


rule autoattack:
    input:
        model=get_weights_file,
        data=get_run_dataset,
    output:
        "results/runs/{run_id}/autoattack_{weights}.json",
    log:
        "logs/autoattack/{run_id}.{weights}.log",
    benchmark:
        "benchmarks/autoattack/{run_id}.{weights}.tsv"
    conda:
        "../../envs/advkd.yaml"
    threads: COMPUTE["threads_per_job"]
    resources:
        gpu=COMPUTE["gpus_per_job"],
        device=COMPUTE["device"],
        jobs_per_gpu=COMPUTE["jobs_per_gpu"],
        runtime=get_autoattack_runtime,
        mem_mb=REGISTRY.autoattack["mem_mb"],
    params:
        spec=get_run_spec,
        attack=get_autoattack_params,
    script:
        "../scripts/autoattack.py"


rule pgd:
    input:
        model=get_weights_file,
        data=get_run_dataset,
    output:
        "results/runs/{run_id}/pgd_{weights}.json",
    log:
        "logs/pgd/{run_id}.{weights}.log",
    benchmark:
        "benchmarks/pgd/{run_id}.{weights}.tsv"
    conda:
        "../../envs/advkd.yaml"
    threads: COMPUTE["threads_per_job"]
    resources:
        gpu=COMPUTE["gpus_per_job"],
        device=COMPUTE["device"],
        jobs_per_gpu=COMPUTE["jobs_per_gpu"],
        runtime=get_pgd_runtime,
    params:
        spec=get_run_spec,
        attack=get_pgd_params,
    script:
        "../scripts/pgd.py"
