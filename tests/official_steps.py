"""One training step of each method as its official code runs it, written here from the facts of
those files (advkd.official names them; nothing is copied): which mode the model is in while
attacking, where the attack starts, what it maximises with which reduction, and the loss with the
code's own reductions and multipliers. tests/test_fidelity.py runs advkd's step beside these.

Every function takes the student (in train mode, as a training loop leaves it), the teacher (eval),
the batch, the random start's noise (drawn by the caller as advkd draws it: the official codes draw
theirs from the global generator, and which stream does not belong to the method) and the
official code's settings; it returns (x', loss), the loss not yet differentiated.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """Every code below: onto the eps-ball with min/max, then into [0, 1]."""
    return torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0.0, 1.0)


def signed_ascent(objective, x_adv: torch.Tensor, x: torch.Tensor, eps: float, step: float, steps: int):
    for _ in range(steps):
        x_adv = x_adv.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(objective(x_adv), x_adv)
        x_adv = project(x_adv.detach() + step * grad.sign(), x, eps)
    return x_adv.detach()


def kl_sum(log_student: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """nn.KLDivLoss(size_average=False) / reduction='sum'."""
    return F.kl_div(log_student, target, reduction="sum")


def kl_mean(log_student: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """nn.KLDivLoss() with its default 'mean': the sum over N*K elements divided by N*K."""
    return kl_sum(log_student, target) / log_student.numel()


def trades(student, teacher, x, y, noise, eps, step, steps, beta):
    """TRADES trades.py: eval mode, start x + 0.001 N (unclipped), KL(f(x) || f(x')) summed, the
    clean target recomputed every step; train mode, CE + beta (1/N) KLsum, nothing detached, with
    three forward passes (the clean x for the CE, x', the clean x again for the KL's target)."""
    student.eval()
    x_adv = signed_ascent(
        lambda v: kl_sum(F.log_softmax(student(v), 1), F.softmax(student(x), 1)), x + 0.001 * noise, x, eps, step, steps
    )
    student.train()
    clean = student(x)
    robust = kl_sum(F.log_softmax(student(x_adv), 1), F.softmax(student(x), 1)) / len(x)
    return x_adv, F.cross_entropy(clean, y) + beta * robust


def ard(student, teacher, x, y, noise, eps, step, steps, alpha, temperature):
    """ARD main.py: train mode throughout (AttackPGD runs inside net.train()), start x + U(-eps, eps)
    unclipped, CE summed on the labels; loss alpha T^2 KLDivLoss()(S(x')/T, T(x)/T) + (1 - alpha) CE(S(x))."""
    x_adv = signed_ascent(
        lambda v: F.cross_entropy(student(v), y, reduction="sum"), x + (2 * noise - 1) * eps, x, eps, step, steps
    )
    adversarial = student(x_adv)
    with torch.no_grad():
        soft = F.softmax(teacher(x) / temperature, 1)
    clean = student(x)
    distill = kl_mean(F.log_softmax(adversarial / temperature, 1), soft)
    return x_adv, alpha * temperature**2 * distill + (1 - alpha) * F.cross_entropy(clean, y)


def rslad(student, teacher, x, y, noise, eps, step, steps, scale):
    """RSLAD rslad_loss.py and its scripts: teacher on the clean x once; eval mode, start x + 0.001 N
    (unclipped), KL(T(x) || S(x')) summed; train mode, an elementwise KL with 1e-5 inside the
    teacher's log, torch.mean over N*K, 5/6 and 1/6, times `scale` (10 in the CIFAR-100 scripts)."""
    with torch.no_grad():
        soft = F.softmax(teacher(x), 1)
    student.eval()
    x_adv = signed_ascent(
        lambda v: F.kl_div(F.log_softmax(student(v), 1), soft, reduction="none").sum(),
        x + 0.001 * noise,
        x,
        eps,
        step,
        steps,
    )
    student.train()
    adversarial, clean = student(x_adv), student(x)

    def kl(log_student):
        return (-log_student * soft + torch.log(soft + 1e-5) * soft).mean()

    return x_adv, scale * (5 / 6 * kl(F.log_softmax(adversarial, 1)) + 1 / 6 * kl(F.log_softmax(clean, 1)))


def adaad(student, teacher, x, y, noise, eps, step, steps, alpha, mean_over_classes):
    """AdaAD AT_helper.py and main.py: eval mode, start x + 0.001 N (unclipped), KL(T(x') || S(x'))
    summed, the teacher's gradient in it; train mode, clean then attacked forward, teacher under
    no_grad; KLDivLoss() (mean over N*K) on CIFAR-10, sum / N on CIFAR-100."""
    student.eval()
    x_adv = signed_ascent(
        lambda v: F.kl_div(F.log_softmax(student(v), 1), F.softmax(teacher(v), 1), reduction="none").sum(),
        x + 0.001 * noise,
        x,
        eps,
        step,
        steps,
    )
    student.train()
    clean, adversarial = student(x), student(x_adv)
    with torch.no_grad():
        t_clean, t_adv = F.softmax(teacher(x), 1), F.softmax(teacher(x_adv), 1)

    def kl(log_student, target):
        return kl_mean(log_student, target) if mean_over_classes else kl_sum(log_student, target) / len(x)

    adversarial_kl = kl(F.log_softmax(adversarial, 1), t_adv)
    return x_adv, alpha * adversarial_kl + (1 - alpha) * kl(F.log_softmax(clean, 1), t_clean)


def cosine(base: float, final: float, i: int, n: int) -> float:
    """ADR's utils.cosine_scheduler, value at global step i of n."""
    return final + 0.5 * (base - final) * (1 + math.cos(math.pi * i / n))


def adr(student, average, x, y, noise, eps, step, steps, temperature, interpolation, i, n):
    """ADR adr.py and advTrainer.py: rectified labels from the weight average (eval mode) on the clean
    x at global step i of n; the student stays in train mode; start x + U(-eps, eps) clipped into
    [0, 1] (torchattacks' PGD); CE with the rectified labels as probability targets, in the attack
    and in the loss."""
    with torch.no_grad():
        p = F.softmax(average(x) / cosine(*temperature, i, n), 1)
        lam = cosine(*interpolation, i, n)
        weight = (lam - (p.max(1).values - p.gather(1, y[:, None])[:, 0])).clamp(0, 1)[:, None]
        target = weight * p + (1 - weight) * F.one_hot(y, p.shape[1]).float()
    start = (x + (2 * noise - 1) * eps).clamp(0, 1)
    x_adv = signed_ascent(lambda v: F.cross_entropy(student(v), target), start, x, eps, step, steps)
    return x_adv, F.cross_entropy(student(x_adv), target)


def pgd_eval_ce(student, x, y, noise, eps, step, steps):
    """PGD on the labels' cross-entropy in eval mode from x + U(-eps, eps) clipped into [0, 1]
    (torchattacks' PGD, which Maroto et al.'s trainer runs; the paper's eq. 5)."""
    student.eval()
    start = (x + (2 * noise - 1) * eps).clamp(0, 1)
    x_adv = signed_ascent(lambda v: F.cross_entropy(student(v), y), start, x, eps, step, steps)
    student.train()
    return x_adv


def at_tfkd_reg(student, teacher, x, y, noise, eps, step, steps, alpha, temperature, multiplier, correct_prob=0.99):
    """The paper's eq. 7 with Yuan et al.'s loss_kd_regularization on x': the virtual teacher
    softmax(q / T) of q = correct_prob on the label, the rest spread; the student's log-softmax
    without T; KLDivLoss() (mean over N*K) times their multiplier; (1 - alpha) CE."""
    x_adv = pgd_eval_ce(student, x, y, noise, eps, step, steps)
    logits = student(x_adv)
    k = logits.shape[1]
    q = torch.full_like(logits, (1 - correct_prob) / (k - 1)).scatter_(1, y[:, None], correct_prob)
    reg = kl_mean(F.log_softmax(logits, 1), F.softmax(q / temperature, 1)) * multiplier
    return x_adv, (1 - alpha) * F.cross_entropy(logits, y) + alpha * reg


def at_tfkd_self(student, teacher, x, y, noise, eps, step, steps, alpha, temperature, multiplier):
    """The paper's eq. 6 with Yuan et al.'s loss_kd_self: the pretrained self on the clean x, the
    student on x'; alpha T^2 multiplier KLDivLoss() (mean over N*K) + (1 - alpha) CE."""
    x_adv = pgd_eval_ce(student, x, y, noise, eps, step, steps)
    logits = student(x_adv)
    with torch.no_grad():
        soft = F.softmax(teacher(x) / temperature, 1)
    distill = kl_mean(F.log_softmax(logits / temperature, 1), soft) * temperature**2 * multiplier
    return x_adv, (1 - alpha) * F.cross_entropy(logits, y) + alpha * distill
