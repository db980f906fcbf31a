"""The explainability panel: why does the model call this frame (or part image) anomalous?

A grid of tiles for one explained image: the **input**, the model's **reconstruction** and the
per-pixel **error**, then the four methods of ``vad_core.explain`` side by side: **SHAP**,
**LIME**, **e-LRP** (signed maps in a diverging colour map: red = evidence for "anomalous", blue =
for "normal") and the **counterfactual** (the input with the yellow boxes whose repair makes the
part look normal). A ground-truth mask, when known, is outlined in green on every tile. All tiles
share one zoom (mouse wheel on any of them).

What is explained is an ``ExplainTarget``: a model, a function that reads the image (or, for clip
and predict models, the window of frames around the explained one, ``clip_for_frame``) and an
optional calibration. Every computation runs as a generator on ``app.workers.Worker`` (one job at
a time, the reconstruction first): the engine call itself runs on a helper thread inside the job
(``drive``) so its ``progress(done, total)`` reaches the tile's progress bar and a cancel reaches
its ``should_stop``. Jobs use a private copy of the model (taken under ``app.jobs.model_lock``), so
explaining never races the review window's scoring or reconstruction.

Results are cached in memory per (source, frame, checkpoint SHA-256, calibration, method,
settings): stepping back to a frame, or setting a form back, shows the earlier result at once.

Calibration (thesis 3.8.5; ``Calibration``): the target brings one when the caller has scores -
``review_calibration`` derives it from a scored video (per-frame errors with the ground truth, or
else with the review's flagged events, as labels: G-mean threshold) and ``image_calibration`` from a
scored image category (per-image errors with the test labels). Without one the explained image is
*self-calibrated*: its own error is the unit and half of it the threshold, so the maps answer
"which pixels carry this image's error" and the counterfactual halves it. The info cell says which
calibration was used.

Example::

    panel = ExplainPanel(pool)
    panel.set_target(ExplainTarget(model, sha, "bottle/test/broken_large/000.png", 0,
                                   read=lambda: (image, None), calibration=calibration))
    panel.explain("lrp"); panel.explain_all(); panel.export_png("explain.png")
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib.util
import inspect
import math
import queue
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGraphicsRectItem,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from app.jobs import limit_torch_threads, lower_thread_priority, model_lock
from app.theme import PLOT_BACKGROUND
from app.widgets.colormaps import opaque_lut
from app.workers import Progress, Worker, WorkerPool
from vad_core.errors import ConfigError

if TYPE_CHECKING:  # torch and the explainers load with the first explanation, not at start-up
    from vad_core.explain import Calibration, Explanation
    from vad_core.models.base import AnomalyModel

#: The methods in the order of their tiles.
METHODS = ("shap", "lime", "lrp", "counterfactual")
#: "Explain all" runs the fast methods first, so something appears within a second.
RUN_ORDER = ("lrp", "counterfactual", "lime", "shap")
BASE_TILES = ("input", "reconstruction", "error")
TITLES = {
    "input": "Input",
    "reconstruction": "Reconstruction",
    "error": "Error map",
    "shap": "SHAP",
    "lime": "LIME",
    "lrp": "e-LRP",
    "counterfactual": "Counterfactual",
}
#: Signed maps: blue (normal) - white (no evidence) - red (anomalous).
DIVERGING = "CET-D1"
MASK_PEN = pg.mkPen("#69f0ae", width=1.5)
BOX_COLOUR = "#ffd740"
CACHE_SIZE = 64
#: SHAP's first call compiles numba kernels (~17 s); the panel pays that in the background once.
WARM_UP_SHAP = True
_shap_warm = threading.Event()


# ============================================================================ method settings (forms)
@dataclass(frozen=True)
class OptionSpec:
    """One field of a method's settings form: an int / float spin box or a choice of strings."""

    key: str
    label: str
    kind: str  # "int", "float" or "choice"
    minimum: float = 0.0
    maximum: float = 1.0
    step: float = 1.0
    decimals: int = 0
    choices: tuple[str, ...] = ()
    tip: str = ""


def _choices(module: str, name: str, fallback: tuple[str, ...]) -> tuple[str, ...]:
    """A tuple of allowed strings from the engine module that defines them."""
    try:
        return tuple(getattr(importlib.import_module(module), name))
    except (ImportError, AttributeError):  # pragma: no cover - the engine always has them
        return fallback


