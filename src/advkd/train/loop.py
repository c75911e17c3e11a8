"""One training loop for every method of `advkd.methods`.

The hot loop keeps everything on the device: batches come from `DeviceBatches`, losses and
accuracy are summed into device tensors (`EpochTotals`), and the host only synchronises every
`log_every` steps (to check for a non-finite loss and update the progress bar) and once at the
end of an epoch. With recipe `capture`, a step's device work is one CUDA graph
(`advkd.train.capture`), fed through tensors updated in place. A checkpoint is written after
every epoch, and mid-epoch when SIGTERM arrives (the epoch's batch order, generator state and
partial sums included); calling `fit` again with the same run id resumes from it and, on CPU,
ends with bitwise the same weights as an uninterrupted run.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from ..attacks import pgd_linf
from ..data import DeviceBatches, PreparedDataset, hold_out, reseed, select
from ..devices import autocast
from ..errors import ConfigError
from ..evaluate.accuracy import scored
from ..io import load_torch
from ..methods import Method, check_method_fits, get_method
from ..models import build_model
from ..models.folding import FoldedTwin
from ..schema import complete, complete_spec
from .capture import CapturedStep
from .checkpoint import load_checkpoint, save_checkpoint
from .ema import WeightAverage
from .gradstats import GradientStats
from .objectives import ATTACK_OBJECTIVES, LOSSES, Step
from .schedule import build_optimizer, learning_rate
from .validation import Validation, scored_after

log = logging.getLogger(__name__)


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the run, epoch and step."""


class Preempted(RuntimeError):
    """SIGTERM arrived: at its next sync point (at most `log_every` steps later) the loop saved a
    checkpoint of exactly where it was, mid-epoch included, and stopped; a re-run resumes there."""


@dataclass
class TrainResult:
    model: nn.Module
    history: list[dict] = field(default_factory=list)
    gradients: dict = field(default_factory=dict)
    best: dict | None = None  # with recipe `validation`: {"epoch", "score", "state"} of the best weights
    # The last epoch's test (per-point correctness, loss) when it was computed in fp32, as the
    # run's metrics compute it: `run_metrics` reuses it rather than making the same pass again.
    final_test: tuple[torch.Tensor, float] | None = None


@dataclass(frozen=True)
class Runtime:
    """How to run (never what to compute): the device and the numeric/layout choices it implies."""

    device: torch.device
    autocast_dtype: torch.dtype | None
    channels_last: bool

    def autocast(self):
        return autocast(self.device, self.autocast_dtype)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    @classmethod
    def for_recipe(cls, recipe: dict, device: str | torch.device | None = None) -> Runtime:
        """`precision` and `channels_last` default ("auto") to what pays on the device: bf16
        autocast and channels_last on CUDA only. An explicit value holds on any device, so the
        CPU can run the GPU's path (the tests do)."""
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        on_cuda = device.type == "cuda"
        recipe = complete(recipe, "recipe")
        precision, channels_last = recipe["precision"], recipe["channels_last"]
        use_bf16 = precision == "bf16" or (precision == "auto" and on_cuda)
        return cls(
            device, torch.bfloat16 if use_bf16 else None, on_cuda if channels_last == "auto" else bool(channels_last)
        )


def build_for_data(model_spec: dict, data: PreparedDataset) -> nn.Module:
    return build_model(model_spec, data.image_shape, data.num_classes, data.mean, data.std)


def load_weights(
    model_spec: dict, data: PreparedDataset, path: str | Path, device: torch.device | str = "cpu"
) -> nn.Module:
    """A model of `model_spec` with weights read (weights_only) from `path`, in eval mode."""
    model = build_for_data(model_spec, data)
    model.load_state_dict(load_torch(path))
    return model.to(device).eval()


