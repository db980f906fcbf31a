"""``vad score``: score a video or frame folder with a checkpoint; write ``.npz`` and ``.csv``.

Example::

    vad score ucsd_ped2/testing/frames/01 --model runs/bcae1.safetensors --out scores/01
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vad_core.cli.options import add_inference_options, inference_config, progress_bar, scoring_config


def register(sub) -> None:
    """Add ``vad score`` to the ``vad`` parser."""
    score = sub.add_parser("score", help="score a video or frame folder; write .npz and .csv")
    score.add_argument("source")
    score.add_argument("--model", required=True, help="checkpoint (.safetensors)")
    score.add_argument("--out", help="output stem [source name in the current folder]")
    score.add_argument(
        "--fps", type=float, help="frame rate of a frame folder [its dataset's (UCSD: 10), else 25]"
    )
    score.add_argument("--still", action="store_true", help="folder of independent images")
    score.add_argument("--no-maps", action="store_true", help="do not store error maps")
    add_inference_options(score)
    score.set_defaults(func=cmd_score)


def cmd_score(args: argparse.Namespace) -> int:
    from vad_core.checkpoint import load_checkpoint
    from vad_core.datasets.frame_rate import folder_frame_rate
    from vad_core.fusion import is_fused_model
    from vad_core.inference.scores_file import write_scores
    from vad_core.inference.scoring_loop import score_all
    from vad_core.scoring import find_events, frame_range_text
    from vad_core.scoring.vocabulary import SCORE_MEANING, flag_rule
    from vad_core.sources import open_source

    if is_fused_model(args.model):
        return _score_fused(args)
    checkpoint = load_checkpoint(args.model)
    inference = inference_config(args, checkpoint.scoring)
    scoring = scoring_config(args, checkpoint.scoring, inference)
    source = open_source(args.source, fps=folder_frame_rate(args.source, args.fps), still_images=args.still)
    bar = progress_bar(len(source), f"scoring {source.name}")
    result = score_all(
        checkpoint.model,
        source,
        inference,
        checkpoint.preprocess,
        progress=lambda done, _t: bar.update(done - bar.n),
    )
    bar.close()
    for notice in result.notices:
        print(notice, file=sys.stderr)
    out = Path(args.out) if args.out else Path(source.name)
    meta = {
        "name": source.name,
        "source": str(source.path or source.name),
        "fps": source.fps,
        "model": checkpoint.display_name,
        "model_name": checkpoint.config.name,
        "checkpoint": str(checkpoint.path),
        "checkpoint_sha256": checkpoint.sha256,
        "inference": inference.__dict__,
    }
    npz = write_scores(
        out,
        result.errors,
        maps=result.maps if not args.no_maps else None,
        meta=meta,
        scoring=scoring,
        side=result.side,
    )
    from vad_core.inference.scores_file import read_scores

    scores = read_scores(npz, load_maps=False)
    events = find_events(scores.score, scoring.threshold, scoring.min_duration, scoring.merge_gap)
    print(
        f"scored {len(source)} frames in {result.seconds:.1f} s ({result.frames_per_second:.0f} frames/s) "
        f"-> {npz} and {npz.with_suffix('.csv')}"
    )
    from vad_core.cli.eval_cmd import TRAIN_HINT
    from vad_core.evaluation.fit import check_fit

    fit = check_fit(
        checkpoint.metadata,
        checkpoint.display_name,
        result.errors,
        source.frame_size,
        source.channels,
        inference.error,
        inference.reduction,
        inference.patch,
    )
    if not fit.fits:
        print(f"WARNING: {fit.sentence(source.name)}\n{TRAIN_HINT}")
    print(
        f"{len(events)} event(s) where {flag_rule(scoring.threshold)} ({SCORE_MEANING}; "
        f"frames inclusive, {source.fps:g} fps):"
    )
    for event in events:
        print(
            f"  frames {frame_range_text(event.start, event.end)}  "
            f"({event.start / source.fps:.1f}-{event.end / source.fps:.1f} s)"
            f"  peak anomaly score {event.peak_score:.2f} at frame {event.peak_frame}"
        )
    return 0


def _score_fused(args: argparse.Namespace) -> int:
    """``vad score SOURCE --model FUSED.json``: the fused series is written as the per-frame errors."""
    from dataclasses import replace

    from vad_core.fusion import fused_series, open_members, read_fused
    from vad_core.inference.scores_file import write_scores
    from vad_core.sources import open_source

    fused = read_fused(args.model)
    members = open_members(fused)
    scoring = replace(scoring_config(args), score="error")
    source = open_source(args.source, fps=args.fps, still_images=args.still)
    bar = progress_bar(len(members) * len(source), f"scoring {source.name}")
    series = fused_series(members, source, inference_config(args), lambda done, _t: bar.update(done - bar.n))
    bar.close()
    out = Path(args.out) if args.out else Path(source.name)
    meta = {
        "name": source.name,
        "source": str(source.path or source.name),
        "fps": source.fps,
        "model": fused.display_name,
        "fused_model": str(fused.path),
        "members": [{"checkpoint": str(m.checkpoint), "weight": m.weight} for m in fused.members],
    }
    npz = write_scores(out, series, meta=meta, scoring=scoring)
    print(f"scored {len(source)} frames with {fused.display_name} -> {npz} and {npz.with_suffix('.csv')}")
    return 0
