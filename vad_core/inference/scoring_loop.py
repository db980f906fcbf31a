"""Scoring a frame source with a model: per-pixel error maps and per-frame errors, in chunks.

``score_source`` is a generator: it yields one ``ScoredChunk`` per batch, in frame order, so a
GUI worker can append each chunk to the live curve and a caller can stop at any time by not
asking for the next chunk. ``score_all`` collects everything into one ``ScoreResult``.

How frames map to model windows depends on the model's temporal mode (see ``plan_windows``):
frame models score every frame alone; clip models score non-overlapping windows of T frames
(the last window is aligned to the end); predictors score every frame from the ``S``-th on from the
``S`` frames before it, and the first ``S`` frames, which cannot be predicted, copy the first score.

Example::

    checkpoint = load_checkpoint("bcae1.safetensors")
    for chunk in score_source(checkpoint.model, source, InferenceConfig(batch_size=64)):
        print(chunk.start, chunk.errors)
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch

from vad_core.errors import ConfigError
from vad_core.inference.config import PREDICTION_MODES, InferenceConfig
from vad_core.inference.cuda_graphs import graphs_for
from vad_core.inference.device import free_cached_memory, is_out_of_memory, resolve_device
from vad_core.inference.device_resize import AreaResize, resize_on_device
from vad_core.inference.memory_budget import fit_batch_size
from vad_core.models.base import AnomalyModel, TemporalSpec
from vad_core.sources.base import FrameSource
from vad_core.sources.preprocess import UNIT_SCALE, Preprocess, channels_first_uint8


@dataclass(frozen=True)
class Window:
    """One model evaluation: the source frames it reads, and which output frames score which frames."""

    frames: tuple[int, ...]  # source frame indices, length spec.window (clamped at the end)
    targets: tuple[tuple[int, int], ...]  # (position in model output, source frame index)


@dataclass
class ScoredChunk:
    """Scores of consecutive frames ``start .. start + len(errors) - 1``."""

    start: int
    errors: np.ndarray  # (n,) float32 per-frame error e(t)
    maps: np.ndarray | None  # (n, h, w) float16 per-pixel error at model resolution
    total: int  # frames in the source
    notice: str = ""  # e.g. "out of GPU memory: batch halved to 16"
    # further per-frame series, (n,) float32 each: "memory_distance" for models with a memory (MNAD)
    side: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def stop(self) -> int:
        return self.start + len(self.errors)


@dataclass
class ScoreResult:
    """All per-frame errors (and maps) of one source."""

    errors: np.ndarray
    maps: np.ndarray | None
    seconds: float = 0.0
    notices: list[str] = field(default_factory=list)
    side: dict[str, np.ndarray] = field(default_factory=dict)  # as ``ScoredChunk.side``, (T,) each

    @property
    def frames_per_second(self) -> float:
        return len(self.errors) / self.seconds if self.seconds > 0 else float("nan")


def plan_windows(n_frames: int, spec: TemporalSpec, prediction: str = "next") -> list[Window]:
    """Windows that give every one of ``n_frames`` frames exactly one score (see module docstring).

    For predictors, ``prediction="next"`` scores every frame by the one-step-ahead prediction from the
    ``S`` frames just before it (one window per frame: the sharpest prediction, ``P`` times the work);
    ``"block"`` scores ``P`` frames per window, the frame ``k`` steps ahead by the ``k``-th prediction.
    """
    if n_frames <= 0:
        return []
    last = n_frames - 1

    def clamp(indices: range) -> tuple[int, ...]:
        return tuple(min(i, last) for i in indices)

    if spec.mode == "frame":
        return [Window((i,), ((0, i),)) for i in range(n_frames)]
    windows: list[Window] = []
    if spec.mode == "clip":
        length = spec.input_frames
        next_unscored = 0
        start = 0
        while next_unscored < n_frames:
            start = min(start, max(0, n_frames - length))
            targets = tuple((i - start, i) for i in range(next_unscored, min(start + length, n_frames)))
            windows.append(Window(clamp(range(start, start + length)), targets))
            next_unscored = min(start + length, n_frames)
            start += length
        return windows
    seeds, future = spec.input_frames, spec.output_frames
    if prediction not in PREDICTION_MODES:
        raise ConfigError("inference", f"prediction must be one of {PREDICTION_MODES}, found {prediction!r}")
    if prediction == "next" and n_frames > seeds:
        return [Window(clamp(range(t - seeds, t + future)), ((0, t),)) for t in range(seeds, n_frames)]
    if n_frames <= seeds:  # too short to predict anything: predict past the end from padded seeds
        return [Window(clamp(range(0, seeds + future)), ((0, last),))]
    next_unscored = seeds
    first = seeds
    while next_unscored < n_frames:
        first = min(first, n_frames - future) if n_frames - future >= seeds else seeds
        start = first - seeds
        targets = tuple(
            (i - first, i) for i in range(next_unscored, min(first + future, n_frames)) if i - first >= 0
        )
        windows.append(Window(clamp(range(start, start + seeds + future)), targets))
        next_unscored = min(first + future, n_frames)
        first += future
    return windows


def pixel_errors(output: torch.Tensor, target: torch.Tensor, error: str = "mse") -> torch.Tensor:
    """Per-pixel error maps ``(..., H, W)`` between ``output`` and ``target`` of shape ``(..., C, H, W)``:
    squared error (channel mean), ``(1 - SSIM) / 2``, or the compound loss of eq. 3.10 per pixel."""
    if error == "mse":
        return (output.float() - target.float()).pow(2).mean(dim=-3)
    from vad_core.models.ssim import compound_error_map, ssim_error_map

    per_image = compound_error_map if error == "compound" else ssim_error_map
    shape = output.shape
    flat_out = output.float().reshape(-1, *shape[-3:])
    flat_target = target.float().reshape(-1, *shape[-3:])
    return per_image(flat_out, flat_target).reshape(*shape[:-3], *shape[-2:])


def segmentation_maps(model: AnomalyModel, frames: torch.Tensor) -> torch.Tensor:
    """The anomaly maps ``(B, H, W)`` float32 of a model that segments (``error="segmentation"``)."""
    if not model.segments:
        name = model.config.name if model.config is not None else type(model).__name__
        raise ConfigError("inference", f"{name} gives no anomaly map: score it with mse, ssim or compound")
    return model.anomaly_map(frames).float()


def _prefers_channels_last(model: AnomalyModel) -> bool:
    """Frame and clip models run 1.6x faster on the CPU with channels-last weights (measured on
    BCAE1 and the ConvGRU AE); the Seq2Seq roll-out runs slower with them, so it keeps the default."""
    return model.spec.mode in ("frame", "clip")


def prepare_for_inference(model: AnomalyModel, device: torch.device) -> AnomalyModel:
    """Move ``model`` to ``device`` in eval mode, in the memory format that scores fastest."""
    model = model.to(device).eval()
    if _prefers_channels_last(model):
        model = model.to(memory_format=torch.channels_last)
    return model


#: The name of the side series a model with ``predict_with_distance`` gives (MNAD's D(q_t, p)).
MEMORY_DISTANCE = "memory_distance"


def gives_memory_distance(model: AnomalyModel) -> bool:
    """Whether ``model`` scores a frame's memory distance with its prediction (one encoder pass)."""
    return model.spec.mode == "predict" and hasattr(type(model), "predict_with_distance")


