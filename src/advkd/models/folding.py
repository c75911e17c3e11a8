"""An eval-mode twin of a model in which every BatchNorm is folded into the convolution before it.

Why: adversarial training attacks the student in eval mode (a method's `attack_mode: eval`), where a
batch norm is a fixed per-channel affine map. PGD-7 runs seven forward and input-backward passes
per step through those maps; folding them into the convolution weights removes their whole cost
and computes the same function (up to float rounding). The twin is refreshed from the live model
before every attack, so it always matches the current weights and running statistics; the refresh
uses multi-tensor (`_foreach`) ops, a few kernel launches for the whole model rather than six per
batch norm.

It relies on each `BatchNorm2d` being registered right after the `Conv2d` that feeds it, which
holds for every advkd model (and is checked by the tests against the unfolded eval model). The
evaluation attacks (AutoAttack, PGD-20) run on the twin too (`folded`).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class FoldedTwin:
    def __init__(self, model: nn.Module):
        self.twin = copy.deepcopy(model).eval().requires_grad_(False)
        source_modules = dict(model.named_modules())
        twin_modules = dict(self.twin.named_modules())
        self.folds: list[tuple[nn.Conv2d, nn.BatchNorm2d, nn.Conv2d]] = []
        folded_names: set[str] = set()
        previous = None
        for name, module in model.named_modules():
            if isinstance(module, nn.BatchNorm2d) and isinstance(source_modules.get(previous), nn.Conv2d):
                conv = twin_modules[previous]
                if conv.bias is None:
                    conv.bias = nn.Parameter(torch.zeros_like(conv.weight[:, 0, 0, 0]), requires_grad=False)
                parent, _, leaf = name.rpartition(".")
                setattr(twin_modules[parent] if parent else self.twin, leaf, nn.Identity())
                self.folds.append((source_modules[previous], module, conv))
                folded_names.update({previous, name})
            previous = name
        source_tensors, twin_tensors = _tensors(model), _tensors(self.twin)
        copied = [key for key in source_tensors if key.rpartition(".")[0] not in folded_names]
        self._sources = [source_tensors[key] for key in copied]
        self._targets = [twin_tensors[key] for key in copied]
        # The tensors each refresh reads and writes, listed once (the refresh runs every attack step).
        convs, bns, twins = zip(*self.folds) if self.folds else ((), (), ())
        self._variances, self._eps = [bn.running_var for bn in bns], [bn.eps for bn in bns]
        self._gammas, self._betas, self._means = (
            [bn.weight for bn in bns],
            [bn.bias for bn in bns],
            [bn.running_mean for bn in bns],
        )
        self._conv_weights, self._twin_weights = [c.weight for c in convs], [t.weight for t in twins]
        self._twin_biases = [t.bias for t in twins]
        self._biased = [i for i, conv in enumerate(convs) if conv.bias is not None]
        self._conv_biases = [convs[i].bias for i in self._biased]

    @torch.no_grad()
    def sync(self) -> nn.Module:
        """The twin with the live model's current weights and statistics folded in:
        scale = gamma / sqrt(var + eps), W' = W * scale, b' = beta - mean * scale (+ b * scale)."""
        if self._sources:
            torch._foreach_copy_(self._targets, self._sources)
        if not self.folds:
            return self.twin
        scales = torch._foreach_add(self._variances, self._eps)
        torch._foreach_rsqrt_(scales)
        scales = torch._foreach_mul(self._gammas, scales)
        weights = torch._foreach_mul(self._conv_weights, [scale.view(-1, 1, 1, 1) for scale in scales])
        torch._foreach_copy_(self._twin_weights, weights)
        shifts = torch._foreach_sub(self._betas, torch._foreach_mul(self._means, scales))
        if self._biased:
            conv_terms = torch._foreach_mul(self._conv_biases, [scales[i] for i in self._biased])
            torch._foreach_add_([shifts[i] for i in self._biased], conv_terms)
        torch._foreach_copy_(self._twin_biases, shifts)
        return self.twin


def folded(model: nn.Module, channels_last: bool = False) -> nn.Module:
    """`model` as an evaluation attack should run it: its folded twin when it has a batch norm to
    fold (AutoAttack and PGD-20 spend all their passes in eval mode), else the model in eval mode;
    in channels_last memory format if asked (the twin is not synced again, so it may be converted)."""
    twin = FoldedTwin(model)
    attacked = twin.sync() if twin.folds else model.eval()
    return attacked.to(memory_format=torch.channels_last) if channels_last else attacked


def _tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    return {**dict(model.named_parameters()), **dict(model.named_buffers())}
