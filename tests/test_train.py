import pytest
import torch
import torch.nn.functional as F
from torch import nn

from advkd.attacks import pgd_linf
from advkd.evaluate import exit_accuracies
from advkd.io import load_torch
from advkd.methods import METHODS
from advkd.schema import complete_spec
from advkd.train import build_for_data, complete_schedule, fit, learning_rate, repeated_step
from advkd.train.ema import WeightAverage
from advkd.train.loop import Runtime, _StepRunner
from advkd.train.objectives import ATTACK_OBJECTIVES, SOFT_TARGETS, Step

from .conftest import mlp_spec


def test_mlp_learns_the_digits(trained_mlp):
    history = trained_mlp.history
    assert len(history) == 8
    assert history[-1]["test_acc"] > 0.9  # chance is 0.1
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    columns = {"epoch", "lr", "train_loss", "train_acc", "test_acc", "test_loss", "test_seconds", "seconds"}
    assert set(history[0]) == columns


def test_test_every_tests_every_few_epochs_and_the_last_and_the_metrics_reuse_the_last(digits, tmp_path):
    """`test_every: 2` over 5 epochs tests after epochs 2, 4 and 5; the weights are those of a run
    testing every epoch, and the last fp32 pass is the one the metrics would make themselves."""
    from advkd.evaluate import run_metrics

    runs = {}
    for every in (1, 2):
        spec = mlp_spec()
        spec["recipe"].update(epochs=5, test_every=every, precision="fp32")
        runs[every] = fit(spec, digits, f"every{every}.s0", tmp_path / f"{every}.pt", progress=False)
    sparse = runs[2]
    assert [row["test_acc"] is not None for row in sparse.history] == [False, True, False, True, True]
    assert [row["test_acc"] for row in sparse.history][1::2] == [row["test_acc"] for row in runs[1].history][1::2]
    for a, b in zip(sparse.model.state_dict().values(), runs[1].model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    fresh = run_metrics(sparse.model, digits, spec, sparse.history, "every2.s0")
    correct, loss = sparse.final_test
    assert (correct.float().mean().item(), loss) == (fresh["test_acc"], fresh["test_loss"])
    assert fresh["points"]["clean"] == run_metrics(sparse.model, digits, spec, [], "again.s0")["points"]["clean"]
    spec["recipe"]["precision"] = "bf16"  # a bf16 pass is not the metrics' fp32 one: not reused
    assert fit(spec, digits, "bf16.s0", tmp_path / "bf16.pt", progress=False).final_test is None


def test_resnet_student_distilled_from_the_mlp(trained_mlp, digits, tmp_path):
    spec = mlp_spec(
        model={"arch": "resnet18", "width": 0.125},
        method={"name": "kd", "alpha": 0.9, "temperature": 4.0},
    )
    spec["recipe"].update(epochs=4, augment={"crop_padding": 1, "flip": False})
    result = fit(spec, digits, "kd.s0.test", tmp_path / "ck.pt", teacher=trained_mlp.model, progress=False)
    assert result.history[-1]["test_acc"] > 0.8
    names = result.gradients["names"]
    assert names[0] == "stem.0" and "stage4.1.conv2" in names and names[-1] == "fc"
    assert len(result.gradients["epochs"]) == 4 and all(v > 0 for v in result.gradients["epochs"][-1])


def test_method_and_teacher_must_agree(trained_mlp, digits, tmp_path):
    with pytest.raises(ValueError, match="needs a teacher"):
        fit(mlp_spec(method={"name": "kd", "alpha": 0.5, "temperature": 2}), digits, "x", tmp_path / "a.pt")
    with pytest.raises(ValueError, match="takes no teacher"):
        fit(mlp_spec(), digits, "x", tmp_path / "b.pt", teacher=trained_mlp.model)


class Recorder(nn.Module):
    """A teacher that remembers the inputs it was shown."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, []

    def forward(self, x):
        self.seen.append(x.clone())
        return self.inner(x)


@pytest.mark.parametrize("teacher_input", ["clean", "adversarial"])
def test_adversarial_kd_shows_the_teacher_the_configured_input(trained_mlp, digits, teacher_input):
    spec = mlp_spec(method={"name": "at_kd", "alpha": 0.5, "temperature": 2.0, "teacher_input": teacher_input})
    spec["recipe"]["attack"] = {"eps": 0.1, "step_size": 0.05, "steps": 2}
    student = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    teacher = Recorder(trained_mlp.model)
    spec = complete_spec(spec)
    runner = _StepRunner(student, teacher, METHODS["at_kd"], spec, Runtime.for_recipe(spec["recipe"], "cpu"))
    x, y = digits.train_x[:16].float() / 255, digits.train_y[:16]
    runner(x, y, torch.Generator().manual_seed(0))
    shown = teacher.seen[0]
    if teacher_input == "clean":
        assert torch.equal(shown, x)
    else:
        assert 0 < (shown - x).abs().max() <= 0.1 + 1e-6


def test_learning_rate_schedules():
    def lr(schedule, epoch, step=0):
        return learning_rate(0.1, complete_schedule(schedule), epoch, step, steps_per_epoch=10, epochs=200)

    multistep = {"name": "multistep", "milestones": [60, 120, 160], "gamma": 0.2, "warmup_epochs": 1}
    assert lr(multistep, 0, 0) == pytest.approx(0.01)  # first warm-up step: 1/10 of an epoch
    assert lr(multistep, 0, 9) == pytest.approx(0.1)
    assert lr(multistep, 59) == pytest.approx(0.1) and lr(multistep, 60) == pytest.approx(0.02)
    assert lr(multistep, 199) == pytest.approx(0.1 * 0.2**3)
    assert lr({"name": "exponential", "gamma": 0.9}, 3) == pytest.approx(0.1 * 0.9**3)
    cosine = {"name": "cosine"}
    assert lr(cosine, 0) == pytest.approx(0.1) and lr(cosine, 100) == pytest.approx(0.05)
    assert lr(cosine, 199, 9) < 1e-5


@pytest.mark.slow
def test_compiled_forward_trains_like_the_eager_one(digits, tmp_path):
    """recipe `compile: true` runs the student's forward through torch.compile (C++ codegen on CPU)."""
    runs = {}
    for compiled in (False, True):
        spec = mlp_spec()
        spec["recipe"].update(epochs=1, compile=compiled)
        runs[compiled] = fit(spec, digits, f"c{compiled}.s0", tmp_path / f"{compiled}.pt", progress=False)
    assert runs[True].history[0]["test_acc"] == pytest.approx(runs[False].history[0]["test_acc"], abs=0.02)
    assert runs[True].history[0]["train_loss"] == pytest.approx(runs[False].history[0]["train_loss"], rel=1e-3)


def test_byot_trains_every_exit(digits, tmp_path):
    spec = mlp_spec(
        model={"arch": "resnet18", "width": 0.125, "exits": True},
        method={"name": "byot", "alpha": 0.1, "temperature": 3.0, "hint_weight": 1e-4},
    )
    spec["recipe"].update(epochs=4, augment={"crop_padding": 1, "flip": False})
    result = fit(spec, digits, "byot.s0.test", tmp_path / "ck.pt", progress=False)
    exits = exit_accuracies(result.model, digits.test_x, digits.test_y)
    assert exits["accuracy"][-1] == pytest.approx(result.history[-1]["test_acc"])
    assert all(acc > 0.5 for acc in exits["accuracy"]) and exits["ensemble"] > 0.5  # chance is 0.1
    assert "heads.0.0" in result.gradients["names"]  # the heads learn too


def test_adversarial_byot_attacks_the_deepest_exit(digits, tmp_path):
    """The attack is PGD on the deepest exit (the classifier that is evaluated and attacked): the
    step's x' is exactly PGD against the deepest exit's logits, and raises that exit's loss."""
    spec = mlp_spec(
        model={"arch": "resnet18", "width": 0.125, "exits": True},
        method={"name": "at_byot", "alpha": 0.1, "temperature": 3.0, "hint_weight": 1e-4},
        data={"limit": 128},
    )
    spec["recipe"].update(epochs=1, attack={"eps": 0.1, "step_size": 0.05, "steps": 2})
    model = fit(spec, digits, "at_byot.s0.test", tmp_path / "ck.pt", progress=False).model.train()
    spec = complete_spec(spec)
    runner = _StepRunner(model, None, METHODS["at_byot"], spec, Runtime.for_recipe(spec["recipe"], "cpu"))
    x, y = digits.test_x[:64].float() / 255, digits.test_y[:64]
    step = Step(x, y, runner.forward, None, runner.rt.autocast, adversarial=True, teacher_sees_adversarial=False)
    x_adv = runner._adversarial(step, torch.Generator().manual_seed(0))

    def deepest_exit(inputs):
        return model.eval().exits(inputs).logits[-1]

    generator = torch.Generator().manual_seed(0)
    reference = pgd_linf(deepest_exit, x, y, eps=0.1, step_size=0.05, steps=2, generator=generator)
    assert torch.allclose(x_adv, reference, atol=1e-6)
    with torch.no_grad():
        assert F.cross_entropy(deepest_exit(x_adv), y) > F.cross_entropy(deepest_exit(x), y)


def test_multi_exit_model_and_method_must_agree(digits, tmp_path):
    with pytest.raises(ValueError, match="run x: only methods byot, at_byot train a multi-exit model"):
        fit(mlp_spec(model={"arch": "resnet18", "width": 0.125, "exits": True}), digits, "x", tmp_path / "a.pt")


@pytest.mark.parametrize("name", ["ard", "rslad", "adaad"])
def test_robust_distillation_shows_the_teacher_what_its_paper_says(name, trained_mlp, digits):
    """ARD and RSLAD: the teacher sees the clean x only, once (RSLAD's attack and loss share it);
    AdaAD: the teacher sees every point of the attack (its gradient enters it), then x and x'."""
    spec = mlp_spec(method={"name": name})
    spec["recipe"]["attack"] = {"eps": 0.1, "step_size": 0.05, "steps": 3}
    spec = complete_spec(spec)
    student = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    teacher = Recorder(trained_mlp.model)
    runner = _StepRunner(student, teacher, METHODS[name], spec, Runtime.for_recipe(spec["recipe"], "cpu"))
    x, y = digits.train_x[:16].float() / 255, digits.train_y[:16]
    loss, _ = runner(x, y, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss)
    clean = [torch.equal(seen, x) for seen in teacher.seen]
    if name == "adaad":
        assert clean == [False, False, False, True, False]
        assert all(0 < (seen - x).abs().max() <= 0.1 + 1e-6 for seen in teacher.seen[:3] + teacher.seen[4:])
    else:
        assert clean == [True]


def test_trades_attacks_the_students_own_clean_prediction(digits):
    """TRADES's x' maximises KL(S(x) || S(x')): at x' the divergence from the clean prediction is
    far larger than at the start, and the labels play no part."""
    spec = mlp_spec(method={"name": "trades"})
    spec["recipe"]["attack"] = {"eps": 0.1, "step_size": 0.05, "steps": 5}
    spec = complete_spec(spec)
    torch.manual_seed(0)
    student = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    runner = _StepRunner(student, None, METHODS["trades"], spec, Runtime.for_recipe(spec["recipe"], "cpu"))
    x = digits.train_x[:32].float() / 255
    wrong_labels = torch.zeros(32, dtype=torch.long)
    step = Step(
        x, wrong_labels, runner.forward, None, runner.rt.autocast, adversarial=True, teacher_sees_adversarial=False
    )
    x_adv = runner._adversarial(step, torch.Generator().manual_seed(0))
    with torch.no_grad():
        clean = F.softmax(student(x), dim=1)
        divergence = F.kl_div(F.log_softmax(student(x_adv), dim=1), clean, reduction="batchmean").item()
        start = F.kl_div(F.log_softmax(student(x + 0.001 * torch.randn_like(x)), dim=1), clean, reduction="batchmean")
    assert divergence > 100 * start.item() and divergence > 1e-3


def test_the_weight_average_moves_one_minus_decay_of_the_way():
    """ADR's teacher (timm's ModelEmaV2 semantics): every floating weight and batch-norm
    statistic becomes decay * average + (1 - decay) * current; the batch count is copied."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    average = WeightAverage(model, 0.9)
    before = {key: value.clone() for key, value in average.model.state_dict().items()}
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)
    model.train()(torch.randn(4, 2))  # moves the running statistics and the batch count
    average.update()
    current = model.state_dict()
    for key, value in average.model.state_dict().items():
        if value.is_floating_point():
            assert torch.allclose(value, 0.9 * before[key] + 0.1 * current[key]), key
        else:
            assert torch.equal(value, current[key]), key
    assert not average.model.training and not any(p.requires_grad for p in average.model.parameters())


def adr_spec(**method) -> dict:
    spec = mlp_spec(method={"name": "adr", **method})
    spec["recipe"].update(epochs=1)
    spec["recipe"]["attack"] = {"eps": 0.1, "step_size": 0.05, "steps": 2}
    return spec


def test_adr_learns_from_its_own_weight_average(digits, tmp_path):
    """The loop keeps the average after every step and checkpoints it: with decay 0 it is the
    student itself; with ADR's 0.995 it lags behind the student, away from the start too."""
    result = fit(adr_spec(average_decay=0.0), digits, "adr0.s0", tmp_path / "zero.pt", progress=False)
    saved = load_torch(tmp_path / "zero.pt")["average"]
    assert all(torch.equal(saved[key], value) for key, value in result.model.state_dict().items())
    torch.manual_seed(0)
    start = build_for_data(mlp_spec()["model"], digits).state_dict()
    result = fit(adr_spec(), digits, "adr.s0", tmp_path / "lag.pt", progress=False)
    lagging = load_torch(tmp_path / "lag.pt")["average"]
    weight = next(key for key in lagging if key.endswith("weight"))
    assert not torch.equal(lagging[weight], result.model.state_dict()[weight])
    assert not torch.equal(lagging[weight], start[weight])


def test_adr_attacks_and_learns_from_the_same_rectified_labels(digits):
    """The attack's objective is KL from the step's rectified labels (soft: not the one-hot
    labels), the labels the loss uses at that step's point of the schedule."""
    spec = complete_spec(adr_spec())
    torch.manual_seed(0)
    student = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    average = WeightAverage(student, 0.995)
    runner = _StepRunner(student, average.model, METHODS["adr"], spec, Runtime.for_recipe(spec["recipe"], "cpu"))
    x, y = digits.train_x[:16].float() / 255, digits.train_y[:16]
    step = Step(x, y, runner.forward, average.model, runner.rt.autocast, True, False, progress=0.3)
    target = SOFT_TARGETS["adr"](step, **runner.options)
    assert torch.allclose(target.sum(1), torch.ones(16)) and (target.max(1).values < 1).all()
    logits = student(x)
    want = F.kl_div(F.log_softmax(logits, dim=1), target, reduction="batchmean")
    assert torch.allclose(ATTACK_OBJECTIVES["kl_target"](step, student, "adr", runner.options)(logits, x), want)


def test_adr_with_no_interpolation_is_pgd_at(digits, tmp_path):
    """lambda = 0 makes the rectified label the one-hot label: the attack's KL and the loss's
    soft cross-entropy become PGD-AT's cross-entropy, so training matches `at` step for step
    (given ADR's own attack mode and optimiser)."""
    spec = adr_spec(interpolation=[0.0, 0.0])
    adr = fit(spec, digits, "adr.s0", tmp_path / "adr.pt", progress=False)
    as_adr = {"name": "at", "attack_mode": METHODS["adr"].attack_mode, "nesterov": METHODS["adr"].nesterov}
    at = fit({**spec, "method": as_adr}, digits, "at.s0", tmp_path / "at.pt", progress=False)
    for key, value in adr.model.state_dict().items():
        assert torch.allclose(value, at.model.state_dict()[key], atol=1e-6), key
    assert adr.history[-1]["train_loss"] == pytest.approx(at.history[-1]["train_loss"], rel=1e-5)


def test_the_repeated_step_is_the_loops_first_step(trained_mlp, digits, tmp_path):
    """What the GPU check times in steady state is the step `fit` takes: one epoch of one batch
    (adversarial KD with augmentation) ends with the same weights as one call of the step."""
    spec = mlp_spec(method={"name": "at_kd", "alpha": 0.5, "temperature": 2.0})
    spec["recipe"].update(epochs=1, batch_size=len(digits.train_y), augment={"crop_padding": 1, "flip": True})
    spec["recipe"]["attack"] = {"eps": 0.1, "step_size": 0.05, "steps": 2}
    trained = fit(spec, digits, "t.s0", tmp_path / "ck.pt", teacher=trained_mlp.model, progress=False).model
    step, model = repeated_step(spec, digits, teacher=trained_mlp.model)
    step()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), trained.state_dict().values()))
    after_one = [p.detach().clone() for p in model.parameters()]
    step()  # and again: the same batch, a further step
    assert not all(torch.equal(a, b) for a, b in zip(model.parameters(), after_one))
