# Runs where Snakemake runs, also on a cluster: compute nodes often lack internet for the download.
rule prepare_data:
    localrule: True
    output:
        "resources/datasets/{dataset}.pt",
    params:
        spec=get_dataset_spec,
        download_root=get_download_root,
    log:
        "logs/prepare_data/{dataset}.log",
    conda:
        "../../envs/advkd.yaml"
    script:
        "../scripts/prepare_data.py"
