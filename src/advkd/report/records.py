"""RobustBench-style result records: one per attacked run and weights, with the fields of
RobustBench's model-info entries (model_info/<dataset>/<threat>/<id>.json in
github.com/RobustBench/robustbench: link, name, authors, additional_data, number_forward_passes,
dataset, venue, architecture, eps, clean_acc, reported, footnote, autoattack_acc; accuracies and eps
as strings, accuracies in percent), so a run can be read beside a leaderboard entry, plus what a
leaderboard entry leaves implicit here (threat model, points attacked, AutoAttack's version and
attacks, run id, seed, weights, code version, date). Imports no torch.
"""

from __future__ import annotations

from fractions import Fraction

from ..architectures import ARCHITECTURES
from ..sizes import identity


def architecture(model: dict) -> str:
    """`ResNet-18`, or `ResNet-18 (width 0.125)` for a scaled one."""
    name = ARCHITECTURES[model["arch"]].title
    width = model.get("width", 1.0)
    return name if model["arch"] == "mlp" or width == 1.0 else f"{name} (width {width:g})"


def eps_text(eps: float) -> str:
    """RobustBench writes eps as `8/255` where it is one; otherwise the number."""
    fraction = Fraction(eps * 255).limit_denominator(1000)
    return f"{fraction.numerator}/255" if fraction.denominator == 1 else f"{eps:g}"


def origin(spec: dict) -> str:
    """Where the attacked weights come from."""
    if "method" in spec:
        return f"trained by advkd, method {spec['method']['name']}"
    if "exported_from" in spec:
        return f"a file advkd exported, trained with method {spec['exported_from']['method']['name']}"
    return f"a weights file of SHA-256 {spec['checkpoint_sha256']}, evaluated only"


def robustbench_record(run: dict, metrics: dict, attack: dict, code_version: str, date: str) -> dict:
    """`run`: {id, name, seed, weights, spec} of the attacked run; `metrics` its metrics.json;
    `attack` its autoattack_<weights>.json. clean_acc is the whole test set's, as RobustBench's."""
    spec = run["spec"]
    clean = metrics["best"]["test_acc"] if run["weights"] == "best" and metrics.get("best") else metrics["test_acc"]
    attacks = "the standard version" if attack["version"] == "standard" else ", ".join(attack["attacks"])
    budgets = [f"{attack[key]} {key.replace('_', ' ')}" for key in ("restarts", "target_classes") if attack.get(key)]
    attacks += "".join(f"; {budget}" for budget in budgets)
    return {
        "link": "",
        "name": f"{run['name']} (a weights file)"
        if "method" not in spec
        else (f"{run['name']} (seed {run['seed']}, {run['weights']} weights)"),
        "authors": "",
        "additional_data": False,
        "number_forward_passes": 1,
        "dataset": identity(spec["dataset"]),
        "venue": code_version,  # the code that trained and attacked it
        "architecture": architecture(spec["model"]),
        "eps": eps_text(attack["eps"]),
        "clean_acc": f"{100 * clean:.2f}",
        "reported": "",
        "footnote": f"AutoAttack ({attacks}) on the first {attack['n']} test points; {origin(spec)}.",
        "autoattack_acc": f"{100 * attack['robust_acc']:.2f}",
        "threat_model": attack["norm"],
        "n_points": attack["n"],
        "autoattack_version": attack["version"],
        "run_id": run["id"],
        "seed": run["seed"],
        "weights": run["weights"],
        "date": date,
    }
