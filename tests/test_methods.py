"""The method table (advkd.methods) is the one declaration of a method: the loss functions, the
config schema and the registry all agree with it."""

import inspect

import jsonschema
import pytest

from advkd.config import check_schema
from advkd.errors import ConfigError
from advkd.methods import METHODS, REQUIRED, method_schema
from advkd.schema import complete, schema
from advkd.train.objectives import LOSSES


@pytest.mark.parametrize("name", list(METHODS))
def test_each_loss_takes_exactly_the_declared_options(name):
    method = METHODS[name]
    parameters = inspect.signature(LOSSES[method.loss]).parameters
    keyword = {key for key, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert keyword == {key for key, option in method.options.items() if not option.step}
    assert len(parameters) - len(keyword) == 1  # the step's outputs


@pytest.mark.parametrize("name", list(METHODS))
def test_the_schema_is_generated_from_the_table(name):
    method = METHODS[name]
    branch = next(
        b["then"] for b in schema()["$defs"]["method"]["allOf"] if b["if"]["properties"]["name"]["const"] == name
    )
    assert set(branch["properties"]) == {"name", *method.options}
    assert set(branch.get("required", [])) == {k for k, o in method.options.items() if o.required}
    jsonschema.Draft202012Validator.check_schema(method_schema())


def test_defaults_come_from_the_table():
    assert complete({"name": "at_kd", "alpha": 0.5, "temperature": 2.0}, "method") == {
        "name": "at_kd",
        "alpha": 0.5,
        "temperature": 2.0,
        "multiplier": 1.0,
        "teacher_input": "clean",
        "attack_mode": "eval",
        "nesterov": False,
    }
    assert all(o.default is REQUIRED or o.default is not None for m in METHODS.values() for o in m.options.values())


def test_a_methods_own_choices_are_its_official_codes():
    """The model's mode while attacking, the start and Nesterov: ARD attacks in train mode from an
    unclipped start, ADR in train mode with Nesterov SGD, TRADES and the codes built on it in eval
    mode from x + 0.001 N (advkd.official names the files)."""
    own = {name: complete({"name": name}, "method") for name in ("trades", "ard", "rslad", "adaad", "adr")}
    assert {name: o["attack_mode"] for name, o in own.items()} == {
        "trades": "eval",
        "ard": "train",
        "rslad": "eval",
        "adaad": "eval",
        "adr": "train",
    }
    assert [name for name, o in own.items() if o["nesterov"]] == ["adr"]
    assert {name: METHODS[name].attack_start for name in own} == {
        "trades": "gaussian",
        "ard": "uniform_unclipped",
        "rslad": "gaussian",
        "adaad": "gaussian",
        "adr": "uniform",
    }
    assert "attack_mode" not in complete({"name": "ce"}, "method")  # only adversarial methods attack


def test_an_option_of_another_method_is_refused_by_the_schema():
    config = {
        "name": "x",
        "datasets": {"d": {"source": "digits"}},
        "recipes": {"r": {"epochs": 1, "batch_size": 8, "optimizer": {"lr": 0.1}}},
        "runs": {
            "a": {
                "dataset": "d",
                "model": {"arch": "mlp"},
                "method": {"name": "kd", "alpha": 0.5, "temperature": 2.0, "teacher_input": "clean"},
                "recipe": "r",
            }
        },
    }
    with pytest.raises(ConfigError, match=r"runs\.a\.method: unknown key 'teacher_input'"):
        check_schema(config)
