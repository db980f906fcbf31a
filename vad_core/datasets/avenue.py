"""CUHK Avenue: 16 training and 21 testing videos with per-frame masks as ground truth.

The dataset comes from Lu, Shi and Jia, "Abnormal Event Detection at 150 FPS in MATLAB" (ICCV 2013),
distributed by CUHK as ``Avenue Dataset`` plus ``ground_truth_demo``. Two layouts are read:

* the original distribution::

      training_videos/01.avi .. 16.avi                        normal training videos (360x640, 25 fps)
      testing_videos/01.avi .. 21.avi
      ground_truth_demo/testing_label_mask/1_label.mat ..      one label file per test video

  (``testing_label_mask`` may also sit directly in the root); a label file ``N_label.mat`` (or
  ``0N_label.mat``) may hold, in ``volLabel`` or as its only variable:

  - a 1xT cell of HxW masks (the dataset's own format): a frame is anomalous when its mask has a
    non-zero pixel, and the masks are served as ``clip.masks(i)``;
  - a numeric vector of T per-frame labels (0 / 1), a simpler form some copies use: labels only;
  - a numeric HxWxT volume of masks (frames last, MATLAB order);
* the re-packed layout of public prediction code: ``training/frames/01/0000.jpg``,
  ``testing/frames/01/0000.jpg`` and ``avenue.mat`` holding ``gt``, a 1x21 cell of [start; end]
  pairs (1-based, inclusive), read like UCSD's ``ped2.mat``.

Example::

    dataset = read_avenue("Avenue Dataset")
    clip = dataset.test[0]                  # clip.source is the video, clip.labels per frame
    mask = clip.masks(120)                  # bool (360, 640)
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from vad_core.datasets.base import VideoClip, VideoDataset
from vad_core.datasets.ucsd import load_mat, read_ranges_mat
from vad_core.errors import DatasetError, GroundTruthError
from vad_core.sources.base import FrameSource
from vad_core.sources.image_files import FrameFolderSource, natural_key
from vad_core.sources.video_file import VIDEO_EXTENSIONS, VideoFileSource

AVENUE_FPS = 25.0  # the videos' own rate; the re-packed frame folders carry none
LABEL_VARIABLE = "volLabel"
_LABEL_DIRS = ("ground_truth_demo/testing_label_mask", "testing_label_mask")


class LabelFile:
    """What one ``N_label.mat`` holds: per-frame labels and, when it stores masks, the masks.

    Only the masks of anomalous frames are kept (as bool arrays); the others are all False, which
    keeps a whole test video's masks to tens of MB instead of hundreds.
    """

    def __init__(
        self,
        path: Path,
        labels: np.ndarray,
        mask_shape: tuple[int, int] | None = None,
        anomalous_masks: dict[int, np.ndarray] | None = None,
    ) -> None:
        self.path = path
        self.labels = labels
        self.mask_shape = mask_shape
        self._masks = anomalous_masks or {}

    @property
    def has_masks(self) -> bool:
        return self.mask_shape is not None

    def mask(self, index: int) -> np.ndarray | None:
        """Bool mask of frame ``index`` (all False for normal frames); ``None`` when the file has no masks."""
        if self.mask_shape is None:
            return None
        index = range(len(self.labels))[index]  # IndexError when out of range; negative counts from the end
        stored = self._masks.get(index)
        return stored if stored is not None else np.zeros(self.mask_shape, bool)


def _from_masks(path: Path, frames: list[object]) -> LabelFile:
    """A ``LabelFile`` from a sequence of HxW masks (cell items or volume slices)."""
    labels = np.zeros(len(frames), bool)
    anomalous: dict[int, np.ndarray] = {}
    shape: tuple[int, int] | None = None
    for index, item in enumerate(frames):
        what = f"{LABEL_VARIABLE}{{{index + 1}}}"
        try:
            array = np.asarray(item)
            if array.dtype == object:
                raise TypeError
            mask = array != 0
        except (TypeError, ValueError):
            raise GroundTruthError(path, f"{what} is not a numeric mask") from None
        if mask.ndim != 2:
            raise GroundTruthError(path, f"{what} must be an HxW mask, found shape {mask.shape}")
        shape = shape or (int(mask.shape[0]), int(mask.shape[1]))
        if mask.shape != shape:
            raise GroundTruthError(path, f"{what} is {mask.shape}, the first mask is {shape}")
        if mask.any():
            labels[index] = True
            anomalous[index] = mask
    return LabelFile(path, labels, shape or (0, 0), anomalous)


def read_label_file(path: str | Path) -> LabelFile:
    """Read one Avenue ``N_label.mat`` in any of the accepted forms (see the module docstring).

    The last two files read stay in memory so that serving masks frame by frame does not reload
    the file; a file changed on disk is read again.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        raise GroundTruthError(path, "label file missing (no such file)") from None
    return _read_label_file(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=2)
