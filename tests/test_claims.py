"""Claims: intervals over seeds and test points computed by hand, Holm's correction, every
verdict (holds, reversed here, negligible, inconclusive, premise unmet, screening), premises,
and the config checks of claims."""

import copy
import math

import numpy as np
import pytest
import yaml
from scipy import stats

import advkd.config
from advkd.errors import ConfigError
from advkd.points import pack, unpack
from advkd.report.claims import evaluate_all, statement, to_frame, to_markdown
from advkd.report.inference import estimate, holm, planned
from advkd.runs import Registry, stretched

from .conftest import REPO

T_975_DF2 = 4.302652729911275  # Student t, 97.5 % quantile, 2 degrees of freedom (printed tables)
T_975_DF199 = 1.971956544249395  # ... 199 degrees of freedom


def claim(**extra) -> dict:
    return {"source": "paper, Table 4", "table": "t4", "a": "tfkd", "b": "base", "column": "accuracy",
            "expect": "greater", **extra}  # fmt: skip


def test_points_pack_and_unpack_any_length():
    flags = np.random.default_rng(0).random(10_001) < 0.3
    packed = pack(flags)
    assert packed["n"] == 10_001 and len(packed["bits"]) == 1_668
    assert np.array_equal(unpack(packed), flags)


def test_three_seeds_without_points_are_students_t_by_hand():
    found = estimate([1.0, 1.2, 1.4])  # mean 1.2, sample std 0.2
    half = T_975_DF2 * 0.2 / math.sqrt(3)  # 0.4968
    assert found.mean == pytest.approx(1.2) and found.df == pytest.approx(2)
    assert found.interval() == pytest.approx((1.2 - half, 1.2 + half))


def test_three_identical_seeds_keep_the_test_points_width():
    """AutoAttack on 200 points: each seed has one point more robust for a (+0.5 points each), so the
    seeds' spread is zero; the points' is not: D = 100 on one point, 0 on 199, var(D) = (100^2 -
    200 x 0.5^2) / 199 = 50, over 200 points 0.25, se 0.5, df 199."""
    rows = np.zeros((3, 200))
    rows[:, 0] = 100.0
    found = estimate([0.5, 0.5, 0.5], rows)
    assert found.seed_variance == 0 and found.point_variance == pytest.approx(0.25)
    assert found.se == pytest.approx(0.5) and found.df == pytest.approx(199)
    assert found.interval() == pytest.approx((0.5 - T_975_DF199 * 0.5, 0.5 + T_975_DF199 * 0.5))
    assert found.p_value() > 0.05  # one point is no evidence, however many seeds agree


def test_seed_and_point_variances_add_with_welch_satterthwaite_degrees_of_freedom():
    """Seeds 1, 2, 3: seed variance 1 / 3. Points D = (1, 3, 2, 2): var 2/3 over 4 points, 1/6.
    se^2 = 1/2; df = (1/2)^2 / ((1/3)^2 / 2 + (1/6)^2 / 3) = 3.857."""
    rows = np.array([[0, 2, 1, 1], [1, 3, 2, 2], [2, 4, 3, 3]], dtype=float)
    found = estimate([1.0, 2.0, 3.0], rows)
    assert found.seed_variance == pytest.approx(1 / 3) and found.point_variance == pytest.approx(1 / 6)
    assert found.se == pytest.approx(math.sqrt(0.5))
    assert found.df == pytest.approx(0.25 / ((1 / 9) / 2 + (1 / 36) / 3))
    half = stats.t.ppf(0.975, found.df) * math.sqrt(0.5)
    assert found.interval() == pytest.approx((2 - half, 2 + half))
    assert found.probability_above(0.0) == pytest.approx(stats.t.cdf(2 / math.sqrt(0.5), found.df))


def test_holm_by_hand():
    """Sorted 0.01, 0.03, 0.04 with m = 3: 0.03, max(0.03, 0.06), max(0.06, 0.04); NaN is no test."""
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adjusted = holm([0.02, math.nan, 0.5])
    assert adjusted[0] == pytest.approx(0.04) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.5)


