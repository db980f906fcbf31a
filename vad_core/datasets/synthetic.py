"""The built-in synthetic benchmark: moving shapes with spatial, temporal and spatio-temporal anomalies.

Follows the moving-shapes set of seed 002 (MNAD reproduction): normal motion is circles of
radius 10 px moving at 5 px/frame; a *spatial* anomaly is a square (of the circle's area) at normal speed, a *temporal*
anomaly is a circle at 10 px/frame, a *spatio-temporal* anomaly is a square at 10 px/frame.
Training clips hold normal motion only; every test clip holds one anomalous interval of one type,
where one object changes shape and/or speed. Frame labels, per-frame categories and pixel masks
come with every test clip. Everything is seeded and deterministic.

Example::

    dataset = make_synthetic_dataset(SyntheticConfig(seed=0))
    clip = dataset.test[0]             # clip.labels, clip.categories, clip.masks(i)
    demo = make_demo_clip()            # one longer clip holding all three anomaly types
    write_synthetic_dataset("synthetic", SyntheticConfig(), video=True)
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vad_core.datasets.base import VideoClip, VideoDataset
from vad_core.errors import ConfigError, DatasetError
from vad_core.json_reading import Fields, read_json
from vad_core.sources.base import ArraySource

ANOMALY_TYPES = ("spatial", "temporal", "spatio-temporal")
_SHIFT = 4  # sub-pixel drawing precision for OpenCV (1/16 px)


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and content of the synthetic benchmark (defaults from seed 002 where it gives them)."""

    height: int = 128
    width: int = 128
    objects: int = 3
    radius: int = 10  # seed 002: circles of radius 10 px
    normal_speed: float = 5.0  # seed 002: 5 px/frame
    fast_speed: float = 10.0  # seed 002: anomalies at 10 px/frame
    train_clips: int = 8
    test_clips_per_type: int = 2
    frames_per_clip: int = 120
    anomaly_frames: tuple[int, int] = (30, 50)  # length range of the anomalous interval
    noise: float = 2.0  # std of per-pixel sensor noise (grey levels)
    fps: float = 25.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.height < 4 * self.radius or self.width < 4 * self.radius:
            raise ConfigError(
                "synthetic", f"frame {self.height}x{self.width} too small for radius {self.radius}"
            )
        if self.frames_per_clip < self.anomaly_frames[1] + 10:
            raise ConfigError(
                "synthetic",
                f"frames_per_clip must exceed the longest anomaly ({self.anomaly_frames[1]}) by 10",
            )
        if self.objects < 1:
            raise ConfigError("synthetic", "at least one object is needed")


@dataclass
class _Mover:
    x: float
    y: float
    vx: float
    vy: float
    shape: str = "circle"
    anomalous: bool = False


@dataclass
class SyntheticClip:
    """Frames ``(T, H, W)`` uint8, labels ``(T,)`` bool, categories ``(T,)`` str, masks ``(T, H, W)`` bool."""

    name: str
    frames: np.ndarray
    labels: np.ndarray
    categories: np.ndarray
    masks: np.ndarray
    intervals: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end exclusive, type)

    def to_video_clip(self, fps: float) -> VideoClip:
        masks = self.masks
        return VideoClip(
            name=self.name,
            source=ArraySource(self.frames, fps=fps, name=self.name),
            labels=self.labels.copy(),
            masks=lambda i: masks[i],
            categories=self.categories.copy(),
        )


def _background(config: SyntheticConfig) -> np.ndarray:
    """A fixed, smooth, slightly textured backdrop (the same for every clip of a dataset)."""
    rng = np.random.default_rng(config.seed + 7919)
    yy, xx = np.mgrid[0 : config.height, 0 : config.width].astype(np.float32)
    gradient = 55.0 + 25.0 * (yy / config.height) + 10.0 * np.sin(xx / config.width * math.pi)
    texture = cv2.GaussianBlur(
        rng.normal(0, 6, (config.height, config.width)).astype(np.float32), (0, 0), 2.0
    )
    return gradient + texture


