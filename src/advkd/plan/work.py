"""What each job of a plan computes, in FLOPs and steps, from the config alone. Imports no torch.

A training job: every epoch, each kept training image passes the student forward and backward
(3 forward-equivalents, on x and x' for the robust-distillation losses; every exit's head for a
multi-exit method), the teacher forward (its own FLOPs; on x and x' for AdaAD; for ADR the
student's weight average), and for an adversarial method `steps` PGD forward + input-backward
passes (2 each) on the deepest path, through the teacher too when it is in the attack (AdaAD);
then the end-of-epoch test pass. The
job then evaluates the run: one pass over the test set (more with class subsets or exits).
AutoAttack: its documented budgets as an upper bound (every point survives every attack). PGD:
`steps` forward + backward passes and one forward.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from ..experiments import Registry, Run, canonical_json
from ..methods import get_method
from ..schema import complete
from .flops import forward_flops


@dataclass(frozen=True)
class DatasetSize:
    shape: tuple[int, int, int]
    n_train: int
    n_test: int
    classes: int


# Sizes known before any download (torchvision's datasets, scikit-learn's digits split).
KNOWN_SIZES = {
    "digits": DatasetSize((1, 8, 8), 1437, 360, 10),
    "mnist": DatasetSize((1, 28, 28), 60_000, 10_000, 10),
    "fashion_mnist": DatasetSize((1, 28, 28), 60_000, 10_000, 10),
    "cifar10": DatasetSize((3, 32, 32), 50_000, 10_000, 10),
    "cifar100": DatasetSize((3, 32, 32), 50_000, 10_000, 100),
}

# AutoAttack's attack budgets, in iterations per point (pyautoattack 0.2.0, autoattack.py: the
# standard version sets APGD to 1 restart of 100 iterations, APGD-T and FAB-T to 9 target classes
# of 100, Square to 5000 queries; the custom version keeps the constructors' 5 restarts for APGD
# and FAB) and forward-equivalents per iteration (APGD: forward + input-backward; FAB: those and a
# forward to check the step; Square: one forward per query).
ATTACK_ITERATIONS = {
    "standard": {"apgd-ce": 100, "apgd-t": 900, "fab-t": 900, "square": 5000},
    "custom": {"apgd-ce": 500, "apgd-dlr": 500, "apgd-t": 900, "fab": 500, "fab-t": 900, "square": 5000},
}
PASSES_PER_ITERATION = {"apgd-ce": 2, "apgd-dlr": 2, "apgd-t": 2, "fab": 3, "fab-t": 3, "square": 1}


@dataclass(frozen=True)
class Job:
    """One job of the plan: its rule, the run it is about, its FLOPs, its sequential steps (a
    step costs time beyond its FLOPs however small the model), its epochs, and the model that does
    the work (`model_key`), whose speed a CPU probe measures. `teacher_flops` of `flops` are a
    teacher's forward passes, done at the teacher's speed (`teacher`, its model_key)."""

    rule: str
    target: str  # a run id
    flops: float
    steps: int  # training steps (PGD steps inside them included) or attack iterations
    kind: str  # train | adversarial | attack: which measured rate prices it
    epochs: int
    model: str  # model_key of the student (or the attacked model)
    batch: int  # images per step
    teacher: str | None = None
    teacher_flops: float = 0.0


def model_key(model: dict, shape: tuple[int, int, int]) -> str:
    """The model and input shape that fix a job's speed per FLOP (classes barely matter)."""
    return canonical_json({"model": complete(model, "model"), "shape": list(shape)})


def dataset_size(spec: dict) -> DatasetSize:
    """A dataset's shape and sizes without loading it: known ones, or an idx_dir's headers."""
    spec = complete(spec, "dataset")
    if spec["source"] == "digits":
        return KNOWN_SIZES["digits"]
    if spec["source"] == "torchvision":
        return KNOWN_SIZES[spec["name"]]
    headers = _idx_headers(Path(spec["path"]))
    if headers is not None:
        n_train, n_test, shape = headers
        classes = len(spec["classes"]) if "classes" in spec else 10
        return DatasetSize(shape, n_train, n_test, classes)
    return KNOWN_SIZES.get(spec.get("name", "mnist"), KNOWN_SIZES["mnist"])  # files not here: MNIST-sized


def _idx_headers(folder: Path) -> tuple[int, int, tuple[int, int, int]] | None:
    """(train count, test count, image shape) from the images' idx headers, or None."""
    import gzip

    counts, shape = [], None
    for stem in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
        path = next((p for p in (folder / stem, folder / f"{stem}.gz") if p.is_file()), None)
        if path is None:
            return None
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            header = f.read(16)
        n, h, w = (int.from_bytes(header[i : i + 4], "big") for i in (4, 8, 12))
        counts.append(n)
        shape = (1, h, w)
    return counts[0], counts[1], shape


