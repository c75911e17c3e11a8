import pytest
import torch

from advkd.evaluate import STANDARD_ATTACKS, run_autoattack, subset_accuracies
from advkd.evaluate.autoattack import Unfoolable
from advkd.models.folding import folded
from advkd.points import unpack
from advkd.train import fit

from .conftest import mlp_spec


@pytest.mark.slow
def test_autoattack_standard_on_a_trained_model(trained_mlp, digits):
    model = trained_mlp.model
    result = run_autoattack(model, digits.test_x[:100], digits.test_y[:100], eps=0.05, batch_size=100)
    assert result["n"] == 100 and list(result["after"]) == list(STANDARD_ATTACKS)
    assert result["clean_acc"] > 0.9
    assert 0 <= result["robust_acc"] <= result["clean_acc"]
    stages = [result["clean_acc"], *result["after"].values()]
    assert stages == sorted(stages, reverse=True)  # each attack only removes points
    assert result["robust_acc"] < result["clean_acc"]  # an eps of 0.05 does break some digits
    assert all(not p.requires_grad for p in model.parameters())
    points = {stage: unpack(packed) for stage, packed in result["points"].items()}  # kept for the claims
    assert list(points) == ["clean", *STANDARD_ATTACKS]
    assert points["clean"].mean() == pytest.approx(result["clean_acc"])
    for before, stage in zip(["clean", *STANDARD_ATTACKS], STANDARD_ATTACKS):
        assert points[stage].mean() == pytest.approx(result["after"][stage])
        assert not (points[stage] & ~points[before]).any()  # a point broken once stays broken


def test_subset_accuracies_split_by_class(trained_mlp, digits):
    acc = subset_accuracies(trained_mlp.model, digits.test_x, digits.test_y, classes=[1])
    ones = (digits.test_y == 1).sum().item()
    n = len(digits.test_y)
    assert acc["all"] == pytest.approx((acc["only"] * ones + acc["without"] * (n - ones)) / n)
    assert acc["only"] > 0.8


@pytest.mark.slow
def test_autoattack_on_the_folded_twin_equals_the_eval_model(digits, tmp_path):
    """The rules attack the folded twin: the same points fall at every stage as on the model."""
    spec = mlp_spec(model={"arch": "resnet18", "width": 0.125})
    spec["recipe"] = {**spec["recipe"], "epochs": 2}
    model = fit(spec, digits, "resnet.s0.test", tmp_path / "checkpoint.pt", progress=False).model
    x, y = digits.test_x[:60], digits.test_y[:60]
    settings = {"eps": 0.05, "version": "custom", "attacks": ["apgd-ce", "apgd-t"], "batch_size": 30}
    twin = folded(model)
    assert twin is not model and not any(isinstance(m, torch.nn.BatchNorm2d) for m in twin.modules())
    on_model, on_twin = run_autoattack(model, x, y, **settings), run_autoattack(twin, x, y, **settings)
    assert on_twin["clean_acc"] == on_model["clean_acc"] and on_twin["after"] == on_model["after"]
    assert on_model["robust_acc"] < on_model["clean_acc"]  # the attack does break points


class Counted(torch.nn.Module):
    """Counts the forward passes: how many iterations an attack spent."""

    def __init__(self, model):
        super().__init__()
        self.model, self.calls = model, 0

    def forward(self, x):
        self.calls += 1
        return self.model(x)


@pytest.mark.parametrize(("attack", "key", "default"), [("apgd-ce", "restarts", 5), ("apgd-t", "target_classes", 9)])
def test_a_custom_budget_sets_the_iterations_the_attack_spends(trained_mlp, digits, attack, key, default):
    """Against a model no attack can fool, every point gets the whole budget: each restart or
    target class adds the same passes, and no setting keeps pyautoattack's own."""

    def passes(value):
        model = Counted(Unfoolable(trained_mlp.model))
        settings = {key: value} if value is not None else {}
        run_autoattack(
            model, digits.test_x[:4], digits.test_y[:4] * 0, eps=0.05, version="custom", attacks=[attack], **settings
        )
        return model.calls

    one, two, three = passes(1), passes(2), passes(3)
    assert two - one == three - two > 0
    assert passes(None) == one + (default - 1) * (two - one)


def test_a_budget_for_the_standard_version_is_refused(trained_mlp, digits):
    with pytest.raises(ValueError, match="apply to version custom"):
        run_autoattack(trained_mlp.model, digits.test_x[:4], digits.test_y[:4], eps=0.05, restarts=1)
