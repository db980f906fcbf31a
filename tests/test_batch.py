"""Archive scoring on Ray: discovery, exact chunking, the results index, resume after a kill.

Ray is started once for the whole session (``ray_address``, 2 CPUs); the tests that do not need it
(discovery, chunking, the index) never start it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from vad_core.batch.chunking import chunk_plan, plan_chunks, score_chunk, stitch
from vad_core.batch.discover import content_hash, discover_clips
from vad_core.batch.index import SCHEMA_VERSION, ResultsIndex, ResultsIndexError, comparable
from vad_core.checkpoint import load_checkpoint, save_checkpoint
from vad_core.datasets.synthetic import SyntheticConfig, make_test_clip, make_train_clip, write_frames
from vad_core.inference.config import InferenceConfig
from vad_core.inference.scoring_loop import score_all
from vad_core.models import ModelConfig, build_model
from vad_core.models.base import TemporalSpec
from vad_core.sources import ArraySource, open_source

CHUNK_FRAMES = 64  # small, so that the long clip is scored in 4 chunks
BATCH = 4
SHORT = SyntheticConfig(height=64, width=64, frames_per_clip=48, anomaly_frames=(10, 20), radius=6)
LONG = SyntheticConfig(height=64, width=64, frames_per_clip=203, anomaly_frames=(20, 40), radius=6)


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def archive(tmp_path_factory) -> Path:
    """cam1: 3 short videos; cam2: a frame folder and a 203-frame video; cam3: a corrupt video."""
    root = tmp_path_factory.mktemp("archive")
    for i in range(3):
        write_frames(make_test_clip(SHORT, i, "spatial").frames, root / "cam1" / f"clip{i}", 10, video=True)
    write_frames(make_train_clip(SHORT, 0).frames, root / "cam2" / "seq01", 10, video=False)
    write_frames(make_test_clip(LONG, 3, "temporal").frames, root / "cam2" / "long", 10, video=True)
    (root / "cam3").mkdir()
    (root / "cam3" / "broken.avi").write_bytes(b"this is not a video\n" * 64)
    return root


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    """An untrained ConvGRU autoencoder (a clip model: windows of 8 frames) at 32x32."""
    torch.manual_seed(0)
    return save_checkpoint(
        build_model(ModelConfig("cgru_ae", 1, (32, 32))), tmp_path_factory.mktemp("ckpt") / "cgru"
    )


@pytest.fixture(scope="session")
def ray_address():
    """One local Ray with 2 CPUs for the whole session; its GCS address lets subprocesses join it."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def _config(archive: Path, checkpoint: Path, results: Path, **overrides):
    from vad_core.batch import BatchConfig

    settings = dict(
        inference=InferenceConfig(batch_size=BATCH),
        workers=2,
        cpus_per_worker=1,
        chunk_frames=CHUNK_FRAMES,
        progress=False,
    )
    settings.update(overrides)
    return BatchConfig(archive, checkpoint, results, **settings)


@pytest.fixture(scope="session")
def clean_run(ray_address, archive, checkpoint, tmp_path_factory):
    """One complete run of the archive: ``(summary, results folder)``."""
    from vad_core.batch import run_batch

    results = tmp_path_factory.mktemp("clean")
    return run_batch(_config(archive, checkpoint, results)), results


# ------------------------------------------------------------------------------------------ discovery
def test_discovery_finds_videos_and_frame_folders_with_stable_names(archive) -> None:
    clips = discover_clips(archive)
    assert [(c.name, c.kind) for c in clips] == [
        ("cam1/clip0.avi", "video"),
        ("cam1/clip1.avi", "video"),
        ("cam1/clip2.avi", "video"),
        ("cam2/long.avi", "video"),
        ("cam2/seq01", "frames"),
        ("cam3/broken.avi", "video"),
    ]
    assert clips[4].camera == "cam2" and clips[4].folder == "cam2"


def test_discovery_skips_hidden_excluded_and_single_images(tmp_path) -> None:
    frames = make_train_clip(SHORT, 1).frames[:3]
    write_frames(frames, tmp_path / "site" / "Test001", 10, video=False)
    write_frames(frames, tmp_path / "site" / "Test001_gt", 10, video=False)
    write_frames(frames, tmp_path / "site" / ".cache" / "x", 10, video=False)
    write_frames(frames[:1], tmp_path / "site" / "still", 10, video=False)
    (tmp_path / "site" / "._resource.avi").write_bytes(b"x")
    names = [c.name for c in discover_clips(tmp_path / "site", exclude=["*_gt"])]
    assert names == ["Test001"]


