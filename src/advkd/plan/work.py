"""What each job of a plan computes, in FLOPs and steps, from the config alone. Imports no torch.

A training job: every epoch, each kept training image passes the student forward and backward
(3 forward-equivalents, on x and x' for the robust-distillation losses; every exit's head for a
multi-exit method), the teacher forward (its own FLOPs; on x and x' for AdaAD; for ADR the
student's weight average), and for an adversarial method `steps` PGD forward + input-backward
passes (2 each) on the deepest path, through the teacher too when it is in the attack (AdaAD);
then the test pass every `test_every` epochs and after the last. The job then evaluates the run:
one pass over the test set (more with class subsets or exits), less the last epoch's when an fp32
recipe lets the metrics reuse it; a weights file evaluated only has that pass as its job.
AutoAttack: its documented budgets, the first attack on the points classified correctly and the
later ones on those it leaves (`survival`: expected fractions). PGD: `steps` forward + backward
passes and one forward.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from ..columns import ATTACKS, evaluation_file
from ..digests import canonical_json
from ..methods import Method, get_method
from ..runs import Registry, Run
from ..schema import complete
from ..sizes import DatasetSize, dataset_size, training_images
from .flops import forward_flops
from .survival import WORST_CASE, Survival, Survivals

# AutoAttack's attack budgets, in iterations per point (pyautoattack 0.2.0, autoattack.py: the
# standard version sets APGD to 1 restart of 100 iterations, APGD-T and FAB-T to 9 target classes
# of 100 with 1 restart, Square to 5000 queries; the custom version keeps the constructors' 5
# restarts for APGD and FAB unless `autoattack.restarts` and `target_classes` say otherwise) and
# forward-equivalents per iteration (APGD: forward + input-backward; FAB: those and a forward to
# check the step; Square: one forward per query).
ATTACK_ITERATIONS = {
    "standard": {"apgd-ce": 100, "apgd-t": 900, "fab-t": 900, "square": 5000},
    "custom": {"apgd-ce": 500, "apgd-dlr": 500, "apgd-t": 900, "fab": 500, "fab-t": 900, "square": 5000},
}


def attack_iterations(attack: dict) -> dict[str, int]:
    """Iterations per point of each attack under the completed `autoattack` settings."""
    iterations = dict(ATTACK_ITERATIONS[attack["version"]])
    if attack.get("restarts") is not None:
        iterations.update(dict.fromkeys(("apgd-ce", "apgd-dlr", "fab"), 100 * attack["restarts"]))
    if attack.get("target_classes") is not None:
        iterations.update(dict.fromkeys(("apgd-t", "fab-t"), 100 * attack["target_classes"]))
    return iterations


def attacked_points(attack: dict, evaluation: str, n_test: int) -> int:
    """How many test points an evaluation attacks: AutoAttack its `n`, PGD its own `n` when given."""
    n = attack["pgd"].get("n", attack["n"]) if evaluation == "pgd" else attack["n"]
    return min(n or n_test, n_test)


PASSES_PER_ITERATION = {"apgd-ce": 2, "apgd-dlr": 2, "apgd-t": 2, "fab": 3, "fab-t": 3, "square": 1}
# Attacks whose iterations are forward passes without gradients (Square's queries): on a CPU a
# forward alone costs well under half a forward + input-backward, per image and per call.
QUERY_ATTACKS = {"square"}


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
    weights: str | None = None  # an attack's: last or best (advkd.columns.WEIGHTS)
    queries: int = 0  # an attack's forward-only iterations (QUERY_ATTACKS), beyond `steps`
    captured: bool = False  # a training step run as one CUDA graph (recipe `capture`)
    query_flops: float = 0.0  # the part of `flops` those do

    @property
    def label(self) -> str:
        """The rule, and for an attack which weights: what the plan's summary groups by."""
        return self.rule if self.weights in (None, "last") else f"{self.rule} ({self.weights})"

    @property
    def output(self) -> str:
        """The job's file in its run's folder, present once it is done."""
        return "metrics.json" if self.weights is None else evaluation_file(self.rule, self.weights)

    @property
    def benchmark(self) -> str:
        """Snakemake's timing of the job: benchmarks/<this>.tsv (the rules' `benchmark:`)."""
        return f"{self.rule}/{self.target}" + ("" if self.weights is None else f".{self.weights}")


