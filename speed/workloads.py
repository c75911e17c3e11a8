"""The timed workloads, on synthetic data of the real shapes (no download needed).

- `AdvkdEpoch`: `advkd.train.fit` for one epoch, everything included (model build, data to the
  device, batched augmentation, gradient statistics, the end-of-epoch test pass, the checkpoint).
- `BareSteps`: forward, loss, backward and optimiser step of the same model on one pre-made device
  batch: the machine's limit for that model.
- `ConventionalEpoch`: a torch `DataLoader` over a torchvision dataset with per-sample
  `RandomCrop`/`RandomHorizontalFlip`/`ToTensor`/`Normalize`, one worker per core, and the
  per-step `loss.item()` that reference training scripts log.
- `TeacherInference`: the teacher's forward on every batch under inference mode.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from advkd.data import PreparedDataset, write_idx
from advkd.data.prepared import from_raw
from advkd.data.readers import RawSplits
from advkd.train import Runtime, build_for_data, build_optimizer, fit


@dataclass(frozen=True)
class Case:
    """A model, its input shape, batch size, steps per timed epoch and augmentation."""

    label: str
    model: dict
    shape: tuple[int, int, int]
    batch_size: int
    steps: int
    crop_padding: int  # random crop (with flips) when augmenting
    paper_augments: bool  # whether the paper config's recipe augments (item 1); item 2 always does

    @property
    def n_train(self) -> int:
        return self.batch_size * self.steps


RESNET = Case("CIFAR ResNet18, width 16, 3x32x32", {"arch": "resnet18", "width": 0.25}, (3, 32, 32), 128, 12, 4, True)
MLP = Case(
    "Table-1 MLP 784-1200-1200-10, 1x28x28", {"arch": "mlp", "hidden": [1200, 1200]}, (1, 28, 28), 128, 60, 2, False
)
TEST_SIZE = 128  # one evaluation batch: the end-of-epoch test pass is in every advkd timing, kept small
ATTACK = {"eps": 8 / 255, "step_size": 2 / 255, "steps": 7, "random_start": True}  # PGD-7 (method at: eval mode)


def synthetic(case: Case, n_test: int = TEST_SIZE, seed: int = 0) -> PreparedDataset:
    """Random uint8 images and labels of the case's shape, as a prepared dataset."""
    rng = np.random.default_rng(seed)
    images = lambda n: rng.integers(0, 256, (n, *case.shape), dtype=np.uint8)  # noqa: E731
    labels = lambda n: rng.integers(0, 10, n).astype(np.int64)  # noqa: E731
    raw = RawSplits(
        images(case.n_train), labels(case.n_train), images(n_test), labels(n_test), [str(c) for c in range(10)]
    )
    return from_raw(raw)


