"""Config checking before any job starts: the JSON schema, then the run registry's cross-checks.

Each problem becomes one line naming the key and what is allowed (`ConfigError`). The Snakefile
calls `check` at parse time; `python -m advkd.config FILE...` checks config files by hand and also
reports YAML syntax errors with their line (Snakemake's own message for those does not).
Imports no torch.
"""

from __future__ import annotations

import math
import sys
from functools import cache
from pathlib import Path

import jsonschema
import yaml

from .experiments import ConfigError, Registry
from .schema import schema


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def key_path(parts) -> str:
    """`runs.a.method.alpha`, `tables.t1.rows[2].run`: the location in the config's own terms."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    where = key_path(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(schema.get("properties", {})))
        allowed = ", ".join(schema.get("properties", {})) or "none"
        return f"{where}: unknown key {', '.join(map(repr, unknown))}; allowed: {allowed}"
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not allowed; allowed: {', '.join(map(str, error.validator_value))}"
    if error.validator == "oneOf" and "message" in schema:
        return f"{where}: {schema['message']}"
    if error.validator == "minItems":  # jsonschema's own wording differs between its versions
        return f"{where}: {error.instance!r} needs at least {error.validator_value} item(s)"
    if error.validator == "pattern":
        return (
            f"{where}: {error.instance!r} {schema.get('message', 'is not a plain name; use letters, digits, _ and -')}"
        )
    return f"{where}: {error.message}"


def check_schema(config: dict) -> None:
    """Raise ConfigError for the most relevant schema violation (key, value, what is allowed)."""
    error = jsonschema.exceptions.best_match(_validator().iter_errors(config))
    if error is not None:
        raise ConfigError(_describe(error))


def check_finite(value, path: tuple = ()) -> None:
    """No NaN or infinity anywhere (YAML's `.nan` and `.inf`): JSON schema's bounds let them pass."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key_path(path)}: {value!r} is not a finite number")
    if isinstance(value, dict):
        for key, item in value.items():
            check_finite(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_finite(item, (*path, i))


def check(config: dict) -> Registry:
    """Finite numbers and the schema, then names, teachers, cycles and class filters; the resolved
    registry if all hold."""
    check_finite(config)
    check_schema(config)
    return Registry(config)


def load(path: str | Path) -> dict:
    """A YAML/JSON config file; a syntax error becomes a ConfigError naming the file and line."""
    try:
        config = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(err, 'problem', None) or err})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: a config must be a mapping of keys, not {type(config).__name__}")
    return config


def main(argv: list[str] | None = None) -> int:
    """Check config files (merged in order, later ones winning, as `--configfile A B` does)."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m advkd.config CONFIG.yaml [MORE.yaml ...]", file=sys.stderr)
        return 2
    try:
        config: dict = {}
        for path in paths:
            merge(config, load(path))
        registry = check(config)
    except ConfigError as err:
        print(f"advkd: invalid config: {err}", file=sys.stderr)
        return 1
    print(f"config OK: {len(registry.runs)} runs")
    return 0


def merge(base: dict, update: dict) -> dict:
    """Nested keys merge, later values win (Snakemake's rule for several --configfile arguments)."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


if __name__ == "__main__":
    sys.exit(main())