@functools.cache
def option_specs() -> dict[str, tuple[OptionSpec, ...]]:
    """The settings form of each method (built on first use: it reads the engine's choices)."""
    return _option_specs()


def _option_specs() -> dict[str, tuple[OptionSpec, ...]]:
    return {
        "shap": (
            OptionSpec(
                "max_evals", "Evaluations", "int", 10, 20000, 50, tip="model calls of the Partition explainer"
            ),
            OptionSpec(
                "background",
                "Masked regions show",
                "choice",
                choices=_choices("vad_core.explain.shap_method", "BACKGROUNDS", ("blur", "reconstruction")),
            ),
            OptionSpec(
                "blur_kernel", "Blur kernel (0 = side/8)", "int", 0, 255, 1, tip="patch blur in model pixels"
            ),
            OptionSpec("seed", "Seed", "int", 0, 1_000_000, 1),
        ),
        "lime": (
            OptionSpec("num_samples", "Samples", "int", 10, 20000, 50, tip="perturbed images"),
            OptionSpec("n_segments", "Superpixels", "int", 2, 1024, 8),
            OptionSpec(
                "segmentation",
                "Segmentation",
                "choice",
                choices=_choices("vad_core.explain.lime_method", "SEGMENTATIONS", ("slic",)),
            ),
            OptionSpec(
                "hide",
                "Hidden superpixels show",
                "choice",
                choices=_choices("vad_core.explain.lime_method", "HIDES", ("blur",)),
            ),
            OptionSpec("seed", "Seed", "int", 0, 1_000_000, 1),
        ),
        "lrp": (
            OptionSpec(
                "epsilon", "Epsilon", "float", 0.0, 10.0, 0.005, 4, tip="stabiliser of the epsilon rule"
            ),
            OptionSpec(
                "loss_rule",
                "Loss layer",
                "choice",
                choices=_choices("vad_core.explain.lrp", "LOSS_RULES", ("lrp0",)),
                tip="midpoint also sees dark defects",
            ),
        ),
        "counterfactual": (
            OptionSpec(
                "grid", "Grid (cells per side)", "int", 2, 64, 1, tip="box size step = image side / grid"
            ),
            OptionSpec(
                "replacement",
                "Repair with",
                "choice",
                choices=_choices("vad_core.explain.counterfactual", "REPLACEMENTS", ("reconstruction",)),
            ),
            OptionSpec(
                "target",
                "Repair until",
                "choice",
                choices=_choices("vad_core.explain.counterfactual", "TARGETS", ("normal",)),
                tip="normal: like the most anomalous good reference; threshold: the minimal flip",
            ),
            OptionSpec("max_boxes", "Boxes at most", "int", 1, 10, 1),
        ),
    }


def method_defaults(method: str) -> dict[str, Any]:
    """Default value of every form field of ``method``: ``method_info`` defaults, else the signature's."""
    from vad_core.explain import method_info

    info = method_info(method)
    signature = inspect.signature(info.function).parameters
    values: dict[str, Any] = {}
    for spec in option_specs()[info.name]:
        if spec.key in info.defaults:
            value = info.defaults[spec.key]
        elif spec.key in signature and signature[spec.key].default is not inspect.Parameter.empty:
            value = signature[spec.key].default
        else:
            value = 0
        if spec.key == "blur_kernel" and value is None:
            value = 0
        values[spec.key] = value
    return values