def model_key(model: dict, shape: tuple[int, int, int]) -> str:
    """The model and input shape that fix a job's speed per FLOP (classes barely matter)."""
    return canonical_json({"model": complete(model, "model"), "shape": list(shape)})


def scored_epochs(epochs: int, every: int) -> int:
    """How many of `epochs` a pass scored every `every` epochs and after the last one visits."""
    return epochs // every + bool(epochs % every)


def forward_passes(method: Method, attack_steps: int) -> tuple[int, int, int]:
    """Forward-pass equivalents per training image (a backward costs about two forwards): of the
    trained network with every exit (forward and backward on each of the method's inputs), of its
    deepest path (a forward and an input-backward per PGD step, and its forwards without
    gradients), and of the teacher (its forwards, and its input-backwards when the attack goes
    through it, as AdaAD's does)."""
    teacher = method.teacher_passes + (2 * attack_steps if method.attack == "kl_teacher_adversarial" else 0)
    return 3 * method.student_passes, 2 * attack_steps + method.plain_passes, teacher


@dataclass(frozen=True)
class StepWork:
    """FLOPs per training image of one step of a run: the student's (its passes and its attack's)
    and its teacher's; and the student's plain forward, which its test passes cost."""

    student: float
    teacher: float
    forward: float
    teacher_model: dict | None


def step_work(spec: dict, size: DatasetSize) -> StepWork:
    method = get_method(spec["method"]["name"])
    recipe = complete(spec["recipe"], "recipe")
    student = forward_flops(spec["model"], size.shape, size.classes)
    trained = forward_flops(spec["model"], size.shape, size.classes, every_exit=method.exits)
    teacher_model = spec["teacher"]["model"] if spec["teacher"] else None
    if method.teacher == "average":  # the student's weight average on x (ADR)
        teacher_model = spec["model"]
    teacher = forward_flops(teacher_model, size.shape, size.classes) if teacher_model else 0
    attack_steps = recipe["attack"]["steps"] if method.adversarial else 0
    trained_passes, attack_passes, teacher_passes = forward_passes(method, attack_steps)
    per_image = trained_passes * trained + attack_passes * student
    return StepWork(per_image, teacher_passes * teacher, student, teacher_model)


def training_job(run: Run, size: DatasetSize) -> Job:
    spec, method = run.spec, get_method(run.spec["method"]["name"])
    recipe = complete(spec["recipe"], "recipe")
    work = step_work(spec, size)
    student, teacher_model = work.forward, work.teacher_model
    per_image, teacher_per_image = work.student, work.teacher
    attack_steps = recipe["attack"]["steps"] if method.adversarial else 0
    n, epochs = training_images(spec["data"], size), recipe["epochs"]
    reused = recipe["precision"] == "fp32"  # the metrics reuse the last epoch's fp32 test pass
    evaluation = 1 - reused + bool(spec["data"].get("drop_classes")) + bool(method.exits)  # passes for metrics.json
    teacher_flops = epochs * n * teacher_per_image
    tests = scored_epochs(epochs, recipe["test_every"])
    flops = epochs * n * per_image + (tests + evaluation) * size.n_test * student + teacher_flops
    if "validation" in recipe:  # each scoring: a clean pass and, if adversarial, PGD; then the best on the test set
        validation = recipe["validation"]
        scorings = scored_epochs(epochs, validation["every"])
        pgd_passes = 2 * validation["pgd_steps"] + 1 if method.adversarial else 0
        flops += scorings * validation["size"] * (1 + pgd_passes) * student + size.n_test * student
    steps = epochs * math.ceil(n / recipe["batch_size"]) * (1 + attack_steps)
    kind = "adversarial" if method.adversarial else "train"
    teacher_key = model_key(teacher_model, size.shape) if teacher_model else None
    key = model_key(spec["model"], size.shape)
    return Job(
        "train",
        run.id,
        flops,
        steps,
        kind,
        epochs,
        key,
        recipe["batch_size"],
        teacher_key,
        teacher_flops,
        captured=recipe["capture"],
    )


