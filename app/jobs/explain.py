"""What the explainability panel explains, and the jobs that compute it (no widgets here).

An ``ExplainTarget`` is a model, a function that reads the image (or, for clip and predict models,
the window of frames around the explained one) and an optional calibration. ``base_job`` computes
input / reconstruction / error, ``explain_job`` one method of ``vad_core.explain``; both are
generators for ``app.jobs.worker.Worker``. The engine call runs on a helper thread inside the job
(``drive``) so its ``progress(done, total)`` reaches the tile's progress bar and a cancel reaches its
``should_stop``. Jobs use a private copy of the model (taken under ``app.jobs.threads.model_lock``), so
explaining never races the review window's scoring or reconstruction.

Results are cached in memory (``ExplanationCache``) per (source, frame, checkpoint SHA-256,
calibration, method, settings).
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import queue
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from app.jobs.threads import limit_torch_threads, lower_thread_priority, model_lock
from app.jobs.worker import Progress
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
CACHE_SIZE = 64
_shap_warm = threading.Event()


def shap_warmed_up() -> bool:
    """Whether SHAP's first-call compilation has been paid in this process."""
    return _shap_warm.is_set()


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
        verdict: the review window's flagging of this frame (``ReviewSession.frame_verdict``), which
            the panel shows instead of a verdict of its own; "" where there is none (image window).
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
    verdict: str = ""

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


# ============================================================================ jobs
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
    The helper thread runs at lower priority with ``cores - 1`` torch threads (``app.jobs.threads``).
    """
    updates: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def run() -> None:
        lower_thread_priority()
        limit_torch_threads()
        try:
            outcome["value"] = call(lambda done, total: updates.put((int(done), int(total))), stop.is_set)
        except BaseException as error:
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
