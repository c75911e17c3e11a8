"""Each loss against values worked out by hand on two-class examples."""

import contextlib
import math

import pytest
import torch

from advkd import losses
from advkd.methods import METHODS
from advkd.models import Exits
from advkd.schema import complete
from advkd.train.objectives import LOSSES, Step

LN2 = math.log(2.0)


def test_ce_and_label_smoothing():
    z, y = torch.tensor([[0.0, 0.0]]), torch.tensor([0])
    assert losses.ce(z, y).item() == pytest.approx(LN2, rel=1e-5)
    # logits (ln 3, 0): p = (3/4, 1/4). Smoothing 0.2 targets (0.9, 0.1).
    z = torch.tensor([[math.log(3.0), 0.0]])
    expected = -(0.9 * math.log(0.75) + 0.1 * math.log(0.25))
    assert losses.ce(z, y, label_smoothing=0.2).item() == pytest.approx(expected, rel=1e-5)


def test_kd_at_temperature_one():
    # teacher (ln 3, 0) -> (3/4, 1/4); student uniform. KL = 3/4 ln(3/2) + 1/4 ln(1/2).
    z_s, z_t, y = torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(3.0), 0.0]]), torch.tensor([1])
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    got = losses.kd(z_s, z_t, y, alpha=0.5, temperature=1.0)
    assert got.item() == pytest.approx(0.5 * LN2 + 0.5 * kl, rel=1e-5)


def test_kd_temperature_softens_and_scales_by_t_squared():
    # T = 2: teacher logits (ln 3, 0)/2 -> (sqrt3, 1)/(sqrt3 + 1); student uniform at any T.
    z_s, z_t, y = torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(3.0), 0.0]]), torch.tensor([0])
    r = math.sqrt(3.0)
    p = (r / (r + 1), 1 / (r + 1))
    kl = sum(q * math.log(q / 0.5) for q in p)
    got = losses.kd(z_s, z_t, y, alpha=1.0, temperature=2.0, multiplier=3.0)
    assert got.item() == pytest.approx(4.0 * 3.0 * kl, rel=1e-5)


