"""Runs `advkd.train.fit` in its own process, so tests can kill it: fit_worker.py SPEC CKPT OUT."""

import json
import sys

import torch

from advkd.data import load
from advkd.train import fit

spec_path, data_path, checkpoint, out = sys.argv[1:5]
result = fit(json.loads(open(spec_path).read()), load(data_path), "worker.s0", checkpoint, progress=False)
torch.save(result.model.state_dict(), out)
