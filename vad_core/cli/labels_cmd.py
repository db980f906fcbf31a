"""``vad labels``: import ground truth into label files, export them, show what one holds.

The files are the same the review window reads and writes (see ``docs/labels-schema.md``).

Example::

    vad labels import ucsd_ped2/UCSDped2.m --clip 01 --video ucsd_ped2/testing/frames/01 --out 01.labels.json
    vad labels import ucsd_ped2/UCSDped2.m --out labels/           # one file per clip
    vad labels export 01.labels.json --out 01.csv                  # or .npy, .json
    vad labels show 01.labels.json
    vad labels show ucsd_ped2/testing/frames/01                    # a video: the labels the window keeps for it
    vad labels where ucsd_ped2/testing/frames/01                   # where that label file is

Wherever a label file is asked for (``show``, ``export``), a video file or frame folder may be given
instead: its label file is found the way the review window finds it (``vad_core.labels.locations``:
beside the video, or in the user data folder when the video's folder is read-only).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vad_core.errors import VadError


def _describe(doc) -> str:
    count = doc.video.frame_count
    anomalous = int(doc.to_frame_mask().sum())
    of = f" of {count}" if count is not None else ""
    return f"{len(doc.anomalies)} interval(s), {anomalous}{of} frames anomalous"


def _video(args: argparse.Namespace):
    from vad_core.labels.interval import VideoInfo

    if args.video:
        from vad_core.labels.io import video_info
        from vad_core.sources import open_source

        info = video_info(open_source(args.video, fps=args.fps), sha256=args.hash)
        if args.frames is not None and args.frames != info.frame_count:
            raise VadError(args.video, f"has {info.frame_count} frames, but --frames says {args.frames}")
        return info
    if args.frames is not None or args.fps is not None:
        return VideoInfo(frame_count=args.frames, fps=args.fps)
    return None


def cmd_import(args: argparse.Namespace) -> int:
    from vad_core.labels.io import LABEL_SUFFIX, export_json, import_labels

    video = _video(args)
    docs = import_labels(args.source, args.format, clip=args.clip, video=video, author=args.author or "")
    out = Path(args.out)
    into_folder = len(docs) > 1 or out.is_dir() or args.out.endswith(("/", "\\"))
    if len(docs) > 1 and out.exists() and not out.is_dir():
        raise VadError(
            out, f"{args.source} holds {len(docs)} clips: give a folder as --out, or choose one with --clip"
        )
    if into_folder:
        out.mkdir(parents=True, exist_ok=True)
    for name, doc in docs.items():
        target = out / f"{name}{LABEL_SUFFIX}" if into_folder else out
        export_json(doc, target, force=args.force)
        print(f"{name}: {_describe(doc)} -> {target}")
    if video is None and any(doc.video.frame_count is None for doc in docs.values()):
        print(
            "note: the videos' frame counts are unknown; give --video (or --frames) to check the labels against it",
            file=sys.stderr,
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from vad_core.labels.io import export_labels
    from vad_core.labels.locations import resolve_label_argument
    from vad_core.labels.store import load_document

    args.labels = resolve_label_argument(args.labels)
    doc = load_document(args.labels)
    if args.frames is not None:
        doc.check_frame_count(args.frames, args.labels)
    path = export_labels(
        doc, args.out, force=args.force, include_negatives=args.all_kinds, length=args.frames
    )
    print(f"{args.labels}: {_describe(doc)} -> {path}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from vad_core.labels.locations import resolve_label_argument
    from vad_core.labels.store import find_recoveries, read_document

    args.labels = resolve_label_argument(args.labels)
    doc, stamp = read_document(args.labels)
    video = doc.video
    print(
        f"label file   {args.labels}"
        + (f" (converted from format version {doc.migrated_from})" if doc.migrated_from is not None else "")
    )
    print(f"video        {video.name or '?'}" + (f"  {video.path}" if video.path else ""))
    frames = "unknown" if video.frame_count is None else str(video.frame_count)
    fps = "" if video.fps is None else f" at {video.fps:g} fps"
    print(f"frames       {frames}{fps}" + (f", sha256 {video.sha256[:12]}..." if video.sha256 else ""))
    reviewed = sum(end - start for start, end in doc.reviewed)
    print(
        f"labels       {_describe(doc)}; {len(doc.negatives)} reviewed negative(s); {reviewed} frames reviewed"
    )
    print(f"saved        {doc.saved_at or '?'} (created {doc.created or '?'}), sha256 {stamp.sha256[:12]}...")
    if doc.intervals:
        print(
            f"\n  {'id':<10} {'kind':<8} {'frames':>13} {'seconds':>15}  {'origin':<7} {'author':<10} tag / note"
        )
        for interval in doc.intervals:
            span = f"{interval.start}-{interval.last}"
            seconds = ""
            if video.fps:
                start, end = interval.seconds(video.fps)
                seconds = f"{start:.2f}-{end:.2f}"
            words = " / ".join(part for part in (interval.tag, interval.note.replace("\n", " ")) if part)
            print(
                f"  {interval.id:<10} {interval.kind:<8} {span:>13} {seconds:>15}  {interval.origin:<7} "
                f"{interval.author[:10]:<10} {words[:60]}"
            )
    for recovery in find_recoveries(args.labels):
        state = "in use by a running window" if recovery.live else "left by a session that did not close"
        print(f"\nautosave journal {recovery.journal.name} ({state}, written {recovery.written})")
    return 0


def cmd_where(args: argparse.Namespace) -> int:
    """Where the review window keeps the labels of a video (and the read-only file it starts from)."""
    from vad_core.labels.locations import label_location

    path, seed = label_location(Path(args.video))
    print(f"video        {args.video}")
    print(f"label file   {path} ({'exists' if path.is_file() else 'not written yet'})")
    if seed is not None:
        print(f"starts from  {seed} (beside the video, read-only: never written)")
    return 0


def register(sub) -> None:
    """Add ``vad labels ...`` to the ``vad`` parser."""
    from vad_core.labels.io import FORMATS

    labels = sub.add_parser("labels", help="import, export and show label files (intervals per video)")
    commands = labels.add_subparsers(dest="labels_command", required=True)

    imp = commands.add_parser(
        "import",
        help="ground truth (.m, .mat, .csv, .npy/.txt, .json) -> label file(s)",
        description="CSV columns start_frame,end_frame (or start,end) are 0-based frame numbers, both inclusive; "
        "optional columns: clip, tag, note, kind, author.",
    )
    imp.add_argument("source", help="ground-truth file")
    imp.add_argument("--out", required=True, help="label file, or a folder for several clips")
    imp.add_argument(
        "--video", help="the video (file or frame folder): frame count, fps and name are recorded"
    )
    imp.add_argument(
        "--clip", help="clip of a multi-clip file: 01, 1 or Test001 [the video's number, else all]"
    )
    imp.add_argument("--format", choices=FORMATS, default="auto", help="input format [from the extension]")
    imp.add_argument("--frames", type=int, help="frame count of the video, when --video is not given")
    imp.add_argument("--fps", type=float, help="frame rate (frame folders, or without --video)")
    imp.add_argument("--author", help="recorded on the imported intervals")
    imp.add_argument("--hash", action="store_true", help="record the video file's SHA-256")
    imp.add_argument("--force", action="store_true", help="replace existing label files")
    imp.set_defaults(func=cmd_import)

    exp = commands.add_parser("export", help="label file -> .csv (intervals), .npy (per-frame 0/1) or .json")
    exp.add_argument("labels", help="label file (.json), or a video: the label file the window keeps for it")
    exp.add_argument("--out", required=True, help="output file: .csv, .npy or .json")
    exp.add_argument("--frames", type=int, help="frame count (for .npy when the label file does not know it)")
    exp.add_argument("--all-kinds", action="store_true", help="CSV: include reviewed negatives (kind=normal)")
    exp.add_argument("--force", action="store_true", help="replace an existing output file")
    exp.set_defaults(func=cmd_export)

    show = commands.add_parser("show", help="print a label file's video, intervals and review state")
    show.add_argument("labels", help="label file (.json), or a video: the label file the window keeps for it")
    show.set_defaults(func=cmd_show)

    where = commands.add_parser(
        "where",
        help="where the review window keeps a video's labels (beside it, or in the user data folder "
        "when its folder is read-only)",
    )
    where.add_argument("video", help="video file or frame folder")
    where.set_defaults(func=cmd_where)
