# Runs where Snakemake runs, also on a cluster: compute nodes often lack internet for the download.
rule prepare_data:
    output:
        "resources/datasets/{dataset}.pt",
    log:
        "logs/prepare_data/{dataset}.log",
    localrule: True
    conda:
        "../../envs/advkd.yaml"
    params:
        spec=get_dataset_spec,
        download_root=get_download_root,
    script:
        "../scripts/prepare_data.py"