def test_planned_resolution_by_hand():
    """3 seeds of sd 1, 400 points of sd 50: se^2 = 1/3 + 6.25 = 6.583; df by Welch-Satterthwaite."""
    variance = 1 / 3 + 50**2 / 400
    df = variance**2 / ((1 / 3) ** 2 / 2 + (50**2 / 400) ** 2 / 399)
    expected = (stats.t.ppf(0.975, df) + stats.t.ppf(0.8, df)) * math.sqrt(variance)
    assert planned(3, 400, 1.0, 50.0) == pytest.approx(expected)
    assert planned(3, 400, 1.0, 50.0) > planned(3, 1600, 1.0, 50.0) > planned(10, 1600, 1.0, 50.0)


def files(accuracy: float, points: list[bool] | None = None) -> dict:
    metrics = {"test_acc": accuracy}
    if points is not None:
        metrics["points"] = {"clean": pack(points)}
    return {"metrics.json": metrics}


def runs_of(values: dict[str, list[float]]) -> dict:
    return {name: {str(seed): files(v / 100) for seed, v in enumerate(seeds)} for name, seeds in values.items()}


@pytest.mark.parametrize(
    ("a", "b", "extra", "verdict"),
    [
        ([91.0, 92.2, 90.4], [90.0, 91.0, 89.0], {}, "holds"),  # differences 1.0, 1.2, 1.4
        ([91.0, 92.2, 90.4], [90.0, 91.0, 89.0], {"expect": "less"}, "reversed here"),
        ([51.0, 52.0, 53.0], [50.0, 50.0, 50.0], {}, "inconclusive"),  # interval [-0.48, 4.48]
        ([49.0, 48.8, 48.6], [50.0] * 3, {"margin": -3.0}, "holds"),  # loses at most 3 points
        ([50.1, 49.9, 50.0], [50.0] * 3, {"equivalence": 1.0}, "negligible"),  # [-0.25, 0.25] within +-1
        ([50.1, 49.9, 50.0], [50.0] * 3, {}, "inconclusive"),  # no equivalence bound stated
        ([91.0, 92.2], [90.0, 91.0], {}, "screening"),  # 2 seeds, fewer than the default 3
        ([91.0, 92.2], [90.0, 91.0], {"min_seeds": 2}, "inconclusive"),  # [-6.4, 8.6] at 1 dof
        # seed sd 1 over 3 seeds: se 0.577, (t(0.975, 2) + t(0.8, 2)) x se = (4.303 + 1.061) x 0.577 = 3.10
        ([51.0, 52.0, 53.0], [50.0, 50.0, 50.0], {"effect": 3.0}, "underpowered"),
        ([51.0, 52.0, 53.0], [50.0, 50.0, 50.0], {"effect": 3.2}, "inconclusive"),
        ([51.0, 52.0, 53.0], [50.0, 50.0, 50.0], {"paper": -1.5}, "underpowered"),  # the source's 1.5 points
        ([91.0, 92.2, 90.4], [90.0, 91.0, 89.0], {"effect": 50.0}, "holds"),  # a decided claim stays decided
    ],
)
def test_verdicts(a, b, extra, verdict):
    (found,) = evaluate_all([("c", claim(**extra))], runs_of({"tfkd": a, "base": b}))
    assert found.verdict == found.raw == verdict
    if a == [51.0, 52.0, 53.0]:  # differences 1, 2, 3: sd 1
        assert found.detectable == pytest.approx((stats.t.ppf(0.975, 2) + stats.t.ppf(0.8, 2)) * 3**-0.5)


def test_a_failed_premise_gives_no_verdict_and_shows_its_figure():
    """The teacher is 1 point better than the comparator where 3 are required."""
    stronger = {"stronger": {"run": "teacher", "than": "base", "column": "accuracy", "by": 3}}
    runs = runs_of({"tfkd": [91.0, 92.2, 90.4], "base": [90.0, 91.0, 89.0], "teacher": [91.0, 92.0, 90.0]})
    (found,) = evaluate_all([("c", claim(requires=[stronger]))], runs)
    assert found.verdict == "premise unmet" and found.mean == pytest.approx(1.2)
    assert found.premises == "teacher - base on accuracy: +1.00 (needs >= +3): NOT met"
    assert math.isnan(found.p_holm)  # not tested, so not counted in its family either