class MethodSettings(QWidget):
    """The small settings form of one method (spin boxes and combo boxes), with a Defaults button."""

    changed = Signal()

    def __init__(self, method: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.method = method
        self.widgets: dict[str, QSpinBox | QDoubleSpinBox | QComboBox] = {}
        layout = QFormLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        for spec in option_specs()[method]:
            if spec.kind == "int":
                widget: QSpinBox | QDoubleSpinBox | QComboBox = QSpinBox()
                widget.setRange(int(spec.minimum), int(spec.maximum))
                widget.setSingleStep(int(spec.step))
                widget.valueChanged.connect(self.changed)
            elif spec.kind == "float":
                widget = QDoubleSpinBox()
                widget.setDecimals(spec.decimals)
                widget.setRange(spec.minimum, spec.maximum)
                widget.setSingleStep(spec.step)
                widget.valueChanged.connect(self.changed)
            else:
                widget = QComboBox()
                widget.addItems(list(spec.choices))
                widget.currentTextChanged.connect(self.changed)
            if spec.tip:
                widget.setToolTip(spec.tip)
            self.widgets[spec.key] = widget
            layout.addRow(spec.label, widget)
        reset = QPushButton("Defaults")
        reset.clicked.connect(self.reset)
        layout.addRow(reset)
        self.reset()

    def reset(self) -> None:
        """Back to the method's defaults (``method_defaults``)."""
        self.set_values(method_defaults(self.method))

    def set_values(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            widget = self.widgets.get(key)
            if widget is None:
                continue
            with QSignalBlocker(widget):
                if isinstance(widget, QComboBox):
                    widget.setCurrentText(str(value))
                elif isinstance(widget, QDoubleSpinBox):
                    widget.setValue(float(value))
                else:
                    widget.setValue(int(value))
        self.changed.emit()

    def values(self) -> dict[str, Any]:
        """The form as ``explain`` options (``seed`` included where the method has one)."""
        out: dict[str, Any] = {}
        for key, widget in self.widgets.items():
            if isinstance(widget, QComboBox):
                out[key] = widget.currentText()
            else:
                out[key] = widget.value()
        if out.get("blur_kernel") == 0:
            out["blur_kernel"] = None
        return out


# ============================================================================ what is explained
def calibration_key(calibration: Calibration | None) -> str:
    """A hashable, NaN-safe fingerprint of a calibration (part of the cache key)."""
    if calibration is None:
        return "self"
    c = calibration
    return f"{c.scale:.6g}/{c.threshold:.6g}/{c.steepness:.6g}/{c.normal_level:.6g}"


@dataclass(frozen=True)
class ExplainTarget:
    """One image (or one frame inside its clip) to explain, and how to explain it.

    Attributes:
        model: the anomaly model (frame, clip or predict mode).
        model_key: the checkpoint's SHA-256 (or any stable name of an in-memory model).
        source_key: which video or image (a path, or a name).
        frame: frame index in the video (or index of the image in its list).
        read: called on a worker thread; returns ``(image, None)`` for frame models or
            ``(clip, position)`` for clip / predict models (``clip_for_frame``).
        calibration: scale and threshold of the anomaly score; None = self-calibrated.
        title: what the panel says it explains.
        mask_outline: ground-truth contours as ``(N, 2)`` ``(x, y)`` arrays at the image's size.
        map_scale: the error that is full colour in the error tile (None: the map's own p99).
    """

    model: AnomalyModel
    model_key: str
    source_key: str
    frame: int
    read: Callable[[], tuple[np.ndarray, int | None]]
    calibration: Calibration | None = None
    title: str = ""
    mask_outline: tuple[np.ndarray, ...] = ()
    map_scale: float | None = None

    @property
    def key(self) -> tuple[str, int, str, str]:
        """(source, frame, checkpoint, calibration): what identifies an explained image."""
        return (self.source_key, int(self.frame), self.model_key, calibration_key(self.calibration))


def settings_key(options: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), repr(v)) for k, v in options.items()))


class ExplanationCache:
    """In-memory LRU of explanations and reconstructions, keyed by target and settings."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple) -> Any:
        value = self._items.get(key)
        if value is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return value

    def peek(self, key: tuple) -> Any:
        """Like ``get`` without counting (for showing what is there)."""
        return self._items.get(key)

    def put(self, key: tuple, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()


_applicability: weakref.WeakKeyDictionary[Any, dict[str, str | None]] = weakref.WeakKeyDictionary()


def applicability(method: str, model: AnomalyModel) -> str | None:
    """Why ``method`` cannot explain ``model`` (one line), or None when it can (remembered per model)."""
    known = _applicability.setdefault(model, {})
    if method not in known:
        known[method] = _applicability_of(method, model)
    return known[method]


def _applicability_of(method: str, model: AnomalyModel) -> str | None:
    if method in ("shap", "lime"):
        package = "shap" if method == "shap" else "lime"
        if importlib.util.find_spec(package) is None:
            return f"{TITLES[method]} needs the {package} package (pip install 'vad-review[xai]')"
        return None
    if method == "lrp":
        from vad_core.explain.lrp import lrp_steps

        if model.spec.mode != "frame":
            return (
                f"e-LRP explains frame autoencoders only; this is a {model.spec.mode} model. "
                "Use SHAP, LIME or the counterfactual."
            )
        try:
            lrp_steps(model)
        except ConfigError as error:
            return str(error)
    return None


# ============================================================================ jobs (no Qt below)
@dataclass
class BaseView:
    """The explained image, the model's reconstruction of it and the per-pixel error."""

    image: np.ndarray  # uint8 (H, W) or (H, W, 3): the explained image at its own size
    reconstruction: np.ndarray  # uint8 at model size
    error: np.ndarray  # (h, w) float32 per-pixel error at model size
    score: float
    probability: float
    threshold: float
    note: str
    seconds: float = 0.0


