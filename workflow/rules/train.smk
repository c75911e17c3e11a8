# Every run trains here, with its teacher when it has one (a run's model.pt or a weights file).
# The same job evaluates the run (metrics.json): a job of its own would pay torch's start-up for
# it again. best.pt: the best weights on the run's validation split (recipe `validation`); a run
# without one links its last weights there.


rule train:
    input:
        data=get_run_dataset,
        teacher=get_run_teacher,
    output:
        model="results/runs/{run_id}/model.pt",
        best="results/runs/{run_id}/best.pt",
        history="results/runs/{run_id}/history.json",
        gradients="results/runs/{run_id}/gradients.json",
        metrics="results/runs/{run_id}/metrics.json",
    log:
        "logs/train/{run_id}.log",
    benchmark:
        "benchmarks/train/{run_id}.tsv"
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