class _StepRunner:
    """Computes one training loss: the attack (if adversarial, with the method's objective), then
    the method's loss from the forward passes it asks the `Step` for."""

    def __init__(self, model: nn.Module, teacher: nn.Module | None, method: Method, spec: dict, runtime: Runtime):
        self.model, self.teacher, self.method, self.rt = model, teacher, method, runtime
        # torch.compile (recipe `compile: true`) for the student's training forward; off by default
        # because compiling costs minutes and did not pay off for short runs on CPU.
        forward = model.exits if method.exits else model  # a multi-exit method sees every exit
        self.forward = torch.compile(forward) if spec["recipe"]["compile"] else forward
        self.loss = LOSSES[method.loss]
        self.options = method.loss_options(spec["method"])
        self.teacher_sees_adversarial = spec["method"].get("teacher_input") == "adversarial"
        self.attack = spec["recipe"].get("attack")
        # The method's own choice (advkd.methods): batch norm's running statistics while attacking
        # (eval), or the batch's (train: every attack step moves the running statistics too).
        self.eval_attack = method.adversarial and spec["method"]["attack_mode"] == "eval"
        # An eval-mode attack runs on a twin with the batch norms folded away (same function, less work).
        folded = FoldedTwin(model) if self.eval_attack else None
        self.folded = folded if folded is not None and folded.folds else None

    def _adversarial(self, step: Step, generator: torch.Generator) -> torch.Tensor:
        target = self.model
        if self.folded is not None:
            target = self.folded.sync()
        elif self.eval_attack:
            self.model.eval()
        x_adv = pgd_linf(
            target,
            step.x,
            step.y,
            eps=self.attack["eps"],
            step_size=self.attack["step_size"],
            steps=self.attack["steps"],
            random_start=self.attack["random_start"],
            generator=generator,
            autocast_dtype=self.rt.autocast_dtype,
            objective=ATTACK_OBJECTIVES[self.method.attack](step, target, self.method.loss, self.options),
            start=self.method.attack_start,
        )
        self.model.train()
        return x_adv

    def __call__(
        self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator, progress: float = 0.0
    ) -> tuple[torch.Tensor, Step]:
        """The loss, and the step (its x', the logits that accuracy counts)."""
        step = Step(x, y, self.forward, self.teacher, self.rt.autocast, self.method.adversarial,
                    self.teacher_sees_adversarial, progress)  # fmt: skip
        if self.method.adversarial:
            step.x_adv = self._adversarial(step, generator)
        return self.loss(step, **self.options), step


class EpochTotals:
    """An epoch's running sums, kept in device tensors that are updated in place (so that adding
    to them never waits for the device, and a captured step keeps adding to the same tensors);
    saved whole in a mid-epoch checkpoint. `add` is the device's part of a step, `count` the host's."""

    def __init__(self, device: torch.device):
        self.loss_sum = torch.zeros((), device=device)
        self.correct = torch.zeros((), device=device, dtype=torch.long)
        self.first_bad = torch.full((), -1, device=device, dtype=torch.long)  # first non-finite step, or -1
        self.step_index = torch.zeros((), device=device, dtype=torch.long)
        self.seen, self.steps = 0, 0  # images and steps this epoch

    def reset(self) -> None:
        for total in (self.loss_sum, self.correct, self.step_index):
            total.zero_()
        self.first_bad.fill_(-1)
        self.seen, self.steps = 0, 0

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        bad_now = (self.first_bad < 0) & ~torch.isfinite(loss)
        self.first_bad.copy_(torch.where(bad_now, self.step_index, self.first_bad))
        self.step_index += 1
        self.loss_sum += loss * len(y)
        self.correct += (logits.argmax(1) == y).sum()

    def count(self, images: int) -> None:
        self.seen += images
        self.steps += 1

    def raise_if_bad(self, run_id: str, epoch: int) -> None:
        bad_step = int(self.first_bad.item())
        if bad_step >= 0:
            raise NonFiniteLossError(f"run {run_id}: loss is NaN or infinite at epoch {epoch + 1}, step {bad_step + 1}")

    def state(self) -> dict:
        return {"step": self.steps, "loss_sum": self.loss_sum, "correct": self.correct, "seen": self.seen}

    def load_state(self, state: dict) -> None:
        self.reset()
        self.loss_sum.copy_(state["loss_sum"])
        self.correct.copy_(state["correct"])
        self.step_index.fill_(state["step"])
        self.seen, self.steps = state["seen"], state["step"]


