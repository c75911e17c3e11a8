# Report rules run where Snakemake runs, also on a cluster: each is seconds of work.
rule table:
    input:
        evaluations=get_table_inputs,
    output:
        csv=report(f"{REPORTS}/{{table}}.csv", caption="../report/table.rst", category="Tables"),
        md=f"{REPORTS}/{{table}}.md",
        tex=f"{REPORTS}/{{table}}.tex",
    log:
        f"logs/table/{config['name']}/{{table}}.log",
    localrule: True
    conda:
        "../../envs/advkd.yaml"
    params:
        definition=get_table_definition,
        runs=get_table_run_folders,
        specs=get_table_run_specs,
        protocol=get_table_protocol,
    script:
        "../scripts/table.py"


rule claims:
    input:
        evaluations=get_claim_inputs,
    output:
        md=report(f"{REPORTS}/claims.md", caption="../report/claims.rst", category="Claims"),
        csv=f"{REPORTS}/claims.csv",
    log:
        f"logs/claims/{config['name']}.log",
    localrule: True
    conda:
        "../../envs/advkd.yaml"
    params:
        claims=get_claims,
        seeds=get_claim_run_folders,
        title=config["name"],
    script:
        "../scripts/claims.py"


rule records:
    input:
        unpack(get_record_inputs),
    output:
        f"{REPORTS}/robustbench.json",
    log:
        f"logs/records/{config['name']}.log",
    localrule: True
    conda:
        "../../envs/advkd.yaml"
    params:
        runs=get_attacked_runs,
    script:
        "../scripts/records.py"


rule figure1:
    input:
        gradients=get_figure_gradients,
    output:
        png=report(f"{REPORTS}/figure1_gradients.png", caption="../report/figure1.rst", category="Figures"),
        pdf=f"{REPORTS}/figure1_gradients.pdf",
    log:
        f"logs/figure1/{config['name']}.log",
    localrule: True
    conda:
        "../../envs/advkd.yaml"
    params:
        definition=get_figure_definition,
        run_names=get_figure_run_names,
    script:
        "../scripts/figure1.py"


rule curves:
    input:
        histories=get_table_histories,
    output:
        report(f"{REPORTS}/{{table}}_curves.png", caption="../report/curves.rst", category="Training curves"),
    log:
        f"logs/curves/{config['name']}/{{table}}.log",
    localrule: True
    conda:
        "../../envs/advkd.yaml"
    params:
        definition=get_table_definition,
        run_names=get_table_run_names,
    script:
        "../scripts/curves.py"


rule index:
    input:
        tables=get_table_files(),
        curves=get_curve_files(),
        figures=get_figure_files(),
        claims=get_claim_files(),
        records=get_record_files(),
    output:
        f"{REPORTS}/index.md",
    log:
        f"logs/index/{config['name']}.log",
    localrule: True
    conda:
        "../../envs/advkd.yaml"
    params:
        name=config["name"],
        configfiles=get_configfiles(),
    script:
        "../scripts/index.py"
