"""Losses as pure functions of logits (z_s student, z_t teacher, y labels, K classes).

Which inputs produced the logits is the training loop's business: the paper's adversarial
forms (eq. 6 and eq. 7) are `kd` and `tfkd_reg` applied to the student's logits on x' (and, for
eq. 6, the teacher's logits on the clean x); see `advkd.train.objectives`.

KL reductions. We average the KL divergence over the batch ("batchmean", the true KL per example).
Yuan et al.'s reference code uses `nn.KLDivLoss()`, whose default "mean" reduction divides by N*K
(batch size times number of classes), i.e. their term equals ours divided by K. So their
`multiplier` m corresponds to our `multiplier` m / K: Tf-KD-reg's m = 100 on CIFAR-10 (K = 10) is
our 10, and the same m on CIFAR-100 is our 1. The configs state the converted values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F


def ce(z_s: torch.Tensor, y: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy, optionally with label smoothing (mass `label_smoothing` spread over all K)."""
    return F.cross_entropy(z_s.float(), y, label_smoothing=label_smoothing)


def kl_batchmean(target_probs: torch.Tensor, z_s: torch.Tensor) -> torch.Tensor:
    """KL(target || softmax(z_s)) summed over classes, averaged over the batch."""
    return F.kl_div(F.log_softmax(z_s.float(), dim=1), target_probs.float(), reduction="batchmean")


def kd(
    z_s: torch.Tensor,
    z_t: torch.Tensor,
    y: torch.Tensor,
    alpha: float,
    temperature: float,
    multiplier: float = 1.0,
) -> torch.Tensor:
    """Hinton et al.: (1 - a) CE(z_s, y) + a T^2 m KL(softmax(z_t / T) || softmax(z_s / T)).

    With m = 1 this is the paper's eq. 2/3 with Hinton's T^2 gradient scaling. Yuan et al.'s
    Tf-KD-self code multiplies by a further m on top of their N*K mean (see the module note).
    """
    t = float(temperature)
    soft_targets = F.softmax(z_t.float() / t, dim=1)
    distill = kl_batchmean(soft_targets, z_s / t) * (t * t * multiplier)
    return (1.0 - alpha) * ce(z_s, y) + alpha * distill


def virtual_teacher(y: torch.Tensor, num_classes: int, delta: float, temperature: float) -> torch.Tensor:
    """Yuan et al.'s manually designed teacher: p_d = delta on the true class, (1 - delta)/(K - 1)
    elsewhere, then softened as their reference code does it: softmax(p_d / T).

    Note the softmax is taken of the *probabilities* divided by T, not of logits; at T = 20 the
    result is close to uniform with a slight bump on the true class. This is what their
    `loss_kd_regularization` computes, and what we reproduce.
    """
    off = (1.0 - delta) / (num_classes - 1)
    p_d = torch.full((y.shape[0], num_classes), off, device=y.device)
    p_d.scatter_(1, y[:, None], delta)
    return F.softmax(p_d / temperature, dim=1)


def tfkd_reg(
    z_s: torch.Tensor,
    y: torch.Tensor,
    alpha: float,
    temperature: float,
    delta: float = 0.99,
    multiplier: float = 1.0,
) -> torch.Tensor:
    """Tf-KD-reg (paper eq. 4): (1 - a) CE(z_s, y) + a m KL(softmax(p_d / T) || softmax(z_s)).

    As in Yuan et al.'s code, the student's distribution is *not* softened by T, and no T^2 factor
    is applied. Their multiplier m_ref equals our m_ref / K (see the module note on reductions).
    """
    target = virtual_teacher(y, z_s.shape[1], delta, temperature)
    return (1.0 - alpha) * ce(z_s, y) + alpha * multiplier * kl_batchmean(target, z_s)


def byot(
    logits: Sequence[torch.Tensor],
    features: Sequence[torch.Tensor],
    y: torch.Tensor,
    alpha: float,
    temperature: float,
    hint_weight: float,
) -> torch.Tensor:
    """BYOT self-distillation (Zhang et al. 2019) over exits ordered shallow to deep:

        (1 - a) sum_i CE(z_i, y) + a T^2 sum_{i<C} KL(softmax(z_C / T) || softmax(z_i / T))
        + hint_weight sum_{i<C} ||F_i - F_C||^2,

    with the deepest exit C as the teacher of the shallower ones (its outputs and features detached,
    so it learns from the labels alone). The hint term sums squares over features and averages
    over the batch; the re-implementation cited in `advkd.models.exits` sums over the batch too,
    so its weight b at batch size B is our hint_weight b * B.
    """
    t = float(temperature)
    soft_targets = F.softmax(logits[-1].detach().float() / t, dim=1)
    target_features = features[-1].detach().float()
    labels = sum(ce(z, y) for z in logits)
    distill = sum(kl_batchmean(soft_targets, z / t) for z in logits[:-1]) * (t * t)
    hints = sum((f.float() - target_features).pow(2).sum(1).mean() for f in features[:-1])
    return (1.0 - alpha) * labels + alpha * distill + hint_weight * hints


# -- robust distillation ----------------------------------------------------------------------
# z_clean: the student on x; z_adv: the student on x' (found with the method's own attack,
# advkd.attacks); t_clean / t_adv: the teacher on x / x'. Defaults are advkd.methods'.