_copies: weakref.WeakKeyDictionary[Any, AnomalyModel] = weakref.WeakKeyDictionary()
_copies_lock = threading.Lock()


def private_copy(model: AnomalyModel) -> AnomalyModel:
    """A copy of ``model`` for explaining (taken once, while no other thread runs the model)."""
    with _copies_lock:
        twin = _copies.get(model)
        if twin is None:
            with model_lock(model):
                twin = copy.deepcopy(model)
            _copies[model] = twin
        return twin


def _prepared(target: ExplainTarget) -> tuple[np.ndarray, int | None, np.ndarray]:
    """``(image_or_clip, position, explained image)`` as uint8 arrays."""
    data, position = target.read()
    data = np.asarray(data)
    if target.model.spec.mode == "frame":
        return data, None, data
    position = data.shape[0] - 1 if position is None else int(position)
    return data, position, data[position]


def drive(
    call: Callable[[Callable[[int, int], None], Callable[[], bool]], Any], poll: float = 0.1
) -> Generator[Progress, None, Any]:
    """Run ``call(progress, should_stop)`` on a helper thread and yield its progress as ``Progress``.

    ``Worker`` checks its cancel flag between yields, so a heartbeat is yielded every ``poll``
    seconds; closing the generator (cancel) sets ``should_stop`` and waits for the call to return.
    The helper thread runs at lower priority with ``cores - 1`` torch threads (``app.jobs``).
    """
    updates: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def run() -> None:
        lower_thread_priority()
        limit_torch_threads()
        try:
            outcome["value"] = call(lambda done, total: updates.put((int(done), int(total))), stop.is_set)
        except BaseException as error:  # noqa: BLE001 - handed to the job, raised there
            outcome["error"] = error
        finally:
            updates.put(None)

    thread = threading.Thread(target=run, name="explain", daemon=True)
    thread.start()
    last = (0, 1)
    try:
        while True:
            try:
                item = updates.get(timeout=poll)
            except queue.Empty:
                yield Progress(*last)  # heartbeat: lets the worker see a cancel
                continue
            if item is None:
                break
            last = item
            yield Progress(*item)
    finally:
        stop.set()
        thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def base_job(target: ExplainTarget) -> Generator[Progress, None, BaseView]:
    """Input, reconstruction and error map of the target, with its score under the calibration."""
    import torch

    from vad_core.explain import make_scorer, prepare_input
    from vad_core.sources.preprocess import to_uint8_image

    yield Progress(0, 1, "reconstructing")
    began = time.perf_counter()
    data, position, image = _prepared(target)
    model = private_copy(target.model)
    with model_lock(model):
        inputs = prepare_input(model, data, position)
        scorer = make_scorer(model, inputs, target.calibration)
        with torch.no_grad():
            frame = inputs.frame[None].to(scorer.device)
            output, _ = scorer.reconstruct_and_target(frame)
            error = scorer.error_maps(frame)[0].float().cpu().numpy()
            score = float(scorer.score(frame).item())
            probability = float(scorer.probability(frame).item())
    yield Progress(1, 1)
    return BaseView(
        image=image,
        reconstruction=to_uint8_image(output[0].float().cpu().numpy()),
        error=error.astype(np.float32),
        score=score,
        probability=probability,
        threshold=scorer.threshold,
        note=scorer.calibration.note,
        seconds=time.perf_counter() - began,
    )


