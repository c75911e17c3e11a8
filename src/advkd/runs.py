"""Config -> runs: every model the config's tables, figure and claims need, resolved to specs and
ids, and which evaluation files each table and claim reads. Imports no torch.

The Snakefile resolves this at DAG time (on a cluster, once per job), so it must stay light. The
cross-checks of a config (does a method fit its model, a claim its table, ...) are `advkd.config`'s;
resolution raises only where a run cannot be built at all (a name, teacher, dataset, recipe or
weights file that does not exist, a teacher cycle).

A run's spec is everything that determines its weights: dataset (with its source), class filter,
model, method, the recipe, seed, the full spec of its teacher, and `SPEC_VERSION`. The id is
`<name>.s<seed>.<first 10 hex of sha256(canonical JSON of the spec)>`: a changed teacher changes
every student below it, and results of different specs never share a folder.

SPEC_VERSION is the code-semantics policy: edits to library code do not rerun anything by
themselves; a change that alters what a finished run would compute (a loss, an augmentation, the
data split) bumps SPEC_VERSION, which changes every id and so reruns everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .columns import COLUMNS, WEIGHTS_FILES, evaluation_file
from .digests import file_sha256, spec_hash
from .errors import ConfigError
from .robustbench import cache_path, declared_model, supported_ids
from .schema import complete, schema
from .schema import definition as schema_definition
from .sizes import identity

SPEC_VERSION = 3  # 3: TRADES moves batch norm's running statistics as trades.py does

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
    """Every run the config's tables, figures and claims need, resolved to specs and ids."""

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
        self._check_dataset(name, entry)
        if "weights" in entry:
            return self._resolve_evaluated(name, entry)
        teacher_entry = entry.get("teacher")
        teacher, teacher_file, teacher_spec = None, None, None
        if isinstance(teacher_entry, dict):
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
            teacher_spec = teacher.spec
        dataset_key = entry["dataset"]
        recipe_key = entry["recipe"]
        if recipe_key not in self.config["recipes"]:
            raise ConfigError(f"runs.{name}.recipe: {recipe_key!r} is not defined in recipes")
        spec = {
            "version": SPEC_VERSION,
            "seed": seed,
            "dataset": {"key": dataset_key, **self.config["datasets"][dataset_key]},
            "data": entry.get("data", {}),
            "model": entry["model"],
            "method": entry["method"],
            "recipe": {k: v for k, v in self.config["recipes"][recipe_key].items() if k != "resources"},
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
                    trained_entry(self.config, f"claims.{claim_name}.requires[{i}].converged.run", name)
                    names[name] = None
        return list(names)

    def _twin(self, name: str) -> Run:
        """The seed-0 twin of run `name` trained for `TWIN_FACTOR` times the epochs."""
        base = self.resolve(name, self.seeds_of(name)[0])
        spec = {**base.spec, "recipe": stretched(base.spec["recipe"], TWIN_FACTOR)}
        twin = Run(f"{name}{TWIN_SUFFIX}", base.seed, spec, base.teacher, base.teacher_file)
        self._runs[(twin.name, twin.seed)] = twin
        return twin

    def _check_dataset(self, name: str, entry: dict) -> None:
        if entry["dataset"] not in self.config["datasets"]:
            raise ConfigError(f"runs.{name}.dataset: {entry['dataset']!r} is not defined in datasets")

    def _resolve_evaluated(self, name: str, entry: dict) -> Run:
        """A weights file that is only evaluated: its id comes from its content and model."""
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

    # -- queries: the Snakefile's inputs and the plan's jobs ----------------------------------------------------------
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


def trained_entry(config: dict, where: str, name: str) -> dict:
    """Run `name`'s entry, which must be a trained run (a premise's run, a twin's)."""
    if name not in config["runs"]:
        raise ConfigError(f"{where}: {name!r} is not defined in runs")
    if "weights" in config["runs"][name]:
        raise ConfigError(f"{where}: {name!r} is a weights file; only a trained run has epochs to double")
    return config["runs"][name]
