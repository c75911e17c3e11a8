"""Config checking before any job starts: the JSON schema, then every cross-check of the config and
the runs it resolves to (`advkd.runs`); a new check is a function here.

Each problem becomes one line naming the key and what is allowed (`ConfigError`). The Snakefile
calls `check` at parse time; `python -m advkd.config FILE...` checks config files by hand and also
reports YAML syntax errors with their line (Snakemake's own message for those does not).
Imports no torch.
"""

from __future__ import annotations

import math
import sys
from functools import cache
from pathlib import Path

import jsonschema
import yaml

from .columns import ATTACKS, COLUMNS, Column
from .errors import ConfigError
from .methods import check_method_fits, get_method
from .runs import Registry, trained_entry
from .schema import complete, schema
from .sizes import identity, known_classes, known_size, training_images


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def key_path(parts) -> str:
    """`runs.a.method.alpha`, `tables.t1.rows[2].run`: the location in the config's own terms."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    where = key_path(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(schema.get("properties", {})))
        allowed = ", ".join(schema.get("properties", {})) or "none"
        return f"{where}: unknown key {', '.join(map(repr, unknown))}; allowed: {allowed}"
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not allowed; allowed: {', '.join(map(str, error.validator_value))}"
    if error.validator == "oneOf" and "message" in schema:
        return f"{where}: {schema['message']}"
    if error.validator == "minItems":  # jsonschema's own wording differs between its versions
        return f"{where}: {error.instance!r} needs at least {error.validator_value} item(s)"
    if error.validator == "pattern":
        return (
            f"{where}: {error.instance!r} {schema.get('message', 'is not a plain name; use letters, digits, _ and -')}"
        )
    return f"{where}: {error.message}"


def check_schema(config: dict) -> None:
    """Raise ConfigError for the most relevant schema violation (key, value, what is allowed)."""
    error = jsonschema.exceptions.best_match(_validator().iter_errors(config))
    if error is not None:
        raise ConfigError(_describe(error))


def check_finite(value, path: tuple = ()) -> None:
    """No NaN or infinity anywhere (YAML's `.nan` and `.inf`): JSON schema's bounds let them pass."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key_path(path)}: {value!r} is not a finite number")
    if isinstance(value, dict):
        for key, item in value.items():
            check_finite(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_finite(item, (*path, i))


def check(config: dict) -> Registry:
    """Finite numbers and the schema, then the runs resolved (names, teachers, cycles, files), then
    every cross-check of the runs, tables, figure and claims; the resolved registry if all hold."""
    check_finite(config)
    check_schema(config)
    registry = Registry(config)
    check_runs(config, registry)
    check_report(config, registry)
    return registry


def check_runs(config: dict, registry: Registry) -> None:
    """Each trained run's method fits its model and teacher, its teacher sees its data, its class
    filter and validation split leave something to train on, its recipe has what its method needs."""
    for run in registry.runs:
        entry = config["runs"].get(run.name)
        if entry is None or run.evaluated:  # a premise's twin: its run's entry is checked
            continue
        name = run.name
        method = get_method(entry["method"]["name"])
        problem = check_method_fits(method, "teacher" in entry, complete(entry["model"], "model"))
        if problem is not None:
            key, message = problem
            raise ConfigError(f"runs.{name}{key}: {message}")
        if run.teacher is not None and run.teacher.dataset != run.dataset:
            raise ConfigError(
                f"runs.{name}.teacher: {run.teacher.name!r} trains on dataset {run.teacher.dataset!r}, the student on "
                f"{run.dataset!r}; a teacher must see the student's data"
            )
        _check_class_filter(config, name, entry, run.dataset)
        recipe_key, recipe = entry["recipe"], run.spec["recipe"]
        if recipe.get("capture") and recipe.get("compile"):
            raise ConfigError(
                f"recipes.{recipe_key}: capture and compile together have never run (a captured step "
                "replays the eager step's CUDA graph); choose one"
            )
        if method.adversarial and "attack" not in recipe:
            raise ConfigError(f"runs.{name}: method {method.name!r} needs recipes.{recipe_key}.attack")
        _check_validation_split(config, name, entry, recipe_key, recipe)
        momentum = complete(recipe, "recipe")["optimizer"]["momentum"]
        if complete(entry["method"], "method")["nesterov"] and momentum == 0:
            raise ConfigError(
                f"runs.{name}.method.nesterov: Nesterov needs momentum, and recipes.{recipe_key} has momentum 0"
            )


def _check_class_filter(config: dict, name: str, entry: dict, dataset_key: str) -> None:
    count = known_classes(config["datasets"][dataset_key])  # None: checked on load
    if count is None:
        return
    for key in ("keep_classes", "drop_classes"):
        missing = [c for c in entry.get("data", {}).get(key, []) if c >= count]
        if missing:
            raise ConfigError(
                f"runs.{name}.data.{key}: class {missing[0]} is not in dataset {dataset_key!r}; allowed: 0..{count - 1}"
            )
    if set(range(count)) <= set(entry.get("data", {}).get("drop_classes", [])):
        raise ConfigError(
            f"runs.{name}.data.drop_classes: drops every class of dataset {dataset_key!r}; nothing is left to train on"
        )


def _check_validation_split(config: dict, name: str, entry: dict, recipe_key: str, recipe: dict) -> None:
    """A validation split must leave images to train on (checked where the size is known)."""
    size = known_size(config["datasets"][entry["dataset"]])
    if "validation" not in recipe or size is None:
        return
    images = training_images(entry.get("data", {}), size)
    if recipe["validation"]["size"] >= images:
        raise ConfigError(
            f"recipes.{recipe_key}.validation.size: {recipe['validation']['size']} held out of run {name!r}'s "
            f"about {images} training images leaves none to train on"
        )


def check_report(config: dict, registry: Registry) -> None:
    """Tables, their reference values and attack settings, the figure and the claims."""
    paper_values: dict[tuple[str, str], tuple[str, object]] = {}
    for table, definition in config.get("tables", {}).items():
        columns = [COLUMNS[name] for name in definition["columns"]]
        for i, row in enumerate(definition["rows"]):
            where = f"tables.{table}.rows[{i}]"
            if row["run"] not in config["runs"]:
                raise ConfigError(f"{where}.run: {row['run']!r} is not defined in runs")
            subsets = sorted(c.name for c in columns if c.omitted_classes)
            if subsets and not config["runs"][row["run"]].get("data", {}).get("drop_classes"):
                raise ConfigError(
                    f"{where}.run: columns {', '.join(subsets)} need a run that omits "
                    f"classes (data.drop_classes); {row['run']!r} omits none"
                )
            for column, value in row.get("paper", {}).items():
                if column not in definition["columns"]:
                    raise ConfigError(f"{where}.paper.{column}: the table has no column {column!r}")
                seen = paper_values.setdefault((row["run"], column), (f"{where}.paper.{column}", value))
                if seen[1] != value:
                    raise ConfigError(
                        f"{where}.paper.{column}: {value} for run {row['run']!r}, but {seen[0]} gives {seen[1]}; "
                        "one run has one paper value per column"
                    )
        _check_reference(config, table, definition)
        protocol = definition.get("protocol")
        if protocol is not None and protocol not in config["recipes"]:
            raise ConfigError(f"tables.{table}.protocol: {protocol!r} is not defined in recipes")
        _check_attack_settings(config, registry, f"tables.{table}.columns", columns)
        validated = [row["run"] for row in definition["rows"] if _recipe_of(config, row["run"]).get("validation")]
        best = sorted(c.name for c in columns if c.weights == "best")
        if best and not validated:
            raise ConfigError(
                f"tables.{table}.columns: {', '.join(best)} show best-on-validation "
                "weights, and no run of the table holds out a validation split (recipe validation: {size: ...})"
            )
    _check_figure(config)
    _check_claims(config, registry)


def _check_claims(config: dict, registry: Registry) -> None:
    """A claim compares runs its table shows, in one of its columns, over seeds both runs have."""
    for name, claim in config.get("claims", {}).items():
        where = f"claims.{name}"
        table = config.get("tables", {}).get(claim["table"])
        if table is None:
            raise ConfigError(f"{where}.table: {claim['table']!r} is not defined in tables")
        if claim["column"] not in table["columns"]:
            raise ConfigError(f"{where}.column: table {claim['table']!r} has no column {claim['column']!r}")
        shown = {row["run"] for row in table["rows"]}
        compared = [side for side in ("a", "b") if isinstance(claim[side], str)]
        for side in compared:
            if claim[side] not in shown:
                raise ConfigError(f"{where}.{side}: table {claim['table']!r} shows no run {claim[side]!r}")
            if "weights" in config["runs"][claim[side]]:
                raise ConfigError(
                    f"{where}.{side}: {claim[side]!r} is a weights file, one model without seeds; "
                    "a claim pairs trained runs seed by seed (compare with its value as a number)"
                )
            if COLUMNS[claim["column"]].weights == "best" and not _recipe_of(config, claim[side]).get("validation"):
                raise ConfigError(
                    f"{where}.{side}: column {claim['column']!r} shows best-on-validation weights, "
                    f"and run {claim[side]!r} holds out no validation split"
                )
        if len(compared) == 2 and claim["a"] == claim["b"]:
            raise ConfigError(f"{where}: compares run {claim['a']!r} with itself")
        if len(compared) == 2 and not set(registry.seeds_of(claim["a"])) & set(registry.seeds_of(claim["b"])):
            raise ConfigError(
                f"{where}: runs {claim['a']!r} and {claim['b']!r} share no seed; "
                "a claim pairs the same seed on both sides"
            )
        for i, premise in enumerate(claim.get("requires", [])):
            if "stronger" in premise:
                for side in ("run", "than"):
                    trained_entry(config, f"{where}.requires[{i}].stronger.{side}", premise["stronger"][side])


def _check_reference(config: dict, table: str, definition: dict) -> None:
    """A reference value stands only beside a row trained on the data it was measured on."""
    reference = definition.get("reference")
    for i, row in enumerate(definition["rows"]):
        if not row.get("paper"):
            continue
        if reference is None:
            raise ConfigError(
                f"tables.{table}.rows[{i}].paper: say where reference values come from: "
                "tables.<table>.reference: {source: ..., dataset: ...}"
            )
        trained_on = identity(config["datasets"][config["runs"][row["run"]]["dataset"]])
        if trained_on != reference["dataset"]:
            raise ConfigError(
                f"tables.{table}.rows[{i}].paper: the reference values were measured on {reference['dataset']}, "
                f"and run {row['run']!r} trains on {trained_on}; a reference stands only beside its own dataset"
            )


def _recipe_of(config: dict, run_name: str) -> dict:
    """A trained run's recipe; {} for a weights file."""
    return config["recipes"].get(config["runs"][run_name].get("recipe"), {})


def _check_attack_settings(config: dict, registry: Registry, where: str, columns: list[Column]) -> None:
    attack = config.get("autoattack")
    attacked = sorted(c.name for c in columns if c.evaluation in ATTACKS)
    if attacked and attack is None:
        raise ConfigError(f"{where}: {', '.join(attacked)} need an autoattack block (eps, ...)")
    pgd = sorted(c.name for c in columns if c.evaluation == "pgd")
    if pgd and "pgd" not in attack:
        raise ConfigError(f"{where}: column {pgd[0]} needs autoattack.pgd (steps, step_size)")
    if attack is None:
        return
    for key in ("attacks", "restarts", "target_classes"):
        if registry.autoattack["version"] == "standard" and key in attack:
            raise ConfigError(
                f"autoattack.{key}: version standard runs its own four attacks with their own budgets; "
                "set version: custom to choose"
            )
    targets = attack.get("target_classes")
    for key, dataset in config["datasets"].items():
        count = known_classes(dataset)
        if targets is not None and count is not None and targets >= count:
            raise ConfigError(
                f"autoattack.target_classes: {targets}, but dataset {key!r} has {count} classes, "
                f"so at most {count - 1} wrong ones to target"
            )


def _check_figure(config: dict) -> None:
    figure = config.get("figure1")
    if not figure:
        return
    layouts: dict[tuple, str] = {}
    for i, row in enumerate(figure["rows"]):
        if row["run"] not in config["runs"]:
            raise ConfigError(f"figure1.rows[{i}].run: {row['run']!r} is not defined in runs")
        if "weights" in config["runs"][row["run"]]:
            raise ConfigError(
                f"figure1.rows[{i}].run: {row['run']!r} is a weights file; "
                "the heatmap needs gradients recorded in training"
            )
        layouts.setdefault(layer_layout(config["runs"][row["run"]]["model"]), f"figure1.rows[{i}] ({row['run']})")
    if len(layouts) > 1:
        first, second = list(layouts.values())[:2]
        raise ConfigError(
            f"figure1.rows: {first} and {second} have different layers; a heatmap row per method needs one architecture"
        )
    if "epochs" in figure:
        first, last = figure["epochs"]
        trained = min(config["recipes"][config["runs"][row["run"]]["recipe"]]["epochs"] for row in figure["rows"])
        if not first <= last <= trained:
            raise ConfigError(
                f"figure1.epochs: [{first}, {last}] must satisfy first <= last <= {trained}, "
                "the fewest epochs of its rows' runs"
            )


def layer_layout(model: dict) -> tuple:
    """What fixes a model's layer names (Figure 1's columns): the architecture, an MLP's depth,
    a ResNet's exits; widths change sizes, not names."""
    model = complete(model, "model")
    if model["arch"] == "mlp":
        return ("mlp", len(model["hidden"]))
    return (model["arch"], model["exits"])


def load(path: str | Path) -> dict:
    """A YAML/JSON config file; a syntax error becomes a ConfigError naming the file and line."""
    try:
        config = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(err, 'problem', None) or err})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: a config must be a mapping of keys, not {type(config).__name__}")
    return config


def load_merged(paths) -> dict:
    """Config files merged in order, later ones winning, as `--configfile A B` does."""
    config: dict = {}
    for path in paths:
        merge(config, load(path))
    return config


def main(argv: list[str] | None = None) -> int:
    """Check config files (merged in order, later ones winning, as `--configfile A B` does)."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m advkd.config CONFIG.yaml [MORE.yaml ...]", file=sys.stderr)
        return 2
    try:
        registry = check(load_merged(paths))
    except ConfigError as err:
        print(f"advkd: invalid config: {err}", file=sys.stderr)
        return 1
    print(f"config OK: {len(registry.runs)} runs")
    return 0


def merge(base: dict, update: dict) -> dict:
    """Nested keys merge, later values win (Snakemake's rule for several --configfile arguments)."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


if __name__ == "__main__":
    sys.exit(main())