def explain_job(
    target: ExplainTarget, method: str, options: dict[str, Any]
) -> Generator[Progress, None, Explanation]:
    """One method on the target (``vad_core.explain.explain``), reporting its progress."""
    from vad_core.explain import explain

    options = dict(options)
    seed = int(options.pop("seed", 0))
    yield Progress(0, 1, f"{TITLES.get(method, method)}: preparing")
    data, position, _ = _prepared(target)
    model = private_copy(target.model)

    def call(progress: Callable[[int, int], None], should_stop: Callable[[], bool]) -> Explanation:
        with model_lock(model):
            return explain(
                method,
                model,
                data,
                calibration=target.calibration,
                frame=position,
                seed=seed,
                progress=progress,
                should_stop=should_stop,
                **options,
            )

    return (yield from drive(call))


_warm_started = threading.Lock()


def warm_up_shap_in_background() -> bool:
    """Compile SHAP's numba kernels on a low-priority daemon thread, once per process.

    A daemon thread rather than a pool worker: ``shap_method.warm_up`` cannot be interrupted, and
    closing the window must not wait for it. Returns True when this call started it.
    """
    if _shap_warm.is_set() or importlib.util.find_spec("shap") is None:
        return False
    if not _warm_started.acquire(blocking=False):
        return False

    def run() -> None:
        from vad_core.explain.shap_method import warm_up

        lower_thread_priority(15)
        with contextlib.suppress(Exception):  # a failed warm-up only means a slower first SHAP run
            warm_up()
        _shap_warm.set()

    threading.Thread(target=run, name="shap-warm-up", daemon=True).start()
    return True


# ============================================================================ tiles
@functools.lru_cache(maxsize=4)
def diverging_lut(transparent_centre: bool = False) -> np.ndarray:
    """(256, 4) RGBA of the diverging map; with ``transparent_centre`` alpha grows with |value|."""
    lut = opaque_lut(DIVERGING).copy()
    if transparent_centre:
        ramp = np.clip(np.abs(np.linspace(-1.0, 1.0, 256)) / 0.6, 0.0, 1.0)
        lut[:, 3] = (ramp * 255).astype(np.uint8)
    return lut


def _gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    return np.asarray(image, np.float32).mean(axis=2).astype(np.uint8)


def _robust_peak(values: np.ndarray, signed: bool) -> float:
    data = np.abs(values) if signed else values
    data = data[np.isfinite(data)]
    if data.size == 0:
        return 1.0
    peak = float(np.percentile(data, 99.5))
    if peak <= 0:
        peak = float(data.max())
    return peak if peak > 0 else 1.0


class TileView(pg.GraphicsLayoutWidget):
    """The image view of a tile: small size hint (the grid decides), double-click resets the zoom."""

    doubleClicked = Signal()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt naming
        return QSize(160, 160)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.doubleClicked.emit()
        event.accept()


