import json
import sys

import advkd.config
from advkd.experiments import ConfigError, canonical_json


# Checked before any job is planned: a bad config stops here with one line and exit status 1.
try:
    REGISTRY = advkd.config.check(config)
except ConfigError as err:
    print(f"advkd: invalid config: {err}", file=sys.stderr)
    sys.exit(1)

REPORTS = f"reports/{config['name']}"
COMPUTE = config.get("compute", {})


wildcard_constraints:
    dataset="|".join(config["datasets"]) or "(?!)",
    table="|".join(config.get("tables", {})) or "(?!)",


def get_run(wildcards):
    return REGISTRY.by_id(wildcards.run_id)


def get_run_spec(wildcards):
    return canonical_json(get_run(wildcards).spec)


def get_run_dataset(wildcards):
    return f"resources/datasets/{get_run(wildcards).dataset}.pt"


def get_run_teacher(wildcards):
    teacher = get_run(wildcards).teacher
    return f"{teacher.folder}/model.pt" if teacher else []


def get_dataset_spec(wildcards):
    return canonical_json(config["datasets"][wildcards.dataset])


def get_download_root(wildcards):
    return f"resources/downloads/{wildcards.dataset}"


def get_recipe_resources(wildcards):
    run = get_run(wildcards)
    return config["recipes"][config["runs"][run.name]["recipe"]].get("resources", {})


def get_runtime(wildcards):
    return get_recipe_resources(wildcards).get("runtime", 60)


def get_mem_mb(wildcards):
    return get_recipe_resources(wildcards).get("mem_mb", 4000)


def get_autoattack_params(wildcards):
    """The attack settings; scheduler estimates (runtime, mem_mb) are left out so they rerun nothing."""
    return canonical_json({k: v for k, v in config["autoattack"].items() if k not in ("runtime", "mem_mb")})


def get_table_runs(wildcards):
    return REGISTRY.table_runs(wildcards.table)


def get_table_inputs(wildcards):
    runs = get_table_runs(wildcards)
    attacked = REGISTRY.table_needs_autoattack(wildcards.table)
    return {
        "metrics": [f"{r.folder}/metrics.json" for r in runs],
        "autoattack": [f"{r.folder}/autoattack.json" for r in runs] if attacked else [],
    }


def get_table_histories(wildcards):
    return [f"{r.folder}/history.json" for r in get_table_runs(wildcards)]


def get_table_definition(wildcards):
    return canonical_json(config["tables"][wildcards.table])


def get_table_run_names(wildcards):
    return json.dumps([r.name for r in get_table_runs(wildcards)])


def get_figure_gradients(wildcards):
    return [f"{r.folder}/gradients.json" for r in REGISTRY.figure_runs()]


def get_figure_definition(wildcards):
    return canonical_json(config["figure1"])


def get_figure_run_names(wildcards):
    return json.dumps([r.name for r in REGISTRY.figure_runs()])


def get_table_files():
    return [f"{REPORTS}/{table}.md" for table in config.get("tables", {})]


def get_curve_files():
    return [f"{REPORTS}/{table}_curves.png" for table in config.get("tables", {})]


def get_figure_files():
    return [f"{REPORTS}/figure1_gradients.png"] if config.get("figure1") else []


def get_configfiles():
    """The config files in effect: those on the command line replace the Snakefile's default."""
    return ", ".join(str(f) for f in (workflow.overwrite_configfiles or workflow.configfiles))


def get_report_targets():
    return [f"{REPORTS}/index.md"]
