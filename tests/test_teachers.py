"""Teachers from weights files: a file in the public robust checkpoints' layout (TRADES' and
RobustBench's WideResNet-34-10) loads as it is and computes the documented network; its SHA-256,
not its path, enters the students' ids; a missing, changed or ill-fitting file is a one-line error."""

import copy
import json
import shutil

import pytest
import torch
import yaml

import advkd.config
from advkd.digests import file_sha256
from advkd.errors import ConfigError
from advkd.models import build_model
from advkd.train import load_model

from .conftest import QUICK, REPO, checkout_like, snakemake
from .robustbench_layouts import wide_resnet_forward, wide_resnet_layout

WIDTH = 0.1  # a WRN-34-1: the full depth, tenth of the channels


def robustbench_layout(channels: int, classes: int, generator: torch.Generator, width: float = WIDTH) -> dict:
    return wide_resnet_layout(34, 10, width, channels, classes, generator, sub_block1=True)


@pytest.fixture(scope="module")
def robustbench_file(digits, tmp_path_factory):
    """What a RobustBench download looks like: the state dict under `state_dict`, every key with
    DataParallel's `module.` prefix, TRADES' unused `sub_block1` group included."""
    state = robustbench_layout(digits.image_shape[0], digits.num_classes, torch.Generator().manual_seed(0))
    path = tmp_path_factory.mktemp("download") / "Zhang2019Theoretically.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    return path, state


def file_teacher(path, **extra) -> dict:
    return {"checkpoint_sha256": file_sha256(path), "model": {"arch": "wrn34_10", "width": WIDTH}, **extra}


def test_a_robustbench_layout_file_loads_and_computes_the_documented_network(digits, robustbench_file):
    path, state = robustbench_file
    teacher = load_model(file_teacher(path), digits, path, "cpu")
    x = digits.test_x[:64].float() / 255  # pixels in [0, 1]: these models take them unnormalised
    with torch.no_grad():
        expected = wide_resnet_forward(state, x, 34)
        assert torch.allclose(teacher(x), expected, atol=1e-4, rtol=1e-4)
    assert not teacher.training


def test_our_wideresnet_has_the_layouts_keys_and_the_papers_size():
    ours = build_model({"arch": "wrn34_10"}, (3, 32, 32), 10, [0.5] * 3, [0.25] * 3)
    layout = robustbench_layout(3, 10, torch.Generator().manual_seed(0), width=1.0)
    theirs = {key: value.shape for key, value in layout.items() if not key.startswith("sub_block1.")}
    assert {key: value.shape for key, value in ours.state_dict().items()} == theirs
    assert sum(p.numel() for p in ours.parameters()) == 46_160_474  # WRN-34-10 on CIFAR-10: 46.2 M


def test_a_file_that_changed_since_planning_or_does_not_fit_is_a_one_line_error(digits, robustbench_file, tmp_path):
    path, state = robustbench_file
    changed = tmp_path / "changed.pt"
    shutil.copy(path, changed)
    planned = file_teacher(changed)
    torch.save({"state_dict": {**state, "fc.bias": torch.ones_like(state["fc.bias"])}}, changed)
    with pytest.raises(ValueError, match=r"changed\.pt: SHA-256 [0-9a-f]{64}, but this run was planned with"):
        load_model(planned, digits, changed, "cpu")
    wrong = tmp_path / "resnet.pt"
    torch.save(build_model({"arch": "resnet18", "width": 0.25}, (1, 8, 8), 10, [0.5], [0.25]).state_dict(), wrong)
    with pytest.raises(
        ValueError, match=r"resnet\.pt: does not fit model .*: keys \d+ missing \(.*\); \d+ unexpected"
    ) as err:
        load_model(file_teacher(wrong), digits, wrong, "cpu")
    assert "\n" not in str(err.value)


def demo_with_file_teacher(path, **teacher) -> dict:
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    run = copy.deepcopy(config["runs"]["resnet18_ard"])
    run["teacher"] = {"checkpoint": str(path), "model": {"arch": "wrn34_10", "width": WIDTH}, **teacher}
    config["runs"]["resnet18_ard_file_teacher"] = run
    return config


def student_id(config: dict) -> str:
    (run,) = [r for r in advkd.config.check(config).runs if r.name == "resnet18_ard_file_teacher"]
    return run.id


def test_the_files_content_not_its_path_enters_the_students_id(robustbench_file, tmp_path):
    path, state = robustbench_file
    moved = tmp_path / "elsewhere.pt"
    shutil.copy(path, moved)
    assert student_id(demo_with_file_teacher(path)) == student_id(demo_with_file_teacher(moved))
    torch.save({"state_dict": {**state, "fc.bias": torch.ones_like(state["fc.bias"])}}, moved)
    assert student_id(demo_with_file_teacher(path)) != student_id(demo_with_file_teacher(moved))
    assert student_id(demo_with_file_teacher(path, sha256=file_sha256(path))) == student_id(
        demo_with_file_teacher(path)
    )


def test_a_missing_or_mismatched_teacher_file_is_a_config_error_naming_it(robustbench_file, tmp_path):
    path, _ = robustbench_file
    with pytest.raises(
        ConfigError, match=r"runs\.resnet18_ard_file_teacher\.teacher\.checkpoint: .*nowhere\.pt does not exist"
    ):
        advkd.config.check(demo_with_file_teacher(tmp_path / "nowhere.pt"))
    with pytest.raises(
        ConfigError, match=r"teacher\.sha256: .*Zhang2019Theoretically\.pt has SHA-256 [0-9a-f]{64}, not the 0{64}"
    ):
        advkd.config.check(demo_with_file_teacher(path, sha256="0" * 64))


@pytest.mark.slow
def test_snakemake_distils_from_a_file_teacher(robustbench_file, tmp_path):
    """The workflow's path: the file is the distill job's input, the job loads it and trains."""
    path, _ = robustbench_file
    work = checkout_like(tmp_path)
    config = demo_with_file_teacher(path)
    overlay = tmp_path / "file_teacher.yaml"
    overlay.write_text(
        yaml.safe_dump({"runs": {"resnet18_ard_file_teacher": config["runs"]["resnet18_ard_file_teacher"]}})
    )
    merged = advkd.config.load(work / "demo.yaml")
    for extra in (QUICK, overlay):
        advkd.config.merge(merged, advkd.config.load(extra))
    run_id = student_id(merged)
    target = f"results/runs/{run_id}/metrics.json"
    result = snakemake(work, target, extra_configs=(overlay,))
    assert result.returncode == 0, result.stderr[-3000:]
    assert str(path) in result.stdout + result.stderr  # the file is the job's teacher input
    metrics = json.loads((work / target).read_text())
    assert 0 <= metrics["test_acc"] <= 1
    assert not list((work / "results" / "runs").glob("robust_teacher.*"))  # no teacher run was trained