def _draw(canvas: np.ndarray, mover: _Mover, radius: int, value: float) -> None:
    scale = 1 << _SHIFT
    cx, cy = int(round(mover.x * scale)), int(round(mover.y * scale))
    if mover.shape == "circle":
        cv2.circle(canvas, (cx, cy), radius * scale, value, -1, cv2.LINE_AA, _SHIFT)
    else:  # a square of the circle's area, so the amount of bright pixels does not give it away
        half = int(round(radius * math.sqrt(math.pi) / 2 * scale))
        cv2.rectangle(canvas, (cx - half, cy - half), (cx + half, cy + half), value, -1, cv2.LINE_AA, _SHIFT)


def _step(mover: _Mover, config: SyntheticConfig) -> None:
    """Move one frame, bouncing off the walls."""
    low_x, high_x = config.radius, config.width - 1 - config.radius
    low_y, high_y = config.radius, config.height - 1 - config.radius
    mover.x += mover.vx
    mover.y += mover.vy
    if mover.x < low_x or mover.x > high_x:
        mover.vx = -mover.vx
        mover.x = float(np.clip(2 * (low_x if mover.x < low_x else high_x) - mover.x, low_x, high_x))
    if mover.y < low_y or mover.y > high_y:
        mover.vy = -mover.vy
        mover.y = float(np.clip(2 * (low_y if mover.y < low_y else high_y) - mover.y, low_y, high_y))


def _set_speed(mover: _Mover, speed: float) -> None:
    norm = math.hypot(mover.vx, mover.vy) or 1.0
    mover.vx, mover.vy = mover.vx / norm * speed, mover.vy / norm * speed


def _spawn(rng: np.random.Generator, config: SyntheticConfig) -> _Mover:
    angle = rng.uniform(0, 2 * math.pi)
    return _Mover(
        x=float(rng.uniform(config.radius, config.width - 1 - config.radius)),
        y=float(rng.uniform(config.radius, config.height - 1 - config.radius)),
        vx=config.normal_speed * math.cos(angle),
        vy=config.normal_speed * math.sin(angle),
    )


def _render_clip(
    name: str,
    config: SyntheticConfig,
    rng: np.random.Generator,
    length: int,
    intervals: list[tuple[int, int, str]],
) -> SyntheticClip:
    """Render ``length`` frames; during each ``(start, end, type)`` interval one object is anomalous."""
    background = _background(config)
    movers = [_spawn(rng, config) for _ in range(config.objects)]
    frames = np.empty((length, config.height, config.width), np.uint8)
    labels = np.zeros(length, bool)
    categories = np.full(length, "", dtype=object)
    masks = np.zeros((length, config.height, config.width), bool)
    for t in range(length):
        active = next(((s, e, kind) for s, e, kind in intervals if s <= t < e), None)
        target = movers[0]
        if active is not None:
            kind = active[2]
            target.shape = "square" if kind in ("spatial", "spatio-temporal") else "circle"
            _set_speed(
                target, config.fast_speed if kind in ("temporal", "spatio-temporal") else config.normal_speed
            )
            target.anomalous = True
            labels[t] = True
            categories[t] = kind
        elif target.anomalous:
            target.shape = "circle"
            _set_speed(target, config.normal_speed)
            target.anomalous = False
        canvas = background.copy()
        for mover in movers:
            _draw(canvas, mover, config.radius, 205.0)
        if active is not None:
            mask = np.zeros((config.height, config.width), np.uint8)
            _draw(mask, target, config.radius, 1.0)
            masks[t] = mask > 0
        if config.noise > 0:
            canvas += rng.normal(0.0, config.noise, canvas.shape).astype(np.float32)
        frames[t] = np.clip(canvas + 0.5, 0, 255).astype(np.uint8)
        for mover in movers:
            _step(mover, config)
    return SyntheticClip(name, frames, labels, categories.astype(str), masks, list(intervals))


def make_train_clip(config: SyntheticConfig, index: int) -> SyntheticClip:
    """Normal-only training clip number ``index``."""
    rng = np.random.default_rng([config.seed, 1, index])
    return _render_clip(f"train_{index + 1:02d}", config, rng, config.frames_per_clip, [])


