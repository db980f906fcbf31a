"""Frame sources: video files, frame folders, still-image folders and in-memory arrays."""

from __future__ import annotations

from pathlib import Path

from vad_core.errors import SourceError
from vad_core.sources.base import ArraySource, FrameSource
from vad_core.sources.image_files import (
    IMAGE_EXTENSIONS,
    FrameFolderSource,
    ImageFolderSource,
    list_images,
    natural_key,
    read_image,
)
from vad_core.sources.preprocess import Preprocess, prepare_frames, resize_map, to_uint8_image
from vad_core.sources.video_file import VIDEO_EXTENSIONS, VideoFileSource


def open_source(path: str | Path, fps: float | None = None, still_images: bool = False) -> FrameSource:
    """Open a video file, a frame folder, or (``still_images=True``) a folder of independent images.

    ``fps`` overrides the frame rate of frame folders (default 25) and is ignored for video files,
    which carry their own. Raises ``SourceError`` naming the path and the problem.
    """
    path = Path(path)
    if not path.exists():
        raise SourceError(path, "no such file or folder")
    if path.is_dir():
        if still_images:
            return ImageFolderSource(path)
        return FrameFolderSource(path, fps=fps or 25.0)
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return VideoFileSource(path)
    if suffix in IMAGE_EXTENSIONS:
        return ImageFolderSource(path)
    raise SourceError(
        path,
        f"unsupported file type {suffix or '(none)'}; expected a video ({', '.join(VIDEO_EXTENSIONS)}), "
        "an image, or a folder of frames",
    )


__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "ArraySource",
    "FrameFolderSource",
    "FrameSource",
    "ImageFolderSource",
    "Preprocess",
    "VideoFileSource",
    "list_images",
    "natural_key",
    "open_source",
    "prepare_frames",
    "read_image",
    "resize_map",
    "to_uint8_image",
]