def test_convergence_and_operating_point_premises_read_the_twin_and_both_sides():
    runs = runs_of({"tfkd": [91.0, 92.2, 90.4], "base": [90.0, 91.0, 89.0]})
    runs["base+2x"] = {"0": files(0.905)}
    converged = {"converged": {"run": "base", "columns": {"accuracy": 1.0}}}
    close = {"operating_point": {"column": "accuracy", "within": 2}}
    (found,) = evaluate_all([("c", claim(requires=[converged, close]))], runs)
    assert found.premises == (
        "base with twice the epochs (seed 0): accuracy +0.50 (at most 1): met; "
        "tfkd and base on accuracy: 91.20 and 90.00 (within 2): met"
    )
    assert found.verdict == "holds"
    runs["base+2x"] = {"0": files(0.92)}  # twice the epochs moves it 2 points: not converged
    (found,) = evaluate_all([("c", claim(requires=[converged]))], runs)
    assert found.verdict == "premise unmet" and "accuracy +2.00 (at most 1): NOT met" in found.premises


def test_holm_within_a_family_can_turn_a_raw_verdict_inconclusive():
    """Three claims of one family: differences 1.0, 1.5, 2.0 (raw p 0.035) hold alone, not after
    Holm at m = 3 (0.105)."""
    base = [50.0, 50.0, 50.0]
    runs = runs_of({"tfkd": [51.0, 51.5, 52.0], "base": base, "other": [50.2, 49.6, 50.1], "third": base})
    claims = [("c1", claim()), ("c2", claim(a="other")), ("c3", claim(a="third", b="other"))]
    first, *_ = evaluate_all(claims, runs)
    assert first.p < 0.05 and first.raw == "holds" and first.p_holm > 0.05 and first.verdict == "inconclusive"
    alone, *_ = evaluate_all([("c1", claim())], runs)
    assert alone.verdict == "holds" and alone.p_holm == pytest.approx(alone.p)
    separate = evaluate_all([claims[0], ("c2", claim(a="other", family="x")), ("c3", claim(a="third", family="x"))],
                            runs)  # fmt: skip
    assert separate[0].verdict == "holds"  # its own family: nothing to correct for


def test_per_point_results_widen_an_interval_that_seeds_alone_make_zero():
    """Three seeds, each one point of 200 better for a: seeds alone would say certain (zero width)."""
    points_b = [False] * 200
    points_a = [True] + [False] * 199
    runs = {
        "tfkd": {str(s): files(0.005, points_a) for s in range(3)},
        "base": {str(s): files(0.0, points_b) for s in range(3)},
    }
    (found,) = evaluate_all([("c", claim())], runs)
    assert found.points == 200 and found.low < 0 < found.high and found.verdict == "inconclusive"
    for side in runs.values():  # the same files without their points: the old, degenerate answer
        for seed in side.values():
            seed["metrics.json"].pop("points")
    (bare,) = evaluate_all([("c", claim())], runs)
    assert bare.points == 0 and bare.low == bare.high == pytest.approx(0.5) and bare.verdict == "holds"


def test_the_report_shows_every_seed_and_says_under_this_protocol():
    runs = runs_of({"tfkd": [91.0, 92.2, 90.4], "base": [90.0, 91.0, 89.0]})
    verdicts = evaluate_all([("tfkd_helps", claim(paper=0.41)), ("above", claim(b=90.0, margin=1.0))], runs)
    assert verdicts[0].seeds == "s0 91.00 - 90.00 = +1.00; s1 92.20 - 91.00 = +1.20; s2 90.40 - 89.00 = +1.40"
    assert verdicts[1].seeds.startswith("s0 91.00 = +1.00")
    frame = to_frame(verdicts)
    assert list(frame["claim"]) == ["tfkd_helps", "above"]
    text = to_markdown(verdicts, "demo")
    assert "| tfkd_helps | paper, Table 4 | tfkd > base on accuracy | t4 | none stated |" in text
    assert "holds under this protocol |" in text
    assert statement(claim(b=90.0, margin=1.0)) == "tfkd > 90 + 1 on accuracy"


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
        advkd.config.check(config)
    assert str(error.value) == message


