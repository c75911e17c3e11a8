import gzip
import hashlib

import numpy as np
import pytest
import torch
import torchvision

from advkd.data import (
    DeviceBatches,
    epoch_generator,
    load,
    prepare,
    random_crop,
    read_idx,
    select,
    write_idx,
)
from advkd.datasets import DATASETS
from advkd.sizes import known_size

from .conftest import FASHION_DIR, REPO


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_digits_split_and_statistics(digits):
    assert digits.train_x.shape == (1437, 1, 8, 8) and digits.test_x.shape == (360, 1, 8, 8)
    assert digits.train_x.dtype == torch.uint8 and digits.train_y.dtype == torch.int64
    assert digits.classes == [str(d) for d in range(10)]
    assert set(digits.test_y.tolist()) == set(range(10))
    expected_mean = digits.train_x.double().div(255).mean().item()
    assert digits.mean == [pytest.approx(expected_mean, abs=1e-6)]


def test_preparing_twice_gives_identical_bytes(tmp_path):
    first, second = tmp_path / "a.pt", tmp_path / "b.pt"
    prepare({"source": "digits"}, tmp_path, first)
    prepare({"source": "digits"}, tmp_path, second)
    assert sha256(first) == sha256(second)
    again = load(first)
    assert torch.equal(again.train_x, load(second).train_x)


def test_idx_reader_plain_and_gzip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x", images)
    write_idx(tmp_path / "x.gz", images)
    assert np.array_equal(read_idx(tmp_path / "x"), images)
    assert np.array_equal(read_idx(tmp_path / "x.gz"), images)


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_idx_dir_reads_debian_fashion_mnist(tmp_path):
    data = prepare({"source": "idx_dir", "path": str(FASHION_DIR)}, tmp_path, tmp_path / "fashion.pt")
    assert data.train_x.shape == (60000, 1, 28, 28) and data.test_x.shape == (10000, 1, 28, 28)
    assert data.num_classes == 10
    assert torch.bincount(data.test_y).tolist() == [1000] * 10


def torchvision_folder(root, name) -> None:
    """torchvision's raw layout of an MNIST-format dataset (root/<class>/raw/<files>, unpacked),
    from Debian's Fashion-MNIST files: real idx files, whatever the entry's own images are."""
    raw = root / DATASETS[name].torchvision / "raw"
    raw.mkdir(parents=True)
    for packed in FASHION_DIR.glob("*.gz"):
        (raw / packed.stem).write_bytes(gzip.decompress(packed.read_bytes()))


@pytest.mark.slow
@pytest.mark.parametrize("name", DATASETS)
def test_every_declared_dataset_loads_with_its_declared_size(name, tmp_path):
    """Each entry of the dataset table through the loader its config entry uses: digits offline;
    an idx dataset from its files and through torchvision's own class (offline, from a folder in
    torchvision's layout); CIFAR only where its download is already here."""
    declared = DATASETS[name]
    specs = {"digits": {"source": "digits"}} if name == "digits" else {}
    root = tmp_path / "downloads"
    if declared.idx_names:
        if not FASHION_DIR.is_dir():
            pytest.skip("needs Debian's dataset-fashion-mnist for idx files")
        torchvision_folder(root, name)
        specs["idx_dir"] = {"source": "idx_dir", "path": str(FASHION_DIR), "name": name}
    if declared.torchvision:
        if not declared.idx_names:  # a workflow's download, resources/downloads/<dataset key>/<its folder>
            folder = getattr(torchvision.datasets, declared.torchvision).base_folder
            found = sorted((REPO / "resources" / "downloads").glob(f"*/{folder}"))
            if not found:
                pytest.skip(f"{name}: torchvision's files are not here (offline; they download online)")
            root = found[0].parent
        specs["torchvision"] = {"source": "torchvision", "name": name, "download": False}
    for source, spec in specs.items():
        data = prepare(spec, root, tmp_path / f"{source}.pt")
        assert (tuple(data.train_x.shape[1:]), len(data.train_y), len(data.test_y), data.num_classes) == (
            declared.shape,
            declared.n_train,
            declared.n_test,
            declared.classes,
        ), source
        assert known_size(spec) == known_size(specs[next(iter(specs))])  # the size the check reads
        if declared.idx_names:
            assert tuple(data.classes) == declared.idx_names or source == "torchvision"


def test_class_filters_and_limit():
    labels = torch.tensor([0, 1, 2, 1, 0, 2, 1])
    images = torch.arange(7, dtype=torch.uint8).view(7, 1, 1, 1)
    _, y = select(images, labels, drop=[1])
    assert y.tolist() == [0, 2, 0, 2]
    x, y = select(images, labels, keep=[1])
    assert y.tolist() == [1, 1, 1] and x.flatten().tolist() == [1, 3, 6]
    _, y = select(images, labels, drop=[2], limit=3)
    assert y.tolist() == [0, 1, 1]


def test_batches_cover_the_split_once_and_are_reproducible():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1)
    labels = torch.arange(10)
    batches = DeviceBatches(images, labels, batch_size=4, device="cpu")
    assert len(batches) == 3
    seen = torch.cat([y for _, y in batches.iterate(epoch_generator(0, 0, "cpu"))])
    assert sorted(seen.tolist()) == list(range(10))
    again = torch.cat([y for _, y in batches.iterate(epoch_generator(0, 0, "cpu"))])
    other_epoch = torch.cat([y for _, y in batches.iterate(epoch_generator(0, 1, "cpu"))])
    assert torch.equal(seen, again) and not torch.equal(seen, other_epoch)
    x, y = next(batches.iterate(epoch_generator(0, 0, "cpu")))
    assert x.dtype == torch.float32 and torch.allclose(x.flatten() * 255, y.float())


def test_random_crop_is_a_shift_of_the_padded_image():
    image = torch.arange(1, 17, dtype=torch.float32).view(1, 1, 4, 4).repeat(64, 1, 1, 1)
    crops = random_crop(image, padding=2, generator=torch.Generator().manual_seed(0))
    assert crops.shape == image.shape
    padded = torch.nn.functional.pad(image[0], (2, 2, 2, 2))
    windows = {(i, j) for i in range(5) for j in range(5)}
    found = set()
    for crop in crops:
        match = [(i, j) for i, j in windows if torch.equal(padded[:, i : i + 4, j : j + 4], crop)]
        assert len(match) == 1
        found.add(match[0])
    assert len(found) > 10  # the offsets really vary


def test_flip_mirrors_about_half_the_batch():
    x = torch.arange(4, dtype=torch.float32).view(1, 1, 1, 4).repeat(200, 1, 1, 1)
    batches = DeviceBatches(
        (x * 50).to(torch.uint8), torch.zeros(200, dtype=torch.long), 200, "cpu", flip=True, shuffle=False
    )
    out, _ = next(batches.iterate(torch.Generator().manual_seed(1)))
    flipped = (out[:, 0, 0, 0] > out[:, 0, 0, 3]).sum().item()
    assert 60 < flipped < 140
