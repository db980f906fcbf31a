"""UCSD Anomaly Detection Dataset (Ped1, Ped2): frame folders with frame-level and pixel ground truth.

The dataset comes from Mahadevan et al., "Anomaly detection in crowded scenes" (CVPR 2010),
distributed by SVCL, UC San Diego as ``UCSD_Anomaly_Dataset.v1p2``. Two layouts are read:

* the original distribution::

      UCSDped2/Train/Train001/001.tif ...        normal training clips (tif frames numbered from 001)
      UCSDped2/Test/Test001/001.tif ...          test clips
      UCSDped2/Test/UCSDped2.m                   frame-level ground truth, one line per test clip
      UCSDped2/Test/Test001_gt/001.bmp ...       optional pixel masks (not clips)

  (Ped1: 34 train and 36 test clips of 200 frames at 158x238, ``UCSDped1.m``; a parent folder
  holding ``UCSDped1`` and ``UCSDped2`` is accepted with ``subset="ped1"`` or ``"ped2"``);
* the re-packed layout most public anomaly-detection code uses::

      ucsd_ped2/training/frames/01/000.jpg ...   (numbering from 000)
      ucsd_ped2/testing/frames/01/000.jpg ...
      ucsd_ped2/UCSDped2.m                       the same official ranges
      ucsd_ped2/ped2.mat                         ``gt``: 1xN cell of [start; end] pairs

Ground truth is 1-based and inclusive: ``TestVideoFile{end+1}.gt_frame = [61:180];`` marks the
61st to the 180th frame (0-based frames 60..179). A line may hold several ranges, ``[5:90, 140:200]``,
or none, ``[]``. ``ped2.mat`` was made for next-frame prediction and starts six clips at frame 5
where the ``.m`` file starts at 1, so the ``.m`` file is preferred when both are present; evaluate
against it. Frames are played at 10 fps. Hidden entries (macOS ``._001.tif`` resource forks) are skipped.

Example::

    dataset = read_ucsd("ucsd_ped2")        # or "UCSDped2", or read_ucsd("UCSD_Anomaly_Dataset.v1p2", "ped1")
    clip = dataset.test[0]
    print(clip.name, len(clip.source), clip.labels.nonzero()[0][[0, -1]])   # 01 180 [ 60 179]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from vad_core.datasets.base import VideoClip, VideoDataset
from vad_core.datasets.masks import read_mask_file
from vad_core.errors import DatasetError, GroundTruthError
from vad_core.sources.image_files import IMAGE_EXTENSIONS, FrameFolderSource, natural_key

UCSD_FPS = 10.0  # the dataset's capture rate (about 10 fps)

#: One clip's anomalous frames as 1-based inclusive ``(first, last)`` pairs, as the dataset writes them.
Ranges = list[tuple[int, int]]

_M_FILE = re.compile(r"^ucsdped\d*\.m$", re.IGNORECASE)
_MAT_FILE = re.compile(r"^(ucsd)?ped\d*\.mat$", re.IGNORECASE)
_SUBSET_FOLDER = re.compile(r"^ucsdped\d+$", re.IGNORECASE)
_INIT_LINE = re.compile(r"^\w+\s*=\s*\{\s*\}\s*;?$")
_GT_LINE = re.compile(
    r"^\w+\s*\{\s*(?P<index>end\s*\+\s*1|\d+)\s*\}\s*\.\s*gt_frame\s*=\s*\[(?P<body>[^\[\]]*)\]\s*;?$"
)
_RANGE = re.compile(r"^(\d+)(?::(\d+))?$")
_M_EXAMPLE = "TestVideoFile{end+1}.gt_frame = [61:180];"


class _Entry(NamedTuple):
    """One clip's ranges and the line of the ``.m`` file (1-based) they came from."""

    ranges: Ranges
    line: int


