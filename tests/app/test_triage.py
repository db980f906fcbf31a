"""The triage table of a batch run: open the index, sort, filter, double-click a clip, see failures.

The index is written directly with ``ResultsIndex.put`` and ``write_scores`` (what ``vad batch
score`` does per clip), for three small frame folders and one failed clip: no Ray, no model.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from vad_core.batch.index import ClipRow, ResultsIndex
from vad_core.inference.scores_file import write_scores
from vad_core.scoring import ScoringConfig, anomaly_scores

pytestmark = pytest.mark.gui

FAILED_REASON = "{path}: cannot open video (unknown format, missing codec or corrupt file)"


def make_clip(folder: Path, frames: int, seed: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(frames):
        cv2.imwrite(str(folder / f"{i:03d}.png"), rng.integers(0, 255, (32, 32), dtype=np.uint8))


def row(**fields) -> ClipRow:
    return ClipRow(**{**dict.fromkeys(ClipRow.__dataclass_fields__), **fields})


@pytest.fixture
def results(tmp_path) -> Path:
    """An archive of three frame folders (30, 40, 50 frames) and a results index with a failed clip."""
    archive, results = tmp_path / "archive", tmp_path / "results"
    index = ResultsIndex.open(results)
    scoring = ScoringConfig()
    for n, (clip, frames, peak) in enumerate([("cam1/a", 30, 2.0), ("cam1/b", 40, 9.0), ("cam2/c", 50, 5.0)]):
        make_clip(archive / clip, frames, n)
        errors = np.ones(frames, np.float32)
        errors[10:20] = peak
        npz = write_scores(
            results / "scores" / clip, errors, meta={"fps": 10.0, "name": clip}, scoring=scoring
        )
        derived = anomaly_scores(errors, scoring)
        index.put(
            row(
                clip=clip,
                path=str(archive / clip),
                kind="frames",
                camera=clip.split("/")[0],
                folder=clip.split("/")[0],
                content_hash=f"h{n}",
                status="done",
                frames=frames,
                fps=10.0,
                model="tiny",
                max_score=float(derived.score.max()),
                mean_score=float(derived.score.mean()),
                max_error=float(errors.max()),
                mean_error=float(errors.mean()),
                n_events=len(derived.events(scoring)) + n,  # differs from the error order on purpose
                scores_path=npz.relative_to(results).as_posix(),
            )
        )
    index.put(
        row(
            clip="cam2/broken.avi",
            path=str(archive / "cam2" / "broken.avi"),
            kind="video",
            camera="cam2",
            folder="cam2",
            content_hash="hx",
            status="failed",
            error=FAILED_REASON.format(path=archive / "cam2" / "broken.avi"),
            error_kind="source",
        )
    )
    index.close()
    return results


def double_click(qtbot, view, index) -> None:
    """A double click on ``index`` (QTest's double click alone lacks the press a view expects first)."""
    pos = view.visualRect(index).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def clips(panel) -> list[str]:
    return [r.clip for r in panel.visible_rows()]


def test_opening_batch_results_shows_the_worst_clips_first(window, results):
    assert window.batch.open_results(results)
    panel = window.batch.dock.widget()

    assert clips(panel) == ["cam1/b", "cam2/c", "cam1/a", "cam2/broken.avi"]  # max error, failed last
    panel.sort_by("max_error", Qt.SortOrder.AscendingOrder)
    assert clips(panel) == ["cam1/a", "cam2/c", "cam1/b", "cam2/broken.avi"]  # failed stays last
    panel.sort_by("n_events")
    assert clips(panel)[:3] == ["cam2/c", "cam1/b", "cam1/a"]
    panel.sort_by("camera", Qt.SortOrder.AscendingOrder)
    assert [r.camera for r in panel.visible_rows()] == ["cam1", "cam1", "cam2", "cam2"]

    panel.camera_filter.setCurrentText("cam2")
    assert sorted(clips(panel)) == ["cam2/broken.avi", "cam2/c"]
    panel.status_filter.setCurrentText("failed")
    assert clips(panel) == ["cam2/broken.avi"]


def test_double_click_opens_the_clip_with_its_stored_scores_without_scoring(
    qtbot, window, load_model, results, tiny_checkpoint
):
    load_model(window, tiny_checkpoint)  # a model is loaded, yet nothing may be scored
    assert window.batch.open_results(results)
    panel = window.batch.dock.widget()
    qtbot.waitUntil(lambda: panel.view.isVisible() and panel.view.viewport().height() > 60)
    started = []
    window.pool.start = lambda worker, _start=window.pool.start: started.append(worker.name) or _start(worker)

    double_click(qtbot, panel.view, panel.view_index("cam1/b"))
    qtbot.waitUntil(lambda: window.session.complete and not window.batch.loading, timeout=10_000)

    session = window.session
    assert session.source is not None and len(session.source) == 40
    assert session.complete and session.from_cache
    assert window.timeline.curve_points() == 40
    assert [(e.start, e.end) for e in session.events] == [(10, 20)]
    assert not window.score_job.running and "scoring" not in started and "batch clip" in started
    assert "nothing was recomputed" in window.statusBar().currentMessage()


def test_a_failed_clip_shows_its_error(qtbot, window, results):
    assert window.batch.open_results(results)
    panel = window.batch.dock.widget()
    index = panel.view_index("cam2/broken.avi", "error")
    reason = FAILED_REASON.format(path=results.parent / "archive" / "cam2" / "broken.avi")

    assert index.data() == "broken.avi: cannot open video (unknown format, missing codec or corrupt file)"
    assert reason in index.data(Qt.ItemDataRole.ToolTipRole)
    assert index.data(Qt.ItemDataRole.ForegroundRole) is not None  # drawn red

    qtbot.waitUntil(lambda: panel.view.isVisible() and panel.view.viewport().height() > 60)
    double_click(qtbot, panel.view, panel.view_index("cam2/broken.avi"))
    assert window.session.source is None
    assert panel.message.isVisible() and reason in panel.message.text()


def test_a_folder_without_an_index_is_reported(window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(window, "show_error", lambda title, message: shown.append(message))
    assert not window.batch.open_results(tmp_path)
    assert shown and "index.sqlite" in shown[0]


def test_scores_that_do_not_fit_the_clip_are_reported(qtbot, window, results, monkeypatch):
    write_scores(results / "scores" / "cam1" / "a", np.ones(99, np.float32))  # the clip has 30 frames
    shown = []
    monkeypatch.setattr(window, "show_error", lambda title, message: shown.append((title, message)))
    assert window.batch.open_results(results)
    panel = window.batch.dock.widget()
    qtbot.waitUntil(lambda: panel.view.isVisible() and panel.view.viewport().height() > 60)

    double_click(qtbot, panel.view, panel.view_index("cam1/a"))
    qtbot.waitUntil(lambda: bool(shown), timeout=10_000)

    assert shown and "99 frames" in shown[0][1] and "30" in shown[0][1]
    assert not window.session.complete and not window.score_job.running


def test_a_batch_clip_is_read_in_a_worker_while_the_window_stays_usable(qtbot, window, results, monkeypatch):
    import threading

    import vad_core.inference.scores_file as scores_file

    real_read = scores_file.read_scores
    release, threads = threading.Event(), []

    def slow_read(path, load_maps=True):
        threads.append(threading.current_thread())
        assert release.wait(20)
        return real_read(path, load_maps=load_maps)

    monkeypatch.setattr(scores_file, "read_scores", slow_read)
    assert window.batch.open_results(results)
    panel = window.batch.dock.widget()
    qtbot.waitUntil(lambda: panel.view.isVisible() and panel.view.viewport().height() > 60)

    double_click(qtbot, panel.view, panel.view_index("cam2/c"))

    qtbot.waitUntil(lambda: bool(threads))
    assert threads[0] is not threading.main_thread()
    assert window.batch.loading and window.busy_indicator.isVisible()
    assert "reading cam2/c" in window.busy_indicator.text()
    panel.sort_by("camera", Qt.SortOrder.AscendingOrder)  # the table stays usable meanwhile
    assert clips(panel)[0].startswith("cam1/") and window.session.source is None

    release.set()
    qtbot.waitUntil(lambda: window.session.complete, timeout=10_000)
    assert len(window.session.source) == 50 and window.session.maps is None  # the run kept no maps
    assert not window.busy_indicator.isVisible()


def test_an_unreadable_scores_file_is_one_line_naming_it(qtbot, window, results):
    broken = results / "scores" / "cam1" / "b.npz"
    broken.write_bytes(b"not a scores file")
    assert window.batch.open_results(results)
    panel = window.batch.dock.widget()
    qtbot.waitUntil(lambda: panel.view.isVisible() and panel.view.viewport().height() > 60)

    double_click(qtbot, panel.view, panel.view_index("cam1/b"))
    qtbot.waitUntil(
        lambda: window.error_dialog is not None and window.error_dialog.isVisible(), timeout=10_000
    )

    assert window.error_dialog.windowTitle() == "Cannot open clip"
    text = window.error_dialog.text()
    assert "b.npz" in text and "\n" not in text
    assert window.session.source is None and not window.batch.loading


def test_an_index_of_another_schema_is_reported_as_a_sentence(window, tmp_path, monkeypatch):
    import sqlite3

    with sqlite3.connect(tmp_path / "index.sqlite") as db:
        db.execute("CREATE TABLE clips (clip TEXT, score REAL)")
    shown = []
    monkeypatch.setattr(window, "show_error", lambda title, message: shown.append(message))
    assert not window.batch.open_results(tmp_path)
    assert shown and "another schema" in shown[0] and "OperationalError" not in shown[0]


def test_reloading_an_index_that_became_unreadable_says_so_under_the_table(window, results):
    import sqlite3

    assert window.batch.open_results(results)
    panel = window.batch.dock.widget()
    with sqlite3.connect(results / "index.sqlite") as db:
        db.execute("UPDATE clips SET max_error = 'high'")
    panel.reload_button.click()
    assert panel.message.isVisible() and "column max_error: expected real" in panel.message.text()