class MapTile(QFrame):
    """One tile: a title, an image view (map, mask outline, boxes), a caption and a progress bar."""

    runClicked = Signal(str)

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.setSpacing(2)
        header = QHBoxLayout()
        header.setSpacing(2)
        self.title = QLabel(f"<b>{TITLES[name]}</b>")
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setMinimumWidth(40)
        self.title.setToolTip(TITLES[name])
        self.title.setMinimumHeight(QToolButton().sizeHint().height())  # same header height on every tile
        header.addWidget(self.title, 1)
        self.settings_button: QToolButton | None = None
        self.run_button: QToolButton | None = None
        if name in METHODS:
            self.settings_button = QToolButton()
            self.settings_button.setText("⚙")
            self.settings_button.setToolTip(f"{TITLES[name]} settings")
            self.settings_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            self.settings_button.setAutoRaise(True)
            header.addWidget(self.settings_button)
            self.run_button = QToolButton()
            self.run_button.setText("Explain")
            self.run_button.setToolTip(f"Compute the {TITLES[name]} map of this image")
            self.run_button.clicked.connect(lambda: self.runClicked.emit(self.name))
            header.addWidget(self.run_button)
        layout.addLayout(header)
        self.view_widget = TileView()
        self.view_widget.setBackground(PLOT_BACKGROUND)
        self.view_widget.ci.layout.setContentsMargins(0, 0, 0, 0)
        self.view_widget.setMinimumSize(96, 96)
        self.view = self.view_widget.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view.setDefaultPadding(0.0)
        self.under = pg.ImageItem(axisOrder="row-major")  # the dimmed gray image below a signed map
        self.under.setZValue(-1)
        self.view.addItem(self.under)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.outline = pg.PlotCurveItem(pen=MASK_PEN, connect="finite")
        self.outline.setZValue(10)
        self.view.addItem(self.outline)
        self.boxes: list[QGraphicsRectItem] = []
        layout.addWidget(self.view_widget, 1)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.caption.setStyleSheet("color: #bdbdbd; font-size: 8pt;")
        self.caption.setMinimumHeight(14)
        layout.addWidget(self.caption)
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(8)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.state = "empty"  # empty | running | queued | done | failed | cancelled | n/a

    # -- content -----------------------------------------------------------------------------------
    def show_image(
        self,
        array: np.ndarray | None,
        size: tuple[int, int],
        levels: tuple[float, float] = (0, 255),
        lut: np.ndarray | None = None,
    ) -> None:
        """Show ``array`` stretched over the explained image's ``size`` = (H, W)."""
        if array is None:
            self.image.clear()
            return
        self.image.setImage(np.ascontiguousarray(array), autoLevels=False, levels=levels, lut=lut)
        self.image.setRect(QRectF(0, 0, size[1], size[0]))

    def show_under(self, gray: np.ndarray | None, size: tuple[int, int]) -> None:
        """A dimmed gray copy of the image below the map (None removes it)."""
        if gray is None:
            self.under.clear()
            return
        self.under.setImage(gray, autoLevels=False, levels=(-160.0, 400.0))  # low contrast, mid gray
        self.under.setRect(QRectF(0, 0, size[1], size[0]))

    def set_outline(self, contours: Sequence[np.ndarray]) -> None:
        """Draw the ground-truth mask contours (``(N, 2)`` x, y arrays); empty hides it."""
        if not contours:
            self.outline.setData([], [])
            return
        xs, ys = [], []
        for contour in contours:
            points = np.asarray(contour, np.float64).reshape(-1, 2) + 0.5
            points = np.vstack([points, points[:1]])
            xs += [points[:, 0], [np.nan]]
            ys += [points[:, 1], [np.nan]]
        self.outline.setData(np.concatenate(xs), np.concatenate(ys))

    def set_boxes(self, boxes: Sequence[dict[str, Any]]) -> None:
        for item in self.boxes:
            self.view.removeItem(item)
        self.boxes = []
        pen = QPen(QColor(BOX_COLOUR))
        pen.setWidthF(2.0)
        pen.setCosmetic(True)
        for box in boxes:
            item = QGraphicsRectItem(box["x0"], box["y0"], box["x1"] - box["x0"], box["y1"] - box["y0"])
            item.setPen(pen)
            item.setZValue(20)
            self.view.addItem(item)
            self.boxes.append(item)

    def clear(self, caption: str = "") -> None:
        """No map, no boxes, idle (the button says Explain again)."""
        self.image.clear()
        self.under.clear()
        self.set_boxes([])
        self.set_state("empty", caption)

    def set_state(self, state: str, caption: str | None = None) -> None:
        """Running / queued show the progress bar and turn the button into Cancel."""
        self.state = state
        busy = state in ("running", "queued")
        self.progress.setVisible(busy)
        if state == "queued":
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        if self.run_button is not None:
            self.run_button.setText("Cancel" if busy else "Explain")
            self.run_button.setToolTip(
                f"Stop the {TITLES[self.name]} computation"
                if busy
                else f"Compute the {TITLES[self.name]} map"
            )
        if caption is not None:
            self.caption.setText(caption)

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setVisible(True)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(min(done, max(1, total)))


# ============================================================================ the panel
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
        layout.addLayout(top)
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
        layout.addLayout(bar)

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
        layout.addWidget(self.scroll, 1)
        self._relayout(force=True)
        self._update_info()
        self._update_buttons()

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

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().resizeEvent(event)
        self._relayout()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt naming
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
            if job.kind == "shap" and not _shap_warm.is_set():
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
        peak = scale or _robust_peak(base.error, signed=False)
        self.tiles["error"].show_image(base.error, size, (0.0, peak), opaque_lut(self.colormap_name))
        self.tiles["error"].caption.setText(
            f"score {base.score:.3f} ({'anomalous' if base.score >= base.threshold else 'normal'})"
        )
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
            peak = _robust_peak(result.heatmap, signed=result.signed)
            levels = (-peak, peak) if result.signed else (0.0, peak)
            over = self.over_image.isChecked() and self.base is not None and result.signed
            lut = diverging_lut(transparent_centre=over) if result.signed else opaque_lut(self.colormap_name)
            tile.show_image(result.heatmap, size, levels, lut)
            tile.show_under(_gray(self.base.image) if over and self.base is not None else None, size)
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

    def _update_info(self) -> None:
        lines = []
        if self.target is not None:
            lines.append(f"<b>{self.target.title or self.target.source_key}</b>")
        base = self.base
        if base is not None:
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