# ---------------------------------------------------------------------------------------------
# Ground truth: the .m file
# ---------------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise GroundTruthError(path, "ground-truth file missing (no such file)")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise GroundTruthError(path, f"cannot read ground-truth file ({error.strerror or error})") from None
    if b"\0" in data:
        raise GroundTruthError(path, "binary data, expected a MATLAB .m text file of frame ranges")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, statement)`` with comments removed and ``...`` continuations joined."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("%", 1)[0].strip()
        if not pending:
            start = number
        if line.endswith("..."):
            pending += line[:-3] + " "
            continue
        statement = (pending + line).strip()
        pending = ""
        if statement:
            out.append((start, statement))
    if pending.strip():
        out.append((start, pending.strip()))
    return out


def _parse_ranges(body: str, path: Path, line: int) -> Ranges:
    body = re.sub(r"\s*:\s*", ":", body.strip())
    ranges: Ranges = []
    for token in filter(None, re.split(r"[\s,;]+", body)):
        match = _RANGE.match(token)
        if match is None:
            raise GroundTruthError(
                path, f"line {line}: cannot read frame range {token!r} (expected first:last)"
            )
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if first < 1 or last < first:
            raise GroundTruthError(
                path,
                f"line {line}: frame range {first}:{last} is empty or starts before frame 1 (1-based)",
            )
        ranges.append((first, last))
    return ranges


def _parse_m_entries(path: Path) -> list[_Entry]:
    entries: dict[int, _Entry] = {}
    for line, statement in _logical_lines(_read_text(path)):
        if _INIT_LINE.match(statement):
            continue
        match = _GT_LINE.match(statement)
        if match is None:
            shown = statement if len(statement) <= 60 else statement[:57] + "..."
            raise GroundTruthError(
                path, f"line {line}: cannot parse {shown!r} (expected e.g. {_M_EXAMPLE!r})"
            )
        index_text = match.group("index")
        appended = index_text.startswith("end")
        index = max(entries, default=-1) + 1 if appended else int(index_text) - 1
        if index < 0 or index in entries:
            raise GroundTruthError(
                path, f"line {line}: clip {index + 1} is given twice or is not a clip number"
            )
        entries[index] = _Entry(_parse_ranges(match.group("body"), path, line), line)
    missing = [i + 1 for i in range(max(entries, default=-1) + 1) if i not in entries]
    if missing:
        raise GroundTruthError(path, f"no ground truth for clip(s) {missing} between the given ones")
    return [entries[i] for i in sorted(entries)]


def parse_ucsd_m(path: str | Path) -> list[Ranges]:
    """Frame ranges per test clip from a ``UCSDped1.m`` / ``UCSDped2.m`` file (1-based, inclusive).

    Raises ``GroundTruthError`` naming the file and line for anything that is not an assignment
    like ``TestVideoFile{end+1}.gt_frame = [61:180];`` (comments and blank lines are skipped).
    """
    return [entry.ranges for entry in _parse_m_entries(Path(path))]


def ranges_to_labels(ranges: Sequence[tuple[int, int]], length: int) -> np.ndarray:
    """1-based inclusive ``(first, last)`` ranges -> bool labels of ``length`` frames (True = anomalous)."""
    labels = np.zeros(length, bool)
    for first, last in ranges:
        labels[first - 1 : last] = True
    return labels


def _labels_from_entries(
    path: Path, entries: list[_Entry], clip_lengths: Sequence[int], clip_names: Sequence[str] | None
) -> list[np.ndarray]:
    names = list(clip_names) if clip_names is not None else [f"{i + 1}" for i in range(len(clip_lengths))]
    if len(entries) != len(clip_lengths):
        raise GroundTruthError(
            path,
            f"ground truth for {len(entries)} test clips, but the dataset has {len(clip_lengths)} test clips",
        )
    labels = []
    for entry, length, name in zip(entries, clip_lengths, names, strict=True):
        for first, last in entry.ranges:
            if last > length:
                where = f"line {entry.line}: " if entry.line else ""
                raise GroundTruthError(
                    path,
                    f"{where}frame range {first}:{last} goes beyond test clip {name} ({length} frames)",
                )
        labels.append(ranges_to_labels(entry.ranges, length))
    return labels


