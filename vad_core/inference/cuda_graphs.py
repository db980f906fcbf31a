"""Replaying a model step as a CUDA graph: one launch per batch instead of hundreds.

A scoring step (model forward and per-pixel error) on a small batch launches hundreds of kernels,
each costing the CPU several microseconds in Python and PyTorch's dispatcher. On a fast GPU the
CPU then sets the pace, and threads of one process that score at the same time queue on the GIL.
A CUDA graph records the launches once and replays them with one call.

``GraphedSteps`` keeps one graph per (thread, input shape): a graph's input and output buffers are
reused by every replay, so two threads never replay the same graph at once, and each thread reads
its output before it replays again. Steps whose shape is not cached run eagerly, so a caller only
captures the shapes it sees often (full batches), never every tail.

Use graphs in a process that scores from one thread. On the H100, a recording in one thread of a
Ray actor broke the CUDA work that the actor's other threads were doing at the time, even with one
recording at a time (``docs/batch.md``), so ``InferenceConfig.cuda_graphs`` is off by default and
batch workers with several threads turn it off.
"""

from __future__ import annotations

import itertools
import logging
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any

import torch

from vad_core.inference.device import is_out_of_memory

log = logging.getLogger(__name__)

Step = Callable[[torch.Tensor], Any]  # a tensor, or a tuple of tensors (and Nones)


class CapturedStep:
    """``step`` recorded for inputs of one shape, dtype and device; calling it replays the graph.

    The result is the graph's own output buffer: read it (or copy it) before the next call.
    """

    def __init__(self, step: Step, example: torch.Tensor, warm_up_runs: int = 2) -> None:
        self.input = example.clone()
        side = torch.cuda.Stream(device=example.device)
        side.wait_stream(torch.cuda.current_stream(example.device))
        with torch.cuda.stream(side):  # lazy initialisation (cuBLAS handles, cuDNN plans) outside the graph
            for _ in range(warm_up_runs):
                step(self.input)
        torch.cuda.current_stream(example.device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
            self.output = step(self.input)

    def __call__(self, inputs: torch.Tensor) -> Any:
        self.input.copy_(inputs)
        self.graph.replay()
        return self.output


class GraphedSteps:
    """Captured steps of one model by (calling thread, key, input shape); see the module docstring.

    A graph reads the model's weights where they were when it was recorded. If they move (the model
    went to the CPU and back, or was rebuilt), every graph is dropped and recorded again.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self._model = weakref.ref(model)
        self._steps: dict[tuple, CapturedStep | None] = {}
        self._weights_at: tuple[int, ...] = ()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many graphs are recorded."""
        return sum(captured is not None for captured in self._steps.values())

    def _forget_if_weights_moved(self) -> None:
        model = self._model()
        tensors = itertools.chain(model.parameters(), model.buffers()) if model is not None else ()
        weights_at = tuple(tensor.data_ptr() for tensor in tensors)
        with self._lock:
            if weights_at != self._weights_at:
                self._weights_at = weights_at
                self._steps.clear()

    def run(self, key: Hashable, step: Step, inputs: torch.Tensor, capture: bool) -> Any:
        """``step(inputs)``, replayed from a graph when one is cached for ``key`` and this shape;
        with ``capture``, a missing graph is recorded first. ``key`` names everything, other than the
        model's weights and the input's shape, dtype and device, that changes what ``step`` computes."""
        self._forget_if_weights_moved()
        entry = (threading.get_ident(), key, tuple(inputs.shape), inputs.dtype, inputs.device)
        if capture and entry not in self._steps:
            try:
                with _recording:  # one recording at a time: starting one synchronises the device
                    captured = CapturedStep(step, inputs)
            except Exception as error:  # a step that cannot be recorded runs eagerly
                if is_out_of_memory(error):
                    raise  # the caller halves its batch
                log.warning(
                    "scoring without a CUDA graph: recording failed (%s: %s)", type(error).__name__, error
                )
                captured = None
            with self._lock:
                alive = {thread.ident for thread in threading.enumerate()}
                for gone in [entry for entry in self._steps if entry[0] not in alive]:
                    del self._steps[gone]  # graphs of threads that ended (a GUI job per thread)
                self._steps[entry] = captured  # None: not recordable, never tried again
        captured = self._steps.get(entry)
        return step(inputs) if captured is None else captured(inputs)


_recording = threading.Lock()
_graphs_of_models: weakref.WeakKeyDictionary[torch.nn.Module, GraphedSteps] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def graphs_for(model: torch.nn.Module) -> GraphedSteps:
    """The graphs recorded for ``model``: one set per model object, dropped with the model."""
    with _registry_lock:
        graphs = _graphs_of_models.get(model)
        if graphs is None:
            graphs = _graphs_of_models[model] = GraphedSteps(model)
        return graphs
