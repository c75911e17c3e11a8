"""Runs `advkd.train.fit` in its own process, so tests can kill it.

Usage: python fit_worker.py SPEC.json DATA.pt CHECKPOINT OUT.pt
"""

import json
import sys
from pathlib import Path

import torch

from advkd.data import load
from advkd.train import fit

spec_path, data_path, checkpoint, out = sys.argv[1:5]
result = fit(json.loads(Path(spec_path).read_text()), load(data_path), "worker.s0", checkpoint, progress=False)
torch.save(result.model.state_dict(), out)
