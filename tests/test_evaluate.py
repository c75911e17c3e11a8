import pytest

from advkd.evaluate import STANDARD_ATTACKS, run_autoattack, subset_accuracies


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


def test_subset_accuracies_split_by_class(trained_mlp, digits):
    acc = subset_accuracies(trained_mlp.model, digits.test_x, digits.test_y, classes=[1])
    ones = (digits.test_y == 1).sum().item()
    n = len(digits.test_y)
    assert acc["all"] == pytest.approx((acc["only"] * ones + acc["without"] * (n - ones)) / n)
    assert acc["only"] > 0.8
