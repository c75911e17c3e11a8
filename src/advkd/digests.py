"""Identities by content: a spec's hash (the run id's tail) and a file's SHA-256. Imports no torch."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

HASH_LENGTH = 10  # hex digits of a spec's SHA-256 in its run id


def canonical_json(obj) -> str:
    """One text per value: sorted keys, no spaces (what is hashed, and what a rule's params hold)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def spec_hash(spec: dict) -> str:
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:HASH_LENGTH]


def file_sha256(path: str | Path) -> str:
    """A weights file's identity: a teacher file enters its students' ids by content, not path."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