@functools.cache
def _accepts_steps(model_type: type) -> bool:
    """Whether a predictor's ``forward`` can stop its roll-out early (checked once per class)."""
    return "steps" in inspect.signature(model_type.forward).parameters


def _predict(
    model: AnomalyModel, inputs: torch.Tensor, target: torch.Tensor, prediction: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Model output and the matching target; one-step-ahead predictors stop their roll-out early."""
    return _predict_with_side(model, inputs, target, prediction)[:2]


def _predict_with_side(
    model: AnomalyModel, inputs: torch.Tensor, target: torch.Tensor, prediction: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``_predict``'s output and target, and the memory distance ``(B,)`` of models that give one."""
    if gives_memory_distance(model):
        predicted = model.predict_with_distance(inputs)  # type: ignore[attr-defined]
        return predicted.prediction[:, :1], target[:, :1], predicted.distance
    if model.spec.mode == "predict" and prediction == "next":
        if _accepts_steps(type(model)):
            return model(inputs, steps=1), target[:, :1], None
        return model(inputs)[:, :1], target[:, :1], None  # a predictor that always rolls out P frames
    return model(inputs), target, None


def _on_stream(stream: torch.cuda.Stream | None):
    return torch.cuda.stream(stream) if stream is not None else nullcontext()


def _autocast(device: torch.device, amp: bool, cache: bool = True):
    if amp and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16, cache_enabled=cache)
    return nullcontext()