def make_test_clip(config: SyntheticConfig, index: int, kind: str) -> SyntheticClip:
    """Test clip number ``index`` with one anomalous interval of type ``kind``."""
    if kind not in ANOMALY_TYPES:
        raise ConfigError("synthetic", f"anomaly type must be one of {ANOMALY_TYPES}, found {kind!r}")
    rng = np.random.default_rng([config.seed, 2, index])
    low, high = config.anomaly_frames
    duration = int(rng.integers(low, high + 1))
    start = int(rng.integers(8, config.frames_per_clip - duration - 2))
    name = f"test_{index + 1:02d}_{kind}"
    return _render_clip(name, config, rng, config.frames_per_clip, [(start, start + duration, kind)])


def make_synthetic_dataset(config: SyntheticConfig | None = None) -> VideoDataset:
    """The whole benchmark in memory: ``train_clips`` normal clips, ``test_clips_per_type`` per type."""
    config = config or SyntheticConfig()
    train = [make_train_clip(config, i).to_video_clip(config.fps) for i in range(config.train_clips)]
    test = []
    for i in range(config.test_clips_per_type * len(ANOMALY_TYPES)):
        kind = ANOMALY_TYPES[i % len(ANOMALY_TYPES)]
        test.append(make_test_clip(config, i, kind).to_video_clip(config.fps))
    return VideoDataset(name="synthetic", train=train, test=test, fps=config.fps)


def make_demo_clip(config: SyntheticConfig | None = None, length: int = 400) -> SyntheticClip:
    """One longer clip with a spatial, a temporal and a spatio-temporal event, for the demo."""
    config = config or SyntheticConfig()
    rng = np.random.default_rng([config.seed, 3])
    step = length // 4
    intervals = [
        (step - 20, step + 20, "spatial"),
        (2 * step - 20, 2 * step + 20, "temporal"),
        (3 * step - 20, 3 * step + 20, "spatio-temporal"),
    ]
    return _render_clip("demo", config, rng, length, intervals)


# ---------------------------------------------------------------------------------------------
# On disk: a documented layout that ``read_synthetic`` (and ``open_dataset``) reads back.
#   ROOT/synthetic.json            config, clip names, labels as intervals
#   ROOT/train/<clip>/000.png ...  or  ROOT/train/<clip>.avi  (video=True)
#   ROOT/test/<clip>/000.png ...   or  ROOT/test/<clip>.avi
#   ROOT/test_masks/<clip>.npz     bool masks (T, H, W), compressed
# ---------------------------------------------------------------------------------------------

MANIFEST = "synthetic.json"
MANIFEST_VERSION = 1


def write_frames(frames: np.ndarray, target: Path, fps: float, video: bool) -> Path:
    """Write uint8 frames as a PNG folder (``target/000.png``) or a lossless-enough MJPG ``target.avi``."""
    if video:
        path = target.with_suffix(".avi")
        path.parent.mkdir(parents=True, exist_ok=True)
        height, width = frames.shape[1:3]
        writer = cv2.VideoWriter(
            str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height), isColor=True
        )
        if not writer.isOpened():
            raise DatasetError(path, "OpenCV cannot write MJPG video here")
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame[..., ::-1])
        writer.release()
        return path
    target.mkdir(parents=True, exist_ok=True)
    digits = max(3, len(str(len(frames) - 1)))
    for i, frame in enumerate(frames):
        cv2.imwrite(str(target / f"{i:0{digits}d}.png"), frame)
    return target


def _intervals_of(labels: np.ndarray, categories: np.ndarray) -> list[list]:
    out: list[list] = []
    for t, flag in enumerate(labels):
        if flag and (not out or out[-1][1] != t or out[-1][2] != categories[t]):
            out.append([t, t + 1, str(categories[t])])
        elif flag:
            out[-1][1] = t + 1
    return out