def training_images(run: Run, size: DatasetSize) -> int:
    """Training images after the run's class filter and limit (classes taken as balanced)."""
    data = run.spec["data"]
    kept = len(data["keep_classes"]) if "keep_classes" in data else size.classes
    kept -= len(set(data.get("drop_classes", [])) - set(data.get("keep_classes", range(size.classes))))
    n = round(size.n_train * kept / size.classes)
    return min(n, data.get("limit", n))


def training_job(run: Run, size: DatasetSize) -> Job:
    spec, method = run.spec, get_method(run.spec["method"]["name"])
    recipe = complete(spec["recipe"], "recipe")
    student = forward_flops(spec["model"], size.shape, size.classes)
    trained = forward_flops(spec["model"], size.shape, size.classes, every_exit=method.exits)
    per_image = 3 * trained * method.student_passes
    teacher_model = spec["teacher"]["model"] if spec["teacher"] else None
    if method.teacher == "average":  # the student's weight average on x (ADR)
        teacher_model = spec["model"]
    teacher = forward_flops(teacher_model, size.shape, size.classes) if teacher_model else 0
    attack_steps = recipe["attack"]["steps"] if method.adversarial else 0
    per_image += 2 * attack_steps * student
    teacher_per_image = teacher * method.teacher_passes
    if method.attack == "kl_teacher_adversarial":  # the attack also differentiates the teacher
        teacher_per_image += 2 * attack_steps * teacher
    n, epochs = training_images(run, size), recipe["epochs"]
    evaluation = 1 + bool(spec["data"].get("drop_classes")) + bool(method.exits)  # passes for metrics.json
    teacher_flops = epochs * n * teacher_per_image
    flops = epochs * (n * per_image + size.n_test * student) + evaluation * size.n_test * student + teacher_flops
    if "validation" in recipe:  # each scoring: a clean pass and, if adversarial, PGD; then the best on the test set
        validation = recipe["validation"]
        scorings = epochs // validation["every"] + bool(epochs % validation["every"])
        pgd_passes = 2 * validation["pgd_steps"] + 1 if method.adversarial else 0
        flops += scorings * validation["size"] * (1 + pgd_passes) * student + size.n_test * student
    steps = epochs * math.ceil(n / recipe["batch_size"]) * (1 + attack_steps)
    kind = "adversarial" if method.adversarial else "train"
    rule = "distill" if run.distilled else "train"
    teacher_key = model_key(teacher_model, size.shape) if teacher_model else None
    key = model_key(spec["model"], size.shape)
    return Job(rule, run.id, flops, steps, kind, epochs, key, recipe["batch_size"], teacher_key, teacher_flops)


def attack_jobs(run: Run, size: DatasetSize, attack: dict, evaluations: Collection[str]) -> list[Job]:
    """The run's AutoAttack and PGD jobs that a table shows (`evaluations`: autoattack, pgd, and
    their `_best` twins on the best-on-validation weights, the same work)."""
    forward = forward_flops(run.spec["model"], size.shape, size.classes)
    key = model_key(run.spec["model"], size.shape)
    n = min(attack["n"] or size.n_test, size.n_test)
    batches, batch = math.ceil(n / attack["batch_size"]), min(n, attack["batch_size"])
    iterations = ATTACK_ITERATIONS[attack["version"]]
    chosen = attack.get("attacks") or list(iterations)
    passes = sum(iterations[a] * PASSES_PER_ITERATION[a] for a in chosen)
    jobs = []
    for evaluation in sorted(evaluations):
        if evaluation.startswith("autoattack"):
            steps = batches * sum(iterations[a] for a in chosen)
            jobs.append(Job(evaluation, run.id, n * forward * (1 + passes), steps, "attack", 0, key, batch))
        else:
            steps = attack["pgd"]["steps"]
            jobs.append(
                Job(evaluation, run.id, n * forward * (2 * steps + 1), batches * steps, "attack", 0, key, batch)
            )
    return jobs


def plan_jobs(registry: Registry) -> list[Job]:
    """Every training (with its evaluation), AutoAttack and PGD job the config's tables and figure need."""
    config = registry.config
    sizes = {key: dataset_size(spec) for key, spec in config["datasets"].items()}
    shown: dict[str, Run] = {}
    evaluations: dict[str, set[str]] = {}  # run id -> the attack jobs its tables need
    for table in config.get("tables", {}):
        kinds = {f"{kind}_best" for kind in registry.table_best_evaluations(table)}
        kinds |= {"autoattack"} if registry.table_needs_autoattack(table) else set()
        kinds |= {"pgd"} if registry.table_needs_pgd(table) else set()
        for run in registry.table_runs(table):
            shown[run.id] = run
            own = kinds if run.validated else {kind for kind in kinds if not kind.endswith("_best")}
            evaluations.setdefault(run.id, set()).update(own)
    trained = {}
    for run in [*shown.values(), *registry.figure_runs()]:
        while run is not None and run.id not in trained:  # a run and the teachers it learns from
            trained[run.id], run = run, run.teacher
    jobs = [training_job(run, sizes[run.dataset]) for run in trained.values()]
    for run in shown.values():
        jobs += attack_jobs(run, sizes[run.dataset], registry.autoattack, evaluations[run.id])
    return jobs
