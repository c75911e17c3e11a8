"""One training loop for every method: ce, kd, tfkd_reg, byot and their adversarial forms.

The hot loop keeps everything on the device: batches come from `DeviceBatches`, losses and
accuracy are summed into device tensors, and the host only synchronises every `log_every` steps
(to check for a non-finite loss and update the progress bar) and once at the end of an epoch.
A checkpoint is written after every epoch, and mid-epoch when SIGTERM arrives (the epoch's batch
order, generator state and partial sums included); calling `fit` again with the same run id
resumes from it and, on CPU, ends with bitwise the same weights as an uninterrupted run.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from ..attacks import pgd_linf
from ..data import DeviceBatches, PreparedDataset, epoch_generator, select
from ..devices import autocast
from ..evaluate.accuracy import accuracy_and_loss
from ..experiments import ConfigError
from ..io import load_torch
from ..models import build_model
from ..models.folding import FoldedTwin
from .checkpoint import load_checkpoint, save_checkpoint
from .gradstats import GradientStats
from .methods import Method, get_method
from .schedule import build_optimizer, learning_rate

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


@dataclass(frozen=True)
class Runtime:
    """How to run (never what to compute): the device and the numeric/layout choices it implies."""

    device: torch.device
    autocast_dtype: torch.dtype | None
    channels_last: bool

    def autocast(self):
        return autocast(self.device, self.autocast_dtype)

    @classmethod
    def for_recipe(cls, recipe: dict, device: str | torch.device | None = None) -> Runtime:
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        precision = recipe.get("precision", "auto")
        on_cuda = device.type == "cuda"
        use_bf16 = precision == "bf16" or (precision == "auto" and on_cuda)
        # Both choices default to what pays on the device (bf16 and channels_last on CUDA only);
        # a recipe's explicit value holds on any device, so the CPU can run the GPU's path.
        return cls(device, torch.bfloat16 if use_bf16 else None, recipe.get("channels_last", on_cuda))


def build_for_data(model_spec: dict, data: PreparedDataset) -> nn.Module:
    return build_model(model_spec, data.image_shape, data.num_classes, data.mean, data.std)


def load_weights(model_spec: dict, data: PreparedDataset, path: str | Path, device: torch.device | str = "cpu") -> nn.Module:
    """A model of `model_spec` with weights read (weights_only) from `path`, in eval mode."""
    model = build_for_data(model_spec, data)
    model.load_state_dict(load_torch(path))
    return model.to(device).eval()


class _StepRunner:
    """Computes one training loss: attack (if adversarial), teacher logits, student logits."""

    def __init__(self, model: nn.Module, teacher: nn.Module | None, method: Method, spec: dict, runtime: Runtime):
        self.model, self.teacher, self.method, self.rt = model, teacher, method, runtime
        # torch.compile (recipe `compile: true`) for the student's training forward; off by default
        # because compiling costs minutes and did not pay off for short runs on CPU.
        forward = model.exits if method.exits else model  # a multi-exit method sees every exit
        self.forward = torch.compile(forward) if spec["recipe"].get("compile", False) else forward
        self.params = {k: v for k, v in spec["method"].items() if k not in ("name", "teacher_input")}
        self.teacher_input = spec["method"].get("teacher_input", "clean")
        self.attack = spec["recipe"].get("attack", {})
        # An eval-mode attack runs on a twin with the batch norms folded away (same function, less work).
        folded = FoldedTwin(model) if method.adversarial and self.attack.get("model_mode", "eval") == "eval" else None
        self.folded = folded if folded is not None and folded.folds else None

    def _adversarial(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        target = self.model
        if self.folded is not None:
            target = self.folded.sync()
        elif self.attack.get("model_mode", "eval") == "eval":
            self.model.eval()
        x_adv = pgd_linf(
            target, x, y,
            eps=self.attack["eps"], step_size=self.attack["step_size"], steps=self.attack["steps"],
            random_start=self.attack.get("random_start", True), generator=generator,
            autocast_dtype=self.rt.autocast_dtype,
        )  # fmt: skip
        self.model.train()
        return x_adv

    def __call__(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x_student = self._adversarial(x, y, generator) if self.method.adversarial else x
        z_t = None
        if self.teacher is not None:
            x_teacher = x if self.teacher_input == "clean" else x_student
            with torch.inference_mode(), self.rt.autocast():
                z_t = self.teacher(x_teacher).float()
            z_t = z_t.clone()  # an ordinary tensor, usable by autograd outside inference mode
        with self.rt.autocast():
            out = self.forward(x_student)
        final = out.logits[-1] if self.method.exits else out  # the deepest exit is what accuracy counts
        return self.method.loss(out, z_t, y, self.params), final


def fit(
    spec: dict,
    data: PreparedDataset,
    run_id: str,
    checkpoint_path: str | Path,
    teacher: nn.Module | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train the run described by `spec` (see README "Run specs") on `data`, resuming if possible."""
    recipe = spec["recipe"]
    method = get_method(spec["method"]["name"])
    if method.needs_teacher != (teacher is not None):
        need = "needs a teacher" if method.needs_teacher else "takes no teacher"
        raise ValueError(f"run {run_id}: method {spec['method']['name']!r} {need}")
    if method.exits != bool(spec["model"].get("exits", False)):
        raise ValueError(f"run {run_id}: method {spec['method']['name']!r} and model exits {spec['model'].get('exits', False)} do not go together")
    rt = Runtime.for_recipe(recipe, device)
    memory_format = torch.channels_last if rt.channels_last else torch.contiguous_format

    torch.manual_seed(spec["seed"])
    model = build_for_data(spec["model"], data).to(rt.device, memory_format=memory_format)
    optimizer = build_optimizer(model, recipe["optimizer"])
    if teacher is not None:
        teacher = teacher.to(rt.device, memory_format=memory_format).eval()

    flt = spec.get("data", {})
    for key in ("keep_classes", "drop_classes"):
        missing = [c for c in flt.get(key, []) if not 0 <= c < data.num_classes]
        if missing:
            raise ConfigError(f"run {run_id}: data.{key} names class {missing[0]}; the dataset has classes 0..{data.num_classes - 1}")
    train_x, train_y = select(data.train_x, data.train_y, flt.get("keep_classes"), flt.get("drop_classes"), flt.get("limit"))
    augment = recipe.get("augment", {})
    batches = DeviceBatches(
        train_x, train_y, recipe["batch_size"], rt.device,
        crop_padding=augment.get("crop_padding", 0), flip=augment.get("flip", False), channels_last=rt.channels_last,
    )  # fmt: skip
    test_x, test_y = data.test_x.to(rt.device), data.test_y.to(rt.device)
    grads = GradientStats(model)
    step_loss = _StepRunner(model, teacher, method, spec, rt)

    history: list[dict] = []
    grad_epochs: list[list[float]] = []
    start_epoch, partial = 0, None
    state = load_checkpoint(checkpoint_path, run_id, rt.device)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["cpu_rng"].cpu())
        if rt.device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), rt.device)
        history, grad_epochs, start_epoch = state["history"], state["gradients"], state["epoch"]
        partial = state.get("partial")  # set when SIGTERM stopped the run inside an epoch
        where = f"epoch {start_epoch + 1}, step {partial['step'] + 1}" if partial else f"epoch {start_epoch + 1}"
        log.info("run %s: resuming at %s of %d epochs", run_id, where, recipe["epochs"])

    def save(epochs_done: int, partial: dict | None = None) -> None:
        save_checkpoint(
            checkpoint_path,
            run_id,
            {
                "epoch": epochs_done,
                "partial": partial,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "cpu_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(rt.device) if rt.device.type == "cuda" else None,
                "history": history,
                "gradients": grad_epochs,
            },
        )

    epochs, steps_per_epoch = recipe["epochs"], len(batches)
    log_every = max(1, recipe.get("log_every", 50))
    preempted = _SigtermFlag()
    bar = tqdm(
        total=epochs * steps_per_epoch, initial=start_epoch * steps_per_epoch + (partial["step"] if partial else 0),
        desc=run_id, disable=not progress, file=sys.stderr, mininterval=1.0 if sys.stderr.isatty() else 30.0,
        ascii=not sys.stderr.isatty(), dynamic_ncols=True,
    )  # fmt: skip
    with preempted, bar:
        for epoch in range(start_epoch, epochs):
            started = time.time()
            model.train()
            generator = epoch_generator(spec["seed"], epoch, rt.device)
            order = batches.order(generator)
            loss_sum = torch.zeros((), device=rt.device)
            correct = torch.zeros((), device=rt.device, dtype=torch.long)
            first_bad = torch.full((), -1, device=rt.device, dtype=torch.long)
            seen, first_step = 0, 0
            if partial is not None:  # continue the interrupted epoch exactly where it stopped
                generator.set_state(partial["generator"])
                loss_sum.copy_(partial["loss_sum"])
                correct.copy_(partial["correct"])
                seen, first_step = partial["seen"], partial["step"]
                grads.load_state(partial["grad_sums"])
                partial = None
            for step, (x, y) in enumerate(batches.iterate(generator, order, first_step), start=first_step):
                lr = learning_rate(recipe["optimizer"]["lr"], recipe.get("schedule", {}), epoch, step, steps_per_epoch, epochs)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                loss, z_s = step_loss(x, y, generator)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grads.accumulate()
                optimizer.step()
                detached = loss.detach()
                first_bad = torch.where((first_bad < 0) & ~torch.isfinite(detached), step, first_bad)
                loss_sum += detached * len(y)
                correct += (z_s.detach().argmax(1) == y).sum()
                seen += len(y)
                if (step + 1) % log_every == 0 or step + 1 == steps_per_epoch:
                    _raise_if_bad(first_bad, run_id, epoch)
                    if preempted.received and step + 1 < steps_per_epoch:
                        done = {"step": step + 1, "generator": generator.get_state(), "loss_sum": loss_sum,
                                "correct": correct, "seen": seen, "grad_sums": grads.state()}  # fmt: skip
                        save(epoch, done)
                        raise Preempted(f"run {run_id}: SIGTERM received; checkpoint saved at epoch {epoch + 1}, step {step + 1}, where a re-run resumes")
                    bar.update((step + 1) - (bar.n - epoch * steps_per_epoch))
                    bar.set_postfix(loss=f"{loss_sum.item() / seen:.4f}", lr=f"{lr:.4g}", refresh=False)
            test_acc, test_loss = accuracy_and_loss(model, test_x, test_y, autocast_dtype=rt.autocast_dtype)
            row = {
                "epoch": epoch + 1,
                "lr": lr,
                "train_loss": loss_sum.item() / seen,
                "train_acc": correct.item() / seen,
                "test_acc": test_acc,
                "test_loss": test_loss,
                "seconds": round(time.time() - started, 3),
            }
            history.append(row)
            grad_epochs.append(grads.pop_epoch())
            log.info(
                "run %s epoch %d/%d: loss %.4f train acc %.4f test acc %.4f (%.1f s)",
                run_id, epoch + 1, epochs, row["train_loss"], row["train_acc"], test_acc, row["seconds"],
            )  # fmt: skip
            save(epoch + 1)
            if preempted.received and epoch + 1 < epochs:
                raise Preempted(f"run {run_id}: SIGTERM received; checkpoint saved after epoch {epoch + 1}, where a re-run resumes")
    return TrainResult(model.eval(), history, {"names": grads.names, "epochs": grad_epochs})


def _raise_if_bad(first_bad: torch.Tensor, run_id: str, epoch: int) -> None:
    bad_step = int(first_bad.item())
    if bad_step >= 0:
        raise NonFiniteLossError(f"run {run_id}: loss is NaN or infinite at epoch {epoch + 1}, step {bad_step + 1}")


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