def test_kd_averages_kl_over_the_batch_not_over_classes():
    z_s = torch.zeros(2, 4)
    z_t = torch.tensor([[math.log(3.0), 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    p = torch.tensor([3.0, 1.0, 1.0, 1.0]) / 6.0
    kl_first = float((p * (p / 0.25).log()).sum())
    got = losses.kd(z_s, z_t, torch.tensor([0, 1]), alpha=1.0, temperature=1.0)
    assert got.item() == pytest.approx(kl_first / 2, rel=1e-5)


def test_virtual_teacher_is_softmax_of_probabilities_over_t():
    q = losses.virtual_teacher(torch.tensor([1]), num_classes=2, delta=0.9, temperature=2.0)
    # p_d = (0.1, 0.9); softmax(p_d / 2) = (e^0.05, e^0.45) / sum
    a, b = math.exp(0.05), math.exp(0.45)
    assert q.tolist()[0] == pytest.approx([a / (a + b), b / (a + b)], rel=1e-5)


def yuan_reference_term(z_s, y, alpha, temperature, delta, multiplier):
    """Yuan et al.'s Tf-KD-reg, written out from its definition: nn.KLDivLoss() averages over
    every element (N*K), the student is not softened, the virtual teacher is softmax(p_d/T)."""
    n, k = z_s.shape
    total = 0.0
    log_p = torch.log_softmax(z_s, 1)
    for i in range(n):
        p_d = [delta if c == y[i] else (1 - delta) / (k - 1) for c in range(k)]
        norm = sum(math.exp(v / temperature) for v in p_d)
        for c in range(k):
            q = math.exp(p_d[c] / temperature) / norm
            total += q * (math.log(q) - log_p[i, c].item())
    ce = torch.nn.functional.cross_entropy(z_s, y).item()
    return (1 - alpha) * ce + alpha * multiplier * total / (n * k)


def test_tfkd_reg_equals_reference_code_with_multiplier_over_k():
    torch.manual_seed(0)
    z_s, y = torch.randn(5, 10), torch.randint(0, 10, (5,))
    reference = yuan_reference_term(z_s, y, alpha=0.1, temperature=20.0, delta=0.99, multiplier=100.0)
    ours = losses.tfkd_reg(z_s, y, alpha=0.1, temperature=20.0, delta=0.99, multiplier=100.0 / 10)
    assert ours.item() == pytest.approx(reference, rel=1e-5)


def test_tfkd_reg_by_hand():
    # two classes, delta 0.9, T 1: target softmax(0.1, 0.9) = (1, e^0.8)/(1 + e^0.8); student uniform.
    e = math.exp(0.8)
    q = (1 / (1 + e), e / (1 + e))
    kl = sum(v * math.log(v / 0.5) for v in q)
    got = losses.tfkd_reg(torch.zeros(1, 2), torch.tensor([1]), alpha=0.25, temperature=1.0, delta=0.9, multiplier=2.0)
    assert got.item() == pytest.approx(0.75 * LN2 + 0.25 * 2.0 * kl, rel=1e-5)


def step_of(y, s_clean=None, s_adv=None, t_clean=None, t_adv=None, adversarial=True, teacher_sees_adversarial=False):
    """A training step whose forward passes return the given logits: the inputs are stand-ins,
    each model looks its answer up by which input it was shown."""
    x, x_adv = torch.zeros(1), torch.ones(1)
    student = {id(x): s_clean, id(x_adv): s_adv}
    teacher = {id(x): t_clean, id(x_adv): t_adv}
    step = Step(x, y, lambda inp: student[id(inp)], lambda inp: teacher[id(inp)], contextlib.nullcontext,
                adversarial, teacher_sees_adversarial)  # fmt: skip
    step.x_adv = x_adv
    return step


def test_adversarial_methods_use_the_same_formulas_on_attacked_logits():
    """Eq. 6 is KD between the teacher on x and the student on x'; eq. 7 is Tf-KD-reg on x'.
    The logits the loop passes decide which inputs were used (see test_train)."""
    z_adv, z_clean_teacher, y = torch.randn(3, 4), torch.randn(3, 4), torch.tensor([0, 1, 2])
    at_kd, at_tfkd_reg = METHODS["at_kd"], METHODS["at_tfkd_reg"]
    options = {"name": "at_kd", "alpha": 0.7, "temperature": 3.0}
    got = LOSSES[at_kd.loss](
        step_of(y, s_adv=z_adv, t_clean=z_clean_teacher), **at_kd.loss_options(complete(options, "method"))
    )
    assert torch.equal(got, losses.kd(z_adv, z_clean_teacher, y, 0.7, 3.0))
    got = LOSSES[at_tfkd_reg.loss](
        step_of(y, s_adv=z_adv), **at_tfkd_reg.loss_options(complete({**options, "name": "at_tfkd_reg"}, "method"))
    )
    assert torch.equal(got, losses.tfkd_reg(z_adv, y, 0.7, 3.0))
    assert at_kd.adversarial and at_kd.teacher == "real"
    assert at_tfkd_reg.adversarial and at_tfkd_reg.teacher == "virtual"


def test_byot_by_hand():
    """Two exits: CE at both, T^2 KL from the deepest to the shallow one, squared feature distance."""
    z1, z2 = torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    f1, f2 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 3.0]])
    y, alpha, t, b = torch.tensor([1]), 0.25, 2.0, 0.5
    q = torch.softmax(z2 / t, 1)[0].tolist()
    kl = sum(v * math.log(v / 0.5) for v in q)  # the shallow exit at T = 2 is uniform
    ce1, ce2 = LN2, -math.log(math.exp(2) / (1 + math.exp(2)))
    want = (1 - alpha) * (ce1 + ce2) + alpha * t * t * kl + b * (1 + 9)
    got = losses.byot([z1, z2], [f1, f2], y, alpha, t, b)
    assert got.item() == pytest.approx(want, rel=1e-6)
    options = {"alpha": alpha, "temperature": t, "hint_weight": b}
    step = step_of(y, s_clean=Exits([z1, z2], [f1, f2]), adversarial=False)
    assert torch.equal(LOSSES[METHODS["byot"].loss](step, **options), got)


def test_byot_deepest_exit_learns_from_labels_only():
    """Its logits and features are the teacher's: detached, so the KD and hint terms move only the
    shallow exits."""
    torch.manual_seed(0)
    logits = [torch.randn(4, 5, requires_grad=True) for _ in range(3)]
    features = [torch.randn(4, 6, requires_grad=True) for _ in range(3)]
    y = torch.randint(0, 5, (4,))
    losses.byot(logits, features, y, alpha=1.0, temperature=3.0, hint_weight=1.0).backward()
    assert torch.count_nonzero(logits[-1].grad) == 0 and features[-1].grad is None
    assert all(torch.count_nonzero(t.grad) > 0 for t in logits[:-1] + features[:-1])