def evaluation_job(run: Run, size: DatasetSize) -> Job:
    """A weights file's rule evaluate: one pass over the test set, at an attack's speed (no training)."""
    forward = forward_flops(run.spec["model"], size.shape, size.classes)
    return Job("evaluate", run.id, size.n_test * forward, 1, "attack", 0, model_key(run.spec["model"], size.shape), 1)


def attack_jobs(
    run: Run,
    size: DatasetSize,
    attack: dict,
    evaluations: Collection[tuple[str, str]],
    survival: Callable[[Run, str], Survival] | None = None,
) -> list[Job]:
    """The run's AutoAttack and PGD jobs that a table shows (`evaluations`: (autoattack or pgd,
    last or best weights)). `survival(run, weights)` says how many points each AutoAttack stage
    attacks (advkd.plan.survival); without it, all of them (the worst case)."""
    forward = forward_flops(run.spec["model"], size.shape, size.classes)
    key = model_key(run.spec["model"], size.shape)
    iterations = attack_iterations(attack)
    chosen = attack.get("attacks") or list(iterations)
    jobs = []
    for evaluation, weights in sorted(evaluations):
        n = attacked_points(attack, evaluation, size.n_test)
        if evaluation == "autoattack":
            expected = survival(run, weights) if survival else WORST_CASE
            attacked = [n * (expected.clean if i == 0 else expected.robust) for i in range(len(chosen))]
            passes = {True: 0.0, False: 0.0}  # by whether the attack only queries
            calls = {True: 0, False: 0}
            for points, name in zip(attacked, chosen):
                passes[name in QUERY_ATTACKS] += points * iterations[name] * PASSES_PER_ITERATION[name]
                calls[name in QUERY_ATTACKS] += math.ceil(points / attack["batch_size"]) * iterations[name]
            flops, steps = forward * (n + passes[False] + passes[True]), calls[False]
            queries, query_flops = calls[True], forward * passes[True]
        else:
            flops = n * forward * (2 * attack["pgd"]["steps"] + 1)
            steps, queries, query_flops = math.ceil(n / attack["batch_size"]) * attack["pgd"]["steps"], 0, 0.0
        batch = min(n, attack["batch_size"])
        jobs.append(
            Job(
                evaluation,
                run.id,
                flops,
                steps,
                "attack",
                0,
                key,
                batch,
                weights=weights,
                queries=queries,
                query_flops=query_flops,
            )
        )
    return jobs


def plan_jobs(registry: Registry, workdir: Path | None = None) -> list[Job]:
    """Every training (with its evaluation), AutoAttack and PGD job the config's tables, figure
    and claims (their premises' twins included) need; AutoAttack priced from what the runs are
    expected to keep (measured under `workdir` where the run's files are there)."""
    config = registry.config
    sizes = {key: dataset_size(spec) for key, spec in config["datasets"].items()}
    shown: dict[str, Run] = {}
    evaluations: dict[str, set[tuple[str, str]]] = {}  # run id -> the attack jobs its tables need
    for table in config.get("tables", {}):
        for run in registry.table_runs(table):
            shown[run.id] = run
            evaluations.setdefault(run.id, set())
        for run, evaluation, weights in registry.table_evaluations(table):
            if evaluation in ATTACKS:
                evaluations[run.id].add((evaluation, weights))
    for run, evaluation, weights in registry.claim_evaluations():  # premises' runs too: the twins
        shown.setdefault(run.id, run)
        evaluations.setdefault(run.id, set())
        if evaluation in ATTACKS:
            evaluations[run.id].add((evaluation, weights))
    trained = {}
    for run in [*shown.values(), *registry.figure_runs(), *registry.exports.values()]:
        while run is not None and run.id not in trained:  # a run and the teachers it learns from
            trained[run.id], run = run, run.teacher
    survivals = Survivals(registry, workdir)
    jobs = [
        evaluation_job(run, sizes[run.dataset]) if run.evaluated else training_job(run, sizes[run.dataset])
        for run in trained.values()
    ]
    for run in shown.values():
        jobs += attack_jobs(run, sizes[run.dataset], registry.autoattack, evaluations[run.id], survivals)
    return jobs
