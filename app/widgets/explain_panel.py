"""The explainability panel: why does the model call this frame (or part image) anomalous?

A grid of tiles for one explained image: the **input**, the model's **reconstruction** and the
per-pixel **error**, then the four methods of ``vad_core.explain`` side by side: **SHAP**,
**LIME**, **e-LRP** (signed maps in a diverging colour map: red = evidence for "anomalous", blue =
for "normal") and the **counterfactual** (the input with the yellow boxes whose repair makes the
part look normal). A ground-truth mask, when known, is outlined in green on every tile. All tiles
share one zoom (mouse wheel on any of them).

What is explained is an ``ExplainTarget`` (``app/explain_jobs.py``: targets, the result cache and
the jobs, one at a time on ``app.jobs.worker.Worker``, the reconstruction first). Results are cached per
(source, frame, checkpoint SHA-256, calibration, method, settings): stepping back to a frame, or
setting a form back, shows the earlier result at once. The target brings a calibration when the
caller has scores (``app/jobs/calibration.py``); without one the explained image is
*self-calibrated*: its own error is the unit and half of it the threshold, so the maps answer "which
pixels carry this image's error" and the counterfactual halves it. The info cell says which
calibration was used. Tiles are ``app/widgets/map_tile.py``, settings forms
``app/widgets/explain_settings.py``.

Example::

    panel = ExplainPanel(pool)
    panel.set_target(ExplainTarget(model, sha, "bottle/test/broken_large/000.png", 0,
                                   read=lambda: (image, None), calibration=calibration))
    panel.explain("lrp"); panel.explain_all(); panel.export_png("explain.png")
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from app.jobs.explain import (
    BASE_TILES,
    METHODS,
    RUN_ORDER,
    TITLES,
    BaseView,
    ExplainTarget,
    ExplanationCache,
    applicability,
    base_job,
    explain_job,
    settings_key,
    shap_warmed_up,
    warm_up_shap_in_background,
)
from app.jobs.worker import Worker, WorkerPool
from app.widgets.colormaps import opaque_lut
from app.widgets.explain_settings import MethodSettings
from app.widgets.map_tile import BOX_COLOUR, MapTile, as_gray, diverging_lut, robust_peak

if TYPE_CHECKING:  # torch and the explainers load with the first explanation, not at start-up
    from vad_core.explain import Explanation


#: SHAP's first call compiles numba kernels (~17 s); the panel pays that in the background once.
WARM_UP_SHAP = True


@dataclass
class _Job:
    kind: str  # "base" or a method name
    key: tuple
    target: ExplainTarget
    options: dict[str, Any] = field(default_factory=dict)


class ExplainPanel(QWidget):
    """Input / reconstruction / error and the four explanation maps of one image (module docstring)."""

    #: A result was shown (the method name, or "base" for the reconstruction).
    resultShown = Signal(str)
    statusMessage = Signal(str)

    def __init__(
        self, pool: WorkerPool | None = None, colormap_name: str = "inferno", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.pool = pool if pool is not None else WorkerPool(max_threads=2, parent=self)
        self.colormap_name = colormap_name
        self.cache = ExplanationCache()
        self.target: ExplainTarget | None = None
        self.base: BaseView | None = None
        self.results: dict[str, Explanation] = {}
        self.worker: Worker | None = None
        self.job: _Job | None = None
        self.pending: list[_Job] = []
        self.not_applicable: dict[str, str] = {}
        self._columns = 0
        self.export_dir: Path | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(self._build_title_row())
        layout.addLayout(self._build_buttons())
        self._build_tiles()
        layout.addWidget(self.scroll, 1)
        self._relayout(force=True)
        self._update_info()
        self._update_buttons()

    def _build_title_row(self) -> QHBoxLayout:
        """What is explained, and the 'maps over the image' switch."""
        top = QHBoxLayout()
        self.title = QLabel("Nothing to explain yet: open a video and a model, or an image category.")
        self.title.setSizePolicy(
            QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred
        )  # clips, never wraps
        top.addWidget(self.title, 1)
        self.over_image = QCheckBox("Maps over the image")
        self.over_image.setChecked(True)
        self.over_image.setToolTip(
            "Signed maps over a dimmed gray copy of the image, faint where the evidence is weak"
        )
        self.over_image.toggled.connect(self._redraw_results)
        top.addWidget(self.over_image)
        return top

    def _build_buttons(self) -> QHBoxLayout:
        """Explain all, Cancel, Export PNG."""
        bar = QHBoxLayout()
        self.explain_all_button = QPushButton("Explain all")
        self.explain_all_button.setToolTip("SHAP, LIME, e-LRP and counterfactual of this image (X)")
        self.explain_all_button.clicked.connect(self.explain_all)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running explanation and the queued ones")
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button = QPushButton("Export PNG…")
        self.export_button.setToolTip("Save the grid of maps as a PNG image")
        self.export_button.clicked.connect(self.choose_export)
        for button in (self.explain_all_button, self.cancel_button, self.export_button):
            bar.addWidget(button)
        bar.addStretch(1)
        return bar

    def _build_tiles(self) -> None:
        """The tiles (input, reconstruction, error, one per method with its settings menu) and the
        info cell, in a grid inside ``self.scroll``."""
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(4)
        self.tiles: dict[str, MapTile] = {}
        self.settings: dict[str, MethodSettings] = {}
        for name in (*BASE_TILES, *METHODS):
            tile = MapTile(name)
            tile.runClicked.connect(self._tile_clicked)
            # zoom together; not setXLink / setYLink, which fight each other's aspect locks
            tile.view.sigRangeChangedManually.connect(lambda *_, view=tile.view: self._sync_zoom(view))
            tile.view_widget.doubleClicked.connect(self.reset_zoom)
            self.tiles[name] = tile
            if name in METHODS:
                form = MethodSettings(name)
                form.changed.connect(lambda name=name: self._settings_changed(name))
                menu = QMenu(tile.settings_button)
                action = QWidgetAction(menu)
                action.setDefaultWidget(form)
                menu.addAction(action)
                assert tile.settings_button is not None
                tile.settings_button.setMenu(menu)
                self.settings[name] = form
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setFrameShape(QFrame.Shape.StyledPanel)
        self.info.setStyleSheet("font-size: 8pt; padding: 4px;")
        self.info.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.grid_host)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    # ------------------------------------------------------------------------------ layout
    def _cells(self) -> list[QWidget]:
        return [*(self.tiles[name] for name in (*BASE_TILES, *METHODS)), self.info]

    def _best_columns(self, width: int, height: int) -> int:
        """Columns that give the largest square-ish tiles for ``width`` x ``height``."""
        cells = len(self._cells())
        chrome = 58  # title row, caption and margins of a tile
        best, best_side = 2, -1.0
        for columns in (1, 2, 3, 4):
            rows = math.ceil(cells / columns)
            side = min(width / columns, height / rows - chrome)
            if side > best_side + 8:  # prefer fewer columns unless clearly better
                best, best_side = columns, side
        return best

    def _relayout(self, force: bool = False) -> None:
        viewport = self.scroll.viewport().size()
        columns = self._best_columns(max(1, viewport.width()), max(1, viewport.height()))
        if columns == self._columns and not force:
            return
        self._columns = columns
        cells = self._cells()
        for cell in cells:
            self.grid.removeWidget(cell)
        rows = math.ceil(len(cells) / columns)
        for i, cell in enumerate(cells[:-1]):
            self.grid.addWidget(cell, i // columns, i % columns)
        last = len(cells) - 1  # the info cell takes what is left of the last row
        self.grid.addWidget(self.info, last // columns, last % columns, 1, columns - last % columns)
        for c in range(4):
            self.grid.setColumnStretch(c, 1 if c < columns else 0)
        for r in range(8):
            self.grid.setRowStretch(r, 1 if r < rows else 0)

    def _sync_zoom(self, source: pg.ViewBox) -> None:
        rect = source.viewRect()
        for tile in self.tiles.values():
            if tile.view is not source:
                tile.view.setRange(rect=rect, padding=0)

    def reset_zoom(self) -> None:
        """Every tile shows the whole image (double-click on any tile)."""
        height, width = self._size()
        for tile in self.tiles.values():
            tile.view.setRange(xRange=(0, width), yRange=(0, height), padding=0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._relayout()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._relayout()
        self._warm_up()
        if self.target is not None and self.base is None:
            self._request_base()

    # ------------------------------------------------------------------------------ target
    def set_colormap(self, name: str) -> None:
        """Colour map of the error tile (the heatmap's); signed maps stay diverging."""
        self.colormap_name = name
        if self.base is not None:
            self._show_base(self.base)

    def set_target(self, target: ExplainTarget | None) -> None:
        """Explain ``target`` from now on: shows what the cache holds, computes the reconstruction.

        Jobs for another image are cancelled; nothing expensive starts without a click.
        """
        if target is not None and self.target is not None and target.key == self.target.key:
            self.target = target  # same image: keep results and jobs (e.g. a new outline)
            self._apply_outline()
            self._update_info()
            return
        self.target = target
        self.base = None
        self.results = {}
        self._cancel_jobs()
        for tile in self.tiles.values():
            tile.clear()
        if target is None:
            self.title.setText("Nothing to explain.")
            self.not_applicable = {}
            self._update_info()
            self._update_buttons()
            return
        self.title.setText(f"<b>{target.title or target.source_key}</b>")
        self.not_applicable = {m: why for m in METHODS if (why := applicability(m, target.model))}
        base = self.cache.peek(self._base_key(target))
        if base is not None:
            self._show_base(base)
        elif self.isVisible():
            self._request_base()
        for method in METHODS:
            self._show_method(method)
        self._apply_outline()
        self._update_info()
        self._update_buttons()

    def _apply_outline(self) -> None:
        contours = self.target.mask_outline if self.target is not None else ()
        for tile in self.tiles.values():
            tile.set_outline(list(contours))

    def _base_key(self, target: ExplainTarget) -> tuple:
        return (*target.key, "base")

    def _method_key(self, target: ExplainTarget, method: str, options: dict[str, Any]) -> tuple:
        return (*target.key, method, settings_key(options))

    def options(self, method: str) -> dict[str, Any]:
        """The current settings of ``method`` (its form) as ``explain`` options."""
        return self.settings[method].values()

    # ------------------------------------------------------------------------------ requests
    def explain(self, method: str) -> bool:
        """Show ``method``'s map for the current image: from the cache, or computed in a worker.

        Returns False when there is nothing to explain or the method does not apply.
        """
        from vad_core.explain import method_info

        method = method_info(method).name
        target = self.target
        if target is None:
            self.statusMessage.emit("Nothing to explain: open a video and a model, or an image category.")
            return False
        if method in self.not_applicable:
            self._show_not_applicable(method)
            return False
        options = self.options(method)
        key = self._method_key(target, method, options)
        cached = self.cache.get(key)
        if cached is not None:
            self._show_result(method, cached, cached=True)
            return True
        if (self.job is not None and self.job.key == key) or any(job.key == key for job in self.pending):
            return True
        if (
            self.base is None
            and not any(job.kind == "base" for job in self.pending)
            and (self.job is None or self.job.kind != "base")
        ):
            self.pending.append(_Job("base", self._base_key(target), target))
        self.pending.append(_Job(method, key, target, options))
        self.tiles[method].set_state("queued", "waiting…")
        self._pump()
        return True

    def explain_all(self) -> None:
        """Every applicable method, fastest first (cached ones are shown at once)."""
        for method in RUN_ORDER:
            if method not in self.not_applicable:
                self.explain(method)
            else:
                self._show_not_applicable(method)

    def cancel(self, method: str | None = None) -> None:
        """Stop the running job and drop the queued ones (or only ``method``'s)."""
        if method is None:
            self._cancel_jobs(note="cancelled")
            self.statusMessage.emit("Explanations cancelled.")
            return
        self.pending = [job for job in self.pending if job.kind != method]
        if self.job is not None and self.job.kind == method and self.worker is not None:
            self.worker.cancel()
            self.worker = None
            self.job = None
            self._pump()
        self.tiles[method].set_state("cancelled", "cancelled")
        self._update_buttons()

    def _cancel_jobs(self, note: str = "") -> None:
        for job in self.pending:
            if job.kind in self.tiles and self.tiles[job.kind].state == "queued":
                self.tiles[job.kind].set_state("cancelled", note)
        self.pending = []
        if self.worker is not None:
            self.worker.cancel()
            if self.job is not None and self.job.kind in METHODS and note:
                self.tiles[self.job.kind].set_state("cancelled", note)
            self.worker = None
            self.job = None
        self._update_buttons()

    def _tile_clicked(self, method: str) -> None:
        if self.tiles[method].state in ("running", "queued"):
            self.cancel(method)
        else:
            self.explain(method)

    def _settings_changed(self, method: str) -> None:
        if self.target is None or self.tiles[method].state in ("running", "queued"):
            return
        self._show_method(method)

    def _request_base(self) -> None:
        target = self.target
        if target is None:
            return
        key = self._base_key(target)
        if (self.job is not None and self.job.key == key) or any(job.key == key for job in self.pending):
            return
        self.pending.insert(0, _Job("base", key, target))
        self._pump()

    # ------------------------------------------------------------------------------ worker
    def _pump(self) -> None:
        if self.worker is not None or not self.pending:
            self._update_buttons()
            return
        job = self.pending.pop(0)
        if job.kind == "base":
            worker = Worker(lambda: base_job(job.target), name="explain: reconstruction")
        else:
            worker = Worker(
                lambda: explain_job(job.target, job.kind, job.options), name=f"explain: {job.kind}"
            )
            self.tiles[job.kind].set_state("running", "computing…")
            if job.kind == "shap" and not shap_warmed_up():
                self.tiles[job.kind].caption.setText("computing (the first SHAP run compiles, ~20 s)…")
        worker.signals.progress.connect(self._job_progress)
        worker.signals.done.connect(self._job_done)
        worker.signals.failed.connect(self._job_failed)
        worker.signals.finished.connect(self._job_finished)
        self.worker, self.job = worker, job
        self.pool.start(worker)
        self._update_buttons()

    def _current(self) -> bool:
        return self.worker is not None and self.worker.sent(self.sender())

    def _job_progress(self, done: int, total: int) -> None:
        if self._current() and self.job is not None and self.job.kind in METHODS:
            self.tiles[self.job.kind].set_progress(done, total)

    def _job_done(self, result: Any) -> None:
        if not self._current() or self.job is None:
            return
        job = self.job
        self.cache.put(job.key, result)
        if self.target is None or job.target.key != self.target.key:
            return
        if job.kind == "base":
            self._show_base(result)
        else:
            self._show_result(job.kind, result, cached=False)

    def _job_failed(self, message: str) -> None:
        if not self._current() or self.job is None:
            return
        job = self.job
        if job.kind == "base":
            self.tiles["reconstruction"].set_state("failed", f"<span style='color:#ef9a9a'>{message}</span>")
        else:
            self.tiles[job.kind].set_state("failed", f"<span style='color:#ef9a9a'>{message}</span>")
            self.tiles[job.kind].image.clear()
        self.statusMessage.emit(f"{TITLES.get(job.kind, job.kind)} failed: {message}")

    def _job_finished(self) -> None:
        if not self._current():
            return
        self.worker = None
        self.job = None
        self._pump()

    @property
    def busy(self) -> bool:
        """A job is running or queued."""
        return self.worker is not None or bool(self.pending)

    def _warm_up(self) -> None:
        if WARM_UP_SHAP and "shap" not in self.not_applicable:
            warm_up_shap_in_background()

    def shutdown(self) -> None:
        """Cancel the running and queued jobs (the owner's pool waits for the threads)."""
        self._cancel_jobs()

    # ------------------------------------------------------------------------------ showing
    def _size(self) -> tuple[int, int]:
        if self.base is not None:
            return tuple(int(v) for v in self.base.image.shape[:2])  # type: ignore[return-value]
        return (1, 1)

    def _show_base(self, base: BaseView) -> None:
        first = self.base is None or self.base.image.shape[:2] != base.image.shape[:2]
        self.base = base
        size = self._size()
        self.tiles["input"].show_image(base.image, size)
        self.tiles["input"].caption.setText(f"{size[1]}×{size[0]} px")
        self.tiles["reconstruction"].show_image(base.reconstruction, size)
        height, width = base.error.shape
        self.tiles["reconstruction"].set_state("done", f"model input {width}×{height} px")
        scale = self.target.map_scale if self.target is not None and self.target.map_scale else None
        peak = scale or robust_peak(base.error, signed=False)
        self.tiles["error"].show_image(base.error, size, (0.0, peak), opaque_lut(self.colormap_name))
        self.tiles["error"].caption.setText(self._error_caption(base))
        if first:
            self.reset_zoom()
        for method in METHODS:  # counterfactual boxes are drawn over the input
            if method in self.results:
                self._show_result(method, self.results[method], cached=None)
        self._update_info()
        self.resultShown.emit("base")

    def _redraw_results(self) -> None:
        for method, result in list(self.results.items()):
            self._show_result(method, result, cached=None)

    def _show_method(self, method: str) -> None:
        """What the tile shows for the current settings: n/a, a cached result, or nothing yet."""
        tile = self.tiles[method]
        if self.target is None:
            tile.clear()
            return
        if method in self.not_applicable:
            self._show_not_applicable(method)
            return
        key = self._method_key(self.target, method, self.options(method))
        cached = self.cache.peek(key)
        if cached is not None:
            self._show_result(method, cached, cached=True)
        else:
            self.results.pop(method, None)
            tile.clear("press Explain")

    def _show_not_applicable(self, method: str) -> None:
        tile = self.tiles[method]
        tile.clear()
        tile.set_state("n/a", f"<span style='color:#ffcc80'>{self.not_applicable[method]}</span>")
        if tile.run_button is not None:
            tile.run_button.setEnabled(False)

    def _show_result(self, method: str, result: Explanation, cached: bool | None) -> None:
        tile = self.tiles[method]
        self.results[method] = result
        size = tuple(int(v) for v in result.heatmap.shape[:2])
        if method == "counterfactual":
            background = self.base.image if self.base is not None else None
            tile.show_image(background, size)  # type: ignore[arg-type]
            boxes = result.extras.get("boxes", [])
            tile.set_boxes(boxes)
            before, after = result.extras.get("score_before"), result.extras.get("score_after")
            crossed = result.extras.get("crossed")
            text = f"{len(boxes)} box{'es' if len(boxes) != 1 else ''}"
            if before is not None and after is not None:
                text += f", score {before:.3f} → {after:.3f}"
            if crossed is False:
                text += " (target not reached)"
        else:
            peak = robust_peak(result.heatmap, signed=result.signed)
            levels = (-peak, peak) if result.signed else (0.0, peak)
            over = self.over_image.isChecked() and self.base is not None and result.signed
            lut = diverging_lut(transparent_centre=over) if result.signed else opaque_lut(self.colormap_name)
            tile.show_image(result.heatmap, size, levels, lut)
            tile.show_under(as_gray(self.base.image) if over and self.base is not None else None, size)
            text = ""
        text = f"{text + ' · ' if text else ''}{result.seconds:.2f} s"
        if cached:
            text += " (cached)"
        if cached is not None:
            tile.set_state("done", text)
        if tile.run_button is not None:
            tile.run_button.setEnabled(True)
        if self.base is None:
            tile.view.setRange(xRange=(0, size[1]), yRange=(0, size[0]), padding=0)
        if cached is not None:
            self.statusMessage.emit(f"{TITLES[method]}: {result.summary()}{' (cached)' if cached else ''}")
            self.resultShown.emit(method)
        self._update_info()

    def _error_caption(self, base: BaseView) -> str:
        """The error tile's caption: the explainer's score and the verdict of the review window when it
        gave one (so the panel never contradicts the flagging), else the explainer's own."""
        review = self.target.verdict if self.target is not None else ""
        if review:
            return f"explainer's score {base.score:.3f} · {review.split(':')[0]}"
        return f"score {base.score:.3f} ({'anomalous' if base.score >= base.threshold else 'normal'})"

    def _update_info(self) -> None:
        lines = []
        if self.target is not None:
            lines.append(f"<b>{self.target.title or self.target.source_key}</b>")
        base = self.base
        review = self.target.verdict if self.target is not None else ""
        if base is not None:
            self.tiles["error"].caption.setText(self._error_caption(base))
        if review:  # the review window's rule decides; the explainer's own threshold only scales the maps
            flagged = review.startswith("flagged")
            lines.append(
                f"<b>Review:</b> <span style='color:{'#ef5350' if flagged else '#81c784'}'>{review}</span>"
            )
        if base is not None and review:
            lines.append(
                f"explainer's score {base.score:.3f} (its own threshold {base.threshold:.3f}, "
                f"p<sub>anomalous</sub> {base.probability:.2f}): the maps show what raises it"
            )
        elif base is not None:
            anomalous = base.score >= base.threshold
            verdict = f"<span style='color:{'#ef5350' if anomalous else '#81c784'}'>{'anomalous' if anomalous else 'normal'}</span>"
            lines.append(
                f"score {base.score:.3f} vs threshold {base.threshold:.3f}: {verdict} "
                f"(p<sub>anomalous</sub> {base.probability:.2f})"
            )
        if self.target is not None:
            note = (
                base.note
                if base is not None
                else (
                    self.target.calibration.note if self.target.calibration is not None else "self-referenced"
                )
            )
            lines.append(f"<i>Calibration:</i> {note}")
        lines.append(
            "<span style='color:#ef5350'>red</span> / <span style='color:#64b5f6'>blue</span>: evidence for "
            f"anomalous / normal · <span style='color:{BOX_COLOUR}'>yellow</span>: boxes whose repair makes "
            "the image look normal · <span style='color:#69f0ae'>green</span>: ground-truth mask"
        )
        lines.append("<span style='color:#9e9e9e'>Wheel: zoom all tiles · double-click: reset</span>")
        self.info.setText("<br>".join(lines))

    def _update_buttons(self) -> None:
        has_target = self.target is not None
        self.explain_all_button.setEnabled(has_target)
        self.cancel_button.setEnabled(self.busy)
        self.export_button.setEnabled(has_target)
        for method, tile in self.tiles.items():
            if tile.run_button is not None:
                tile.run_button.setEnabled(has_target and method not in self.not_applicable)

    # ------------------------------------------------------------------------------ export
    def grab_grid(self):
        """The tiles and the info cell as a ``QPixmap`` (what Export PNG saves)."""
        return self.grid_host.grab()

    def export_png(self, path: str | Path) -> Path:
        """Save the grid as a PNG; returns the path. Raises ``OSError`` when it cannot be written."""
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.grab_grid().save(str(path), "PNG"):
            raise OSError(f"{path}: could not write the PNG")
        return path

    def choose_export(self) -> None:
        if self.target is None:
            return
        stem = "".join(c if c.isalnum() else "_" for c in Path(self.target.source_key).stem)[:40]
        folder = self.export_dir or Path.home()
        suggested = folder / f"explain_{stem}_{self.target.frame}.png"
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the explanation panel", str(suggested), "PNG (*.png)"
        )
        if not path:
            return
        try:
            saved = self.export_png(path)
        except OSError as error:
            self.statusMessage.emit(str(error))
            return
        self.export_dir = saved.parent
        self.statusMessage.emit(f"Saved {saved}")