# ============================================================================ calibrations of the callers
def _raw_errors_from_maps(maps: np.ndarray) -> np.ndarray:
    """Mean of each per-pixel map = the scorer's raw error e(x) (thesis 3.8.5, mse error)."""
    flat = np.asarray(maps).reshape(len(maps), -1)
    return flat.mean(axis=1, dtype=np.float64)


def image_calibration(inspection: Any) -> Calibration | None:
    """Calibration from a scored image category: per-image errors and the test labels (G-mean, eq. 3.21).

    ``inspection`` is a ``vad_core.image_mode.ImageInspection``; None when it has no usable errors.
    """
    from vad_core.explain import Calibration

    try:
        raw = _raw_errors_from_maps(inspection.maps)
        labels = inspection.labels
        calibration = Calibration.from_errors(raw, labels if labels.any() and not labels.all() else None)
    except (ConfigError, ValueError):
        return None
    return Calibration(
        calibration.scale,
        calibration.threshold,
        calibration.steepness,
        f"{calibration.note} of the test split",
        calibration.normal_level,
    )


def review_errors(session: Any) -> np.ndarray | None:
    """Raw per-frame errors e(t) of a finished scoring, as the scorer defines them, or None.

    The mean of each frame's error map, or the per-frame errors themselves when the scoring used
    the MSE error with the mean frame reduction; None for SSIM scoring or unfinished scores.
    """
    if not getattr(session, "complete", False) or session.inference.error != "mse":
        return None
    if session.maps is not None and len(session.maps) == session.frame_count:
        raw = _raw_errors_from_maps(session.maps)
    elif session.inference.reduction == "mean" and session.errors is not None:
        raw = np.asarray(session.errors, np.float64)
    else:
        return None
    return raw if np.all(np.isfinite(raw)) else None


def review_calibration(session: Any, raw: np.ndarray | None = None) -> Calibration | None:
    """Calibration from a scored video (``app.session.ReviewSession``), or None (self-calibrated).

    Raw errors: ``review_errors`` (pass them as ``raw`` when already known). Labels: the ground
    truth when the clip has both classes, else the frames inside the review's flagged events
    (G-mean threshold of eq. 3.21 either way); without both classes there is no threshold to learn
    and the explanation is self-calibrated.
    """
    from vad_core.explain import Calibration

    raw = review_errors(session) if raw is None else raw
    if raw is None:
        return None
    labels, what = None, ""
    truth = session.ground_truth
    if truth is not None and len(truth) == len(raw) and truth.any() and not truth.all():
        labels, what = np.asarray(truth, bool), "ground truth"
    else:
        flagged = np.zeros(len(raw), bool)
        for event in session.events:
            flagged[event.start : event.end] = True
        if flagged.any() and not flagged.all():
            labels, what = flagged, "flagged events"
    if labels is None:
        return None
    try:
        calibration = Calibration.from_errors(raw, labels)
    except ConfigError:
        return None
    return Calibration(
        calibration.scale,
        calibration.threshold,
        calibration.steepness,
        f"{calibration.note}; labels = the clip's {what}",
        calibration.normal_level,
    )


def read_window(model: AnomalyModel, source: Any, index: int) -> tuple[np.ndarray, int | None]:
    """The image (frame models) or the clip and the frame's position in it (``clip_for_frame``)."""
    from vad_core.explain import clip_for_frame

    clip, position = clip_for_frame(model, source, index)
    if model.spec.mode == "frame":
        return clip[0], None
    return clip, position