def test_content_hash_changes_with_content(tmp_path) -> None:
    write_frames(make_train_clip(SHORT, 2).frames, tmp_path / "v", 10, video=True)
    write_frames(make_train_clip(SHORT, 2).frames[:5], tmp_path / "f", 10, video=False)
    folder, video = discover_clips(tmp_path)  # sorted by name: f, v.avi
    video_hash, folder_hash = content_hash(video), content_hash(folder)
    assert content_hash(video) == video_hash  # stable
    with open(video.path, "ab") as handle:
        handle.write(b"\0")
    assert content_hash(video) != video_hash
    frame = folder.path / "002.png"
    os.utime(frame, ns=(frame.stat().st_atime_ns, frame.stat().st_mtime_ns + 1_000_000_000))
    assert content_hash(folder) != folder_hash


# ------------------------------------------------------------------------------------------ chunking
@pytest.mark.parametrize(
    ("name", "prediction"),
    [("bcae1", "next"), ("cgru_ae", "next"), ("seq2seq_cgru", "next"), ("seq2seq_cgru", "block")],
)
def test_chunked_scores_equal_unchunked_scores_exactly(name: str, prediction: str) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(name, 1, (32, 32))).eval()
    rng = np.random.default_rng(1)
    for n in (3, 37, 70):
        source = ArraySource(rng.integers(0, 255, (n, 40, 40), dtype=np.uint8))
        config = InferenceConfig(batch_size=3, prediction=prediction)
        whole = score_all(model, source, config)
        chunks = chunk_plan(n, model.spec, config, chunk_frames=10)
        assert len(chunks) > 1 or n == 3
        errors, maps = stitch(n, [score_chunk(model, source, chunk, config) for chunk in chunks])
        assert np.array_equal(errors, whole.errors), (name, n)
        assert np.array_equal(maps, whole.maps), (name, n)


@pytest.mark.parametrize(
    "spec",
    [
        TemporalSpec("frame"),
        TemporalSpec("clip", 8, 8),
        TemporalSpec("predict", 4, 4),
        TemporalSpec("predict", 2, 3),
    ],
)
def test_chunks_cover_every_frame_once_on_window_borders(spec: TemporalSpec) -> None:
    for n in range(1, 90, 7):
        for prediction in ("next", "block"):
            chunks = plan_chunks(n, spec, chunk_frames=12, batch_size=2, prediction=prediction)
            assert chunks[0].score_start == 0 and chunks[-1].score_stop == n
            for before, after in zip(chunks, chunks[1:], strict=False):
                assert before.score_stop == after.score_start
                assert after.read_start <= after.score_start
            if spec.mode == "predict" and len(chunks) > 1:  # predictors read their seed frames again
                assert chunks[1].context >= spec.input_frames


# ------------------------------------------------------------------------------------------ index
def _row(clip: str, **values):
    from vad_core.batch.index import COLUMNS, ClipRow

    base = dict.fromkeys(COLUMNS)
    base.update(clip=clip, path=f"/a/{clip}", kind="video", camera="", folder="", content_hash="h")
    base.update(status="done", model="M", model_name="m", checkpoint="c", checkpoint_sha256="s")
    base.update(settings_hash="x", **values)
    return ClipRow(**base)


def test_index_sorts_worst_first_and_failed_last(tmp_path) -> None:
    with ResultsIndex.open(tmp_path) as index:
        index.put(_row("a", max_error=0.1, n_events=3))
        index.put(_row("b", max_error=0.3, n_events=1))
        index.put(_row("c", status="failed", error="c: corrupt", error_kind="source"))
        index.put(_row("a", max_error=0.2, n_events=3))  # replaced, not duplicated
    with ResultsIndex.open(tmp_path, readonly=True) as index:
        assert [r.clip for r in index.rows()] == ["b", "a", "c"]
        assert [r.clip for r in index.rows(order_by="n_events")] == ["a", "b", "c"]
        assert index.get("a").max_error == 0.2
        assert index.counts() == {"done": 2, "failed": 1}
        assert index.rows(status="failed")[0].error == "c: corrupt"


def test_index_refuses_missing_and_newer_files(tmp_path) -> None:
    with pytest.raises(ResultsIndexError, match="no results index"):
        ResultsIndex.open(tmp_path / "nothing", readonly=True)
    ResultsIndex.open(tmp_path).close()
    with sqlite3.connect(tmp_path / "index.sqlite") as connection:
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(ResultsIndexError, match="newer"):
        ResultsIndex.open(tmp_path, readonly=True)


