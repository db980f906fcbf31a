"""Which steps ``GraphedSteps`` records and replays (CI has no GPU: recording is replaced by a fake
that keeps the step; ``tests/test_gpu_checks.py`` checks real graphs' scores on a GPU)."""

from __future__ import annotations

import logging
import threading

import pytest
import torch

import vad_core.inference.cuda_graphs as cuda_graphs
from vad_core.inference.cuda_graphs import GraphedSteps, graphs_for


class FakeCapture:
    """Stands in for ``CapturedStep``: records which step it was made from and counts replays."""

    made: list[tuple[int, ...]] = []

    def __init__(self, step, example: torch.Tensor) -> None:
        self.step = step
        self.replays = 0
        FakeCapture.made.append(tuple(example.shape))

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        self.replays += 1
        return self.step(inputs) + 1000.0  # marks a replayed result


@pytest.fixture
def fake_capture(monkeypatch):
    FakeCapture.made = []
    monkeypatch.setattr(cuda_graphs, "CapturedStep", FakeCapture)
    return FakeCapture


def double(inputs: torch.Tensor) -> torch.Tensor:
    return inputs * 2


def test_a_full_batch_is_recorded_once_and_replayed_after(fake_capture) -> None:
    graphs = GraphedSteps(torch.nn.Linear(2, 2))
    full = torch.ones(4, 3)
    outputs = [graphs.run("key", double, full, capture=True) for _ in range(3)]
    assert fake_capture.made == [(4, 3)]
    assert all(torch.equal(output, full * 2 + 1000.0) for output in outputs)
    assert len(graphs) == 1


def test_a_tail_batch_runs_eagerly_without_recording(fake_capture) -> None:
    graphs = GraphedSteps(torch.nn.Linear(2, 2))
    graphs.run("key", double, torch.ones(4, 3), capture=True)
    tail = graphs.run("key", double, torch.ones(2, 3), capture=False)
    assert torch.equal(tail, torch.full((2, 3), 2.0))
    assert fake_capture.made == [(4, 3)]


def test_each_key_shape_and_thread_has_its_own_graph(fake_capture) -> None:
    graphs = GraphedSteps(torch.nn.Linear(2, 2))
    graphs.run("mse", double, torch.ones(4, 3), capture=True)
    graphs.run("ssim", double, torch.ones(4, 3), capture=True)
    graphs.run("mse", double, torch.ones(8, 3), capture=True)
    other = threading.Thread(target=graphs.run, args=("mse", double, torch.ones(4, 3), True))
    other.start()
    other.join()
    assert len(graphs) == 4
    graphs.run("mse", double, torch.ones(4, 3), capture=True)  # this thread's first graph, replayed
    assert len(graphs) == 4


def test_graphs_of_threads_that_ended_are_dropped_at_the_next_recording(fake_capture) -> None:
    graphs = GraphedSteps(torch.nn.Linear(2, 2))
    for _ in range(3):  # e.g. three scoring jobs of the GUI, each in its own thread
        job = threading.Thread(target=graphs.run, args=("key", double, torch.ones(4, 3), True))
        job.start()
        job.join()
    assert len(graphs) == 1  # only the last job's graph is kept (a thread id may also be reused)
    graphs.run("key", double, torch.ones(4, 3), capture=True)
    assert len(graphs) == 1  # this thread's graph; the ended job's is gone


def test_graphs_are_recorded_again_when_the_weights_move(fake_capture) -> None:
    model = torch.nn.Linear(2, 2)
    graphs = GraphedSteps(model)
    graphs.run("key", double, torch.ones(4, 3), capture=True)
    graphs.run("key", double, torch.ones(4, 3), capture=True)
    assert len(fake_capture.made) == 1
    with torch.no_grad():
        model.weight.add_(1.0)  # in place: a graph reads the new values where they are
    graphs.run("key", double, torch.ones(4, 3), capture=True)
    assert len(fake_capture.made) == 1
    model.weight = torch.nn.Parameter(model.weight.detach().clone())  # new memory: the graph is stale
    graphs.run("key", double, torch.ones(4, 3), capture=True)
    assert len(fake_capture.made) == 2
    assert len(graphs) == 1


