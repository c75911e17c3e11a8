# Report rules run where Snakemake runs, also on a cluster: each is seconds of work.
rule table:
    localrule: True
    input:
        unpack(get_table_inputs),
    output:
        csv=report(f"{REPORTS}/{{table}}.csv", caption="../report/table.rst", category="Tables"),
        md=f"{REPORTS}/{{table}}.md",
        tex=f"{REPORTS}/{{table}}.tex",
    params:
        definition=get_table_definition,
        run_names=get_table_run_names,
    log:
        f"logs/table/{config['name']}/{{table}}.log",
    conda:
        "../../envs/advkd.yaml"
    script:
        "../scripts/table.py"


rule figure1:
    localrule: True
    input:
        gradients=get_figure_gradients,
    output:
        png=report(f"{REPORTS}/figure1_gradients.png", caption="../report/figure1.rst", category="Figures"),
        pdf=f"{REPORTS}/figure1_gradients.pdf",
    params:
        definition=get_figure_definition,
        run_names=get_figure_run_names,
    log:
        f"logs/figure1/{config['name']}.log",
    conda:
        "../../envs/advkd.yaml"
    script:
        "../scripts/figure1.py"


rule curves:
    localrule: True
    input:
        histories=get_table_histories,
    output:
        report(f"{REPORTS}/{{table}}_curves.png", caption="../report/curves.rst", category="Training curves"),
    params:
        definition=get_table_definition,
        run_names=get_table_run_names,
    log:
        f"logs/curves/{config['name']}/{{table}}.log",
    conda:
        "../../envs/advkd.yaml"
    script:
        "../scripts/curves.py"


rule index:
    localrule: True
    input:
        tables=get_table_files(),
        curves=get_curve_files(),
        figures=get_figure_files(),
    output:
        f"{REPORTS}/index.md",
    params:
        name=config["name"],
        configfiles=get_configfiles(),
    log:
        f"logs/index/{config['name']}.log",
    conda:
        "../../envs/advkd.yaml"
    script:
        "../scripts/index.py"
