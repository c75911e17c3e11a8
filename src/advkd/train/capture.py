"""The training step as one CUDA graph, replayed with a single launch (recipe `capture: true`).

A small model's step on a fast GPU waits for the host to launch its kernels one by one (hundreds
per step, thousands for PGD-7). Captured once into a CUDA graph, the whole step (attack, forward,
loss, backward, optimiser step, weight average, epoch totals) costs one launch per replay.

What a replayed graph needs of the step, and how `advkd.train.loop` provides it:

- fixed tensors: the batch is copied into static buffers; the learning rate and the training
  progress are 0-dim device tensors filled before each replay (SGD runs fused, which reads a tensor
  rate without a host sync); the epoch totals and gradient statistics are counted on the device;
- no host reads inside the step (no `.item()`, no branch on a tensor's value);
- one random generator object for the whole run, reseeded per epoch and registered with the
  graph, so every replay draws new numbers from where the generator stands;
- lazy state made before capture: the first `WARMUP_STEPS` full batches run eagerly (they are
  real steps of the run, on a side stream as PyTorch's capture notes ask), then the step is
  captured and every later full batch replays it;
- one shape: a batch of another size (an epoch's last partial batch) runs eagerly.

There is no graph on the CPU: there the same graph-ready step runs eagerly (the tests replay it
from a recording of its operations to check it is replay-safe: tests/graph_replay.py).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

import torch

WARMUP_STEPS = 3  # eager steps before capture (PyTorch's whole-network capture example warms up 3)


class Graph(Protocol):
    """What `CapturedStep` needs of a graph backend."""

    def warmup(self) -> AbstractContextManager: ...

    def capture(self) -> AbstractContextManager: ...

    def replay(self) -> None: ...


class CudaGraph:
    """`torch.cuda.CUDAGraph` with the run's generator registered (graph-safe random draws)."""

    def __init__(self, device: torch.device, generator: torch.Generator | None):
        self.device, self.generator = device, generator
        self.graph = torch.cuda.CUDAGraph()
        self._side = torch.cuda.Stream(device)

    @contextmanager
    def warmup(self):
        self._side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(self._side):
            yield
        torch.cuda.current_stream(self.device).wait_stream(self._side)

    @contextmanager
    def capture(self):
        if self.generator is not None:
            self.graph.register_generator_state(self.generator)
        with torch.cuda.graph(self.graph):
            yield

    def replay(self) -> None:
        self.graph.replay()


# Graph backends by device type; a device type without one runs the graph-ready step eagerly.
GRAPHS: dict[str, Callable[[torch.device, torch.Generator | None], Graph]] = {"cuda": CudaGraph}


class CapturedStep:
    """Calls `body(x, y)` on static copies of full batches: eagerly for the first `WARMUP_STEPS`,
    then captured once and replayed; a batch of another size runs eagerly on its own tensors."""

    def __init__(
        self,
        body: Callable[[torch.Tensor, torch.Tensor], None],
        batch_size: int,
        device: torch.device,
        generator: torch.Generator | None,
    ):
        self.body, self.batch_size = body, batch_size
        make = GRAPHS.get(device.type)
        self.graph = make(device, generator) if make is not None else None
        self.static: tuple[torch.Tensor, torch.Tensor] | None = None
        self.captured, self.eager_steps = False, 0

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if self.graph is None or len(y) != self.batch_size:
            self.body(x, y)
            return
        if self.static is None:
            self.static = (torch.empty_like(x), torch.empty_like(y))
        static_x, static_y = self.static
        static_x.copy_(x)
        static_y.copy_(y)
        if not self.captured and self.eager_steps < WARMUP_STEPS:
            with self.graph.warmup():
                self.body(static_x, static_y)
            self.eager_steps += 1
            return
        if not self.captured:
            with self.graph.capture():
                self.body(static_x, static_y)
            self.captured = True
        self.graph.replay()