def _read_label_file(path: Path, mtime_ns: int, size: int) -> LabelFile:
    contents = load_mat(path)
    if LABEL_VARIABLE in contents:
        value = contents[LABEL_VARIABLE]
    elif len(contents) == 1:
        value = next(iter(contents.values()))
    else:
        found = ", ".join(sorted(contents)) or "none"
        raise GroundTruthError(path, f"no variable {LABEL_VARIABLE!r} (variables found: {found})")
    if not isinstance(value, np.ndarray):
        raise GroundTruthError(
            path, f"expected a cell of masks or a label vector, found {type(value).__name__}"
        )
    if value.dtype == object:  # the dataset's own form: a 1xT cell of HxW masks
        return _from_masks(path, list(value.ravel()))
    try:
        numeric = value.astype(np.float64)
    except (TypeError, ValueError):
        raise GroundTruthError(path, f"labels must be numbers, found {value.dtype}") from None
    squeezed = numeric.squeeze()
    if squeezed.ndim <= 1:  # one label per frame
        labels = np.atleast_1d(squeezed)
        if not np.all(np.isin(labels, (0.0, 1.0))):
            raise GroundTruthError(path, "per-frame labels must be 0 or 1")
        return LabelFile(path, labels.astype(bool))
    if numeric.ndim == 3:  # an HxWxT volume, frames last as MATLAB stores them
        return _from_masks(path, [numeric[:, :, t] for t in range(numeric.shape[2])])
    raise GroundTruthError(
        path, f"expected a cell of masks, a label vector or an HxWxT volume, found shape {value.shape}"
    )


class MatMasks:
    """Pixel masks of one test video, read from its label file when first asked for.

    ``masks(i)`` is the bool ``(H, W)`` mask of frame ``i``, resized to the video's frame size.
    """

    def __init__(self, path: Path, size: tuple[int, int]) -> None:
        self.path = path
        self.size = size

    def __call__(self, index: int) -> np.ndarray:
        mask = read_label_file(self.path).mask(index)
        if mask is None:  # pragma: no cover - only built for files that hold masks
            raise GroundTruthError(self.path, "holds frame labels only, no masks")
        if mask.shape != self.size:
            resized = cv2.resize(
                mask.astype(np.uint8), (self.size[1], self.size[0]), interpolation=cv2.INTER_NEAREST
            )
            mask = resized > 0
        return mask

    def __repr__(self) -> str:
        return f"MatMasks({str(self.path)!r})"


def _videos(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS and not p.name.startswith(".")
    ]
    if not files:
        raise DatasetError(folder, f"no videos found (looked for {', '.join(VIDEO_EXTENSIONS)})")
    return sorted(files, key=lambda p: natural_key(p.name))


def _frame_folders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: natural_key(p.name),
    )


def _label_file_for(label_dir: Path, item: Path) -> Path:
    """``label_dir/1_label.mat`` for clip ``01`` (or ``01_label.mat``); ``GroundTruthError`` when absent."""
    stem = _clip_name(item)
    names = [f"{int(stem)}_label.mat", f"{stem}_label.mat"] if stem.isdigit() else [f"{stem}_label.mat"]
    for name in names:
        if (label_dir / name).is_file():
            return label_dir / name
    raise GroundTruthError(
        label_dir / names[0], f"label file of test clip {item.name} missing (no such file)"
    )


def _open(item: Path) -> FrameSource:
    return FrameFolderSource(item, fps=AVENUE_FPS) if item.is_dir() else VideoFileSource(item)