class _Training:
    """One run's model, optimiser, data and history, from a fresh start or its checkpoint."""

    def __init__(self, spec: dict, data: PreparedDataset, run_id: str, checkpoint_path, teacher, device):
        self.spec, self.recipe, self.run_id, self.checkpoint_path = spec, spec["recipe"], run_id, checkpoint_path
        self.method = get_method(spec["method"]["name"])
        self.rt = Runtime.for_recipe(self.recipe, device)
        torch.manual_seed(spec["seed"])
        self.model = build_for_data(spec["model"], data).to(self.rt.device, memory_format=self.rt.memory_format)
        # With `capture`, the step reads its rate and progress from device tensors (advkd.train.capture).
        graph_ready = self.recipe["capture"]
        self.rate = torch.zeros((), device=self.rt.device) if graph_ready else None
        self.progress: float | torch.Tensor = torch.zeros((), device=self.rt.device) if graph_ready else 0.0
        self.optimizer = build_optimizer(self.model, self.recipe["optimizer"], spec["method"], rate=self.rate)
        if teacher is not None:  # frozen: an attack through it (AdaAD) takes input gradients only
            teacher = teacher.to(self.rt.device, memory_format=self.rt.memory_format).eval().requires_grad_(False)
        self.average = None
        if self.method.teacher == "average":  # the student's own weight average teaches it (ADR)
            self.average = WeightAverage(self.model, spec["method"]["average_decay"])
            teacher = self.average.model
        flt = spec["data"]
        train_x, train_y = select(
            data.train_x, data.train_y, flt.get("keep_classes"), flt.get("drop_classes"), flt.get("limit")
        )
        self.validation = None
        if "validation" in self.recipe:
            train_x, train_y, val_x, val_y = hold_out(train_x, train_y, self.recipe["validation"]["size"])
            attack = self.recipe.get("attack") if self.method.adversarial else None
            settings = self.recipe["validation"]
            self.validation = Validation(val_x, val_y.to(self.rt.device), settings, attack, self.rt.autocast_dtype)
        augment = self.recipe["augment"]
        self.batches = DeviceBatches(
            train_x,
            train_y,
            self.recipe["batch_size"],
            self.rt.device,
            crop_padding=augment["crop_padding"],
            flip=augment["flip"],
            channels_last=self.rt.channels_last,
        )
        self.test_x, self.test_y = data.test_x.to(self.rt.device), data.test_y.to(self.rt.device)
        self.grads = GradientStats(self.model)
        self.step_loss = _StepRunner(self.model, teacher, self.method, spec, self.rt)
        self.generator = torch.Generator(device=self.rt.device)  # one object, reseeded every epoch
        self.totals = EpochTotals(self.rt.device)
        self.step = (
            CapturedStep(self._body, self.recipe["batch_size"], self.rt.device, self.generator)
            if graph_ready
            else self._body
        )
        self.history: list[dict] = []
        self.grad_epochs: list[list[float]] = []
        self.start_epoch, self.partial = 0, None
        self.final_test: tuple[torch.Tensor, float] | None = None

    @property
    def steps_per_epoch(self) -> int:
        return len(self.batches)

    def restore(self) -> None:
        """Continue from the run's checkpoint, if it has one (a SIGTERM's mid-epoch one included)."""
        state = load_checkpoint(self.checkpoint_path, self.run_id, self.rt.device)
        if state is None:
            return
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.rate is not None:  # the loaded groups hold a copy of the rate: point them at ours again
            for group in self.optimizer.param_groups:
                group["lr"] = self.rate
        if self.average is not None:
            self.average.model.load_state_dict(state["average"])
        if self.validation is not None:
            self.validation.best = state["best"]
        torch.set_rng_state(state["cpu_rng"].cpu())
        if self.rt.device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), self.rt.device)
        self.history, self.grad_epochs, self.start_epoch = state["history"], state["gradients"], state["epoch"]
        self.partial = state["partial"]
        where = f"epoch {self.start_epoch + 1}" + (f", step {self.partial['step'] + 1}" if self.partial else "")
        log.info("run %s: resuming at %s of %d epochs", self.run_id, where, self.recipe["epochs"])

    def save(self, epochs_done: int, partial: dict | None = None) -> None:
        cuda = self.rt.device.type == "cuda"
        save_checkpoint(
            self.checkpoint_path,
            self.run_id,
            {
                "epoch": epochs_done,
                "partial": partial,
                "history": self.history,
                "gradients": self.grad_epochs,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "average": self.average.model.state_dict() if self.average is not None else None,
                "best": self.validation.best if self.validation is not None else None,
                "cpu_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(self.rt.device) if cuda else None,
            },
        )

    def run_epoch(self, epoch: int, preempted: _SigtermFlag, bar: tqdm) -> tuple[EpochTotals, float]:
        """Train one epoch (from where an interrupted one stopped); its totals and last rate."""
        self.model.train()
        generator, totals = reseed(self.generator, self.spec["seed"], epoch), self.totals
        order = self.batches.order(generator)
        totals.reset()
        if self.partial is not None:  # continue the interrupted epoch exactly where it stopped
            generator.set_state(self.partial["generator"])
            totals.load_state(self.partial)
            self.grads.load_state(self.partial["grad_sums"])
            self.partial = None
        steps, lr = self.steps_per_epoch, float("nan")
        for step, (x, y) in enumerate(self.batches.iterate(generator, order, totals.steps), start=totals.steps):
            lr = self.train_step(x, y, epoch, step)
            if (step + 1) % self.recipe["log_every"] == 0 or step + 1 == steps:
                totals.raise_if_bad(self.run_id, epoch)
                if preempted.received and step + 1 < steps:
                    self.save(
                        epoch, {**totals.state(), "generator": generator.get_state(), "grad_sums": self.grads.state()}
                    )
                    raise Preempted(
                        f"run {self.run_id}: SIGTERM received; checkpoint saved at epoch {epoch + 1}, "
                        f"step {step + 1}, where a re-run resumes"
                    )
                bar.update((step + 1) - (bar.n - epoch * steps))
                bar.set_postfix(loss=f"{totals.loss_sum.item() / totals.seen:.4f}", lr=f"{lr:.4g}", refresh=False)
        return totals, lr

    def train_step(self, x: torch.Tensor, y: torch.Tensor, epoch: int, step: int) -> float:
        """One optimiser step on the batch (x, y), the `step`-th of `epoch`; returns its learning rate."""
        steps = self.steps_per_epoch
        lr = learning_rate(
            self.recipe["optimizer"]["lr"], self.recipe["schedule"], epoch, step, steps, self.recipe["epochs"]
        )
        progress = (epoch * steps + step) / (self.recipe["epochs"] * steps)
        if self.rate is not None:  # filled in place: a captured step reads these very tensors
            self.rate.fill_(lr)
            self.progress.fill_(progress)
        else:
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            self.progress = progress
        self.step(x, y)
        self.totals.count(len(y))
        return lr

    def _body(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """The device's work of one step: nothing in it reads a tensor on the host (capturable)."""
        loss, taken = self.step_loss(x, y, self.generator, self.progress)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.grads.accumulate()
        self.optimizer.step()
        if self.average is not None:
            self.average.update()
        self.totals.add(loss.detach(), taken.accuracy_logits().detach(), y)

    def end_epoch(self, epoch: int, totals: EpochTotals, lr: float, started: float) -> None:
        """Test accuracy and loss (every `test_every` epochs and the last), the history row, the
        epoch's gradient statistics, a checkpoint."""
        epochs = self.recipe["epochs"]
        row = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": totals.loss_sum.item() / totals.seen,
            "train_acc": totals.correct.item() / totals.seen,
            "test_acc": None,
            "test_loss": None,
        }
        if scored_after(epoch, epochs, self.recipe["test_every"]):
            test_started = time.time()
            correct, loss = scored(self.model, self.test_x, self.test_y, autocast_dtype=self.rt.autocast_dtype)
            accuracy, seconds = correct.float().mean().item(), round(time.time() - test_started, 3)
            row.update(test_acc=accuracy, test_loss=loss, test_seconds=seconds)
            if epoch + 1 == epochs and self.rt.autocast_dtype is None:
                self.final_test = (correct, loss)
        row["seconds"] = round(time.time() - started, 3)
        if self.validation is not None and self.validation.due(epoch, epochs):
            row.update(self.validation.score(self.model, epoch))
        self.history.append(row)
        self.grad_epochs.append(self.grads.pop_epoch())
        tested = "" if row["test_acc"] is None else f" test acc {row['test_acc']:.4f}"
        log.info(
            "run %s epoch %d/%d: loss %.4f train acc %.4f%s (%.1f s)",
            self.run_id,
            epoch + 1,
            epochs,
            row["train_loss"],
            row["train_acc"],
            tested,
            row["seconds"],
        )
        self.save(epoch + 1)


