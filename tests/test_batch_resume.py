"""What lets a batch run resume (``resume``): the skip rule, the results lock, stale temporaries, and
clips whose content cannot be hashed. No Ray: a run with nothing left to score never starts it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from vad_core.batch.index import COLUMNS, SCORES_DIR, ClipRow, ResultsIndex
from vad_core.batch.resume import is_up_to_date, remove_stale_temporaries, results_lock
from vad_core.errors import SourceError, VadError

SHA, SETTINGS, DIGEST = "sha-of-the-checkpoint", "settings-hash", "content-hash"


def _row(results: Path, **values) -> ClipRow:
    """A done row of clip ``a.avi`` whose scores file exists under ``results``."""
    (results / SCORES_DIR).mkdir(parents=True, exist_ok=True)
    (results / SCORES_DIR / "a.avi.npz").write_bytes(b"scores")
    base = dict.fromkeys(COLUMNS)
    base.update(clip="a.avi", path="/archive/a.avi", kind="video", camera="", folder="", status="done")
    base.update(content_hash=DIGEST, checkpoint_sha256=SHA, settings_hash=SETTINGS, model="M", model_name="m")
    base.update(checkpoint="c", scores_path=f"{SCORES_DIR}/a.avi.npz")
    base.update(values)
    return ClipRow(**base)


def _skipped(row: ClipRow | None, results: Path, retry_failed: bool = False) -> bool:
    return is_up_to_date(row, DIGEST, SHA, SETTINGS, results, retry_failed)


def test_a_clip_done_with_the_same_content_model_and_settings_and_its_file_is_skipped(tmp_path) -> None:
    assert _skipped(_row(tmp_path), tmp_path)


@pytest.mark.parametrize(
    "change",
    [
        {"content_hash": "other content"},
        {"checkpoint_sha256": "another checkpoint"},
        {"settings_hash": "other settings"},
        {"scores_path": None},
    ],
    ids=["content", "checkpoint", "settings", "no-scores-path"],
)
def test_a_clip_changed_or_scored_otherwise_is_scored_again(tmp_path, change) -> None:
    assert not _skipped(_row(tmp_path, **change), tmp_path)


def test_a_clip_done_whose_scores_file_is_gone_is_scored_again(tmp_path) -> None:
    row = _row(tmp_path)
    (tmp_path / row.scores_path).unlink()
    assert not _skipped(row, tmp_path)


def test_a_clip_never_seen_is_scored(tmp_path) -> None:
    assert not _skipped(None, tmp_path)


def test_a_clip_whose_file_cannot_be_read_is_skipped_until_retry_failed(tmp_path) -> None:
    row = _row(tmp_path, status="failed", error_kind="source", scores_path=None)
    assert _skipped(row, tmp_path)
    assert not _skipped(row, tmp_path, retry_failed=True)
    assert not _skipped(dataclasses.replace(row, content_hash="changed"), tmp_path)


@pytest.mark.parametrize("kind", ["worker", "error"])
def test_a_clip_that_failed_for_any_other_reason_is_retried(tmp_path, kind) -> None:
    assert not _skipped(_row(tmp_path, status="failed", error_kind=kind, scores_path=None), tmp_path)


def test_a_second_run_on_the_same_results_is_refused_while_the_first_holds_them(tmp_path) -> None:
    refused = pytest.raises(VadError, match="another `vad batch score` is writing these results")
    with results_lock(tmp_path), refused, results_lock(tmp_path):
        pass
    with results_lock(tmp_path):  # released
        pass


def test_temporaries_of_a_killed_write_are_removed_and_scores_files_kept(tmp_path) -> None:
    scores = tmp_path / SCORES_DIR
    (scores / "cam1").mkdir(parents=True)
    (scores / "cam1" / ".a.avi.npz.tmp").write_bytes(b"half")
    (scores / "cam1" / "b.avi.npz").write_bytes(b"whole")
    remove_stale_temporaries(scores)
    assert [p.name for p in scores.rglob("*") if p.is_file()] == ["b.avi.npz"]
    remove_stale_temporaries(tmp_path / "none")  # no scores folder yet: nothing to do


def test_a_clip_whose_content_cannot_be_hashed_is_indexed_failed_at_once(tmp_path, monkeypatch) -> None:
    from vad_core.batch import BatchConfig, run_batch
    from vad_core.checkpoint import save_checkpoint
    from vad_core.datasets.synthetic import SyntheticConfig, make_train_clip, write_frames
    from vad_core.models import ModelConfig, build_model

    frames = make_train_clip(
        SyntheticConfig(height=32, width=32, frames_per_clip=14, anomaly_frames=(2, 4), radius=6), 0
    ).frames
    write_frames(frames, tmp_path / "archive" / "cam1" / "a", 10, video=True)
    torch.manual_seed(0)
    checkpoint = save_checkpoint(build_model(ModelConfig("bcae1", 1, (32, 32))), tmp_path / "model")

    def unreadable(clip, full=False):
        raise SourceError(clip.path, "permission denied")

    monkeypatch.setattr("vad_core.batch.resume.content_hash", unreadable)
    results = tmp_path / "results"
    summary = run_batch(BatchConfig(tmp_path / "archive", checkpoint, results, progress=False))
    assert (summary.failed, summary.skipped, summary.done, summary.workers) == (1, 0, 0, 0)
    assert summary.failures == [
        ("cam1/a.avi", f"{tmp_path / 'archive' / 'cam1' / 'a.avi'}: permission denied")
    ]
    with ResultsIndex.open(results, readonly=True) as index:
        (row,) = index.rows()
        assert (row.status, row.error_kind, row.content_hash) == ("failed", "source", "")
        assert [run["status"] for run in index.runs()] == ["finished"]
