"""Per-test-point results, kept in the evaluation files so that a claim can count the test points'
sampling noise besides the seeds': one boolean per point (classified correctly, or still robust
after an attack), packed eight to a byte and base64-encoded, with the count beside it (10,000
points take 1,668 characters). Imports numpy only: the claims job reads these without torch.
"""

from __future__ import annotations

import base64

import numpy as np


def pack(correct) -> dict:
    """{"n", "bits"} of a boolean sequence (a numpy array, a list, or a torch tensor on the CPU)."""
    flags = np.asarray(correct, dtype=bool).ravel()
    return {"n": int(flags.size), "bits": base64.b64encode(np.packbits(flags).tobytes()).decode("ascii")}


def unpack(packed: dict) -> np.ndarray:
    """The boolean array `pack` was given."""
    raw = np.frombuffer(base64.b64decode(packed["bits"]), dtype=np.uint8)
    return np.unpackbits(raw, count=packed["n"]).astype(bool)