def trades(z_clean: torch.Tensor, z_adv: torch.Tensor, y: torch.Tensor, beta: float) -> torch.Tensor:
    """TRADES (Zhang et al. 2019): CE(S(x), y) + beta KL(softmax(S(x)) || softmax(S(x'))).

    Source: github.com/yaodongyu/TRADES, trades.py (`trades_loss`): its KLDivLoss(size_average=False)
    divided by the batch size is our batch mean, so beta carries over unchanged (the paper's
    CIFAR-10 setting is beta = 6, their README's 1/lambda). As there, the clean prediction is not
    detached: the gradient flows through both sides of the KL.
    """
    return ce(z_clean, y) + beta * kl_batchmean(F.softmax(z_clean.float(), dim=1), z_adv)


def ard(
    z_clean: torch.Tensor,
    z_adv: torch.Tensor,
    t_clean: torch.Tensor,
    y: torch.Tensor,
    alpha: float,
    temperature: float,
    multiplier: float = 1.0,
) -> torch.Tensor:
    """ARD (Goldblum et al. 2020): (1 - a) CE(S(x), y) + a T^2 m KL(softmax(T(x)/T) || softmax(S(x')/T)).

    Source: github.com/goldblum/AdversariallyRobustDistillation, main.py (defaults alpha 1, T 30;
    x' maximises CE(S(x'), y) from a uniform start). Its nn.KLDivLoss() averages over N*K, ours over
    N: their loss is ours with m = 1/K (0.1 on CIFAR-10).
    """
    t = float(temperature)
    soft = kl_batchmean(F.softmax(t_clean.float() / t, dim=1), z_adv / t) * (t * t * multiplier)
    return (1.0 - alpha) * ce(z_clean, y) + alpha * soft


def rslad(
    z_clean: torch.Tensor, z_adv: torch.Tensor, t_clean: torch.Tensor, alpha: float, multiplier: float = 1.0
) -> torch.Tensor:
    """RSLAD (Zi et al. 2021): m [a KL(T(x) || S(x')) + (1 - a) KL(T(x) || S(x))], KLs of softmaxes.

    Source: github.com/zibojia/RSLAD, resnet18_rslad_cifar10.py and rslad_loss.py (a = 5/6; x'
    maximises KL(T(x) || S(x')) from x + 0.001 N(0, 1)). Their KL is averaged over N*K (ours over
    N), and their README multiplies it by 10 on CIFAR-100: their loss is ours with m = 0.1 on
    CIFAR-10 and on CIFAR-100.
    """
    target = F.softmax(t_clean.float(), dim=1)
    return multiplier * (alpha * kl_batchmean(target, z_adv) + (1.0 - alpha) * kl_batchmean(target, z_clean))


def adaad(
    z_clean: torch.Tensor,
    z_adv: torch.Tensor,
    t_clean: torch.Tensor,
    t_adv: torch.Tensor,
    alpha: float,
    multiplier: float = 1.0,
) -> torch.Tensor:
    """AdaAD (Huang et al. 2023): m [a KL(T(x') || S(x')) + (1 - a) KL(T(x) || S(x))], KLs of softmaxes.

    Source: github.com/boyellow/AdaAD, main.py and AT_helper.py (`adaad_inner_loss`: x' maximises
    KL(T(x') || S(x')) from x + 0.001 N(0, 1), the teacher seeing x' too; alpha 1). On CIFAR-10
    their nn.KLDivLoss() averages over N*K (m = 1/K = 0.1 here); on CIFAR-100 they sum and divide
    by N, our reduction (m = 1).
    """
    adversarial = kl_batchmean(F.softmax(t_adv.float(), dim=1), z_adv)
    clean = kl_batchmean(F.softmax(t_clean.float(), dim=1), z_clean)
    return multiplier * (alpha * adversarial + (1.0 - alpha) * clean)


def cosine_anneal(start: float, end: float, progress: float | torch.Tensor) -> float | torch.Tensor:
    """A value that goes from `start` to `end` along half a cosine as training `progress` goes
    from 0 to 1 (ADR's per-step `cosine_scheduler`, src/util/utils.py of its official code)."""
    cosine = torch.cos(math.pi * progress) if isinstance(progress, torch.Tensor) else math.cos(math.pi * progress)
    return end + 0.5 * (start - end) * (1.0 + cosine)


def rectified_labels(z_ema: torch.Tensor, y: torch.Tensor, temperature: float, interpolation: float) -> torch.Tensor:
    """ADR's target (Wu et al. 2024, eq. 3-5): p = softmax(z_ema / tau) from the weight-averaged
    student on the clean x; per example lambda_i = clip(lambda - (max_k p_k - p_y), 0, 1), so an
    average that gets the example wrong is trusted less; target lambda_i p + (1 - lambda_i) onehot(y).

    Source: github.com/yuyuwu5/ADR, src/adr.py.
    """
    p = F.softmax(z_ema.float() / temperature, dim=1)
    wrongness = p.amax(dim=1) - p.gather(1, y[:, None]).squeeze(1)
    weight = (interpolation - wrongness).clamp(0.0, 1.0)[:, None]
    one_hot = torch.zeros_like(p).scatter_(1, y[:, None], 1.0)  # F.one_hot checks labels on the host (CPU)
    return weight * p + (1.0 - weight) * one_hot


def adr(z_adv: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """ADR's PGD-AT loss: cross-entropy of S(x') against the rectified target, batch mean (its
    official code's nn.CrossEntropyLoss with probability targets, src/advTrainer.py)."""
    return -(target * F.log_softmax(z_adv.float(), dim=1)).sum(dim=1).mean()
