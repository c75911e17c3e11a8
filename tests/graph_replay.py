"""A CPU stand-in for a CUDA graph, to test on the CPU that the training step is safe to capture.

A CUDA graph records the kernels a step launches once and replays them: the same operations on the
same memory, with the same scalar arguments, whatever the Python code would do next time. This
backend records every aten operation the step runs (a `TorchDispatchMode`, below autograd, so the
backward and the optimiser's operations are recorded too) and replays the list on the same tensors,
writing each result into the tensor the recording produced. A step that is not capture-safe gives
different numbers here too: a Python number that changes between steps is frozen at its recorded
value, a branch is taken as recorded, a fresh tensor made outside the recording is not seen. A host
read (`.item()`, `bool(tensor)`) inside the recording raises `HostRead`, as a capture would fail.

Random operations replay with their generator argument and so draw new numbers, as a CUDA graph's
registered generators do. Like a CUDA graph's capture followed by its first replay, the recording
runs the step once: the first `replay()` after it does nothing.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class HostRead(RuntimeError):
    """The recorded step read a tensor's value on the host."""


class _Recorder(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops: list[tuple] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.ops.aten._local_scalar_dense.default:
            raise HostRead("a tensor was read on the host inside the captured step")
        out = func(*args, **kwargs)
        self.ops.append((func, args, kwargs, out))
        return out


class ReplayGraph:
    """`advkd.train.capture.Graph` on the CPU: register with `GRAPHS["cpu"] = ReplayGraph`."""

    def __init__(self, device: torch.device, generator: torch.Generator | None):
        self.ops: list[tuple] = []
        self.replays = 0
        self._just_recorded = False

    @contextmanager
    def warmup(self):
        yield

    @contextmanager
    def capture(self):
        recorder = _Recorder()
        with recorder:
            yield
        self.ops, self._just_recorded = recorder.ops, True

    @torch.inference_mode()
    def replay(self) -> None:
        if self._just_recorded:  # the recording ran the step already
            self._just_recorded = False
            return
        self.replays += 1
        for func, args, kwargs, recorded in self.ops:
            result = func(*args, **kwargs)
            for old, new in zip(tree_leaves(recorded), tree_leaves(result), strict=True):
                if isinstance(old, torch.Tensor) and old is not new and not _same_memory(old, new):
                    old.copy_(new)


def _same_memory(a: torch.Tensor, b: torch.Tensor) -> bool:
    """A view op's result aliases what the recorded view aliases: nothing to write."""
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