def write_synthetic_dataset(
    root: str | Path, config: SyntheticConfig | None = None, video: bool = False, demo: bool = True
) -> Path:
    """Write the benchmark (and the demo clip) under ``root``; return the manifest path."""
    config = config or SyntheticConfig()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"format": "vad-review synthetic", "version": MANIFEST_VERSION, "config": asdict(config)}
    manifest["train"] = []
    for i in range(config.train_clips):
        clip = make_train_clip(config, i)
        path = write_frames(clip.frames, root / "train" / clip.name, config.fps, video)
        manifest["train"].append({"name": clip.name, "path": path.relative_to(root).as_posix()})
    manifest["test"] = []
    test_clips = [
        make_test_clip(config, i, ANOMALY_TYPES[i % len(ANOMALY_TYPES)])
        for i in range(config.test_clips_per_type * len(ANOMALY_TYPES))
    ]
    if demo:
        test_clips.append(make_demo_clip(config))
    for clip in test_clips:
        path = write_frames(clip.frames, root / "test" / clip.name, config.fps, video)
        (root / "test_masks").mkdir(exist_ok=True)
        np.savez_compressed(root / "test_masks" / f"{clip.name}.npz", masks=clip.masks)
        manifest["test"].append(
            {
                "name": clip.name,
                "path": path.relative_to(root).as_posix(),
                "frames": len(clip.frames),
                "anomalies": _intervals_of(clip.labels, clip.categories),
            }
        )
    target = root / MANIFEST
    target.write_text(json.dumps(manifest, indent=2))
    return target


def _read_manifest(path: Path) -> tuple[dict[str, Any], float, list[dict], list[dict]]:
    """The manifest (through :mod:`vad_core.json_reading`), its fps and its train / test entries,
    every field the reader uses checked; ``DatasetError`` naming the file and the field."""
    manifest = read_json(path, DatasetError, max_bytes=16 * 1024 * 1024, what="a synthetic dataset manifest")
    fields = Fields(manifest, path, DatasetError)
    version = fields.integer("version", default=0, minimum=0)
    if version > MANIFEST_VERSION:
        raise DatasetError(path, f"written by a newer version ({version})")
    fps = fields.section("config").number("fps", minimum=1e-3, maximum=1e4)
    entries: list[list[dict]] = []
    for part in ("train", "test"):
        items = fields.array(part)
        for number, item in enumerate(items):
            entry = Fields(item, path, DatasetError, f"{part}[{number}].")
            entry.text("name")
            entry.text("path")
            for anomaly in entry.array("anomalies", default=[]):
                if not (
                    isinstance(anomaly, list)
                    and len(anomaly) == 3
                    and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in anomaly[:2])
                    and isinstance(anomaly[2], str)
                ):
                    raise entry.fail("anomalies", "expected [start, end, kind] items")
        entries.append(items)
    return manifest, fps, entries[0], entries[1]


def read_synthetic(root: str | Path) -> VideoDataset:
    """Read a dataset written by ``write_synthetic_dataset`` (frame folders or videos)."""
    from vad_core.sources import open_source

    root = Path(root)
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise DatasetError(root, f"not a synthetic dataset folder ({MANIFEST} missing)")
    manifest, fps, entries_train, entries_test = _read_manifest(manifest_path)

    def load(entry: dict, with_labels: bool) -> VideoClip:
        source = open_source(root / entry["path"], fps=fps)
        if not with_labels:
            return VideoClip(entry["name"], source)
        labels = np.zeros(len(source), bool)
        categories = np.full(len(source), "", dtype=object)
        for start, end, kind in entry.get("anomalies", []):
            labels[start:end] = True
            categories[start:end] = kind
        mask_file = root / "test_masks" / f"{entry['name']}.npz"
        masks = None
        if mask_file.is_file():
            stored = np.load(mask_file)["masks"]
            masks = lambda i, stored=stored: stored[i]  # noqa: E731
        return VideoClip(entry["name"], source, labels, masks, categories.astype(str))

    train = [load(entry, False) for entry in entries_train]
    test = [load(entry, True) for entry in entries_test]
    return VideoDataset(name="synthetic", train=train, test=test, root=root, fps=fps)
