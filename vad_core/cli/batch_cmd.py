"""``vad batch score`` and ``vad batch report``: score a whole footage archive on Ray, then triage it.

Example::

    vad batch score /archive/site7 --model runs/bcae1.safetensors --out results/site7
    vad batch score /archive/site7 --model runs/bcae1.safetensors --out results/site7 --address auto
    vad batch report results/site7 --top 20
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from vad_core.errors import VadError

REPORT_COLUMNS = (
    "clip",
    "status",
    "max_error",
    "mean_error",
    "max_score",
    "mean_score",
    "n_events",
    "frames",
    "fps",
    "camera",
    "folder",
    "model",
    "checkpoint_sha256",
    "content_hash",
    "scores_path",
    "error",
    "top_events",
    "compute_s",
    "wall_s",
)


def register(subparsers) -> None:
    """Add ``vad batch score`` and ``vad batch report`` to the ``vad`` command line."""
    from vad_core.batch.chunking import DEFAULT_CHUNK_FRAMES
    from vad_core.batch.discover import MIN_IMAGES
    from vad_core.batch.index import ORDER_KEYS
    from vad_core.cli.options import add_inference_options

    batch = subparsers.add_parser("batch", help="score whole footage archives on Ray; triage the results")
    sub = batch.add_subparsers(dest="batch_command", required=True)

    score = sub.add_parser(
        "score",
        help="score every video and frame folder under ROOT (resumable)",
        description="Score every video file and frame folder under ROOT on Ray (a local Ray on this "
        "machine, or a cluster with --address); re-running skips clips already scored with the same "
        "content, checkpoint and settings.",
    )
    score.add_argument("root", help="archive folder (searched recursively)")
    score.add_argument("--model", required=True, help="checkpoint (.safetensors)")
    score.add_argument("--out", required=True, help="results folder: index.sqlite + scores/")
    score.add_argument(
        "--address", help="join a Ray cluster: auto | HOST:6379 | ray://HOST:10001 [local Ray]"
    )
    score.add_argument("--cpus", type=int, help="CPUs of the local Ray [all of this machine's]")
    score.add_argument("--workers", type=int, help="model workers (Ray actors) [as many as resources allow]")
    score.add_argument("--cpus-per-worker", type=float, help="CPUs (= torch threads) per worker")
    score.add_argument("--gpus-per-task", type=float, help="GPUs per worker [1 when the cluster has GPUs]")
    score.add_argument(
        "--threads", type=int, help="chunks a GPU worker scores at once [3 with decoders, else its CPUs]"
    )
    score.add_argument(
        "--decoders",
        type=int,
        help="CPU tasks decoding chunks for GPU workers; 0: workers decode their own "
        "[GPU: 6 per worker, at most half the CPUs they leave; CPU: 0]",
    )
    score.add_argument("--fps", type=float, help="frame rate of frame folders [25]")
    score.add_argument(
        "--chunk-frames",
        type=int,
        default=DEFAULT_CHUNK_FRAMES,
        help=f"frames per chunk [{DEFAULT_CHUNK_FRAMES}]",
    )
    score.add_argument(
        "--min-images", type=int, default=MIN_IMAGES, help=f"images that make a folder a clip [{MIN_IMAGES}]"
    )
    score.add_argument(
        "--exclude", action="append", default=[], help="skip paths matching PATTERN (repeatable)"
    )
    score.add_argument("--full-hash", action="store_true", help="hash every byte of every clip (slow)")
    score.add_argument("--retry-failed", action="store_true", help="try unreadable clips again")
    score.add_argument("--no-maps", action="store_true", help="do not store error maps")
    score.add_argument("--writers", type=int, help="threads writing scores files [cores / 4, 2 to 8]")
    score.add_argument("--quiet", action="store_true", help="no progress bar")
    add_inference_options(score)
    score.set_defaults(func=cmd_batch_score)

    report = sub.add_parser("report", help="print the top clips of a results folder and write a CSV")
    report.add_argument("results", help="results folder of `vad batch score`")
    report.add_argument("--top", type=int, default=20, help="clips to print [20]")
    report.add_argument(
        "--by",
        default="max_error",
        choices=ORDER_KEYS,
        help="sort key [max_error: the raw error, comparable across clips of one model]",
    )
    report.add_argument("--csv", help="CSV of every clip [RESULTS/report.csv]")
    report.set_defaults(func=cmd_batch_report)


def cmd_batch_score(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from vad_core.batch.runner import BatchConfig, run_batch
    from vad_core.checkpoint import read_description
    from vad_core.cli.options import inference_config, scoring_config

    description = read_description(args.model)
    inference = inference_config(args, description.get("scoring", {}))
    if args.no_maps:
        inference = replace(inference, keep_maps=False)
    scoring = scoring_config(args, description.get("scoring", {}), inference)
    if scoring.score == "mnad":  # the batch chunks carry per-frame errors and maps, not side series
        from vad_core.errors import ConfigError

        raise ConfigError(
            "scoring", "vad batch cannot give the 'mnad' score yet (no memory distance); pass --score psnr"
        )
    config = BatchConfig(
        root=args.root,
        checkpoint=args.model,
        results=args.out,
        inference=inference,
        scoring=scoring,
        address=args.address,
        cpus=args.cpus,
        workers=args.workers,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_task=args.gpus_per_task,
        threads=args.threads,
        decoders=args.decoders,
        fps=args.fps,
        chunk_frames=args.chunk_frames,
        min_images=args.min_images,
        exclude=tuple(args.exclude),
        full_hash=args.full_hash,
        retry_failed=args.retry_failed,
        writers=args.writers,
        progress=not args.quiet,
    )
    summary = run_batch(config)
    print(summary.table())
    print(f"results: {Path(args.out) / 'index.sqlite'}  (vad batch report {args.out})")
    return 130 if summary.interrupted else 0


def _format(value: object, width: int, digits: int = 4) -> str:
    if value is None:
        return "-".rjust(width)
    if isinstance(value, float):
        return f"{value:>{width}.{digits}g}"
    return f"{value!s:>{width}}"


def cmd_batch_report(args: argparse.Namespace) -> int:
    from vad_core.batch.index import ResultsIndex

    with ResultsIndex.open(args.results, readonly=True) as index:
        rows = index.rows(order_by=args.by)
        counts = index.counts()
        runs = index.runs()
    if not rows:
        raise VadError(args.results, "the results index holds no clips yet")
    model = next((r.model for r in rows if r.status == "done"), rows[0].model)
    print(
        f"{len(rows)} clips ({counts['done']} done, {counts['failed']} failed), model {model}, "
        f"{len(runs)} run(s); top {min(args.top, len(rows))} by {args.by}:"
    )
    width = min(60, max(len("clip"), *(len(r.clip) for r in rows[: args.top])))
    print(
        f"{'#':>3}  {'clip':<{width}}  {'max err':>9} {'mean err':>9} {'max s':>6} {'events':>6} "
        f"{'frames':>7}  strongest event"
    )
    for rank, row in enumerate(rows[: args.top], start=1):
        if row.status == "failed":
            detail = f"FAILED: {row.error}"
        elif row.events:
            event = row.events[0]
            detail = (
                f"frames {event['start']}-{event['end'] - 1} ({event['start_s']:.1f}-{event['end_s']:.1f} s), "
                f"peak {event['peak_score']:.2f} at {event['peak_frame']}"
            )
        else:
            detail = ""
        clip = row.clip if len(row.clip) <= width else "..." + row.clip[-(width - 3) :]
        print(
            f"{rank:>3}  {clip:<{width}}  {_format(row.max_error, 9)} {_format(row.mean_error, 9)} "
            f"{_format(row.max_score, 6, 3)} {_format(row.n_events, 6)} {_format(row.frames, 7)}  {detail}"
        )
    failed = [r for r in rows if r.status == "failed"]
    if failed:
        print(f"\n{len(failed)} failed clip(s):")
        for row in failed:
            print(f"  {row.clip}: {row.error}")
    target = Path(args.csv) if args.csv else Path(args.results) / "report.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("rank", *REPORT_COLUMNS))
        for rank, row in enumerate(rows, start=1):
            values = row.as_dict()
            values["top_events"] = json.dumps(row.events) if row.top_events else ""
            writer.writerow((rank, *("" if values[c] is None else values[c] for c in REPORT_COLUMNS)))
    print(f"\nwrote {target}", file=sys.stderr)
    return 0
