"""The config schema and the defaults it declares: one place for every default value.

`config.schema.yaml` documents each key and carries its `default`; `$defs/method` and
`$defs/column` are generated from the method and column tables (`advkd.methods`,
`advkd.columns`), the architecture and dataset names from theirs (`advkd.architectures`,
`advkd.datasets`). `complete(value, "recipe")` fills in every default that applies to a config
part, following the schema's `$ref`s and its `if`/`then` variants (per dataset source, model
architecture, method, schedule). Code that consumes a spec completes it
once and then reads keys directly. Needs only PyYAML: the GPU check and job scripts use it where
jsonschema is not installed (`advkd.config` validates with jsonschema).

Run ids hash a run's spec as the config writes it (`advkd.runs`), so adding a default here
changes no id; changing one changes what a run computes and bumps `SPEC_VERSION`.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .architectures import ARCHITECTURES
from .columns import column_schema
from .datasets import IDX, TORCHVISION
from .methods import method_schema
from .official import SOURCES

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


@cache
def schema() -> dict:
    """The full JSON schema: the YAML file with `$defs/method` and `$defs/column` generated from the
    method and column tables."""
    loaded = yaml.safe_load(SCHEMA_PATH.read_text())
    loaded["$defs"]["method"] = method_schema()
    loaded["$defs"]["column"] = column_schema()
    loaded["$defs"]["source"] = {"enum": list(SOURCES)}
    _name_datasets(loaded["$defs"]["dataset"])
    _expand_families(loaded["$defs"]["model"])
    return loaded


def _expand_families(model: dict) -> None:
    """An `arch` enum written as `[families, <family>...]` becomes the names of those families'
    architectures (advkd.architectures), so a new architecture is one line of that table."""
    enums = [model["properties"]["arch"]] + [branch["if"]["properties"]["arch"] for branch in model["allOf"]]
    for enum in enums:
        if enum.get("enum", [None])[0] == "families":
            families = set(enum["enum"][1:])
            enum["enum"] = [name for name, arch in ARCHITECTURES.items() if arch.family in families]


def _name_datasets(dataset: dict) -> None:
    """A `torchvision` source's and an `idx_dir`'s `name` enums: the dataset table's."""
    for branch in dataset["allOf"]:
        source, names = branch["if"]["properties"]["source"]["const"], branch["then"]["properties"]
        if "name" in names:
            names["name"]["enum"] = list({"torchvision": TORCHVISION, "idx_dir": IDX}[source])


def definition(name: str) -> dict:
    return schema()["$defs"][name]


def complete(value: Any, node: dict | str) -> Any:
    """`value` with every default of schema `node` (a `$defs` name, or a schema) filled in; a new
    object, the input is left as it is."""
    node = _resolve(definition(node) if isinstance(node, str) else node)
    if not isinstance(value, dict):
        return value
    out = dict(value)
    properties = node.get("properties", {})
    for key, sub in properties.items():
        sub = _resolve(sub) if isinstance(sub, dict) else sub
        if key in out:
            out[key] = complete(out[key], sub) if isinstance(sub, dict) else out[key]
        elif isinstance(sub, dict) and "default" in sub:
            out[key] = complete(copy.deepcopy(sub["default"]), sub)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        for key in out.keys() - properties.keys():
            out[key] = complete(out[key], extra)
    for branch in node.get("allOf", []):
        if _matches(out, branch.get("if", {})):
            out = complete(out, branch["then"])
    return out


def complete_spec(spec: dict) -> dict:
    """A run spec (`advkd.runs`; docs/library.md, "Training one run from Python") with the defaults of its model,
    method and recipe filled in; a teacher's spec (or a teacher file's model) is completed too."""
    out = dict(spec)
    for part in ("model", "method", "recipe"):
        out[part] = complete(spec[part], part)
    out["data"] = dict(spec.get("data") or {})
    teacher = spec.get("teacher")
    if teacher and "checkpoint_sha256" in teacher:  # a weights file: only its model
        out["teacher"] = {**teacher, "model": complete(teacher["model"], "model")}
    elif teacher:
        out["teacher"] = complete_spec(teacher)
    return out


def _resolve(node: dict) -> dict:
    """Follow `$ref`s; keywords beside a `$ref` (a `default`, say) apply too."""
    while "$ref" in node:
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        node = {**definition(node["$ref"].rsplit("/", 1)[1]), **siblings}
    return node


def _matches(value: dict, condition: dict) -> bool:
    """The `if` conditions this schema uses: named properties that must equal a const or lie in
    an enum. An absent property does not match (defaults are filled before conditions are read)."""
    for key, test in condition.get("properties", {}).items():
        if key not in value:
            return False
        if "const" in test and value[key] != test["const"]:
            return False
        if "enum" in test and value[key] not in test["enum"]:
            return False
    return True
