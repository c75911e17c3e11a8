"""Weights files that are only evaluated, RobustBench's model folder and its architectures: each
supported architecture loads a file written in RobustBench's layout and computes the network its
description gives; an evaluate-only run's id comes from the file's content; bad input is a
one-line config error before any job."""

from __future__ import annotations

import copy
import os
import shutil

import pytest
import torch
import yaml

import advkd.config
from advkd.architectures import ARCHITECTURES
from advkd.digests import file_sha256
from advkd.errors import ConfigError
from advkd.models import build_model
from advkd.models.files import load_into
from advkd.robustbench import SUPPORTED, cache_path
from advkd.train.teachers import check_weights_files

from .conftest import REPO, snakemake_dry_run
from .robustbench_layouts import forward, layout

PUBLIC = sorted({entry.model["arch"] for entry in SUPPORTED.values()})
# Small enough for a test, the full depth: a WRN-70-16 at width 0.05 has 11 blocks of 13-51 channels.
TEST_WIDTH = {"wrn28_10": 0.1, "wrn34_10": 0.1, "wrn34_20": 0.05, "wrn70_16": 0.05}
CIFAR = {"source": "torchvision", "name": "cifar10"}


def robustbench_file(path, state: dict) -> None:
    """As RobustBench's downloads are: under `state_dict`, with DataParallel's `module.` prefix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)


def test_every_supported_entry_is_an_architecture_advkd_builds():
    assert set(PUBLIC) == {"wrn28_10", "wrn34_10", "wrn34_20", "wrn70_16", "rb_resnet18", "rb_preact_resnet18"}
    assert all(arch in ARCHITECTURES for arch in PUBLIC)


@pytest.mark.parametrize("arch", PUBLIC)
def test_a_file_in_robustbench_layout_computes_the_described_network(arch, tmp_path):
    width = TEST_WIDTH.get(arch, 0.125)
    state = layout(arch, width, 3, 10)
    path = tmp_path / f"{arch}.pt"
    robustbench_file(path, state)
    spec = {"arch": arch, "width": width}
    model = load_into(build_model(spec, (3, 32, 32), 10, [0.5] * 3, [0.25] * 3), path, spec).eval()
    x = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, described = model(x), forward(arch, state, x)
    assert torch.allclose(ours, described, atol=1e-4, rtol=1e-4), (ours - described).abs().max()
    assert ours.std() > 0.1  # a network that computes something, not a constant


def test_a_file_without_batch_norm_counters_loads_as_torch_loads_it(tmp_path):
    """Files saved by torch before 0.4 lack `num_batches_tracked`; torch's batch norm fills them in."""
    spec, state = {"arch": "rb_resnet18", "width": 0.125}, layout("rb_resnet18", 0.125, 3, 10)
    path = tmp_path / "old.pt"
    robustbench_file(path, {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")})
    model = load_into(build_model(spec, (3, 32, 32), 10, [0.5] * 3, [0.25] * 3), path, spec).eval()
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(model(x), forward("rb_resnet18", state, x), atol=1e-4, rtol=1e-4)
    assert all(int(b) == 0 for name, b in model.named_buffers() if name.endswith("num_batches_tracked"))


class RunsCode:
    """A pickle that would run a command when loaded without `weights_only`."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize(
    ("arch", "millions"), [("wrn28_10", 36.5), ("wrn34_20", 184.5), ("wrn70_16", 267.0), ("rb_resnet18", 11.17)]
)
def test_full_size_architectures_have_the_layouts_shapes_and_the_published_sizes(arch, millions):
    """Every tensor of the full-size model has the shape the layout gives it, and the parameter
    count rounds to the papers' figure (Zagoruyko and Komodakis: WRN-28-10 36.5 M; Gowal et al.
    2020: WRN-34-20 184.5 M, WRN-70-16 267 M; ResNet-18 on CIFAR-10 11.17 M). Built on the meta
    device: no memory."""
    with torch.device("meta"):
        model = build_model({"arch": arch}, (3, 32, 32), 10, [0.5] * 3, [0.25] * 3)
    shapes = {k: tuple(v.shape) for k, v in layout(arch, 1.0, 3, 10).items() if not k.startswith("sub_block1.")}
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == shapes
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(millions, rel=3e-3)


# -- evaluate-only runs in a config -------------------------------------------------------------------
def demo_evaluating(weights: dict, dataset: str = "digits") -> dict:
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    config["datasets"]["cifar10"] = CIFAR
    config["runs"]["downloaded"] = {"dataset": dataset, "weights": weights}
    config["tables"]["table7"]["rows"].append({"label": "downloaded", "run": "downloaded"})
    return config


def evaluated(config: dict):
    (run,) = [r for r in advkd.config.check(config).runs if r.name == "downloaded"]
    return run


def test_an_evaluated_files_id_comes_from_its_content_not_its_path(tmp_path):
    state = layout("rb_resnet18", 0.125, 1, 10)
    model = {"arch": "rb_resnet18", "width": 0.125}
    first, moved = tmp_path / "a.pt", tmp_path / "elsewhere" / "b.pt"
    robustbench_file(first, state)
    moved.parent.mkdir()
    shutil.copy(first, moved)
    run = evaluated(demo_evaluating({"checkpoint": str(first), "model": model}))
    assert run.id.startswith("downloaded.file.") and run.weights_file == str(first)
    assert run.id == evaluated(demo_evaluating({"checkpoint": str(moved), "model": model})).id
    robustbench_file(moved, layout("rb_resnet18", 0.125, 1, 10, seed=1))
    assert run.id != evaluated(demo_evaluating({"checkpoint": str(moved), "model": model})).id
    assert run.spec["checkpoint_sha256"] == file_sha256(first)


def test_a_robustbench_id_reads_its_cache_path_with_the_declared_architecture(tmp_path):
    path = cache_path(tmp_path, "cifar10", "Linf", "Sehwag2021Proxy_R18")
    robustbench_file(path, layout("rb_resnet18", 1.0, 3, 10))
    run = evaluated(
        demo_evaluating({"robustbench": {"id": "Sehwag2021Proxy_R18", "model_dir": str(tmp_path)}}, "cifar10")
    )
    assert run.weights_file == str(tmp_path / "cifar10" / "Linf" / "Sehwag2021Proxy_R18.pt")
    assert run.spec["model"] == {"arch": "rb_resnet18"}
    files = advkd.config.check(
        demo_evaluating({"robustbench": {"id": "Sehwag2021Proxy_R18", "model_dir": str(tmp_path)}}, "cifar10")
    ).weights_files()
    check_weights_files(files)  # fits: no error


def bad_file(tmp_path) -> dict[str, tuple[dict, str, str]]:
    """case -> (weights entry, dataset, the one-line error)."""
    cifar_resnet = tmp_path / "cifar10" / "Linf" / "Sehwag2021Proxy_R18.pt"
    robustbench_file(cifar_resnet, layout("rb_resnet18", 1.0, 3, 10))
    wrn = tmp_path / "wrn.pt"
    robustbench_file(wrn, layout("wrn34_10", 0.1, 1, 10))
    small, elsewhere = {"arch": "wrn34_10", "width": 0.1}, str(tmp_path / "x")
    text, code = tmp_path / "notes.pt", tmp_path / "code.pt"
    text.write_text("not a checkpoint\n")
    torch.save({"state_dict": RunsCode(tmp_path / "ran")}, code)
    return {
        "not a checkpoint": (
            {"checkpoint": str(text), "model": small},
            "digits",
            r"^runs\.downloaded\.weights: .*notes\.pt: not a PyTorch checkpoint \(\w+: .*\)$",
        ),
        "a pickle that runs code": (
            {"checkpoint": str(code), "model": small},
            "digits",
            r"^runs\.downloaded\.weights: .*code\.pt: refused: it holds objects that loading would run code to build, "
            r"not only tensors \(.*system.*\)$",
        ),
        "missing file": (
            {"checkpoint": str(tmp_path / "nowhere.pt"), "model": small},
            "digits",
            r"^runs\.downloaded\.weights\.checkpoint: .*nowhere\.pt does not exist$",
        ),
        "missing RobustBench entry": (
            {"robustbench": {"id": "Sehwag2021Proxy_R18", "model_dir": elsewhere}},
            "cifar10",
            r"weights\.robustbench: .*x/cifar10/Linf/Sehwag2021Proxy_R18\.pt does not exist \(RobustBench's layout",
        ),
        "unknown id": (
            {"robustbench": {"id": "Gowal2020Uncovering_70_16", "model_dir": str(tmp_path)}},
            "cifar10",
            r"weights\.robustbench\.id: advkd knows no architecture for RobustBench's cifar10/Linf entry "
            r"'Gowal2020Uncovering_70_16' \(supported: Standard, .*\); give it as weights\.model",
        ),
        "hash differs": (
            {"checkpoint": str(wrn), "model": small, "sha256": "0" * 64},
            "digits",
            r"weights\.sha256: .*wrn\.pt has SHA-256 [0-9a-f]{64}, not the 0{64} the config expects",
        ),
        "weights of another model": (
            {"checkpoint": str(wrn), "model": {"arch": "wrn34_10", "width": 0.2}},
            "digits",
            r"^runs\.downloaded\.weights: .*wrn\.pt: does not fit model .*: keys 1 missing "
            r"\(block1\.layer\.0\.convShortcut\.weight\); \d+ of another shape",
        ),
        "weights for other data": (
            {"checkpoint": str(cifar_resnet), "model": {"arch": "rb_resnet18"}},
            "fashion",
            r"^runs\.downloaded\.weights: .*Sehwag2021Proxy_R18\.pt: does not fit model .*"
            r"keys 1 of another shape \(conv1\.weight\)$",
        ),
    }


@pytest.mark.parametrize(
    "case",
    ["missing file", "missing RobustBench entry", "unknown id", "hash differs", "weights of another model",
     "weights for other data", "not a checkpoint", "a pickle that runs code"],
)  # fmt: skip
def test_a_bad_weights_file_is_a_one_line_config_error(tmp_path, case):
    weights, dataset, message = bad_file(tmp_path)[case]
    config = demo_evaluating(weights, dataset)
    config["datasets"]["fashion"] = {"source": "torchvision", "name": "fashion_mnist"}
    with pytest.raises(ConfigError, match=message) as err:
        check_weights_files(advkd.config.check(copy.deepcopy(config)).weights_files())
    assert "\n" not in str(err.value)
    assert not (tmp_path / "ran").exists()  # refused without running the pickle's command


def test_an_evaluated_run_cannot_be_a_teacher_or_a_claims_side(tmp_path):
    path = tmp_path / "a.pt"
    robustbench_file(path, layout("rb_resnet18", 0.125, 1, 10))
    config = demo_evaluating({"checkpoint": str(path), "model": {"arch": "rb_resnet18", "width": 0.125}})
    taught = copy.deepcopy(config)
    taught["runs"]["resnet18_ard"]["teacher"] = "downloaded"
    with pytest.raises(
        ConfigError, match=r"runs\.resnet18_ard\.teacher: 'downloaded' is a weights file evaluated only"
    ):
        advkd.config.check(taught)
    claimed = copy.deepcopy(config)
    claimed["claims"]["x"] = {
        "source": "s",
        "table": "table7",
        "a": "downloaded",
        "b": 0.5,
        "column": "accuracy",
        "expect": "greater",
    }
    with pytest.raises(ConfigError, match=r"claims\.x\.a: 'downloaded' is a weights file, one model without seeds"):
        advkd.config.check(claimed)
    shutil.rmtree(tmp_path)


def test_snakemake_refuses_weights_that_do_not_fit_with_one_line_before_any_job(tmp_path):
    weights, dataset, _ = bad_file(tmp_path)["weights of another model"]
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(demo_evaluating(weights, dataset)))
    done = snakemake_dry_run(tmp_path / "work", config)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.startswith("advkd:")]
    assert len(lines) == 1 and lines[0].startswith("advkd: invalid config: runs.downloaded.weights: "), done.stderr
    assert "does not fit model" in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "work" / "results").exists()