# ------------------------------------------------------------------------------------------ Ray runs
def test_run_scores_good_clips_and_records_the_corrupt_one(clean_run, archive, checkpoint) -> None:
    summary, results = clean_run
    assert (summary.done, summary.failed, summary.skipped, summary.clips) == (5, 1, 0, 6)
    with ResultsIndex.open(results, readonly=True) as index:
        rows = {r.clip: r for r in index.rows()}
        broken = rows["cam3/broken.avi"]
        assert broken.status == "failed" and broken.error_kind == "source"
        assert "broken.avi" in broken.error and "cannot open video" in broken.error
        assert all(r.status == "done" for name, r in rows.items() if name != "cam3/broken.avi")
        long = rows["cam2/long.avi"]
        assert long.chunks == 4 and long.frames == 203
        scores = __import__("vad_core.inference.scores_file", fromlist=["read_scores"]).read_scores(
            index.scores_file(long)
        )
    whole = score_all(
        load_checkpoint(checkpoint).model,
        open_source(archive / "cam2" / "long.avi"),
        InferenceConfig(batch_size=BATCH),
    )
    assert np.array_equal(scores.errors, whole.errors)
    assert np.array_equal(scores.maps, whole.maps)
    assert scores.meta["checkpoint_sha256"] == long.checkpoint_sha256


def test_second_run_skips_everything(clean_run, archive, checkpoint) -> None:
    from vad_core.batch import run_batch

    summary, results = clean_run
    before = comparable(ResultsIndex.open(results, readonly=True).rows())
    again = run_batch(_config(archive, checkpoint, results))
    assert (again.done, again.failed, again.skipped, again.workers) == (0, 0, 6, 0)
    assert comparable(ResultsIndex.open(results, readonly=True).rows()) == before


def _done_rows(index_file: Path) -> int:
    try:
        with sqlite3.connect(index_file, timeout=1) as connection:
            return connection.execute("SELECT COUNT(*) FROM clips WHERE status = 'done'").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def test_killed_run_resumes_to_the_index_of_a_clean_run(ray_address, archive, checkpoint, tmp_path):
    from vad_core.batch import run_batch

    # More clips than the shared archive, so that the kill lands between two of them: with scores
    # files written uncompressed, the six clips alone can all finish between two polls.
    root = tmp_path / "archive"
    shutil.copytree(archive, root)
    for i in range(12):
        write_frames(
            make_test_clip(SHORT, 10 + i, "spatial").frames, root / "cam4" / f"clip{i:02d}", 10, video=True
        )
    good = 5 + 12
    clean_results = tmp_path / "clean"
    clean = run_batch(_config(root, checkpoint, clean_results))
    assert (clean.done, clean.failed) == (good, 1)
    results = tmp_path / "killed"
    command = [sys.executable, "-m", "vad_core", "batch", "score", str(root), "--model", str(checkpoint)]
    command += ["--out", str(results), "--address", ray_address, "--workers", "1", "--cpus-per-worker", "1"]
    command += ["--chunk-frames", str(CHUNK_FRAMES), "--batch-size", str(BATCH), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180  # generous: a loaded machine starts the worker slowly
    while process.poll() is None and _done_rows(results / "index.sqlite") < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    output = process.communicate()[0].decode(errors="replace")
    assert process.returncode == -signal.SIGKILL, output
    done_at_kill = _done_rows(results / "index.sqlite")
    assert 1 <= done_at_kill < good, output
    resumed = run_batch(_config(root, checkpoint, results))
    assert resumed.done == good - done_at_kill and resumed.failed + resumed.skipped == 1 + done_at_kill
    with (
        ResultsIndex.open(results, readonly=True) as index,
        ResultsIndex.open(clean_results, readonly=True) as clean_index,
    ):
        assert comparable(index.rows()) == comparable(clean_index.rows())
        assert [run["status"] for run in index.runs()] == ["killed", "finished"]


def test_the_ray_cluster_carries_pings_probes_and_decoded_chunks_and_reports_a_killed_worker_as_died(
    ray_address, archive, checkpoint, tmp_path
) -> None:
    """The adapter alone (the scheduling rules are tested on a fake cluster, tests/test_batch_scheduler.py)."""
    from vad_core.batch.planning import WorkerPlan
    from vad_core.batch.ray_cluster import RayCluster
    from vad_core.batch.work import ChunkTask

    plan = WorkerPlan(
        workers=1, cpus_per_worker=1.0, gpus_per_worker=0.0, concurrency=1, device="cpu", decoders=1
    )
    inference = InferenceConfig(batch_size=BATCH, device="cpu")
    model = load_checkpoint(checkpoint)
    size, channels = model.preprocess.size, model.preprocess.channels
    cluster = RayCluster(
        plan, _config(archive, checkpoint, tmp_path), str(checkpoint), inference, size, channels
    )

    def finished(call: int):
        deadline = time.monotonic() + 120  # generous: a loaded machine starts the worker slowly
        while time.monotonic() < deadline:
            for done in cluster.wait(1.0):
                assert done.call == call
                return done
        raise AssertionError(f"call {call} did not finish")

    assert cluster.wait(0.1) == []  # nothing in flight
    cluster.start_workers(1)
    try:
        ready = finished(cluster.ping(0))
        assert ready.lost is None and {"host", "node", "device"} <= set(ready.value)
        long, broken = archive / "cam2" / "long.avi", archive / "cam3" / "broken.avi"
        probe = finished(
            cluster.submit_probe(0, [("long", str(long), "video"), ("broken", str(broken), "video")])
        )
        assert probe.value[0].frames == 203 and probe.value[1].error_kind == "source"
        chunk = chunk_plan(203, model.model.spec, inference, CHUNK_FRAMES)[1]
        scored = finished(cluster.submit_chunk(0, ChunkTask("long", str(long), "video", chunk)))
        assert scored.lost is None and scored.value.error is None and scored.value.scores.chunk == chunk
        cluster.kill()
        dead = finished(cluster.ping(0))
        assert dead.value is None and dead.lost.worker_died, dead.lost
    finally:
        cluster.kill()


def test_one_worker_scores_chunks_from_several_threads_like_one_at_a_time(archive, checkpoint) -> None:
    """A GPU worker runs several chunks at once (threads share the model); results must not change."""
    from concurrent.futures import ThreadPoolExecutor

    from vad_core.batch.work import ChunkTask
    from vad_core.batch.worker import ScoringWorker

    inference = InferenceConfig(batch_size=BATCH, device="cpu")
    worker = ScoringWorker(str(checkpoint), inference, threads=1, fps=None)
    path = archive / "cam2" / "long.avi"
    spec = worker.model.spec
    tasks = [ChunkTask("long", str(path), "video", c) for c in chunk_plan(203, spec, inference, 32)]
    one_by_one = [worker.score(task) for task in tasks]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(worker.score, tasks))
    for a, b in zip(one_by_one, together, strict=True):
        assert b.error is None and np.array_equal(a.scores.errors, b.scores.errors)
    assert worker.probe([("x", str(archive / "cam3" / "broken.avi"), "video")])[0].error_kind == "source"


