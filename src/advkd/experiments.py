"""Config -> run specs, their hashes and ids; which runs each table needs. Imports no torch.

The Snakefile imports this at DAG time (on a cluster, once per job), so it must stay light.

A run's spec is everything that determines its weights: dataset (with its source), class filter,
model, method, the recipe, seed, the full spec of its teacher, and `SPEC_VERSION`. The id is
`<name>.s<seed>.<first 10 hex of sha256(canonical JSON of the spec)>`: a changed teacher changes
every student below it, and results of different specs never share a folder.

SPEC_VERSION is the code-semantics policy: edits to library code do not rerun anything by
themselves; a change that alters what a finished run would compute (a loss, an augmentation, the
data split) bumps SPEC_VERSION, which changes every id and so reruns everything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .columns import ATTACKS, COLUMNS, WEIGHTS_FILES, Column, evaluation_file
from .methods import check_method_fits, get_method
from .robustbench import cache_path, declared_model, supported_ids
from .schema import complete, schema
from .schema import definition as schema_definition
from .sizes import identity, known_classes, known_size, training_images

SPEC_VERSION = 3  # 3: TRADES moves batch norm's running statistics as trades.py does
HASH_LENGTH = 10


class ConfigError(ValueError):
    """A config that names something that does not exist or cannot be built."""


def layer_layout(model: dict) -> tuple:
    """What fixes a model's layer names (Figure 1's columns): the architecture, an MLP's depth,
    a ResNet's exits; widths change sizes, not names."""
    model = complete(model, "model")
    if model["arch"] == "mlp":
        return ("mlp", len(model["hidden"]))
    return (model["arch"], model["exits"])


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def spec_hash(spec: dict) -> str:
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:HASH_LENGTH]