def test_byot_hint_weight_is_per_example_not_per_batch():
    """The re-implementation sums the squared feature distance over the batch: its weight b at
    batch size B is our b * B (advkd.losses.byot)."""
    torch.manual_seed(0)
    batch, features = 8, [torch.randn(8, 6) for _ in range(2)]
    logits = [torch.zeros(8, 3)] * 2  # alpha 1 and equal exits: no CE and no KL, the hint alone
    y = torch.zeros(8, dtype=torch.long)
    reference_sum = (features[0] - features[1]).pow(2).sum().item()
    ours = losses.byot(logits, features, y, 1.0, 3.0, 1e-6 * batch).item()
    assert ours == pytest.approx(1e-6 * reference_sum, rel=1e-5)


# -- robust distillation: two classes, probabilities chosen so every KL has a closed form ----------
QUARTER = torch.tensor([[0.0, math.log(3.0)]])  # softmax (1/4, 3/4)
UNIFORM = torch.zeros(1, 2)  # softmax (1/2, 1/2)
KL_UNIFORM_QUARTER = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)  # KL((1/2,1/2) || (1/4,3/4))
KL_QUARTER_UNIFORM = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)  # KL((1/4,3/4) || (1/2,1/2))
MIRROR = torch.tensor([[math.log(3.0), 0.0]])  # softmax (3/4, 1/4)
KL_QUARTER_MIRROR = 0.25 * math.log(0.25 / 0.75) + 0.75 * math.log(0.75 / 0.25)  # KL((1/4,3/4) || (3/4,1/4))


def test_trades_by_hand():
    """CE of the clean prediction plus beta KL(clean || adversarial)."""
    got = losses.trades(UNIFORM, QUARTER, torch.tensor([0]), beta=6.0)
    assert got.item() == pytest.approx(LN2 + 6.0 * KL_UNIFORM_QUARTER, rel=1e-6)


def test_ard_by_hand():
    """T = 2 turns teacher logits (0, 2 ln 3) into (1/4, 3/4); the student on x' is uniform."""
    teacher = 2 * QUARTER
    got = losses.ard(UNIFORM, UNIFORM, teacher, torch.tensor([1]), alpha=0.75, temperature=2.0, multiplier=0.1)
    assert got.item() == pytest.approx(0.25 * LN2 + 0.75 * 4 * 0.1 * KL_QUARTER_UNIFORM, rel=1e-6)


def test_rslad_by_hand():
    """The teacher's clean soft labels against the student on x' (weight a) and on x (1 - a)."""
    got = losses.rslad(z_clean=MIRROR, z_adv=UNIFORM, t_clean=QUARTER, alpha=5 / 6, multiplier=0.1)
    assert got.item() == pytest.approx(0.1 * (5 / 6 * KL_QUARTER_UNIFORM + 1 / 6 * KL_QUARTER_MIRROR), rel=1e-6)


def test_adaad_by_hand():
    """The teacher on x' against the student on x' (weight a), on x against x (1 - a)."""
    got = losses.adaad(z_clean=MIRROR, z_adv=UNIFORM, t_clean=QUARTER, t_adv=QUARTER, alpha=0.25, multiplier=2.0)
    assert got.item() == pytest.approx(2.0 * (0.25 * KL_QUARTER_UNIFORM + 0.75 * KL_QUARTER_MIRROR), rel=1e-6)


@pytest.mark.filterwarnings("ignore:reduction. .mean. divides")  # the reference codes' reduction, on purpose
def test_the_reference_reductions_convert_as_the_docstrings_say():
    """TRADES's sum / N is our batch mean (multiplier 1); the N*K means of ARD, RSLAD and AdaAD on
    CIFAR-10 are our batch mean / K (multiplier 1/K)."""
    torch.manual_seed(0)
    student, target = torch.randn(8, 10), torch.softmax(torch.randn(8, 10), dim=1)
    log_student = torch.log_softmax(student, dim=1)
    ours = losses.kl_batchmean(target, student)
    trades_code = torch.nn.KLDivLoss(reduction="sum")(log_student, target) / 8
    mean_code = torch.nn.KLDivLoss()(log_student, target)  # nn.KLDivLoss()'s default: mean over N*K
    assert trades_code.item() == pytest.approx(ours.item(), rel=1e-6)
    assert mean_code.item() == pytest.approx(ours.item() / 10, rel=1e-6)