def review_target(session: Any, index: int, calibration: Calibration | None = None) -> ExplainTarget | None:
    """The explain target of frame ``index`` of the review session's video, or None."""
    if session.source is None or session.checkpoint is None or not 0 <= index < session.frame_count:
        return None
    checkpoint, source = session.checkpoint, session.source
    model = checkpoint.model
    identity = str(session.source_path or session.source_name)
    scale = float(session.map_scale) if session.maps is not None else None
    return ExplainTarget(
        model=model,
        model_key=checkpoint.sha256 or f"model-{id(model)}",
        source_key=f"{identity}#{len(source)}",
        frame=int(index),
        read=lambda: read_window(model, source, index),
        calibration=calibration,
        title=f"{session.source_name}, frame {index} · {checkpoint.display_name}",
        map_scale=scale,
    )


class ReviewExplainer:
    """The explain panel in the review window: a dock that follows the current frame.

    Created empty with the window; the dock is built the first time it is asked for (View >
    Explainability panel, or X to explain the current frame) and starts floating over the right
    half of the window (the operator can dock it anywhere). The window calls ``refresh()`` when
    the frame, the model or the scores change; while the dock is hidden nothing happens, and during
    playback the target is updated 150 ms after the last frame, so playing never queues jobs.
    """

    def __init__(self, window: Any) -> None:
        from PySide6.QtCore import QTimer

        self.window = window
        self.panel: ExplainPanel | None = None
        self.dock: Any = None
        self._memo: tuple[Any, Calibration | None] = (None, None)
        self._errors: tuple[Any, np.ndarray | None] = (None, None)
        self._timer = QTimer(window)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self.refresh_now)

    def show_panel(self) -> ExplainPanel:
        """Create (once) and raise the dock; returns the panel."""
        if self.panel is None:
            window = self.window
            self.panel = ExplainPanel(window.pool, window.settings.colormap())
            self.panel.statusMessage.connect(lambda text: window.notify(text, 10_000))
            # floating at first: eight tiles need more room than the right dock column has
            self.dock = window.add_right_dock("Explainability", self.panel, tabify_with_reconstruction=False)
            self.dock.setFloating(True)
            width = max(760, int(window.width() * 0.62))
            height = max(520, int(window.height() * 0.8))
            frame = window.geometry()
            self.dock.resize(width, height)
            self.dock.move(max(frame.left(), frame.right() - width - 20), frame.top() + 60)
            self.dock.visibilityChanged.connect(lambda visible: visible and self.refresh_now())
        self.dock.show()
        self.dock.raise_()
        self.refresh_now()
        return self.panel

    def explain_frame(self) -> None:
        """X: show the panel and run every method on the current frame."""
        panel = self.show_panel()
        if panel.target is None:
            self.window.notify("Open a video and a model first: the panel explains the current frame.")
            return
        panel.explain_all()

    def set_colormap(self, name: str) -> None:
        if self.panel is not None:
            self.panel.set_colormap(name)

    def refresh(self) -> None:
        """The frame, model or scores changed: update the panel (throttled while playing)."""
        if self.panel is None or not self.dock.isVisible():
            return
        if getattr(self.window, "playing", False):
            self._timer.start()
        else:
            self.refresh_now()

    def refresh_now(self) -> None:
        if self.panel is None or not self.dock.isVisible():
            return
        session = self.window.session
        self.panel.set_target(review_target(session, self.window.frame_index, self.calibration()))

    def calibration(self) -> Calibration | None:
        """``review_calibration`` of the session, recomputed only when scores or events change."""
        session = self.window.session
        scores = (session.generation, session.complete, session.scored)
        if self._errors[0] != scores:  # the mean over all maps: once per scoring, not per threshold drag
            self._errors = (scores, review_errors(session))
        key = (*scores, tuple((event.start, event.end) for event in session.events))
        if self._memo[0] != key:
            raw = self._errors[1]
            self._memo = (key, review_calibration(session, raw) if raw is not None else None)
        return self._memo[1]

    def shutdown(self) -> None:
        self._timer.stop()
        if self.panel is not None:
            self.panel.shutdown()


__all__ = [
    "BASE_TILES",
    "METHODS",
    "BaseView",
    "ExplainPanel",
    "ExplainTarget",
    "ExplanationCache",
    "MapTile",
    "MethodSettings",
    "ReviewExplainer",
    "applicability",
    "base_job",
    "calibration_key",
    "drive",
    "explain_job",
    "image_calibration",
    "method_defaults",
    "read_window",
    "review_calibration",
    "review_errors",
    "review_target",
]
