import json
import sys
from pathlib import Path

import advkd.config
from advkd.columns import WEIGHTS_FILES
from advkd.digests import canonical_json
from advkd.errors import ConfigError
from advkd.plan import RuntimeRequests, cpu_only_notice
from advkd.schema import complete

# Checked before any job is planned: a bad config stops here with one line and exit status 1.
try:
    REGISTRY = advkd.config.check(config)
    if REGISTRY.weights_files():  # weights files that must fit their models (this imports torch)
        from advkd.train.teachers import check_weights_files

        check_weights_files(REGISTRY.weights_files())
except ConfigError as err:
    print(f"advkd: invalid config: {err}", file=sys.stderr)
    sys.exit(1)

REPORTS = f"reports/{config['name']}"
COMPUTE = REGISTRY.compute  # how to run: a job resource, never a param, so changing it plans nothing


# Run ids: <name>.s<seed>.<hash> of a trained run, <name>.file.<hash> of a weights file.
TRAINED_ID = r"[A-Za-z0-9_-]+\.s[0-9]+\.[0-9a-f]+"
EVALUATED_ID = r"[A-Za-z0-9_-]+\.file\.[0-9a-f]+"


wildcard_constraints:
    dataset="|".join(config["datasets"]) or "(?!)",
    table="|".join(config.get("tables", {})) or "(?!)",
    run_id="[^/]+",
    weights="|".join(WEIGHTS_FILES),
    model_id="|".join(config.get("exports", {})) or "(?!)",


def get_run(wildcards):
    return REGISTRY.by_id(wildcards.run_id)


def get_run_spec(wildcards):
    return canonical_json(get_run(wildcards).spec)


def get_run_dataset(wildcards):
    return f"resources/datasets/{get_run(wildcards).dataset}.pt"


def get_run_teacher(wildcards):
    run = get_run(wildcards)
    if run.teacher_file:
        return run.teacher_file
    return run.teacher.weights_path("last") if run.teacher else []


def get_weights_file(wildcards):
    return get_run(wildcards).weights_path(wildcards.weights)


def get_weights_file_of_run(wildcards):
    return get_run(wildcards).weights_file


def get_dataset_spec(wildcards):
    return canonical_json(config["datasets"][wildcards.dataset])


def get_download_root(wildcards):
    return f"resources/downloads/{wildcards.dataset}"


def get_recipe_resources(wildcards):
    run = get_run(wildcards)
    return complete(config["recipes"][config["runs"][run.name]["recipe"]], "recipe")["resources"]


# Minutes each GPU job asks a scheduler for: the cost model's estimate on compute.gpu, x3, at
# least 10 (advkd.plan); a recipe's resources.runtime or autoattack.runtime overrides it.
RUNTIMES = RuntimeRequests(REGISTRY)


def get_training_runtime(wildcards):
    return get_recipe_resources(wildcards).get("runtime") or RUNTIMES("train", wildcards.run_id)


def get_autoattack_runtime(wildcards):
    return REGISTRY.autoattack.get("runtime") or RUNTIMES("autoattack", wildcards.run_id)


def get_evaluate_runtime(wildcards):
    return RUNTIMES("evaluate", wildcards.run_id)


def get_pgd_runtime(wildcards):
    return RUNTIMES("pgd", wildcards.run_id)


def get_mem_mb(wildcards):
    return get_recipe_resources(wildcards)["mem_mb"]


def get_autoattack_params(wildcards):
    """The attack settings as written; scheduler estimates and PGD (its own rule) are left out, so
    changing them reruns no AutoAttack."""
    skip = ("runtime", "mem_mb", "pgd")
    return canonical_json({k: v for k, v in config["autoattack"].items() if k not in skip})


def get_pgd_params(wildcards):
    """PGD's own settings and the eps, layout and (unless it gives its own) points it shares with
    AutoAttack (the layout only when set, as AutoAttack's settings are the config's as written)."""
    attack = REGISTRY.autoattack
    shared = ("eps", "n", "batch_size", "seed") + (("channels_last",) if attack["channels_last"] else ())
    return canonical_json({**{k: attack[k] for k in shared}, **attack["pgd"]})