@pytest.mark.parametrize("name", ["trades", "ard", "rslad", "adaad"])
def test_each_robust_method_reads_the_forward_passes_its_formula_names(name):
    """The step loss feeds the pure formula the student and teacher on the right inputs."""
    y = torch.tensor([0])
    step = step_of(y, s_clean=UNIFORM, s_adv=QUARTER, t_clean=2 * QUARTER, t_adv=QUARTER)
    method = METHODS[name]
    got = LOSSES[method.loss](step, **method.loss_options(complete({"name": name}, "method")))
    want = {
        "trades": lambda: losses.trades(UNIFORM, QUARTER, y, 6.0),
        "ard": lambda: losses.ard(UNIFORM, QUARTER, 2 * QUARTER, y, 1.0, 30.0),
        "rslad": lambda: losses.rslad(UNIFORM, QUARTER, 2 * QUARTER, 5 / 6),
        "adaad": lambda: losses.adaad(UNIFORM, QUARTER, 2 * QUARTER, QUARTER, 1.0),
    }[name]()
    assert torch.equal(got, want)


def test_adr_rectified_labels_by_hand():
    """Two-class examples at tau = 2 (weight-averaged logits 2 ln 3 and 0 soften to (3/4, 1/4)):
    right about its label, lambda = 0.7 mixes 0.7 of the soft prediction into the one-hot label;
    wrong (it gives the label 1/4), lambda drops by 3/4 - 1/4 = 1/2 to 0.2; and at lambda 0.4
    a wrong prediction drops it below 0, clipped: the one-hot label alone."""
    z_ema = 2 * MIRROR.repeat(3, 1)  # (2 ln 3, 0) per row: softmax at tau 2 is (3/4, 1/4)
    y = torch.tensor([0, 1])
    got = losses.rectified_labels(z_ema[:2], y, temperature=2.0, interpolation=0.7)
    right = [0.7 * 0.75 + 0.3, 0.7 * 0.25]
    wrong = [0.2 * 0.75, 0.2 * 0.25 + 0.8]
    assert got.tolist() == [pytest.approx(right, rel=1e-6), pytest.approx(wrong, rel=1e-6)]
    clipped = losses.rectified_labels(z_ema[:1], torch.tensor([1]), temperature=2.0, interpolation=0.4)
    assert clipped.tolist() == [[0.0, 1.0]]


def test_adr_loss_is_cross_entropy_on_the_soft_target():
    """-sum_k target_k log softmax(S(x'))_k, averaged: for the uniform student, ln 2 whatever
    the target; for (1/4, 3/4), the hand value; torch's own probability-target cross-entropy agrees."""
    target = torch.tensor([[0.9, 0.1]])
    assert losses.adr(UNIFORM, target).item() == pytest.approx(LN2, rel=1e-6)
    by_hand = -(0.9 * math.log(0.25) + 0.1 * math.log(0.75))
    assert losses.adr(QUARTER, target).item() == pytest.approx(by_hand, rel=1e-6)
    assert losses.adr(QUARTER, target).item() == pytest.approx(
        torch.nn.functional.cross_entropy(QUARTER, target).item()
    )


def test_adr_anneals_tau_down_and_lambda_up_along_a_half_cosine():
    """ADR's per-step schedule: the start value at the first step, the mean of the two halfway,
    approaching the end value at the last; its defaults (tau 2.5 -> 2.0, lambda 0.7 -> 0.95)."""
    assert losses.cosine_anneal(2.5, 2.0, 0.0) == 2.5
    assert losses.cosine_anneal(2.5, 2.0, 0.5) == pytest.approx(2.25)
    assert losses.cosine_anneal(0.7, 0.95, 1.0) == pytest.approx(0.95)
    y = torch.tensor([0])
    method = METHODS["adr"]
    options = method.loss_options(complete({"name": "adr"}, "method"))
    for progress, tau, lam in ((0.0, 2.5, 0.7), (0.5, 2.25, 0.825)):
        step = step_of(y, s_adv=QUARTER, t_clean=2 * MIRROR)
        step.progress = progress
        want = losses.adr(QUARTER, losses.rectified_labels(2 * MIRROR, y, tau, lam))
        assert LOSSES[method.loss](step, **options).item() == pytest.approx(want.item(), rel=1e-6)