def test_a_claim_between_runs_without_a_common_seed_is_a_config_error():
    config = copy.deepcopy(DEMO)
    config["runs"]["resnet18_tfkd_reg"]["seeds"] = [7]
    with pytest.raises(ConfigError, match="share no seed; a claim pairs the same seed on both sides"):
        advkd.config.check(config)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"b": "resnet18_tfkd_reg"}, "claims.c: compares run 'resnet18_tfkd_reg' with itself"),
        ({"requires": [{"stronger": {"run": "nope", "than": "resnet18", "column": "accuracy", "by": 1}}]},
         "claims.c.requires[0].stronger.run: 'nope' is not defined in runs"),
        ({"requires": [{"converged": {"run": "nope", "columns": {"accuracy": 1}}}]},
         "claims.c.requires[0].converged.run: 'nope' is not defined in runs"),
    ],
)  # fmt: skip
def test_claims_that_cannot_be_judged_are_one_line_config_errors(change, message):
    config = copy.deepcopy(DEMO)
    config["claims"] = {"c": {**DEMO["claims"]["tfkd_reg_beats_the_baseline"], **change}}
    with pytest.raises(ConfigError) as error:
        advkd.config.check(config)
    assert str(error.value) == message


def test_a_margin_that_is_not_a_number_is_a_config_error():
    from advkd.config import check

    config = copy.deepcopy(DEMO)
    config["claims"] = {"c": {**DEMO["claims"]["tfkd_reg_beats_the_baseline"], "margin": math.nan}}
    with pytest.raises(ConfigError, match=r"^claims\.c\.margin: nan is not a finite number$"):
        check(config)


def test_a_convergence_premise_adds_a_twin_with_twice_the_epochs_and_the_same_schedule_shape():
    config = copy.deepcopy(DEMO)
    converged = {"converged": {"run": "resnet18", "columns": {"accuracy": 1.0}}}
    config["claims"] = {"c": {**DEMO["claims"]["tfkd_reg_beats_the_baseline"], "requires": [converged]}}
    registry = Registry(config)
    twin = registry.twins["resnet18"]
    base = registry.seeds("resnet18")[0]
    assert twin.name == "resnet18+2x" and twin.seed == base.seed and twin.id.startswith("resnet18+2x.s0.")
    assert twin.spec["recipe"] == stretched(base.spec["recipe"], 2) != base.spec["recipe"]
    assert registry.by_id(twin.id) is twin
    assert twin.evaluation_path("metrics", "last") in [
        r.evaluation_path(e, w) for r, e, w in registry.claim_evaluations()
    ]
    assert registry.claim_runs()["resnet18+2x"] == [twin]


def test_stretching_a_recipe_keeps_its_schedule_shape():
    recipe = {"epochs": 4, "batch_size": 8, "optimizer": {"lr": 0.1}, "test_every": 2,
              "schedule": {"name": "multistep", "milestones": [2, 3], "warmup_epochs": 1}}  # fmt: skip
    twice = stretched(recipe, 2)
    assert (
        twice["epochs"] == 8 and twice["schedule"]["milestones"] == [4, 6] and twice["schedule"]["warmup_epochs"] == 2
    )
    assert twice["test_every"] == 4 and recipe["schedule"]["milestones"] == [2, 3]  # the input is left as it is
    decay = stretched({**recipe, "schedule": {"name": "exponential", "gamma": 0.25}}, 2)
    assert decay["schedule"]["gamma"] ** 8 == pytest.approx(0.25**4)  # ends at the same rate


def test_a_claim_against_a_constant_reads_only_its_run():
    config = copy.deepcopy(DEMO)
    config["claims"] = {"c": {**DEMO["claims"]["omitted_1_recognised_after_kd"], "b": 50}}
    registry = Registry(config)
    assert [run.name for run, _, _ in registry.claim_evaluations()] == ["omit1_kd"]
    assert list(registry.claim_runs()) == ["omit1_kd"]