def test_chunks_decoded_by_a_separate_task_score_exactly_like_chunks_the_worker_reads(archive, checkpoint):
    """GPU runs decode on CPU tasks and hand the frames to the actor; the numbers must not change."""
    from vad_core.batch.work import ChunkTask
    from vad_core.batch.worker import ScoringWorker, decode_chunk

    inference = InferenceConfig(batch_size=BATCH, device="cpu")
    worker = ScoringWorker(str(checkpoint), inference, threads=1, fps=None)
    size, channels = worker.preprocess.size, worker.preprocess.channels
    for path, kind, frames in (
        (archive / "cam2" / "long.avi", "video", 203),
        (archive / "cam2" / "seq01", "frames", 48),
    ):
        for chunk in chunk_plan(frames, worker.model.spec, inference, 32):
            task = ChunkTask(path.name, str(path), kind, chunk)
            decoded = decode_chunk(str(path), kind, chunk.read_start, chunk.read_stop, size, channels, None)
            assert decoded.dtype == np.uint8 and decoded.shape == (chunk.read_stop - chunk.read_start, *size)
            direct, handed = worker.score(task), worker.score_decoded(task, decoded)
            assert handed.scores.chunk == chunk
            assert np.array_equal(direct.scores.errors, handed.scores.errors)
            assert np.array_equal(direct.scores.maps, handed.scores.maps)
    broken = archive / "cam3" / "broken.avi"
    failure = decode_chunk(str(broken), "video", 0, 8, size, channels, None)
    outcome = worker.score_decoded(ChunkTask("broken", str(broken), "video", chunk), failure)
    assert outcome.scores is None and outcome.error_kind == "source" and "broken.avi" in outcome.error