def read_ucsd_m(
    path: str | Path, clip_lengths: Sequence[int], clip_names: Sequence[str] | None = None
) -> list[np.ndarray]:
    """Bool frame labels per test clip from a UCSD ``.m`` file, checked against the clips' lengths.

    Raises ``GroundTruthError`` naming the file (and line) when the file cannot be parsed, holds a
    different number of clips than ``clip_lengths``, or a range runs past its clip's last frame.
    """
    path = Path(path)
    return _labels_from_entries(path, _parse_m_entries(path), clip_lengths, clip_names)


# ---------------------------------------------------------------------------------------------
# Ground truth: the .mat file (ped1.mat / ped2.mat / avenue.mat of the re-packed layouts)
# ---------------------------------------------------------------------------------------------


def load_mat(path: str | Path) -> dict[str, object]:
    """The variables of a MATLAB (v4-v7.2) ``.mat`` file, or ``GroundTruthError`` naming the file."""
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise GroundTruthError(path, "ground-truth file missing (no such file)")
    try:
        contents = scipy.io.loadmat(str(path))
    except NotImplementedError:
        raise GroundTruthError(
            path, "MATLAB v7.3 (HDF5) files are not supported; save it again in MATLAB with -v7"
        ) from None
    except Exception as error:  # scipy raises ValueError, OSError, MatReadError, ... for bad files
        raise GroundTruthError(path, f"not a readable MATLAB .mat file ({error})") from None
    return {key: value for key, value in contents.items() if not key.startswith("__")}