def _labelled_clip(item: Path, source: FrameSource, label_dir: Path) -> VideoClip:
    label_path = _label_file_for(label_dir, item)
    label_file = read_label_file(label_path)
    if len(label_file.labels) != len(source):
        raise GroundTruthError(
            label_path, f"{len(label_file.labels)} frame labels for the {len(source)} frames of {item.name}"
        )
    masks = MatMasks(label_path, source.frame_size) if label_file.has_masks else None
    return VideoClip(_clip_name(item), source, label_file.labels, masks)


def is_avenue_layout(root: str | Path) -> bool:
    """True when ``root`` holds ``training_videos`` / ``testing_videos`` or the re-packed ``avenue.mat``."""
    root = Path(root)
    if (root / "training_videos").is_dir() or (root / "testing_videos").is_dir():
        return True
    repacked = (root / "training" / "frames").is_dir() or (root / "testing" / "frames").is_dir()
    return repacked and (root / "avenue.mat").is_file()


def read_avenue(root: str | Path, ground_truth: str | Path | None = None) -> VideoDataset:
    """Read CUHK Avenue in the original or the re-packed layout (see the module docstring).

    ``ground_truth`` overrides where labels come from: a folder of ``N_label.mat`` files, or a
    ``.mat`` file of ``[start; end]`` ranges. Raises ``DatasetError`` for a folder of another layout,
    ``SourceError`` for an unreadable or truncated video and ``GroundTruthError`` for a missing or
    malformed label file, each naming the file.
    """
    root = Path(root)
    if not root.exists():
        raise DatasetError(root, "no such folder")
    if not root.is_dir():
        raise DatasetError(root, "not a folder (expected the Avenue dataset folder)")
    if (root / "training_videos").is_dir() or (root / "testing_videos").is_dir():
        train_items, test_items = _videos(root / "training_videos"), _videos(root / "testing_videos")
    elif (root / "training" / "frames").is_dir() or (root / "testing" / "frames").is_dir():
        train_items = _frame_folders(root / "training" / "frames")
        test_items = _frame_folders(root / "testing" / "frames")
    else:
        raise DatasetError(
            root,
            "not an Avenue folder: expected training_videos/01.avi and testing_videos/01.avi with "
            "ground_truth_demo/testing_label_mask/1_label.mat, "
            "or training/frames/01/0000.jpg with avenue.mat",
        )
    if not train_items and not test_items:
        raise DatasetError(root, "no training or testing clips found")
    train = [VideoClip(_clip_name(item), _open(item)) for item in train_items]

    test: list[VideoClip] = []
    gt = Path(ground_truth) if ground_truth is not None else _default_ground_truth(root)
    if test_items and gt is None:
        raise GroundTruthError(
            root,
            "no ground truth found (expected ground_truth_demo/testing_label_mask/1_label.mat or avenue.mat)",
        )
    if test_items and gt is not None:
        sources = [_open(item) for item in test_items]
        if gt.is_dir():
            test = [
                _labelled_clip(item, source, gt) for item, source in zip(test_items, sources, strict=True)
            ]
        else:
            names = [_clip_name(item) for item in test_items]
            labels = read_ranges_mat(gt, [len(source) for source in sources], names)
            test = [VideoClip(*clip) for clip in zip(names, sources, labels, strict=True)]
    return VideoDataset(name="Avenue", train=train, test=test, root=root, fps=_fps_of(train, test))


def _clip_name(item: Path) -> str:
    return item.name if item.is_dir() else item.stem


def _fps_of(train: list[VideoClip], test: list[VideoClip]) -> float:
    for clip in [*test, *train]:
        return float(clip.source.fps)
    return AVENUE_FPS


def _default_ground_truth(root: Path) -> Path | None:
    for relative in _LABEL_DIRS:
        if (root / relative).is_dir():
            return root / relative
    for candidate in sorted(root.iterdir()):
        if candidate.is_file() and re.fullmatch(r"avenue\.mat", candidate.name, re.IGNORECASE):
            return candidate
    return None


__all__ = [
    "AVENUE_FPS",
    "LabelFile",
    "MatMasks",
    "is_avenue_layout",
    "read_avenue",
    "read_label_file",
]