# our choice: full-size frames decoded at once before resizing; 64 MB is 30 frames of 1080p RGB
DECODE_BUDGET_BYTES = 64 * 1024 * 1024


class _FrameReader:
    """Reads source frames as uint8 ``(N, C, h, w)`` at model size, remembering the last block to
    serve overlapping windows. With ``resize_on_device``, frames that shrink (up to 1920x1080) stay at
    their own size (``(N, C, H, W)``) for the device to resize (:mod:`vad_core.inference.device_resize`)."""

    def __init__(self, source: FrameSource, preprocess: Preprocess, resize_on_device: bool = False) -> None:
        self.source = source
        self.preprocess = preprocess
        self.resize_on_device = resize_on_device
        self._start = 0
        self._block = np.zeros((0,), np.uint8)

    def _prepare(self, frames: np.ndarray) -> np.ndarray:
        if (
            self.resize_on_device
            and frames.dtype == np.uint8
            and resize_on_device(frames.shape[1:3], self.preprocess.size)
        ):
            return channels_first_uint8(frames, self.preprocess.channels)
        return self.preprocess.to_uint8(frames)

    def _read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start .. stop-1`` prepared, decoded a few at a time: at most
        :data:`DECODE_BUDGET_BYTES` of full-size frames (at least one) exist at once, so memory
        follows the model's input size, not the footage's (a 6000x6000 frame is 108 MB in RGB)."""
        height, width = self.source.frame_size
        step = max(1, DECODE_BUDGET_BYTES // max(1, height * width * self.source.channels))
        if stop - start <= step:
            return self._prepare(self.source.read(start, stop))
        parts = [self._prepare(self.source.read(i, min(i + step, stop))) for i in range(start, stop, step)]
        return np.concatenate(parts)

    def frames(self, indices: list[int]) -> np.ndarray:
        low, high = min(indices), max(indices) + 1
        have_low, have_high = self._start, self._start + len(self._block)
        if not (have_low <= low and high <= have_high):
            keep_from = max(low, have_low)
            if have_low <= low < have_high:  # reuse the overlapping tail of the previous block
                tail = self._block[keep_from - have_low :]
                fresh = self._read(have_high, high)
                self._block = np.concatenate([tail, fresh]) if len(fresh) else tail
                self._start = keep_from
            else:
                self._block = self._read(low, high)
                self._start = low
        return self._block[np.asarray(indices) - self._start]


class _DeviceFrames:
    """Puts a batch's uint8 frames on the device at model size, shrinking those that arrive at
    their own size there (one :class:`AreaResize` per frame size)."""

    def __init__(self, size: tuple[int, int], device: torch.device) -> None:
        self.size = size
        self.device = device
        self._resizers: dict[tuple[int, int], AreaResize] = {}

    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        on_device = torch.from_numpy(frames).to(self.device, non_blocking=True)
        frame_size = (int(frames.shape[-2]), int(frames.shape[-1]))
        if frame_size == self.size:
            return on_device
        resize = self._resizers.get(frame_size)
        if resize is None:
            resize = self._resizers[frame_size] = AreaResize(frame_size, self.size, self.device)
        with torch.autocast(self.device.type, enabled=False):  # float32 sums, whatever the model runs in
            return resize(on_device)


@dataclass
class _Batch:
    """The windows of one model call and the frames they read, uint8 at model size."""

    windows: list[Window]
    frames: np.ndarray  # (F, C, h, w) uint8, the distinct frames of the windows in frame order
    # (at their own size (F, C, H, W) when the device resizes)
    clip_index: np.ndarray  # (B, L): row in ``frames`` of each window's frames


def _read_batch(reader: _FrameReader, windows: list[Window], position: int, size: int) -> _Batch:
    batch = windows[position : position + size]
    frame_ids = sorted({i for window in batch for i in window.frames})
    lookup = {frame: row for row, frame in enumerate(frame_ids)}
    clip_index = np.array([[lookup[i] for i in window.frames] for window in batch], np.int64)
    return _Batch(batch, reader.frames(frame_ids), clip_index)


class _Prefetcher:
    """Reads the next batch in a background thread while the device computes the current one
    (decoding and resizing release the GIL). Batches are asked for strictly in order."""

    def __init__(self, reader: _FrameReader, windows: list[Window], enabled: bool) -> None:
        self.reader = reader
        self.windows = windows
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="vad-read") if enabled else None
        self._pending: tuple[tuple[int, int], Future] | None = None

    def get(self, position: int, size: int) -> _Batch:
        if self._pending is not None:
            key, future = self._pending
            self._pending = None
            batch = future.result()  # also: the reader is never used by two threads at once
            if key == (position, size):
                return batch
        return _read_batch(self.reader, self.windows, position, size)

    def ask(self, position: int, size: int) -> None:
        if self._pool is not None and self._pending is None and position < len(self.windows):
            future = self._pool.submit(_read_batch, self.reader, self.windows, position, size)
            self._pending = ((position, size), future)

    def close(self) -> None:
        if self._pool is not None:
            if self._pending is not None:
                self._pending[1].cancel()
            self._pool.shutdown(wait=True)


def _scores_on_device(device: torch.device) -> bool:
    """Whether to resize frames and reduce maps on the device and read ahead in a thread: on
    accelerators (on the CPU the work is the same wherever it runs, the reduction is numpy's, and a
    reading thread would compete with torch's)."""
    return device.type != "cpu"


def _records_graphs(device: torch.device, config: InferenceConfig) -> bool:
    """Whether full batches replay a recorded CUDA graph (:mod:`vad_core.inference.cuda_graphs`)."""
    return device.type == "cuda" and config.cuda_graphs


def score_source(
    model: AnomalyModel,
    source: FrameSource,
    config: InferenceConfig | None = None,
    preprocess: Preprocess | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> Iterator[ScoredChunk]:
    """Yield ``ScoredChunk``s covering every frame of ``source`` in order (see module docstring).

    Frames travel to the device as uint8, once per batch however many windows read them. On
    accelerators they travel at their own size and are shrunk there (exactly as on the host), the
    error maps are reduced on the device, and the next batch is decoded while the device computes,
    so the CPU only decodes and only per-frame errors and float16 maps come back.
    """
    config = config or InferenceConfig()
    if preprocess is None:
        if model.config is None:
            raise ConfigError("inference", "model has no config; pass preprocess explicitly")
        preprocess = Preprocess(size=model.config.size, channels=model.config.channels)
    device = resolve_device(config.device)
    model = prepare_for_inference(model, device)
    windows = plan_windows(len(source), model.spec, config.prediction)
    device_side = _scores_on_device(device)
    prefetcher = _Prefetcher(_FrameReader(source, preprocess, device_side), windows, enabled=device_side)
    scorer = _BatchScorer(model, config, preprocess.size, device, device_side)
    shipped = (
        source.frame_size if device_side and resize_on_device(source.frame_size, preprocess.size) else None
    )
    batch_size = fit_batch_size(
        model,
        config.batch_size,
        device,
        config.prediction,
        config.error == "segmentation",
        shipped,
        on_notice,
    )
    position = 0
    pending_prefix = model.spec.mode == "predict"
    try:
        while position < len(windows):
            batch = prefetcher.get(position, batch_size)
            prefetcher.ask(position + len(batch.windows), batch_size)
            try:
                errors, stacked, side = scorer.score(batch, full=len(batch.windows) == batch_size)
            except Exception as error:  # only OOM is handled, the rest re-raised
                if not is_out_of_memory(error) or batch_size == 1:
                    raise
                batch_size = _halve_batch_size(batch_size, device, on_notice)
                continue
            start = next(frame for window in batch.windows for _, frame in window.targets)
            if pending_prefix and start > 0:  # predictors: the first S frames copy the first prediction
                errors, stacked = _copy_first_score(errors, stacked, start)
                side = {name: _copy_first_score(values, None, start)[0] for name, values in side.items()}
                start = 0
            pending_prefix = False
            position += len(batch.windows)
            yield ScoredChunk(start=start, errors=errors, maps=stacked, total=len(source), side=side)
    finally:
        prefetcher.close()


class _BatchScorer:
    """Scores one batch of windows on the device: per-frame errors and (kept) float16 error maps."""

    def __init__(
        self,
        model: AnomalyModel,
        config: InferenceConfig,
        size: tuple[int, int],
        device: torch.device,
        device_side: bool,
    ) -> None:
        self.model, self.config, self.device, self.device_side = model, config, device, device_side
        self.to_device = _DeviceFrames(size, device)
        self.unit_scale = torch.from_numpy(UNIT_SCALE).to(device)
        self.channels_last = _prefers_channels_last(model)
        self.graphs = graphs_for(model) if _records_graphs(device, config) else None
        self.graph_key = ("error_maps", config.error, config.prediction, config.amp, "side")
        # each scoring call has its own CUDA stream, so threads that score at once overlap one
        # another's copies and kernels instead of queueing on the default stream
        self.stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    def score(self, batch: _Batch, full: bool) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
        """``(errors (n,) float32, maps (n, h, w) float16 or None, side series (n,) float32 each)`` of
        the frames ``batch`` scores; ``full`` batches replay a recorded CUDA graph when graphs are on
        (tails run eagerly)."""
        config, device = self.config, self.device
        out_rows = [b for b, window in enumerate(batch.windows) for _ in window.targets]
        out_positions = [pos for window in batch.windows for pos, _ in window.targets]
        with torch.inference_mode(), _autocast(device, config.amp), _on_stream(self.stream):
            frames = self.to_device(batch.frames)
            clip_index = torch.from_numpy(batch.clip_index).to(device, non_blocking=True)
            clip_tensor = self.unit_scale[frames.long()][clip_index]  # (B, L, C, h, w) float32
            if self.graphs is None:
                maps, distance = self.error_maps(clip_tensor)
            else:
                maps, distance = self.graphs.run(
                    self.graph_key, self._graphed_error_maps, clip_tensor, capture=full
                )
            selected = maps[out_rows, out_positions]  # (n, H, W), one map per scored frame
            side = {}
            if distance is not None:
                side[MEMORY_DISTANCE] = distance[out_rows].float().cpu().numpy()
            return (*self._reduce(selected), side)

    def error_maps(self, clip_tensor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-pixel error maps ``(B, T, h, w)`` float32 of a batch of windows ``(B, L, C, h, w)``,
        and the memory distance ``(B,)`` of models that give one (else None)."""
        model, config = self.model, self.config
        inputs, target = model.split(clip_tensor)
        if inputs.dim() == 4 and self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        if config.error == "segmentation":
            return segmentation_maps(model, inputs)[:, None], None
        output, target, distance = _predict_with_side(model, inputs, target, config.prediction)
        maps = pixel_errors(output, target, config.error).float()
        maps = maps[:, None] if maps.dim() == 3 else maps  # frame models: (B, H, W) -> (B, 1, H, W)
        return maps, None if distance is None else distance.float()

    def _graphed_error_maps(self, clip_tensor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        with _autocast(self.device, self.config.amp, cache=False):  # a graph cannot keep autocast's cache
            return self.error_maps(clip_tensor)

    def _reduce(self, selected: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Per-frame errors of the maps ``selected``: on the device (accelerators) or in numpy."""
        from vad_core.scoring.frame_error import reduce_error_maps, reduce_error_maps_torch

        config = self.config
        if self.device_side:
            errors = reduce_error_maps_torch(selected, config.reduction, config.patch).float()
            return errors.cpu().numpy(), selected.half().cpu().numpy() if config.keep_maps else None
        stacked = selected.cpu().numpy()
        errors = reduce_error_maps(stacked, how=config.reduction, patch=config.patch).astype(np.float32)
        return errors, stacked.astype(np.float16) if config.keep_maps else None


def _halve_batch_size(batch_size: int, device: torch.device, on_notice: Callable[[str], None] | None) -> int:
    """After running out of memory: free the cache, say so, and return the halved batch size."""
    free_cached_memory(device)
    batch_size = max(1, batch_size // 2)
    if on_notice:
        on_notice(f"out of {device.type.upper()} memory: batch size halved to {batch_size}")
    return batch_size


def _copy_first_score(
    errors: np.ndarray, maps: np.ndarray | None, prefix: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores of the first ``prefix`` frames (which a predictor cannot predict): copies of the first."""
    errors = np.concatenate([np.repeat(errors[:1], prefix), errors])
    if maps is not None:
        maps = np.concatenate([np.repeat(maps[:1], prefix, axis=0), maps])
    return errors, maps


def score_all(
    model: AnomalyModel,
    source: FrameSource,
    config: InferenceConfig | None = None,
    preprocess: Preprocess | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ScoreResult:
    """Score the whole source; ``progress(done, total)`` is called after each chunk."""
    notices: list[str] = []
    errors = np.zeros(len(source), np.float32)
    maps: np.ndarray | None = None
    side: dict[str, np.ndarray] = {}
    began = time.perf_counter()
    for chunk in score_source(model, source, config, preprocess, on_notice=notices.append):
        errors[chunk.start : chunk.stop] = chunk.errors
        for name, values in chunk.side.items():
            side.setdefault(name, np.zeros(len(source), np.float32))[chunk.start : chunk.stop] = values
        if chunk.maps is not None:
            if maps is None:
                maps = np.zeros((len(source), *chunk.maps.shape[1:]), np.float16)
            maps[chunk.start : chunk.stop] = chunk.maps
        if progress:
            progress(chunk.stop, chunk.total)
    seconds = time.perf_counter() - began
    return ScoreResult(errors=errors, maps=maps, seconds=seconds, notices=notices, side=side)


@dataclass
class FrameReconstruction:
    """What the model made of one frame: its input, its output and the per-pixel error (model size)."""

    input: np.ndarray  # (C, h, w) float32 in [0, 1]
    output: np.ndarray  # (C, h, w) float32 in [0, 1]
    error: np.ndarray  # (h, w) float32


def reconstruct_frame(
    model: AnomalyModel,
    source: FrameSource,
    index: int,
    config: InferenceConfig | None = None,
    preprocess: Preprocess | None = None,
) -> FrameReconstruction:
    """Run the window that scores frame ``index`` and return that frame's input, output and error map."""
    config = config or InferenceConfig(batch_size=1)
    if preprocess is None:
        assert model.config is not None
        preprocess = Preprocess(size=model.config.size, channels=model.config.channels)
    device = resolve_device(config.device)
    model = prepare_for_inference(model, device)
    window, position = _window_for_frame(len(source), model.spec, index, config.prediction)
    frames = preprocess(np.stack([source.frame(i) for i in window.frames]))
    with torch.inference_mode(), _autocast(device, config.amp):
        clip = torch.from_numpy(frames[None]).to(device)
        inputs, target = model.split(clip)
        output, target = _predict(model, inputs, target, config.prediction)
        if config.error == "segmentation":
            maps = segmentation_maps(model, inputs)
        else:
            maps = pixel_errors(output, target, config.error)
    if model.spec.mode == "frame":
        output_frame, target_frame, error = output[0], target[0], maps[0]
    else:
        output_frame, target_frame, error = output[0, position], target[0, position], maps[0, position]
    return FrameReconstruction(
        input=target_frame.float().cpu().numpy(),
        output=output_frame.float().cpu().numpy(),
        error=error.float().cpu().numpy(),
    )


def _window_for_frame(
    n_frames: int, spec: TemporalSpec, index: int, prediction: str = "next"
) -> tuple[Window, int]:
    if not 0 <= index < n_frames:
        raise IndexError(f"frame {index} out of range 0..{n_frames - 1}")
    if spec.mode == "frame":
        return Window((index,), ((0, index),)), 0
    if spec.mode == "predict" and index < spec.input_frames:
        index = min(spec.input_frames, n_frames - 1)
    for window in plan_windows(n_frames, spec, prediction):
        for position, frame in window.targets:
            if frame == index:
                return window, position
    raise IndexError(f"frame {index} is not scored by any window")  # pragma: no cover