def ranges_from_pairs(value: object, path: Path, what: str) -> Ranges:
    """``[start; end]`` pairs (a 2xK matrix, one column per range; or Kx2; or empty) -> ranges."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise GroundTruthError(
            path, f"{what}: expected numbers [start; end], found {type(value).__name__}"
        ) from None
    if array.size == 0:
        return []
    if array.size == 2:
        pairs = array.reshape(1, 2)
    elif array.ndim == 2 and array.shape[0] == 2:
        pairs = array.T
    elif array.ndim == 2 and array.shape[1] == 2:
        pairs = array
    else:
        raise GroundTruthError(path, f"{what}: expected [start; end] pairs (2xK), found shape {array.shape}")
    if not np.all(np.isfinite(pairs)) or not np.all(pairs == np.round(pairs)):
        raise GroundTruthError(path, f"{what}: frame numbers must be whole numbers")
    ranges = [(int(first), int(last)) for first, last in pairs]
    for first, last in ranges:
        if first < 1 or last < first:
            raise GroundTruthError(
                path, f"{what}: frame range {first}:{last} is empty or starts before frame 1"
            )
    return ranges


def parse_ranges_mat(path: str | Path, variable: str = "gt") -> list[Ranges]:
    """Frame ranges per test clip from a ``.mat`` file holding a 1xN cell of ``[start; end]`` pairs.

    This is the ``ped1.mat`` / ``ped2.mat`` / ``avenue.mat`` format of the re-packed layouts.
    """
    path = Path(path)
    contents = load_mat(path)
    if variable not in contents:
        found = ", ".join(sorted(contents)) or "none"
        raise GroundTruthError(path, f"no variable {variable!r} (variables found: {found})")
    cell = contents[variable]
    if not isinstance(cell, np.ndarray) or cell.dtype != object:
        raise GroundTruthError(path, f"{variable!r} must be a cell array of [start; end] pairs, one per clip")
    return [ranges_from_pairs(value, path, f"{variable}{{{i + 1}}}") for i, value in enumerate(cell.ravel())]


def read_ranges_mat(
    path: str | Path,
    clip_lengths: Sequence[int],
    clip_names: Sequence[str] | None = None,
    variable: str = "gt",
) -> list[np.ndarray]:
    """Bool frame labels per test clip from a ``ped2.mat`` / ``avenue.mat`` cell of ranges, checked
    against the clips' lengths.

    For ``ped2.mat`` this gives the ``.m`` file's labels except for the first four frames of the
    clips that the prediction-oriented copy starts at frame 5 (see the module docstring).
    """
    path = Path(path)
    entries = [_Entry(ranges, 0) for ranges in parse_ranges_mat(path, variable)]
    return _labels_from_entries(path, entries, clip_lengths, clip_names)


# ---------------------------------------------------------------------------------------------
# Pixel masks: TestNNN_gt/001.bmp
# ---------------------------------------------------------------------------------------------


class FolderMasks:
    """Pixel masks of one clip, one image per frame: ``masks(i)`` is bool ``(H, W)``, True = anomalous."""

    def __init__(self, files: Sequence[Path], size: tuple[int, int]) -> None:
        self.files = list(files)
        self.size = size

    def __len__(self) -> int:
        return len(self.files)

    def __call__(self, index: int) -> np.ndarray:
        return read_mask_file(self.files[index], self.size)

    def __repr__(self) -> str:
        folder = self.files[0].parent if self.files else "?"
        return f"FolderMasks({str(folder)!r}, masks={len(self.files)})"


def _mask_files(folder: Path) -> list[Path]:
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    ]
    return sorted(files, key=lambda p: natural_key(p.name))


def _masks_for(clip: VideoClip, gt_folder: Path) -> FolderMasks | None:
    if not gt_folder.is_dir():
        return None
    files = _mask_files(gt_folder)
    if len(files) != len(clip.source):
        raise GroundTruthError(
            gt_folder, f"{len(files)} mask images for the {len(clip.source)} frames of test clip {clip.name}"
        )
    return FolderMasks(files, clip.source.frame_size)


# ---------------------------------------------------------------------------------------------
# Layouts
# ---------------------------------------------------------------------------------------------


def _subfolders(folder: Path) -> list[Path]:
    """Visible sub-folders, naturally sorted."""
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: natural_key(p.name),
    )


def _clip_folders(folder: Path | None) -> list[Path]:
    if folder is None or not folder.is_dir():
        return []
    return [p for p in _subfolders(folder) if not p.name.lower().endswith("_gt")]


def _pick_subset(root: Path, subset: str | None) -> Path:
    """``root`` itself, or its ``UCSDped1`` / ``UCSDped2`` sub-folder chosen by ``subset``."""
    candidates = {p.name.lower(): p for p in _subfolders(root) if _SUBSET_FOLDER.match(p.name)}
    if not candidates:
        return root
    if subset is not None:
        wanted = subset.lower()
        wanted = wanted if wanted.startswith("ucsd") else f"ucsd{wanted}"
        if wanted not in candidates:
            raise DatasetError(
                root, f"no subset {subset!r}; found {', '.join(p.name for p in candidates.values())}"
            )
        return candidates[wanted]
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates.values())
        raise DatasetError(
            root, f"holds several UCSD subsets ({names}); choose one with subset='ped1' or 'ped2'"
        )
    return next(iter(candidates.values()))


def _find(folders: Sequence[Path | None], pattern: re.Pattern[str]) -> Path | None:
    for folder in folders:
        if folder is not None and folder.is_dir():
            found = sorted(p for p in folder.iterdir() if p.is_file() and pattern.match(p.name))
            if found:
                return found[0]
    return None


def _find_ground_truth(folders: Sequence[Path | None]) -> Path | None:
    """``UCSDpedN.m``, else ``pedN.mat``, else the one ``.m`` or ``.mat`` file of the first folder
    holding any (a third camera's ``UCSDwalk.m``); ``GroundTruthError`` when that folder holds several."""
    named = _find(folders, _M_FILE) or _find(folders, _MAT_FILE)
    if named is not None:
        return named
    for folder in folders:
        if folder is None or not folder.is_dir():
            continue
        found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".m", ".mat"))
        if len(found) == 1:
            return found[0]
        if found:
            names = ", ".join(p.name for p in found[:5])
            raise GroundTruthError(
                folder, f"several ground-truth files ({names}); name one (vad ... --ground-truth FILE)"
            )
    return None


def is_ucsd_layout(root: str | Path) -> bool:
    """True when ``root`` looks like a UCSD folder (either layout) or a parent of ``UCSDped*`` folders."""
    root = Path(root)
    if not root.is_dir():
        return False
    if any(_SUBSET_FOLDER.match(p.name) and (p / "Test").is_dir() for p in _subfolders(root)):
        return True
    if (root / "Train").is_dir() or (root / "Test").is_dir():
        return True
    repacked = (root / "training" / "frames").is_dir() or (root / "testing" / "frames").is_dir()
    return repacked and (_find([root], _M_FILE) is not None or _find([root], _MAT_FILE) is not None)