def test_a_step_that_cannot_be_recorded_runs_eagerly_and_is_not_tried_again(monkeypatch, caplog) -> None:
    attempts = []

    def refuse(step, example):
        attempts.append(example.shape)
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(cuda_graphs, "CapturedStep", refuse)
    graphs = GraphedSteps(torch.nn.Linear(2, 2))
    with caplog.at_level(logging.WARNING, logger="vad_core.inference.cuda_graphs"):
        first = graphs.run("key", double, torch.ones(4, 3), capture=True)
        second = graphs.run("key", double, torch.ones(4, 3), capture=True)
    assert torch.equal(first, torch.full((4, 3), 2.0)) and torch.equal(second, first)
    assert len(attempts) == 1
    assert len(graphs) == 0
    assert "without a CUDA graph" in caplog.text and "not permitted" in caplog.text


def test_running_out_of_memory_while_recording_reaches_the_caller(monkeypatch) -> None:
    def out_of_memory(step, example):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(cuda_graphs, "CapturedStep", out_of_memory)
    graphs = GraphedSteps(torch.nn.Linear(2, 2))
    with pytest.raises(torch.OutOfMemoryError):
        graphs.run("key", double, torch.ones(4, 3), capture=True)
    monkeypatch.setattr(cuda_graphs, "CapturedStep", FakeCapture)
    graphs.run("key", double, torch.ones(4, 3), capture=True)  # the next try records it
    assert len(graphs) == 1


def test_each_model_has_one_set_of_graphs_dropped_with_it() -> None:
    model = torch.nn.Linear(2, 2)
    assert graphs_for(model) is graphs_for(model)
    assert graphs_for(torch.nn.Linear(2, 2)) is not graphs_for(model)
    count = len(cuda_graphs._graphs_of_models)
    del model
    assert len(cuda_graphs._graphs_of_models) < count


class CountingCapture:
    """A fake recording that runs the step itself, counting recordings and replays by batch shape."""

    made: list[tuple[int, ...]] = []
    replays: list[tuple[int, ...]] = []

    def __init__(self, step, example: torch.Tensor) -> None:
        self.step = step
        CountingCapture.made.append(tuple(example.shape))

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        CountingCapture.replays.append(tuple(inputs.shape))
        return self.step(inputs)


@pytest.mark.parametrize("model_name", ["bcae1", "cgru_ae", "unet_predictor"])
def test_scoring_replays_full_batches_and_gives_the_eager_scores(monkeypatch, model_name: str) -> None:
    import numpy as np

    import vad_core.inference.scoring_loop as inference
    from vad_core.inference.config import InferenceConfig
    from vad_core.inference.scoring_loop import score_all
    from vad_core.models import ModelConfig, build_model
    from vad_core.sources import ArraySource

    torch.manual_seed(0)
    model = build_model(
        ModelConfig(
            model_name, 1, (32, 32), options={"base_filters": 4} if model_name == "unet_predictor" else {}
        )
    )
    frames = np.random.default_rng(0).integers(0, 256, (75, 40, 60), dtype=np.uint8)
    config = InferenceConfig(batch_size=4, device="cpu", cuda_graphs=True)
    eager = score_all(model, ArraySource(frames), InferenceConfig(batch_size=4, device="cpu"))
    CountingCapture.made, CountingCapture.replays = [], []
    monkeypatch.setattr(cuda_graphs, "CapturedStep", CountingCapture)
    monkeypatch.setattr(inference, "_records_graphs", lambda device, config: config.cuda_graphs)
    graphed = score_all(model, ArraySource(frames), config)
    np.testing.assert_array_equal(graphed.errors, eager.errors)
    np.testing.assert_array_equal(graphed.maps, eager.maps)
    full_shape = CountingCapture.made[0]
    assert CountingCapture.made == [full_shape] and full_shape[0] == 4  # one recording, of a full batch
    windows = len(inference.plan_windows(75, model.spec))
    assert len(CountingCapture.replays) == windows // 4  # every full batch replayed, the tail run eagerly
    CountingCapture.made = []
    score_all(model, ArraySource(frames), InferenceConfig(batch_size=4, device="cpu"))  # off by default
    assert CountingCapture.made == []


def test_the_command_line_turns_cuda_graphs_on_only_when_asked() -> None:
    from vad_core.cli.main import build_parser
    from vad_core.cli.options import inference_config

    parser = build_parser()
    plain = parser.parse_args(["score", "clip.avi", "--model", "m.safetensors"])
    asked = parser.parse_args(["score", "clip.avi", "--model", "m.safetensors", "--cuda-graphs"])
    batch = parser.parse_args(
        ["batch", "score", "root", "--model", "m.safetensors", "--out", "r", "--cuda-graphs"]
    )
    assert inference_config(plain).cuda_graphs is False
    assert inference_config(asked).cuda_graphs is True
    assert inference_config(batch).cuda_graphs is True  # the worker turns it off if it has several threads