def test_run_with_decoding_tasks_gives_the_index_of_a_plain_run(
    clean_run, ray_address, archive, checkpoint, tmp_path
):
    from vad_core.batch import run_batch

    _, clean_results = clean_run
    summary = run_batch(_config(archive, checkpoint, tmp_path / "decoded", workers=1, decoders=1))
    assert (summary.done, summary.failed, summary.decoders) == (5, 1, 1)
    assert "decoding for the workers" in summary.table()
    with (
        ResultsIndex.open(tmp_path / "decoded", readonly=True) as index,
        ResultsIndex.open(clean_results, readonly=True) as clean,
    ):
        assert comparable(index.rows()) == comparable(clean.rows())


@pytest.mark.parametrize(
    ("name", "channels"),
    [("bcae1", 1), ("cgru_ae", 3), ("unet_predictor", 1)],
    ids=["frame", "clip", "predict"],
)
def test_warming_a_worker_up_scores_blank_frames_and_leaves_its_scores_unchanged(
    name, channels, archive, tmp_path
) -> None:
    """GPU workers score two blank batches as they start; any model kind and channel count must take it."""
    from vad_core.batch.work import ChunkTask
    from vad_core.batch.worker import ScoringWorker

    torch.manual_seed(0)
    options = {"base_filters": 8} if name == "unet_predictor" else {}
    path = save_checkpoint(
        build_model(ModelConfig(name, channels, (32, 32), options=options)), tmp_path / name
    )
    inference = InferenceConfig(batch_size=BATCH, device="cpu")
    worker = ScoringWorker(str(path), inference, threads=1, fps=None)
    clip = archive / "cam2" / "long.avi"
    task = ChunkTask("long", str(clip), "video", chunk_plan(203, worker.model.spec, inference, 32)[1])
    cold = worker.score(task)
    calls = []
    forward = worker.model.forward
    worker.model.forward = lambda *args, **kwargs: calls.append(len(args[0])) or forward(*args, **kwargs)
    worker.warm_up()
    assert calls == [BATCH, BATCH]  # two full batches: the shape every chunk's batches have
    worker.model.forward = forward
    warm = worker.score(task)
    assert np.array_equal(cold.scores.errors, warm.scores.errors)
    assert np.array_equal(cold.scores.maps, warm.scores.maps)


def test_a_decoding_task_uses_one_opencv_thread_like_the_one_cpu_it_holds(archive) -> None:
    """Ray tasks get OMP_NUM_THREADS=1, which OpenCV's own pool ignores: decode_chunk sets it."""
    import cv2

    from vad_core.batch.worker import decode_chunk

    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(4)
        frames = decode_chunk(str(archive / "cam2" / "long.avi"), "video", 0, 10, (32, 32), 1, None)
        assert frames.shape == (10, 32, 32)
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(before)


def test_a_worker_scoring_from_several_threads_turns_cuda_graphs_off(checkpoint, caplog) -> None:
    from vad_core.batch.worker import ScoringWorker

    asked = InferenceConfig(batch_size=8, device="cpu", cuda_graphs=True)
    with caplog.at_level(logging.WARNING, logger="vad_core.batch.worker"):
        one_thread = ScoringWorker(str(checkpoint), asked, threads=1, fps=None)
        four_threads = ScoringWorker(str(checkpoint), asked, threads=4, fps=None)
    assert one_thread.inference.cuda_graphs is True
    assert four_threads.inference.cuda_graphs is False
    assert "CUDA graphs are off: this worker scores from 4 threads" in caplog.text


def test_a_slow_results_disk_is_measured_and_named_in_the_summary(
    ray_address, archive, checkpoint, tmp_path, monkeypatch
) -> None:
    """Writes that take 0.6 s each, one writer thread: chunks wait for them, and the summary says so."""
    import vad_core.inference.scores_file
    from vad_core.batch import run_batch

    real_write = vad_core.inference.scores_file.write_scores

    def slow_write(*args, **kwargs):
        time.sleep(0.6)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(vad_core.inference.scores_file, "write_scores", slow_write)
    config = _config(archive, checkpoint, tmp_path / "slow", workers=1, writers=1, chunk_frames=16)
    summary = run_batch(config)
    assert (summary.done, summary.failed) == (5, 1)
    assert summary.writing_s >= 5 * 0.6
    # one writer may hold 2 clips' results; the third finished clip stops new chunks being sent
    assert 0 < summary.held_back_s < summary.scoring_s
    assert "writing scores files" in summary.table()


def test_the_summary_names_the_disk_only_when_scoring_waited_for_it_a_second_or_more() -> None:
    from vad_core.batch import BatchSummary

    def table(held_back_s: float) -> str:
        return BatchSummary(done=1, clips=1, frames=10, wall_s=1.0, held_back_s=held_back_s).table()

    assert "waited" not in table(0.2)
    assert "scoring waited 2.5 s for scores files to be written" in table(2.5)