def read_ucsd(
    root: str | Path, subset: str | None = None, ground_truth: str | Path | None = None
) -> VideoDataset:
    """Read a UCSD Ped1/Ped2 folder in the original or the re-packed layout (see the module docstring).

    ``subset`` ("ped1" / "ped2") picks a sub-folder when ``root`` holds both. ``ground_truth``
    overrides the ground-truth file (``.m`` or ``.mat``); by default ``UCSDpedN.m`` is used, or
    ``pedN.mat`` when there is no ``.m`` file, or else the one ``.m`` / ``.mat`` file there is. Test clips always come with frame labels; the
    original layout's ``TestNNN_gt`` folders give pixel masks (``clip.masks(i)``), other clips
    have ``masks=None``. Raises ``DatasetError`` for a folder of another layout, ``SourceError``
    for a clip folder without readable frames and ``GroundTruthError`` for missing or malformed
    ground truth, each naming the file or folder.
    """
    root = Path(root)
    if not root.exists():
        raise DatasetError(root, "no such folder")
    if not root.is_dir():
        raise DatasetError(root, "not a folder (expected a UCSD dataset folder)")
    root = _pick_subset(root, subset)
    if (root / "Train").is_dir() or (root / "Test").is_dir():
        train_dir, test_dir = root / "Train", root / "Test"
        gt_search: list[Path | None] = [test_dir, root]
    elif (root / "training" / "frames").is_dir() or (root / "testing" / "frames").is_dir():
        train_dir, test_dir = root / "training" / "frames", root / "testing" / "frames"
        gt_search = [root, root / "testing"]
    else:
        raise DatasetError(
            root,
            "not a UCSD folder: expected Train/Train001/001.tif and Test/Test001/001.tif (original layout) "
            "or training/frames/01/000.jpg and testing/frames/01/000.jpg (re-packed layout)",
        )
    train = [
        VideoClip(folder.name, FrameFolderSource(folder, fps=UCSD_FPS)) for folder in _clip_folders(train_dir)
    ]
    test_folders = _clip_folders(test_dir)
    if not train and not test_folders:
        raise DatasetError(root, "no clip folders found under the train or test folder")
    sources = [FrameFolderSource(folder, fps=UCSD_FPS) for folder in test_folders]

    gt_file = Path(ground_truth) if ground_truth is not None else _find_ground_truth(gt_search)
    if gt_file is not None and not gt_file.is_file():
        raise GroundTruthError(gt_file, "no such ground-truth file")
    test: list[VideoClip] = []
    if sources:
        if gt_file is None:
            raise GroundTruthError(
                root,
                f"no ground truth found for the {len(sources)} test clips (expected UCSDped2.m or ped2.mat)",
            )
        lengths, names = [len(s) for s in sources], [s.name for s in sources]
        if gt_file.suffix.lower() == ".mat":
            labels = read_ranges_mat(gt_file, lengths, names)
        else:
            labels = read_ucsd_m(gt_file, lengths, names)
        for folder, source, clip_labels in zip(test_folders, sources, labels, strict=True):
            clip = VideoClip(folder.name, source, clip_labels)
            clip.masks = _masks_for(clip, folder.with_name(folder.name + "_gt"))
            test.append(clip)
    name = _dataset_name(root, gt_file)
    return VideoDataset(name=name, train=train, test=test, root=root, fps=UCSD_FPS)


def _dataset_name(root: Path, gt_file: Path | None) -> str:
    for candidate in (root.name, gt_file.stem if gt_file else ""):
        match = re.search(r"ped\s*_?(\d)", candidate, re.IGNORECASE)
        if match:
            return f"UCSDped{match.group(1)}"
    return root.name


__all__ = [
    "UCSD_FPS",
    "FolderMasks",
    "Ranges",
    "is_ucsd_layout",
    "load_mat",
    "parse_ranges_mat",
    "parse_ucsd_m",
    "ranges_from_pairs",
    "ranges_to_labels",
    "read_ucsd",
    "read_ucsd_m",
    "read_ranges_mat",
]
