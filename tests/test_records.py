"""RobustBench-style records: the fields of RobustBench's model-info entries, from a run's files."""

from advkd.report.records import architecture, eps_text, robustbench_record

RUN = {
    "id": "rd_adr.s1.0123456789",
    "name": "rd_adr",
    "seed": 1,
    "weights": "last",
    "spec": {
        "dataset": {"key": "cifar10", "source": "torchvision", "name": "cifar10"},
        "model": {"arch": "resnet18", "width": 1.0},
        "method": {"name": "adr"},
    },
}
METRICS = {"test_acc": 0.8241, "best": {"epoch": 120, "test_acc": 0.8302}}
ATTACK = {"eps": 8 / 255, "norm": "Linf", "n": 10000, "version": "standard", "robust_acc": 0.5039, "clean_acc": 0.82}


def test_names_and_eps_as_robustbench_writes_them():
    assert architecture({"arch": "wrn34_10", "width": 1.0}) == "WideResNet-34-10"
    assert architecture({"arch": "resnet18", "width": 0.125}) == "ResNet-18 (width 0.125)"
    assert eps_text(8 / 255) == "8/255" and eps_text(0.031) == "0.031" and eps_text(0.1) == "0.1"


def test_a_record_has_robustbench_fields_and_the_runs_numbers():
    record = robustbench_record(RUN, METRICS, ATTACK, "advkd 0.1.0, git abc1234", "2026-12-06")
    assert {"link", "name", "authors", "additional_data", "number_forward_passes", "dataset", "venue"} <= set(record)
    assert {"architecture", "eps", "clean_acc", "reported", "footnote", "autoattack_acc"} <= set(record)
    assert (record["clean_acc"], record["autoattack_acc"], record["eps"]) == ("82.41", "50.39", "8/255")
    assert (record["dataset"], record["architecture"], record["n_points"]) == ("cifar10", "ResNet-18", 10000)
    assert record["venue"] == "advkd 0.1.0, git abc1234" and record["run_id"] == RUN["id"]


def test_best_weights_report_the_best_weights_clean_accuracy():
    record = robustbench_record({**RUN, "weights": "best"}, METRICS, ATTACK, "advkd", "2026-12-06")
    assert record["clean_acc"] == "83.02" and record["weights"] == "best"
