"""How many batch workers, on what, with how many decoders and how much queue (``planning``): no Ray."""

from __future__ import annotations

import pytest

from vad_core.batch import BatchConfig
from vad_core.batch.planning import WorkerPlan, plan_workers, writer_threads
from vad_core.errors import VadError
from vad_core.inference.config import InferenceConfig


def _plan(resources: dict[str, float], **options) -> WorkerPlan:
    config = BatchConfig("root", "model.safetensors", "out", **options)
    device = "auto" if "GPU" in resources else "cpu"
    return plan_workers(config, InferenceConfig(device=device), resources)


@pytest.mark.parametrize(
    ("resources", "decoders", "workers", "expected"),
    [
        # (workers, CPUs per worker, concurrency, decoders): measured best on an H100 with 16 CPUs
        ({"CPU": 16, "GPU": 1}, None, None, (1, 1.0, 3, 6)),
        ({"CPU": 32, "GPU": 2}, None, None, (2, 1.0, 3, 12)),
        ({"CPU": 4, "GPU": 1}, None, None, (1, 1.0, 3, 1)),  # half of the 3 CPUs the actor leaves
        ({"CPU": 2, "GPU": 1}, None, None, (1, 2.0, 2, 0)),  # too few CPUs: the actor decodes itself
        ({"CPU": 16, "GPU": 1}, 0, None, (1, 8.0, 8, 0)),  # asked for none
        ({"CPU": 16, "GPU": 1}, 10, None, (1, 1.0, 3, 10)),  # asked for ten
        ({"CPU": 16}, None, None, (8, 2.0, 1, 0)),  # CPU actors decode their own chunks
        ({"CPU": 16}, None, 2, (2, 8.0, 1, 0)),
    ],
)
def test_gpu_workers_get_decoding_tasks_by_default_and_cpu_workers_none(
    resources, decoders, workers, expected
) -> None:
    plan = _plan(resources, decoders=decoders, workers=workers)
    assert (plan.workers, plan.cpus_per_worker, plan.concurrency, plan.decoders) == expected
    assert plan.device == ("cuda" if "GPU" in resources else "cpu")


@pytest.mark.parametrize(
    ("cpus", "gpus", "decoders"),
    [(32, 2, 12), (64, 4, 24), (128, 8, 48)],
    ids=["2-gpus", "4-gpus", "8-gpus"],
)
def test_a_multi_gpu_node_gets_one_worker_per_gpu_with_six_decoders_each(cpus, gpus, decoders) -> None:
    plan = _plan({"CPU": cpus, "GPU": gpus})
    assert (plan.workers, plan.gpus_per_worker, plan.device) == (gpus, 1.0, "cuda")
    assert (plan.cpus_per_worker, plan.concurrency, plan.decoders) == (1.0, 3, decoders)
    assert plan.decoders <= (cpus - gpus) // 2  # never more than half the CPUs the actors leave


def test_decoders_of_many_gpus_on_few_cpus_take_half_the_cpus_the_actors_leave() -> None:
    plan = _plan({"CPU": 16, "GPU": 8})
    assert (plan.workers, plan.cpus_per_worker, plan.concurrency, plan.decoders) == (8, 1.0, 3, 4)


def test_gpus_with_no_cpu_to_spare_get_no_decoders_and_actors_decode_themselves() -> None:
    plan = _plan({"CPU": 8, "GPU": 8})
    assert (plan.workers, plan.cpus_per_worker, plan.concurrency, plan.decoders) == (8, 1.0, 1, 0)


def test_a_cuda_device_on_a_cluster_without_gpus_is_refused() -> None:
    config = BatchConfig("root", "model.safetensors", "out")
    with pytest.raises(VadError, match="--device cuda asked for, but the Ray cluster has 0 GPUs"):
        plan_workers(config, InferenceConfig(device="cuda"), {"CPU": 16.0})


def test_a_run_starts_at_most_four_actors_per_clip() -> None:
    plan = _plan({"CPU": 128, "GPU": 8})
    assert [plan.actors_for(clips) for clips in (1, 2, 3, 100)] == [4, 8, 8, 8]


def test_each_actor_queues_its_chunks_one_more_and_its_share_of_the_decoders() -> None:
    plan = _plan({"CPU": 32, "GPU": 2})  # 3 chunks at once, 12 decoders
    assert plan.queue_capacity(2) == 3 + 1 + 6
    assert plan.queue_capacity(1) == 3 + 1 + 12
    assert _plan({"CPU": 16}).queue_capacity(8) == 1 + 1  # CPU actors: one chunk, one waiting


def test_an_actor_scoring_one_chunk_at_a_time_gets_a_thread_per_cpu_else_one() -> None:
    assert _plan({"CPU": 16}).actor_threads == 2  # 8 CPU actors of 2 CPUs
    assert _plan({"CPU": 16, "GPU": 1}).actor_threads == 1  # 3 chunks at once, one thread each
    assert _plan({"CPU": 16, "GPU": 1}, decoders=0, threads=1).actor_threads == 8


@pytest.mark.parametrize(("cores", "threads"), [(1, 2), (4, 2), (16, 4), (64, 8)])
def test_writer_threads_are_a_quarter_of_the_cores_from_two_to_eight(monkeypatch, cores, threads) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert writer_threads(None) == threads
    assert writer_threads(3) == 3
