"""``vad export-clips``: export events or labelled intervals of a video as clips, sidecars and sheets.

Example::

    vad export-clips clip.avi --scores scores/clip.npz --labels clip.labels.json --events accepted \\
        --pad 2s --overlay --out incidents/
    vad export-clips ucsd_ped2/testing/frames/01 --scores scores/01.npz --events flagged --pad 10f --out out/
"""

from __future__ import annotations

import argparse
import re
import sys

from vad_core.errors import VadError


def parse_pad(text: str) -> tuple[float, str]:
    """``"2"`` / ``"2.5s"`` -> seconds, ``"50f"`` -> frames: ``(value, "s" | "f")``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|sec|f|frames?)?\s*", text.lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected seconds (2.0s) or frames (50f), found {text!r}")
    unit = "f" if (match.group(2) or "s").startswith("f") else "s"
    return float(match.group(1)), unit


def _seconds(pad: tuple[float, str], fps: float) -> float:
    value, unit = pad
    return value / fps if unit == "f" else value


def _scoring(args: argparse.Namespace, meta: dict):
    from dataclasses import fields

    from vad_core.scoring import ScoringConfig

    stored = meta.get("scoring") if isinstance(meta.get("scoring"), dict) else {}
    names = {f.name for f in fields(ScoringConfig)}
    values = {k: v for k, v in stored.items() if k in names}
    for name in ("threshold", "min_duration", "merge_gap"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    return ScoringConfig(**values)


def cmd_export_clips(args: argparse.Namespace) -> int:
    from vad_core.export import ExportConfig, ExportInputs, export_incidents, run, select_incidents
    from vad_core.inference.scores_file import read_scores
    from vad_core.labels.interval import default_author
    from vad_core.labels.store import load_document
    from vad_core.sources import open_source

    scores = read_scores(args.scores, load_maps=args.overlay)
    source = open_source(args.source, fps=args.fps or scores.meta.get("fps"))
    if len(scores.score) != len(source):
        raise VadError(
            args.scores, f"scores for {len(scores.score)} frames, but {args.source} has {len(source)} frames"
        )
    if args.overlay and scores.maps is None:
        raise VadError(args.scores, "holds no error maps for --overlay (score without --no-maps)")
    labels = None
    if args.labels:
        labels = load_document(args.labels)
        labels.check_frame_count(len(source), args.labels)
    which = args.events or ("accepted" if labels is not None else "flagged")
    incidents = select_incidents(which, labels, scores.score, _scoring(args, scores.meta))
    if not incidents:
        print(f"no {which} incidents to export")
        return 0
    fps = float(source.fps)
    before = _seconds(args.pad_before or args.pad, fps)
    after = _seconds(args.pad_after or args.pad, fps)
    config = ExportConfig(
        pad_before=before,
        pad_after=after,
        overlay=args.overlay,
        annotate=not args.no_annotate,
        container=args.container,
        contact_sheet=not args.no_sheet,
        hash_source=not args.no_hash,
    )
    inputs = ExportInputs.from_scores(
        scores,
        labels,
        operator=args.operator if args.operator is not None else default_author(),
        operator_note=args.note or "",
    )
    from vad_core.cli.options import progress_bar

    total = sum(
        min(len(source), i.end + round(after * fps)) - max(0, i.start - round(before * fps))
        for i in incidents
    )
    bar = progress_bar(total, f"exporting {len(incidents)} incident(s)")
    counted = {}

    def progress(item) -> None:
        key = item.incident
        bar.update(item.done - counted.get(key, 0))
        counted[key] = item.done

    try:  # interrupting closes the generator, which removes the partial files of the incident being written
        results = run(export_incidents(source, incidents, args.out, inputs, config), progress)
    finally:
        bar.close()
    for result in results:
        height, width = result.frame_size
        extras = " + .json" + (" + _sheet.png" if result.sheet is not None else "")
        print(
            f"{result.clip}  ({result.codec}, frames {result.first_frame}-{result.end_frame - 1}, "
            f"{result.frame_count} frames {width}x{height}){extras}"
        )
    print(f"{len(results)} incident(s) exported to {args.out}", file=sys.stderr)
    return 0


def register(sub) -> None:
    """Add ``vad export-clips`` to the ``vad`` parser."""
    parser = sub.add_parser(
        "export-clips",
        help="export events / labelled intervals as video clips + JSON sidecars + contact sheets",
    )
    parser.add_argument("source", help="the video file or frame folder that was scored")
    parser.add_argument("--scores", required=True, help="scores .npz written by vad score")
    parser.add_argument("--labels", help="label file (.json) of the video")
    parser.add_argument(
        "--events",
        choices=("accepted", "flagged", "all"),
        help="accepted: the label file's anomaly intervals; flagged: the score's events; "
        "all: both, without rejected or duplicate events [accepted with --labels, else flagged]",
    )
    parser.add_argument(
        "--pad", type=parse_pad, default=(2.0, "s"), help="padding before and after: 2.0s or 50f [2s]"
    )
    parser.add_argument("--pad-before", type=parse_pad, help="padding before (overrides --pad)")
    parser.add_argument("--pad-after", type=parse_pad, help="padding after (overrides --pad)")
    parser.add_argument(
        "--overlay", action="store_true", help="burn in the error heatmap (needs maps in the scores)"
    )
    parser.add_argument("--no-annotate", action="store_true", help="no frame number / score text")
    parser.add_argument("--no-sheet", action="store_true", help="no PNG contact sheet")
    parser.add_argument("--no-hash", action="store_true", help="do not hash the source video for the sidecar")
    parser.add_argument(
        "--container", choices=("mp4", "avi"), default="mp4", help="mp4 (falls back to avi) or avi"
    )
    parser.add_argument("--threshold", type=float, help="event threshold [the scores file's]")
    parser.add_argument("--min-duration", type=int, help="shortest event in frames [the scores file's]")
    parser.add_argument(
        "--merge-gap", type=int, help="merge events this close, in frames [the scores file's]"
    )
    parser.add_argument("--fps", type=float, help="frame rate of a frame folder [the scores file's, else 25]")
    parser.add_argument("--operator", help="operator name for the sidecars [login name]")
    parser.add_argument("--note", help="operator note for the sidecars")
    parser.add_argument(
        "--out", required=True, help="output folder (created; existing files are never replaced)"
    )
    parser.set_defaults(func=cmd_export_clips)
