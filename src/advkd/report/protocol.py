"""Beside a table: each row's settings that differ from its official code (`advkd.official`) or from
the table's protocol (the recipe its rows share), and which reference values therefore stand
beside a run made otherwise than their source made theirs.

A row's source is the row's `source`, else its method's (when `advkd.official` has one). Only the
settings a source states are compared; a source that states none for the row's dataset says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..official import SOURCES, Source
from ..schema import complete, complete_spec
from ..sizes import identity

REFERENCE_MARK = "†"
# How to run, not what: never a deviation.
RUNTIME_KEYS = ("precision", "channels_last", "compile", "log_every", "resources")


@dataclass
class Deviations:
    rows: dict[str, list[str]] = field(default_factory=dict)  # row label -> its differences
    unstated: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (source, dataset) -> rows
    notes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # source label -> what no setting says
    marked: set[str] = field(default_factory=set)  # rows whose reference values came from another protocol
    files: list[str] = field(default_factory=list)  # rows of weights files, evaluated only: no settings to compare


def effective(spec: dict, key: str) -> Any:
    """The value at a dotted path of a completed spec; None where the spec has nothing there."""
    found: Any = spec
    for part in key.split("."):
        if not isinstance(found, dict) or part not in found:
            return None
        found = found[part]
    return found


def same(ours: Any, theirs: Any) -> bool:
    """Equal, floats to 1e-9; a dict of theirs is compared on its own keys (a schedule's)."""
    if isinstance(theirs, dict):
        return isinstance(ours, dict) and all(same(ours.get(k), v) for k, v in theirs.items())
    if isinstance(theirs, (list, tuple)):
        return isinstance(ours, (list, tuple)) and len(ours) == len(theirs) and all(map(same, ours, theirs))
    if isinstance(theirs, float) and isinstance(ours, (int, float)) and not isinstance(ours, bool):
        return math.isclose(ours, theirs, rel_tol=1e-9)
    return ours == theirs


def describe(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(describe, value)) + "]"
    return str(value)


def flat(tree: dict, prefix: str) -> dict[str, Any]:
    """Leaves of a nested dict by dotted path."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def against_source(spec: dict, source: Source, dataset: str) -> list[str]:
    stated = source.settings[dataset]
    return [
        f"{key} {describe(effective(spec, key))} ({source.label}: {describe(value)})"
        for key, value in stated.items()
        if not same(effective(spec, key), value)
    ]


def against_protocol(recipe: dict, protocol: dict, name: str) -> list[str]:
    """Differing leaves of the two recipes; a part one of them lacks (a validation split) whole."""
    ours, theirs = (
        {k: v for k, v in complete(r, "recipe").items() if k not in RUNTIME_KEYS} for r in (recipe, protocol)
    )
    differences = []
    for part in sorted(ours.keys() | theirs.keys()):
        if isinstance(ours.get(part), dict) and isinstance(theirs.get(part), dict):
            mine, shared = flat(ours[part], f"recipe.{part}."), flat(theirs[part], f"recipe.{part}.")
        else:
            mine, shared = {f"recipe.{part}": ours.get(part)}, {f"recipe.{part}": theirs.get(part)}
        differences += [
            f"{key} {describe(mine.get(key))} (protocol {name}: {describe(shared.get(key))})"
            for key in sorted(mine.keys() | shared.keys())
            if not same(mine.get(key), shared.get(key))
        ]
    return differences


def source_of(row: dict, spec: dict) -> Source | None:
    return SOURCES.get(row.get("source") or spec["method"]["name"])


def deviations(definition: dict, specs: dict[str, dict], protocol: dict | None) -> Deviations:
    """Per row of the table: what differs from its source and from the protocol (recipe `protocol`
    of the table, completed); `specs`: each row's run spec (any seed: settings do not vary by seed)."""
    found = Deviations()
    for row in definition["rows"]:
        if "method" not in specs[row["run"]]:
            found.files.append(row["label"])
            continue
        spec = complete_spec(specs[row["run"]])
        items = []
        source = source_of(row, spec)
        if source is not None:
            dataset = identity(spec["dataset"])
            if dataset in source.settings:
                items += against_source(spec, source, dataset)
                if source.notes:
                    found.notes[f"{source.label} ({source.code})"] = source.notes
            else:
                found.unstated.setdefault((source.label, dataset), []).append(row["label"])
            if row.get("paper") and items:
                found.marked.add(row["label"])
        if protocol is not None:
            items += against_protocol(spec["recipe"], protocol, definition["protocol"])
        if items:
            found.rows[row["label"]] = items
    return found


def markdown(found: Deviations, definition: dict) -> str:
    """The note under a table, empty when nothing differs and nothing needs saying."""
    lines = []
    if found.rows:
        protocol = definition.get("protocol")
        against = f" or from the table's protocol (recipe {protocol})" if protocol else ""
        lines.append(f"Settings that differ from each row's official code{against}:")
        lines += [f"- {label}: {'; '.join(items)}" for label, items in found.rows.items()]
    for (source, dataset), rows in found.unstated.items():
        compared = f"{', '.join(rows)} compared with the protocol only"
        lines.append(f"- {source}'s code states no settings for {dataset}: {compared}.")
    for source, notes in found.notes.items():
        lines += [f"- {source}: {note}" for note in notes]
    if found.files:
        lines.append(f"Weights files evaluated only, trained elsewhere: {', '.join(found.files)}.")
    if found.marked:
        lines.append(
            f"{REFERENCE_MARK} reference values measured with other settings than this row's "
            f"(listed above): {', '.join(sorted(found.marked))}."
        )
    return "\n".join(lines)
