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

SPEC_VERSION = 1
HASH_LENGTH = 10

# Methods that take a real teacher run (mirrors advkd.train.methods, which needs torch).
TEACHER_METHODS = frozenset({"kd", "at_kd"})
ADVERSARIAL_METHODS = frozenset({"at", "at_kd", "at_tfkd_reg", "at_byot"})
VIRTUAL_TEACHER_METHODS = frozenset({"tfkd_reg", "at_tfkd_reg"})
# Methods that train every exit of a multi-exit model (model `exits: true`), and only those do.
EXIT_METHODS = frozenset({"byot", "at_byot"})
# Table columns read from a run's autoattack.json (see advkd.report.tables.METRICS).
AUTOATTACK_COLUMNS = frozenset({"autoattack", "apgd_ce", "apgd_t", "fab_t", "square", "pgd"})

# Class counts known before any download (an idx_dir source declares its own with `classes`).
SOURCE_CLASS_COUNTS = {"digits": 10}
TORCHVISION_CLASS_COUNTS = {"mnist": 10, "fashion_mnist": 10, "cifar10": 10, "cifar100": 100}


class ConfigError(ValueError):
    """A config that names something that does not exist or cannot be built."""


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def spec_hash(spec: dict) -> str:
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:HASH_LENGTH]


@dataclass(frozen=True)
class Run:
    """One trained model: a run name of the config at one seed."""

    name: str
    seed: int
    spec: dict  # the full spec that is hashed (the teacher's spec nested inside)
    teacher: Run | None

    @cached_property
    def id(self) -> str:
        return f"{self.name}.s{self.seed}.{spec_hash(self.spec)}"

    @property
    def dataset(self) -> str:
        return self.spec["dataset"]["key"]

    @property
    def folder(self) -> str:
        return f"results/runs/{self.id}"

    @property
    def distilled(self) -> bool:
        """Learns from a teacher, real or virtual (rule `distill`); else rule `train`."""
        return self.teacher is not None or self.spec["method"]["name"] in VIRTUAL_TEACHER_METHODS


class Registry:
    """Every run the config's tables and figures need, resolved to specs and ids."""

    def __init__(self, config: dict):
        self.config = config
        self._runs: dict[tuple[str, int], Run] = {}
        for name in config["runs"]:
            for seed in self.seeds_of(name):
                self.resolve(name, seed)
        self._by_id = {run.id: run for run in self._runs.values()}
        self._check_report_references()

    # -- resolution -------------------------------------------------------------------------
    def seeds_of(self, name: str) -> list[int]:
        return list(self.config["runs"][name].get("seeds", self.config.get("seeds", [0])))

    def resolve(self, name: str, seed: int, _chain: tuple[str, ...] = ()) -> Run:
        key = (name, seed)
        if key in self._runs:
            return self._runs[key]
        runs = self.config["runs"]
        if name not in runs:
            raise ConfigError(f"runs: {'teacher of ' + _chain[-1] if _chain else 'run'} {name!r} is not defined in runs")
        if name in _chain:
            raise ConfigError(f"runs.{name}.teacher: teacher cycle {' -> '.join(_chain + (name,))}")
        entry = runs[name]
        method = dict(entry["method"])
        teacher_name = entry.get("teacher")
        if (method["name"] in TEACHER_METHODS) != (teacher_name is not None):
            need = "needs a teacher" if teacher_name is None else "takes no teacher"
            raise ConfigError(f"runs.{name}: method {method['name']!r} {need}")
        if (method["name"] in EXIT_METHODS) != bool(entry["model"].get("exits", False)):
            if method["name"] in EXIT_METHODS:
                raise ConfigError(f"runs.{name}.model: method {method['name']!r} needs a multi-exit model (exits: true)")
            raise ConfigError(f"runs.{name}.model.exits: only methods {', '.join(sorted(EXIT_METHODS))} train a multi-exit model")
        teacher = None
        if teacher_name is not None:
            if teacher_name not in runs:
                raise ConfigError(f"runs.{name}.teacher: {teacher_name!r} is not defined in runs")
            teacher_seeds = self.seeds_of(teacher_name)
            teacher = self.resolve(teacher_name, seed if seed in teacher_seeds else teacher_seeds[0], _chain + (name,))
        dataset_key = entry["dataset"]
        if dataset_key not in self.config["datasets"]:
            raise ConfigError(f"runs.{name}.dataset: {dataset_key!r} is not defined in datasets")
        self._check_class_filter(name, entry, dataset_key)
        recipe_key = entry["recipe"]
        if recipe_key not in self.config["recipes"]:
            raise ConfigError(f"runs.{name}.recipe: {recipe_key!r} is not defined in recipes")
        recipe = {k: v for k, v in self.config["recipes"][recipe_key].items() if k != "resources"}
        if method["name"] in ADVERSARIAL_METHODS and "attack" not in recipe:
            raise ConfigError(f"runs.{name}: method {method['name']!r} needs recipes.{recipe_key}.attack")
        spec = {
            "version": SPEC_VERSION,
            "seed": seed,
            "dataset": {"key": dataset_key, **self.config["datasets"][dataset_key]},
            "data": entry.get("data", {}),
            "model": entry["model"],
            "method": method,
            "recipe": recipe,
            "teacher": teacher.spec if teacher else None,
        }
        run = Run(name, seed, spec, teacher)
        self._runs[key] = run
        return run

    def _check_class_filter(self, name: str, entry: dict, dataset_key: str) -> None:
        dataset = self.config["datasets"][dataset_key]
        if dataset["source"] == "torchvision":
            count = TORCHVISION_CLASS_COUNTS.get(dataset["name"])
        elif "classes" in dataset:
            count = len(dataset["classes"])
        else:
            count = SOURCE_CLASS_COUNTS.get(dataset["source"])  # idx_dir without names: checked on load
        if count is None:
            return
        for key in ("keep_classes", "drop_classes"):
            missing = [c for c in entry.get("data", {}).get(key, []) if c >= count]
            if missing:
                raise ConfigError(
                    f"runs.{name}.data.{key}: class {missing[0]} is not in dataset {dataset_key!r}; allowed: 0..{count - 1}"
                )

    def _check_report_references(self) -> None:
        for table, definition in self.config.get("tables", {}).items():
            for i, row in enumerate(definition["rows"]):
                if row["run"] not in self.config["runs"]:
                    raise ConfigError(f"tables.{table}.rows[{i}].run: {row['run']!r} is not defined in runs")
        for i, row in enumerate(self.config.get("figure1", {}).get("rows", [])):
            if row["run"] not in self.config["runs"]:
                raise ConfigError(f"figure1.rows[{i}].run: {row['run']!r} is not defined in runs")

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

    def table_needs_autoattack(self, table: str) -> bool:
        return not AUTOATTACK_COLUMNS.isdisjoint(self.config["tables"][table]["columns"])

    def figure_runs(self) -> list[Run]:
        names = dict.fromkeys(row["run"] for row in self.config.get("figure1", {}).get("rows", []))
        return [run for name in names for run in self.seeds(name)]

    def id_pattern(self, distilled: bool) -> str:
        """A regex matching exactly the ids of distilled (or plainly trained) runs, for wildcards."""
        ids = sorted(r.id for r in self._runs.values() if r.distilled == distilled)
        return "|".join(i.replace(".", r"\.") for i in ids) or "(?!)"