def get_table_runs(wildcards):
    return REGISTRY.table_runs(wildcards.table)


def get_table_inputs(wildcards):
    """Every evaluation file the table's columns read (advkd.columns), of every run it shows."""
    return [run.evaluation_path(e, w) for run, e, w in REGISTRY.table_evaluations(wildcards.table)]


def get_table_run_specs(wildcards):
    """{run name: its spec}: the settings the table compares with each row's official code."""
    return canonical_json({r.name: r.spec for r in get_table_runs(wildcards)})


def get_table_protocol(wildcards):
    """The recipe the table's rows share (`protocol`), or null."""
    name = config["tables"][wildcards.table].get("protocol")
    recipe = config["recipes"][name] if name else None
    return canonical_json(recipe and {k: v for k, v in recipe.items() if k != "resources"})


def get_table_histories(wildcards):
    return [f"{r.folder}/history.json" for r in REGISTRY.trained(get_table_runs(wildcards))]


def get_table_definition(wildcards):
    return canonical_json(config["tables"][wildcards.table])


def get_table_run_names(wildcards):
    """The trained runs' names, in the order of get_table_histories."""
    return json.dumps([r.name for r in REGISTRY.trained(get_table_runs(wildcards))])


def get_export_run(wildcards):
    """The last weights of the run `exports.<model_id>` names."""
    return REGISTRY.exported(wildcards.model_id).weights_path("last")


def get_table_run_folders(wildcards):
    """{run name: [its folder per seed]}: where the table script finds each run's files."""
    folders = {}
    for run in get_table_runs(wildcards):
        folders.setdefault(run.name, []).append(run.folder)
    return json.dumps(folders)


def get_figure_gradients(wildcards):
    return [f"{r.folder}/gradients.json" for r in REGISTRY.figure_runs()]


def get_figure_definition(wildcards):
    return canonical_json(config["figure1"])


def get_figure_run_names(wildcards):
    return json.dumps([r.name for r in REGISTRY.figure_runs()])


def get_claim_inputs(wildcards):
    return [run.evaluation_path(e, w) for run, e, w in REGISTRY.claim_evaluations()]


def get_claims(wildcards):
    """[name, claim] pairs in the config's order, which the report keeps; each claim as canonical
    JSON, so the same claims with their keys in another order rerun nothing."""
    return canonical_json([[name, claim] for name, claim in config["claims"].items()])


def get_claim_run_folders(wildcards):
    """{run name: {seed: its folder}} of every run a claim or its premises read."""
    return canonical_json({name: {str(r.seed): r.folder for r in runs} for name, runs in REGISTRY.claim_runs().items()})


def get_claim_files():
    return [f"{REPORTS}/claims.md"] if config.get("claims") else []


def get_record_inputs(wildcards):
    """Each attacked run's AutoAttack file and its metrics.json."""
    attacked = REGISTRY.attacked()
    return {
        "attacks": [run.evaluation_path("autoattack", weights) for run, weights in attacked],
        "metrics": [f"{run.folder}/metrics.json" for run, _ in attacked],
    }


def get_attacked_runs(wildcards):
    """[{id, name, seed, weights, spec}] in the order of get_record_inputs."""
    return canonical_json(
        [
            {"id": r.id, "name": r.name, "seed": None if r.evaluated else r.seed, "weights": w, "spec": r.spec}
            for r, w in REGISTRY.attacked()
        ]
    )


def get_record_files():
    return [f"{REPORTS}/robustbench.json"] if REGISTRY.attacked() else []


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
    """The index (which links every report) and the files `exports:` asks for."""
    return [f"{REPORTS}/index.md", *REGISTRY.exports]


# Once, before the first job: a GPU-scale plan started without CUDA says what it would take here.
onstart:
    notice = cpu_only_notice(REGISTRY, Path("."))
    if notice:
        print(notice, file=sys.stderr)
