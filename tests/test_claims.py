"""Claims: paired differences, Student-t intervals computed by hand, verdicts and the report."""

import copy
import math
from pathlib import Path

import pytest
import yaml

from advkd.experiments import ConfigError, Registry
from advkd.report.claims import evaluate, evaluate_all, interval, statement, to_frame, to_markdown

from .conftest import REPO

T_975_DF2 = 4.302652729911275  # Student t, 97.5 % quantile, 2 degrees of freedom (printed tables)


def claim(**extra) -> dict:
    return {"source": "paper, Table 4", "a": "tfkd", "b": "base", "column": "accuracy", "expect": "greater", **extra}


def test_interval_of_three_differences_is_students_t_by_hand():
    mean, low, high = interval([1.0, 1.2, 1.4])  # mean 1.2, sample std 0.2
    half = T_975_DF2 * 0.2 / math.sqrt(3)  # 0.4968
    assert mean == pytest.approx(1.2)
    assert (low, high) == pytest.approx((1.2 - half, 1.2 + half))


def test_one_seed_has_no_interval():
    mean, low, high = interval([0.7])
    assert mean == 0.7 and math.isnan(low) and math.isnan(high)


def test_differences_pair_the_same_seed_on_both_sides():
    """Seed 2 only on one side: it pairs with nothing. Paired, the differences are 1.0, 1.2, 1.4."""
    a = {0: 91.0, 1: 92.2, 3: 90.4, 2: 99.0}
    b = {0: 90.0, 1: 91.0, 3: 89.0, 7: 50.0}
    verdict = evaluate("tfkd_helps", claim(paper=0.41), a, b)
    assert verdict.n == 3 and verdict.mean == pytest.approx(1.2)
    assert verdict.low == pytest.approx(1.2 - T_975_DF2 * 0.2 / math.sqrt(3))
    assert verdict.verdict == "holds" and verdict.paper == 0.41


@pytest.mark.parametrize(
    ("differences", "expect", "margin", "verdict"),
    [
        ([1.0, 1.2, 1.4], "greater", 0.0, "holds"),
        ([1.0, 1.2, 1.4], "less", 0.0, "contradicted"),
        ([1.0, 2.0, 3.0], "greater", 0.0, "inconclusive"),  # interval [-0.48, 4.48] straddles 0
        ([-1.0, -1.2, -1.4], "greater", -3.0, "holds"),  # "loses at most 3 points": all above -3
        ([-3.0, -3.2, -3.4], "greater", -2.0, "contradicted"),  # loses more than 2 for sure
        ([5.0], "greater", 0.0, "inconclusive"),  # one seed: no interval, whatever the sign
    ],
)
def test_verdicts(differences, expect, margin, verdict):
    a = {seed: 50.0 + d for seed, d in enumerate(differences)}
    b = dict.fromkeys(a, 50.0)
    assert evaluate("c", claim(expect=expect, margin=margin), a, b).verdict == verdict


def test_a_claim_against_a_constant_uses_every_seed_of_a():
    """Table 2: the omitted class is recognised after distillation (above 50 %)."""
    verdict = evaluate("omitted", claim(b=50.0, column="only"), {0: 95.0, 1: 97.0, 2: 96.0}, 50.0)
    assert verdict.n == 3 and verdict.mean == pytest.approx(46.0) and verdict.verdict == "holds"


def test_a_seed_without_the_value_pairs_with_nothing():
    verdict = evaluate("c", claim(), {0: 91.0, 1: math.nan}, {0: 90.0, 1: 90.0})
    assert verdict.n == 1 and verdict.mean == pytest.approx(1.0) and verdict.verdict == "inconclusive"


def test_claims_read_the_runs_evaluation_files():
    """From evaluation file contents per seed (as the claims rule reads them) to verdicts."""
    files = {
        "tfkd": {"0": {"metrics.json": {"test_acc": 0.912}}, "1": {"metrics.json": {"test_acc": 0.924}}},
        "base": {"0": {"metrics.json": {"test_acc": 0.902}}, "1": {"metrics.json": {"test_acc": 0.912}}},
    }
    claims = {"tfkd_helps": claim(), "above_ninety": claim(b=90.0, margin=1.0)}
    verdicts = evaluate_all(claims, files)
    assert [v.n for v in verdicts] == [2, 2]
    assert verdicts[0].mean == pytest.approx(1.1) and verdicts[1].mean == pytest.approx(1.8)
    frame = to_frame(verdicts)
    assert list(frame["claim"]) == ["tfkd_helps", "above_ninety"]
    text = to_markdown(verdicts, "demo")
    assert "| tfkd_helps | paper, Table 4 | tfkd > base on accuracy | 2 | +1.10 |" in text
    assert statement(claims["above_ninety"]) == "tfkd > 90 + 1 on accuracy"


DEMO = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"table": "table9"}, "claims.c.table: 'table9' is not defined in tables"),
        ({"column": "autoattack"}, "claims.c.column: table 'table4' has no column 'autoattack'"),
        ({"a": "resnet18_at"}, "claims.c.a: table 'table4' shows no run 'resnet18_at'"),
        ({"b": "mlp_student"}, "claims.c.b: table 'table4' shows no run 'mlp_student'"),
    ],
)
def test_a_claim_naming_what_its_table_lacks_is_a_one_line_config_error(change, message):
    config = copy.deepcopy(DEMO)
    config["claims"] = {"c": {**DEMO["claims"]["tfkd_reg_beats_the_baseline"], **change}}
    with pytest.raises(ConfigError) as error:
        Registry(config)
    assert str(error.value) == message


def test_a_claim_between_runs_without_a_common_seed_is_a_config_error():
    config = copy.deepcopy(DEMO)
    config["runs"]["resnet18_tfkd_reg"]["seeds"] = [7]
    with pytest.raises(ConfigError, match="share no seed; a claim pairs the same seed on both sides"):
        Registry(config)


def test_a_claim_against_a_constant_reads_only_its_run():
    config = copy.deepcopy(DEMO)
    config["claims"] = {"c": {**DEMO["claims"]["omitted_1_recognised_after_kd"], "b": 50}}
    registry = Registry(config)
    assert [Path(path).parent.name.split(".")[0] for path in registry.claim_evaluations()] == ["omit1_kd"]
    assert list(registry.claim_runs()) == ["omit1_kd"]
