import pytest
import torch
import torch.nn.functional as F

from advkd.attacks import kl_to_fixed, kl_to_teacher, pgd_linf

EPS = 0.1


def batch(digits, n=200):
    return digits.test_x[:n].float() / 255, digits.test_y[:n]


def attack(model, x, y, seed=0, **kw):
    return pgd_linf(
        model, x, y, eps=EPS, step_size=0.025, steps=10, generator=torch.Generator().manual_seed(seed), **kw
    )


def test_pgd_stays_in_the_ball_and_the_pixel_range(trained_mlp, digits):
    x, y = batch(digits)
    x_adv = attack(trained_mlp.model, x, y)
    assert (x_adv - x).abs().max() <= EPS + 1e-6
    assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_pgd_raises_the_loss_above_clean_and_random_noise(trained_mlp, digits):
    model = trained_mlp.model
    x, y = batch(digits)
    noise = (x + EPS * torch.sign(torch.randn(x.shape, generator=torch.Generator().manual_seed(1)))).clamp(0, 1)
    x_adv = attack(model, x, y)
    with torch.no_grad():
        clean, noisy, adv = (F.cross_entropy(model(v), y).item() for v in (x, noise, x_adv))
    assert adv > 2 * max(clean, noisy)
    assert (model(x_adv).argmax(1) == y).float().mean() < (model(x).argmax(1) == y).float().mean()


def test_pgd_is_reproducible_with_a_seed(trained_mlp, digits):
    x, y = batch(digits, 50)
    first, second = attack(trained_mlp.model, x, y, seed=3), attack(trained_mlp.model, x, y, seed=3)
    assert torch.equal(first, second)
    assert not torch.equal(first, attack(trained_mlp.model, x, y, seed=4))


def test_pgd_accuracy_is_clean_accuracy_at_eps_zero_and_drops_with_eps(trained_mlp, digits):
    from advkd.evaluate import accuracy_and_loss, pgd_accuracy, pgd_correct

    images, labels = digits.test_x[:200], digits.test_y[:200]
    clean, _ = accuracy_and_loss(trained_mlp.model, images, labels)
    assert pgd_accuracy(trained_mlp.model, images, labels, eps=0.0, step_size=0.01, steps=5) == pytest.approx(clean)
    correct = pgd_correct(trained_mlp.model, images, labels, eps=0.3, step_size=0.05, steps=20, batch_size=64)
    assert correct.dtype == torch.bool and len(correct) == len(labels)  # every point's outcome, for the claims
    robust = pgd_accuracy(trained_mlp.model, images, labels, eps=0.3, step_size=0.05, steps=20, batch_size=64)
    assert robust == correct.sum().item() / len(labels) < clean - 0.3


def test_the_kl_objectives_push_away_from_their_targets(trained_mlp, digits):
    """TRADES's and RSLAD's objective (KL to a fixed distribution) and AdaAD's (KL to a teacher
    that sees x' too) are maximised: the divergence at x' exceeds the divergence at x."""
    student = trained_mlp.model
    teacher = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    torch.manual_seed(0)
    x, y = batch(digits, 100)
    with torch.no_grad():
        fixed = F.softmax(student(x), dim=1)
    for objective in (kl_to_fixed(fixed), kl_to_teacher(teacher)):
        x_adv = attack(student, x, y, objective=objective)
        with torch.no_grad():
            assert objective(student(x_adv), x_adv) > 1.2 * objective(student(x), x) + 1e-3
            assert (x_adv - x).abs().max() <= EPS + 1e-6


def test_the_teacher_gradient_enters_adaads_attack(trained_mlp, digits):
    """Two teachers that agree on x but not around it lead AdaAD's attack to different points."""
    x, y = batch(digits, 50)
    torch.manual_seed(1)
    first, second = (torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)) for _ in range(2))
    points = [attack(trained_mlp.model, x, y, objective=kl_to_teacher(t)) for t in (first, second)]
    assert not torch.equal(*points)


def test_the_gaussian_start_is_trades_small_noise(trained_mlp, digits):
    x, y = batch(digits, 50)
    start = pgd_linf(trained_mlp.model, x, y, eps=EPS, step_size=0.0, steps=1, start="gaussian",
                     generator=torch.Generator().manual_seed(0))  # fmt: skip
    moved = (start - x)[(x > 0.01) & (x < 0.99)]  # away from the clamp at 0 and 1
    assert 0.0005 < moved.std().item() < 0.002