def file_sha256(path: str | Path) -> str:
    """A weights file's identity: a teacher file enters its students' ids by content, not path."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


TWIN_FACTOR = 2  # a `converged` premise's twin trains for twice the epochs
TWIN_SUFFIX = "+2x"  # its run name: the run's, and a character no config name can hold


def stretched(recipe: dict, factor: int) -> dict:
    """`recipe` over `factor` times the epochs with its schedule stretched to the same shape
    (milestones, warm-up and scoring intervals scaled, an exponential decay's end kept): the twin
    a claim's `converged` premise compares its run with."""
    out = {**recipe, "epochs": recipe["epochs"] * factor}
    schedule = dict(recipe.get("schedule", {}))
    if "milestones" in schedule:
        schedule["milestones"] = [milestone * factor for milestone in schedule["milestones"]]
    if "warmup_epochs" in schedule:
        schedule["warmup_epochs"] = schedule["warmup_epochs"] * factor
    if schedule.get("name") == "exponential":
        schedule["gamma"] = schedule["gamma"] ** (1 / factor)
    if schedule:
        out["schedule"] = schedule
    if "test_every" in recipe:
        out["test_every"] = recipe["test_every"] * factor
    if "every" in recipe.get("validation", {}):
        out["validation"] = {**recipe["validation"], "every": recipe["validation"]["every"] * factor}
    return out


EXPORTS_DIR = "results/robustbench"  # where `exports:` writes, in RobustBench's layout
EXPORT_THREAT = "Linf"


@dataclass(frozen=True)
class Run:
    """One model of the config: a run name trained at one seed, or a weights file evaluated only
    (`weights_file`; its spec holds the file's SHA-256, or the spec of the run it was exported from)."""

    name: str
    seed: int
    spec: dict  # the full spec that is hashed (the teacher's spec nested inside)
    teacher: Run | None
    teacher_file: str | None = None  # a teacher from a weights file instead of a run
    weights_file: str | None = None  # an evaluate-only run: the file it evaluates

    @property
    def evaluated(self) -> bool:
        return self.weights_file is not None

    @cached_property
    def id(self) -> str:
        """`<name>.s<seed>.<hash>`, or `<name>.file.<hash>` for a weights file (no seed)."""
        return f"{self.name}.{'file' if self.evaluated else f's{self.seed}'}.{spec_hash(self.spec)}"

    @property
    def dataset(self) -> str:
        return self.spec["dataset"]["key"]

    @property
    def folder(self) -> str:
        return f"results/runs/{self.id}"

    @property
    def validated(self) -> bool:
        """Holds out a validation split and keeps its best weights on it (recipe `validation`)."""
        return "validation" in self.spec["recipe"]

    def weights_path(self, weights: str) -> str:
        """A trained run's last or best weights; an evaluated run has one file for both."""
        return self.weights_file or f"{self.folder}/{WEIGHTS_FILES[weights]}"

    def evaluation_path(self, evaluation: str, weights: str) -> str:
        return f"{self.folder}/{evaluation_file(evaluation, weights)}"


class Registry:
    """Every run the config's tables and figures need, resolved to specs and ids."""

    def __init__(self, config: dict):
        self.config = config
        # Settings with their schema defaults (run entries are hashed as written, so never completed here).
        given = {key: config[key] for key in ("seeds", "compute") if key in config}
        settings = complete({**given, "autoattack": config.get("autoattack", {})}, schema())
        self.default_seeds, self.compute, self.autoattack = (
            settings["seeds"],
            settings["compute"],
            settings["autoattack"],
        )
        self._runs: dict[tuple[str, int], Run] = {}
        self._digests: dict[str, str] = {}
        for name in config["runs"]:
            for seed in self.seeds_of(name):
                self.resolve(name, seed)
        self.twins = {name: self._twin(name) for name in self._converged_runs()}
        self.exports  # noqa: B018 (resolved now, so an export naming no trained run is a config error)
        self._by_id = {run.id: run for run in self._runs.values()}
        self._check_report_references()

    # -- resolution -------------------------------------------------------------------------
    def seeds_of(self, name: str) -> list[int]:
        """A trained run's seeds; a weights file is one model, listed under seed 0."""
        entry = self.config["runs"][name]
        return [0] if "weights" in entry else list(entry.get("seeds", self.default_seeds))

    def resolve(self, name: str, seed: int, _chain: tuple[str, ...] = ()) -> Run:
        key = (name, seed)
        if key in self._runs:
            return self._runs[key]
        runs = self.config["runs"]
        if name not in runs:
            raise ConfigError(
                f"runs: {'teacher of ' + _chain[-1] if _chain else 'run'} {name!r} is not defined in runs"
            )
        if name in _chain:
            raise ConfigError(f"runs.{name}.teacher: teacher cycle {' -> '.join(_chain + (name,))}")
        entry = runs[name]
        if "weights" in entry:
            return self._resolve_evaluated(name, entry)
        method = get_method(entry["method"]["name"])
        teacher_entry = entry.get("teacher")
        problem = check_method_fits(method, teacher_entry is not None, complete(entry["model"], "model"))
        if problem is not None:
            key, message = problem
            raise ConfigError(f"runs.{name}{key}: {message}")
        teacher, teacher_file, teacher_spec = None, None, None
        if isinstance(teacher_entry, dict):
            self._check_dataset(name, entry)
            teacher_file, teacher_spec = self._weights(f"runs.{name}.teacher", teacher_entry, entry["dataset"])
        elif teacher_entry is not None:
            if teacher_entry not in runs:
                raise ConfigError(f"runs.{name}.teacher: {teacher_entry!r} is not defined in runs")
            if "weights" in runs[teacher_entry]:
                raise ConfigError(
                    f"runs.{name}.teacher: {teacher_entry!r} is a weights file evaluated only; "
                    "name the file itself as the teacher (teacher: {checkpoint: ..., model: ...})"
                )
            teacher_seeds = self.seeds_of(teacher_entry)
            teacher = self.resolve(teacher_entry, seed if seed in teacher_seeds else teacher_seeds[0], _chain + (name,))
            if teacher.dataset != entry["dataset"]:
                raise ConfigError(
                    f"runs.{name}.teacher: {teacher_entry!r} trains on dataset {teacher.dataset!r}, the student on "
                    f"{entry['dataset']!r}; a teacher must see the student's data"
                )
            teacher_spec = teacher.spec
        dataset_key = entry["dataset"]
        self._check_dataset(name, entry)
        self._check_class_filter(name, entry, dataset_key)
        recipe_key = entry["recipe"]
        if recipe_key not in self.config["recipes"]:
            raise ConfigError(f"runs.{name}.recipe: {recipe_key!r} is not defined in recipes")
        recipe = {k: v for k, v in self.config["recipes"][recipe_key].items() if k != "resources"}
        if method.adversarial and "attack" not in recipe:
            raise ConfigError(f"runs.{name}: method {method.name!r} needs recipes.{recipe_key}.attack")
        self._check_validation_split(name, entry, recipe_key, recipe)
        momentum = complete(recipe, "recipe")["optimizer"]["momentum"]
        if complete(entry["method"], "method")["nesterov"] and momentum == 0:
            raise ConfigError(
                f"runs.{name}.method.nesterov: Nesterov needs momentum, and recipes.{recipe_key} has momentum 0"
            )
        spec = {
            "version": SPEC_VERSION,
            "seed": seed,
            "dataset": {"key": dataset_key, **self.config["datasets"][dataset_key]},
            "data": entry.get("data", {}),
            "model": entry["model"],
            "method": entry["method"],
            "recipe": recipe,
            "teacher": teacher_spec,
        }
        run = Run(name, seed, spec, teacher, teacher_file)
        self._runs[key] = run
        return run

    def _converged_runs(self) -> list[str]:
        """The runs a claim's `converged` premise names, checked to be trained runs."""
        names = {}
        for claim_name, claim in self.config.get("claims", {}).items():
            for i, premise in enumerate(claim.get("requires", [])):
                if "converged" in premise:
                    name = premise["converged"]["run"]
                    self._check_premise_run(f"claims.{claim_name}.requires[{i}].converged.run", name)
                    names[name] = None
        return list(names)

    def _twin(self, name: str) -> Run:
        """The seed-0 twin of run `name` trained for `TWIN_FACTOR` times the epochs."""
        base = self.resolve(name, self.seeds_of(name)[0])
        spec = {**base.spec, "recipe": stretched(base.spec["recipe"], TWIN_FACTOR)}
        twin = Run(f"{name}{TWIN_SUFFIX}", base.seed, spec, base.teacher, base.teacher_file)
        self._runs[(twin.name, twin.seed)] = twin
        return twin

    def _check_premise_run(self, where: str, name: str) -> None:
        if name not in self.config["runs"]:
            raise ConfigError(f"{where}: {name!r} is not defined in runs")
        if "weights" in self.config["runs"][name]:
            raise ConfigError(f"{where}: {name!r} is a weights file; only a trained run has epochs to double")

    def _check_dataset(self, name: str, entry: dict) -> None:
        if entry["dataset"] not in self.config["datasets"]:
            raise ConfigError(f"runs.{name}.dataset: {entry['dataset']!r} is not defined in datasets")

    def _resolve_evaluated(self, name: str, entry: dict) -> Run:
        """A weights file that is only evaluated: its id comes from its content and model."""
        self._check_dataset(name, entry)
        path, weights_spec = self._weights(f"runs.{name}.weights", entry["weights"], entry["dataset"])
        dataset = {"key": entry["dataset"], **self.config["datasets"][entry["dataset"]]}
        spec = {"version": SPEC_VERSION, "dataset": dataset, "data": {}, **weights_spec}
        run = Run(name, 0, spec, None, weights_file=path)
        self._runs[(name, 0)] = run
        return run

    def _weights(self, where: str, entry: dict, dataset_key: str) -> tuple[str, dict]:
        """(path, spec) of a weights file: a checkpoint with its model, or a RobustBench folder's
        entry with the architecture RobustBench declares; the spec holds the file's SHA-256, or for
        a file this config exports, the spec of the run it comes from."""
        model = entry.get("model")
        if "robustbench" in entry:
            folder = complete(entry["robustbench"], schema_definition("weights")["properties"]["robustbench"])
            dataset = identity(self.config["datasets"][dataset_key])
            path = str(cache_path(folder["model_dir"], dataset, folder["threat"], folder["id"]))
            exported = self.exports.get(path)
            model = model or (
                exported.spec["model"] if exported else declared_model(dataset, folder["threat"], folder["id"])
            )
            if model is None:
                known = ", ".join(supported_ids(dataset, folder["threat"])) or "none"
                raise ConfigError(
                    f"{where}.robustbench.id: advkd knows no architecture for RobustBench's "
                    f"{dataset}/{folder['threat']} entry {folder['id']!r} (supported: {known}); give it as "
                    f"{where.rsplit('.', 1)[-1]}.model"
                )
            if exported:
                return path, {"exported_from": exported.spec, "model": model}
        else:
            path = entry["checkpoint"]
        return path, {"checkpoint_sha256": self._file_digest(where, entry, path), "model": model}

    def _file_digest(self, where: str, entry: dict, path: str) -> str:
        """A weights file's SHA-256 (read once per file): what enters the ids of runs that use it."""
        if path not in self._digests:
            if not Path(path).is_file():
                layout = (
                    " (RobustBench's layout: <model_dir>/<dataset>/<threat>/<id>.pt)" if "robustbench" in entry else ""
                )
                raise ConfigError(f"{where}.{'robustbench' if layout else 'checkpoint'}: {path} does not exist{layout}")
            self._digests[path] = file_sha256(path)
        actual, declared = self._digests[path], entry.get("sha256")
        if declared is not None and declared != actual:
            raise ConfigError(f"{where}.sha256: {path} has SHA-256 {actual}, not the {declared} the config expects")
        return actual

    @cached_property
    def exports(self) -> dict[str, Run]:
        """{file: the run it holds} of every `exports:` entry: a trained run's last weights written
        in RobustBench's layout (EXPORTS_DIR/<dataset>/Linf/<id>.pt), which a run can then evaluate."""
        found = {}
        for model_id, export in self.config.get("exports", {}).items():
            where = f"exports.{model_id}"
            if export["run"] not in self.config["runs"] or "weights" in self.config["runs"][export["run"]]:
                raise ConfigError(f"{where}.run: {export['run']!r} is not a trained run of runs")
            if export["seed"] not in self.seeds_of(export["run"]):
                raise ConfigError(f"{where}.seed: run {export['run']!r} has no seed {export['seed']}")
            run = self.resolve(export["run"], export["seed"])
            path = cache_path(EXPORTS_DIR, identity(run.spec["dataset"]), EXPORT_THREAT, model_id)
            found[str(path)] = run
        return found

    def _check_class_filter(self, name: str, entry: dict, dataset_key: str) -> None:
        count = known_classes(self.config["datasets"][dataset_key])  # None: checked on load
        if count is None:
            return
        for key in ("keep_classes", "drop_classes"):
            missing = [c for c in entry.get("data", {}).get(key, []) if c >= count]
            if missing:
                raise ConfigError(
                    f"runs.{name}.data.{key}: class {missing[0]} is not in dataset {dataset_key!r}; "
                    f"allowed: 0..{count - 1}"
                )
        if set(range(count)) <= set(entry.get("data", {}).get("drop_classes", [])):
            raise ConfigError(
                f"runs.{name}.data.drop_classes: drops every class of dataset {dataset_key!r}; "
                "nothing is left to train on"
            )

    def _check_validation_split(self, name: str, entry: dict, recipe_key: str, recipe: dict) -> None:
        """A validation split must leave images to train on (checked where the size is known)."""
        size = known_size(self.config["datasets"][entry["dataset"]])
        if "validation" not in recipe or size is None:
            return
        images = training_images(entry.get("data", {}), size)
        if recipe["validation"]["size"] >= images:
            raise ConfigError(
                f"recipes.{recipe_key}.validation.size: {recipe['validation']['size']} held out of run {name!r}'s "
                f"about {images} training images leaves none to train on"
            )

    def _check_report_references(self) -> None:
        paper_values: dict[tuple[str, str], tuple[str, object]] = {}
        for table, definition in self.config.get("tables", {}).items():
            columns = [COLUMNS[name] for name in definition["columns"]]
            for i, row in enumerate(definition["rows"]):
                where = f"tables.{table}.rows[{i}]"
                if row["run"] not in self.config["runs"]:
                    raise ConfigError(f"{where}.run: {row['run']!r} is not defined in runs")
                subsets = sorted(c.name for c in columns if c.omitted_classes)
                if subsets and not self.config["runs"][row["run"]].get("data", {}).get("drop_classes"):
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
            self._check_reference(table, definition)
            protocol = definition.get("protocol")
            if protocol is not None and protocol not in self.config["recipes"]:
                raise ConfigError(f"tables.{table}.protocol: {protocol!r} is not defined in recipes")
            self._check_attack_settings(f"tables.{table}.columns", columns)
            validated = [row["run"] for row in definition["rows"] if self._recipe_of(row["run"]).get("validation")]
            best = sorted(c.name for c in columns if c.weights == "best")
            if best and not validated:
                raise ConfigError(
                    f"tables.{table}.columns: {', '.join(best)} show best-on-validation "
                    "weights, and no run of the table holds out a validation split (recipe validation: {size: ...})"
                )
        self._check_figure()
        self._check_claims()

    def _check_claims(self) -> None:
        """A claim compares runs its table shows, in one of its columns, over seeds both runs have."""
        for name, claim in self.config.get("claims", {}).items():
            where = f"claims.{name}"
            table = self.config.get("tables", {}).get(claim["table"])
            if table is None:
                raise ConfigError(f"{where}.table: {claim['table']!r} is not defined in tables")
            if claim["column"] not in table["columns"]:
                raise ConfigError(f"{where}.column: table {claim['table']!r} has no column {claim['column']!r}")
            shown = {row["run"] for row in table["rows"]}
            compared = [side for side in ("a", "b") if isinstance(claim[side], str)]
            for side in compared:
                if claim[side] not in shown:
                    raise ConfigError(f"{where}.{side}: table {claim['table']!r} shows no run {claim[side]!r}")
                if "weights" in self.config["runs"][claim[side]]:
                    raise ConfigError(
                        f"{where}.{side}: {claim[side]!r} is a weights file, one model without seeds; "
                        "a claim pairs trained runs seed by seed (compare with its value as a number)"
                    )
                if COLUMNS[claim["column"]].weights == "best" and not self._recipe_of(claim[side]).get("validation"):
                    raise ConfigError(
                        f"{where}.{side}: column {claim['column']!r} shows best-on-validation weights, "
                        f"and run {claim[side]!r} holds out no validation split"
                    )
            if len(compared) == 2 and claim["a"] == claim["b"]:
                raise ConfigError(f"{where}: compares run {claim['a']!r} with itself")
            if len(compared) == 2 and not set(self.seeds_of(claim["a"])) & set(self.seeds_of(claim["b"])):
                raise ConfigError(
                    f"{where}: runs {claim['a']!r} and {claim['b']!r} share no seed; "
                    "a claim pairs the same seed on both sides"
                )
            for i, premise in enumerate(claim.get("requires", [])):
                if "stronger" in premise:
                    for side in ("run", "than"):
                        self._check_premise_run(f"{where}.requires[{i}].stronger.{side}", premise["stronger"][side])

    def _check_reference(self, table: str, definition: dict) -> None:
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
            trained_on = identity(self.config["datasets"][self.config["runs"][row["run"]]["dataset"]])
            if trained_on != reference["dataset"]:
                raise ConfigError(
                    f"tables.{table}.rows[{i}].paper: the reference values were measured on {reference['dataset']}, "
                    f"and run {row['run']!r} trains on {trained_on}; a reference stands only beside its own dataset"
                )

    def _recipe_of(self, run_name: str) -> dict:
        """A trained run's recipe; {} for a weights file."""
        return self.config["recipes"].get(self.config["runs"][run_name].get("recipe"), {})

    def _check_attack_settings(self, where: str, columns: list[Column]) -> None:
        attack = self.config.get("autoattack")
        attacked = sorted(c.name for c in columns if c.evaluation in ATTACKS)
        if attacked and attack is None:
            raise ConfigError(f"{where}: {', '.join(attacked)} need an autoattack block (eps, ...)")
        pgd = sorted(c.name for c in columns if c.evaluation == "pgd")
        if pgd and "pgd" not in attack:
            raise ConfigError(f"{where}: column {pgd[0]} needs autoattack.pgd (steps, step_size)")
        if attack is not None and self.autoattack["version"] == "standard" and "attacks" in attack:
            raise ConfigError(
                "autoattack.attacks: version standard runs its own four attacks; set version: custom to choose"
            )

    def _check_figure(self) -> None:
        figure = self.config.get("figure1")
        if not figure:
            return
        layouts: dict[tuple, str] = {}
        for i, row in enumerate(figure["rows"]):
            if row["run"] not in self.config["runs"]:
                raise ConfigError(f"figure1.rows[{i}].run: {row['run']!r} is not defined in runs")
            if "weights" in self.config["runs"][row["run"]]:
                raise ConfigError(
                    f"figure1.rows[{i}].run: {row['run']!r} is a weights file; "
                    "the heatmap needs gradients recorded in training"
                )
            layouts.setdefault(
                layer_layout(self.config["runs"][row["run"]]["model"]), f"figure1.rows[{i}] ({row['run']})"
            )
        if len(layouts) > 1:
            first, second = list(layouts.values())[:2]
            raise ConfigError(
                f"figure1.rows: {first} and {second} have different layers; "
                "a heatmap row per method needs one architecture"
            )
        if "epochs" in figure:
            first, last = figure["epochs"]
            trained = min(
                self.config["recipes"][self.config["runs"][row["run"]]["recipe"]]["epochs"] for row in figure["rows"]
            )
            if not first <= last <= trained:
                raise ConfigError(
                    f"figure1.epochs: [{first}, {last}] must satisfy first <= last <= {trained}, "
                    "the fewest epochs of its rows' runs"
                )

    # -- queries used by the Snakefile ----------------------------------------------------------
    @property
    def runs(self) -> list[Run]:
        return list(self._runs.values())

    def by_id(self, run_id: str) -> Run:
        return self._by_id[run_id]

    def seeds(self, name: str) -> list[Run]:
        return [self._runs[(name, s)] for s in self.seeds_of(name)]

    def table_runs(self, table: str) -> list[Run]:
        """Every seed of every run a table's rows name, in row order, without repeats."""
        names = dict.fromkeys(row["run"] for row in self.config["tables"][table]["rows"])
        return [run for name in names for run in self.seeds(name)]

    def table_evaluations(self, table: str) -> list[tuple[Run, str, str]]:
        """(run, evaluation, weights) of every evaluation file the table reads, without repeats: a
        best-weights column reads nothing of a run without a validation split (a dash there)."""
        columns = [COLUMNS[name] for name in self.config["tables"][table]["columns"]]
        needed = {}
        for run in self.table_runs(table):
            for column in columns:
                if column.weights == "best" and column.evaluation != "metrics" and not run.validated:
                    continue
                path = run.evaluation_path(column.evaluation, column.weights)
                needed.setdefault(path, (run, column.evaluation, column.weights))
        return list(needed.values())

    def _claim_reads(self) -> list[tuple[str, str]]:
        """(run name, column) of every value a claim or one of its premises reads; a `converged`
        premise reads its run and the run's twin (named with TWIN_SUFFIX)."""
        reads = {}
        for claim in self.config.get("claims", {}).values():
            sides = [claim[side] for side in ("a", "b") if isinstance(claim[side], str)]
            reads.update(dict.fromkeys((name, claim["column"]) for name in sides))
            for premise in claim.get("requires", []):
                if "stronger" in premise:
                    stronger = premise["stronger"]
                    reads.update(
                        dict.fromkeys((name, stronger["column"]) for name in (stronger["run"], stronger["than"]))
                    )
                elif "converged" in premise:
                    name = premise["converged"]["run"]
                    for column in premise["converged"]["columns"]:
                        reads.update(dict.fromkeys([(name, column), (name + TWIN_SUFFIX, column)]))
                else:
                    reads.update(dict.fromkeys((name, premise["operating_point"]["column"]) for name in sides))
        return list(reads)

    def claim_runs(self) -> dict[str, list[Run]]:
        """{run name: its runs, one per seed} of every run a claim or its premises read (a twin:
        its one run)."""
        names = dict.fromkeys(name for name, _ in self._claim_reads())
        return {name: self._named(name) for name in names}

    def _named(self, name: str) -> list[Run]:
        if name.endswith(TWIN_SUFFIX):
            return [self.twins[name.removesuffix(TWIN_SUFFIX)]]
        return self.seeds(name)

    def claim_evaluations(self) -> list[tuple[Run, str, str]]:
        """(run, evaluation, weights) of every evaluation file a claim or its premises read,
        without repeats."""
        found = {}
        for name, column_name in self._claim_reads():
            column = COLUMNS[column_name]
            for run in self._named(name):
                if column.weights == "best" and column.evaluation != "metrics" and not run.validated:
                    continue
                found.setdefault(
                    run.evaluation_path(column.evaluation, column.weights), (run, column.evaluation, column.weights)
                )
        return list(found.values())

    def attacked(self) -> list[tuple[Run, str]]:
        """(run, weights) of every AutoAttack file the tables read, without repeats."""
        found = {}
        for table in self.config.get("tables", {}):
            for run, evaluation, weights in self.table_evaluations(table):
                if evaluation == "autoattack":
                    found.setdefault((run.id, weights), (run, weights))
        return list(found.values())

    def weights_files(self) -> list[tuple[str, str, dict, dict]]:
        """(config key, path, model spec, dataset spec) of every weights file a run evaluates or
        learns from, for the check that each fits its model before any job starts."""
        found = {}
        for run in self.runs:
            dataset = self.config["datasets"][run.dataset]
            if run.evaluated:
                found.setdefault(
                    run.weights_file, (f"runs.{run.name}.weights", run.weights_file, run.spec["model"], dataset)
                )
            elif run.teacher_file:
                teacher = run.spec["teacher"]
                found.setdefault(
                    run.teacher_file, (f"runs.{run.name}.teacher", run.teacher_file, teacher["model"], dataset)
                )
        return list(found.values())

    def exported(self, model_id: str) -> Run:
        """The run `exports.<model_id>` writes out."""
        return next(run for path, run in self.exports.items() if Path(path).stem == model_id)

    def trained(self, runs: list[Run]) -> list[Run]:
        """Those of `runs` that train (and so have a history); weights files do not."""
        return [run for run in runs if not run.evaluated]

    def figure_runs(self) -> list[Run]:
        names = dict.fromkeys(row["run"] for row in self.config.get("figure1", {}).get("rows", []))
        return [run for name in names for run in self.seeds(name)]