OPTIMIZER = {"lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4}


def spec(case: Case, method: dict, attack: dict | None = None, augment: bool = True) -> dict:
    recipe = {
        "epochs": 1,
        "batch_size": case.batch_size,
        "optimizer": OPTIMIZER,
        "schedule": {"name": "constant"},
        "augment": {"crop_padding": case.crop_padding, "flip": True} if augment else {},
    }
    if attack:
        recipe["attack"] = attack
    return {"seed": 0, "model": case.model, "method": method, "recipe": recipe}


class AdvkdEpoch:
    """One epoch of `fit`, from scratch each call (a fresh checkpoint folder, so nothing resumes)."""

    def __init__(self, case, data, device, method: dict, teacher=None, attack=None, augment: bool = True):
        self.spec, self.data, self.device, self.teacher = spec(case, method, attack, augment), data, device, teacher

    def __call__(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            fit(
                self.spec,
                self.data,
                "bench.s0",
                Path(folder) / "ck.pt",
                teacher=self.teacher,
                device=self.device,
                progress=False,
            )


class BareSteps:
    """`case.steps` plain steps on one pre-made batch, with advkd's precision and layout choices."""

    def __init__(self, case: Case, data: PreparedDataset, device: torch.device):
        self.rt = Runtime.for_recipe({}, device)
        fmt = torch.channels_last if self.rt.channels_last else torch.contiguous_format
        torch.manual_seed(0)
        self.model = build_for_data(case.model, data).to(device, memory_format=fmt).train()
        self.optimizer = build_optimizer(self.model, OPTIMIZER, {"name": "ce"})
        self.x = data.train_x[: case.batch_size].to(device).float().div_(255).contiguous(memory_format=fmt)
        self.y = data.train_y[: case.batch_size].to(device)
        self.steps = case.steps

    def __call__(self) -> None:
        for _ in range(self.steps):
            with self.rt.autocast():
                loss = F.cross_entropy(self.model(self.x).float(), self.y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()


class TeacherInference:
    """The teacher's forward over `case.steps` batches, as the KD step runs it."""

    def __init__(self, case: Case, teacher: torch.nn.Module, data: PreparedDataset, device: torch.device):
        self.rt = Runtime.for_recipe({}, device)
        self.teacher = teacher
        self.x = data.train_x[: case.batch_size].to(device).float().div_(255)
        self.steps = case.steps

    def __call__(self) -> None:
        for _ in range(self.steps):
            with torch.inference_mode(), self.rt.autocast():
                self.teacher(self.x)


def write_torchvision_copy(data: PreparedDataset, root: Path) -> None:
    """The synthetic training split in the on-disk format torchvision reads: CIFAR-10 pickles for
    3 channels, MNIST idx files for 1."""
    x, y = data.train_x.numpy(), data.train_y.numpy()
    if x.shape[1] == 3:
        folder = root / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        batches = {"data_batch_1": (x, y), "test_batch": (x[:0], y[:0])}
        batches.update({f"data_batch_{i}": (x[:0], y[:0]) for i in range(2, 6)})
        for name, (images, labels) in batches.items():
            with open(folder / name, "wb") as f:
                pickle.dump({"data": images.reshape(len(images), x[0].size), "labels": labels.tolist()}, f)
    else:
        folder = root / "MNIST" / "raw"
        folder.mkdir(parents=True)
        write_idx(folder / "train-images-idx3-ubyte", x[:, 0])
        write_idx(folder / "train-labels-idx1-ubyte", y.astype(np.uint8))
        write_idx(folder / "t10k-images-idx3-ubyte", x[:1, 0])
        write_idx(folder / "t10k-labels-idx1-ubyte", y[:1].astype(np.uint8))


def torchvision_dataset(root: Path, channels: int, transform):
    from torchvision import datasets

    if channels == 1:
        return datasets.MNIST(str(root), train=True, transform=transform)

    class SyntheticCIFAR10(datasets.CIFAR10):
        """torchvision's CIFAR10 reader and __getitem__; only its MD5 table (which rejects
        synthetic files) and the class-name file are skipped."""

        def _check_integrity(self) -> bool:
            return True

        def _load_meta(self) -> None:
            self.classes = [str(c) for c in range(10)]

    return SyntheticCIFAR10(str(root), train=True, transform=transform)


class ConventionalEpoch:
    """One epoch the way reference KD code trains: DataLoader workers doing per-sample PIL transforms."""

    def __init__(self, case: Case, data: PreparedDataset, device: torch.device, root: Path):
        from torchvision import transforms

        write_torchvision_copy(data, root)
        side = case.shape[1]
        transform = transforms.Compose(
            [
                transforms.RandomCrop(side, padding=case.crop_padding),
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
                transforms.Normalize(data.mean, data.std),
            ]
        )
        self.dataset = torchvision_dataset(root, case.shape[0], transform)
        assert len(self.dataset) == case.n_train
        torch.manual_seed(0)
        self.model = build_for_data(case.model, data).to(device).train()
        self.optimizer = build_optimizer(self.model, OPTIMIZER, {"name": "ce"})
        self.case, self.device = case, device

    def __call__(self) -> None:
        loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_size=self.case.batch_size,
            shuffle=True,
            num_workers=os.cpu_count() or 1,
            pin_memory=self.device.type == "cuda",
        )
        running = 0.0
        for x, y in loader:
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            loss = F.cross_entropy(self.model(x), y)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            running += loss.item()