def fit(
    spec: dict,
    data: PreparedDataset,
    run_id: str,
    checkpoint_path: str | Path,
    teacher: nn.Module | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train the run described by `spec` on `data`, resuming if possible (docs/library.md, "Training
    one run from Python": keys left out take the schema's defaults)."""
    spec = complete_spec(spec)
    _check(spec, data, run_id, teacher)
    run = _Training(spec, data, run_id, checkpoint_path, teacher, device)
    run.restore()
    epochs, steps = spec["recipe"]["epochs"], run.steps_per_epoch
    done = run.start_epoch * steps + (run.partial["step"] if run.partial else 0)
    tty = sys.stderr.isatty()
    bar = tqdm(
        total=epochs * steps,
        initial=done,
        desc=run_id,
        disable=not progress,
        file=sys.stderr,
        mininterval=1.0 if tty else 30.0,
        ascii=not tty,
        dynamic_ncols=True,
    )
    with _SigtermFlag() as preempted, bar:
        for epoch in range(run.start_epoch, epochs):
            started = time.time()
            totals, lr = run.run_epoch(epoch, preempted, bar)
            run.end_epoch(epoch, totals, lr, started)
            if preempted.received and epoch + 1 < epochs:
                raise Preempted(
                    f"run {run_id}: SIGTERM received; checkpoint saved after epoch {epoch + 1}, where a re-run resumes"
                )
    best = run.validation.best if run.validation is not None else None
    gradients = {"names": run.grads.names, "epochs": run.grad_epochs}
    return TrainResult(run.model.eval(), run.history, gradients, best, run.final_test)


def repeated_step(
    spec: dict, data: PreparedDataset, teacher: nn.Module | None = None, device: str | torch.device | None = None
) -> tuple[Callable[[], float], nn.Module]:
    """The training step of `spec` on its first batch, to call again and again, and the model it
    trains: what a steady-state timing measures (the GPU check), without the epoch's test pass,
    logging or checkpoint. Its first call is the first step `fit` takes."""
    spec = complete_spec(spec)
    _check(spec, data, "steady.s0", teacher)
    run = _Training(spec, data, "steady.s0", None, teacher, device)
    generator = reseed(run.generator, spec["seed"], 0)
    x, y = next(iter(run.batches.iterate(generator, run.batches.order(generator), 0)))
    run.model.train()
    return (lambda: run.train_step(x, y, 0, 0)), run.model


def _check(spec: dict, data: PreparedDataset, run_id: str, teacher: nn.Module | None) -> None:
    """What the config check cannot know: the teacher actually passed, the data actually loaded."""
    problem = check_method_fits(get_method(spec["method"]["name"]), teacher is not None, spec["model"])
    if problem is not None:
        raise ValueError(f"run {run_id}: {problem[1]}")
    for key in ("keep_classes", "drop_classes"):
        missing = [c for c in spec["data"].get(key, []) if not 0 <= c < data.num_classes]
        if missing:
            raise ConfigError(
                f"run {run_id}: data.{key} names class {missing[0]}; the dataset has classes 0..{data.num_classes - 1}"
            )


class _SigtermFlag:
    """Within the block, SIGTERM only sets `received`; the loop stops at its next sync point."""

    received = False

    def _handler(self, signum, frame):
        self.received = True
        log.warning("SIGTERM received: stopping at the next sync point")

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGTERM, self._handler)
        except ValueError:  # not the main thread: leave signals alone
            self._previous = None
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
        return False
