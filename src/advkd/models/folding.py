"""An eval-mode twin of a model in which every BatchNorm is folded into the convolution before it.

Why: adversarial training attacks the student in eval mode (a method's `attack_mode: eval`), where a
batch norm is a fixed per-channel affine map. PGD-7 runs seven forward and input-backward passes
per step through those maps; folding them into the convolution weights removes their whole cost
and computes the same function (up to float rounding). The twin is refreshed from the live model
before every attack, so it always matches the current weights and running statistics.

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
        self.copies = [
            (tensor, twin_tensors[key])
            for source_tensors, twin_tensors in [(_tensors(model), _tensors(self.twin))]
            for key, tensor in source_tensors.items()
            if key.rpartition(".")[0] not in folded_names
        ]

    @torch.no_grad()
    def sync(self) -> nn.Module:
        """The twin with the live model's current weights and statistics folded in."""
        for source, target in self.copies:
            target.copy_(source)
        for conv, bn, target in self.folds:
            scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
            target.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
            shift = bn.bias - bn.running_mean * scale
            target.bias.copy_(shift if conv.bias is None else shift + conv.bias * scale)
        return self.twin


def folded(model: nn.Module) -> nn.Module:
    """`model` as an evaluation attack should run it: its folded twin when it has a batch norm to
    fold (AutoAttack and PGD-20 spend all their passes in eval mode), else the model in eval mode."""
    twin = FoldedTwin(model)
    return twin.sync() if twin.folds else model.eval()


def _tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    return {**dict(model.named_parameters()), **dict(model.named_buffers())}
