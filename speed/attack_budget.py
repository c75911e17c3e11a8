"""`python -m speed.attack_budget WORKDIR CONFIG... --run NAME`: the config's AutoAttack budget
against the standard version, on one trained run of a finished workflow.

A custom version with fewer restarts or target classes (`autoattack.restarts`, `target_classes`)
is cheaper; it is sound only where it leaves broken the points the standard version breaks. Both
attack the run's weights on the config's points with its seed, one after the other in this process;
printed: each one's robust accuracy, the points only one of them breaks, their seconds and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

import advkd.config
from advkd.data import load
from advkd.evaluate import run_autoattack
from advkd.models.folding import folded
from advkd.points import unpack
from advkd.schema import complete
from advkd.train import load_model


def attack_both(workdir: Path, registry, name: str, seed: int, weights: str) -> dict[str, dict]:
    run = next(r for r in registry.seeds(name) if r.seed == seed)
    data = load(workdir / "resources" / "datasets" / f"{run.dataset}.pt")
    model = load_model(run.spec, data, workdir / run.weights_path(weights), "cpu")
    attack = complete(registry.config["autoattack"], "autoattack")
    n = attack["n"] or len(data.test_y)
    x, y = data.test_x[:n], data.test_y[:n]
    shared = {"eps": attack["eps"], "norm": attack["norm"], "batch_size": attack["batch_size"], "seed": attack["seed"]}
    budgets = {key: attack[key] for key in ("restarts", "target_classes")}
    settings = {
        "config": {"version": attack["version"], "attacks": attack.get("attacks"), **budgets},
        "standard": {"version": "standard"},
    }
    found = {}
    for label, own in settings.items():
        started = time.time()
        result = run_autoattack(folded(model, attack["channels_last"]), x, y, **shared, **own)
        found[label] = {**result, "wall": time.time() - started}
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m speed.attack_budget", description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path, help="the finished workflow's directory (results/, resources/)")
    parser.add_argument("configs", nargs="+", type=Path, help="its config files, merged in order")
    parser.add_argument("--run", required=True, help="a trained run name of the config")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", choices=("last", "best"), default="last")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    registry = advkd.config.check(advkd.config.load_merged(args.configs))
    found = attack_both(args.workdir, registry, args.run, args.seed, args.weights)
    config, standard = found["config"], found["standard"]
    robust = {label: unpack(result["points"][result["attacks"][-1]]) for label, result in found.items()}
    only_standard = int((robust["config"] & ~robust["standard"]).sum())
    only_config = int((robust["standard"] & ~robust["config"]).sum())
    print(f"run {args.run} seed {args.seed} ({args.weights} weights), {config['n']} points, eps {config['eps']}")
    for label, result in found.items():
        print(
            f"  {label:8s} {', '.join(result['attacks'])}: robust {100 * result['robust_acc']:.2f} %, "
            f"{result['wall']:.1f} s"
        )
    print(f"  points only the standard version breaks: {only_standard}; only the config's: {only_config}")
    print(f"  standard / config seconds: {standard['wall'] / config['wall']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
