"""``vad demo``: write the synthetic benchmark and score it with the bundled models.

Example::

    vad demo                                   # synthetic benchmark + bundled models -> metrics
    vad demo --model frame --out /tmp/demo
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vad_core.cli.options import progress_bar


def register(sub) -> None:
    """Add ``vad demo`` to the ``vad`` parser."""
    demo = sub.add_parser(
        "demo", help="generate the synthetic benchmark and score it with the bundled models"
    )
    demo.add_argument("--out", help="folder for the synthetic data [user cache]")
    demo.add_argument("--model", help="frame | temporal | path to a checkpoint [both bundled models]")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--device", default="auto")
    demo.add_argument("--regenerate", action="store_true", help="rewrite the data even if present")
    demo.add_argument("--no-score", action="store_true", help="only write the data")
    demo.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from vad_core.checkpoint import load_checkpoint
    from vad_core.datasets.synthetic import SyntheticConfig, read_synthetic, write_synthetic_dataset
    from vad_core.evaluation.videos import evaluate_dataset
    from vad_core.inference.config import InferenceConfig
    from vad_core.paths import demo_data_dir
    from vad_core.resources import demo_model_path
    from vad_core.scoring import ScoringConfig

    out = Path(args.out) if args.out else demo_data_dir()
    config = SyntheticConfig(seed=args.seed)
    if not (out / "synthetic.json").is_file() or args.regenerate:
        print(f"writing the synthetic benchmark to {out} ...", file=sys.stderr)
        write_synthetic_dataset(out, config, video=True)
    dataset = read_synthetic(out)
    print(
        f"synthetic benchmark: {len(dataset.train)} normal training clips, {len(dataset.test)} test clips in {out}"
    )
    if args.no_score:
        return 0
    models = [args.model] if args.model else ["temporal", "frame"]
    for choice in models:
        path = demo_model_path(choice) if choice in ("frame", "temporal") else Path(choice)
        checkpoint = load_checkpoint(path)
        defaults = checkpoint.scoring
        inference = InferenceConfig(
            batch_size=16,
            device=args.device,
            error=defaults.get("error", "mse"),
            reduction=defaults.get("reduction", "mean"),
            patch=int(defaults.get("patch", 16)),
        )
        scoring = ScoringConfig(
            score=defaults.get("score", "error"), mnad_weight=float(defaults.get("mnad_weight", 0.6))
        )
        total = sum(len(c.source) for c in dataset.test)
        bar = progress_bar(total, f"scoring with {checkpoint.display_name}")
        done_before: dict[str, int] = {}

        def progress(name: str, done: int, _total: int, bar=bar, seen=done_before) -> None:
            bar.update(done - seen.get(name, 0))
            seen[name] = done

        evaluation = evaluate_dataset(
            checkpoint.model,
            dataset,
            inference,
            scoring,
            progress,
            scores_dir=out / "scores" / checkpoint.config.name,
            meta={"model": checkpoint.display_name, "checkpoint_sha256": checkpoint.sha256},
            calibration=checkpoint.metadata.get("calibration"),
        )
        bar.close()
        print(
            f"\n== {checkpoint.display_name} ({checkpoint.config.name}, trained on {checkpoint.trained_on}) =="
        )
        print(evaluation.table())
        print(
            f"scored {evaluation.frames} frames in {evaluation.seconds:.1f} s "
            f"({evaluation.frames_per_second:.0f} frames/s)"
        )
        demo = next((c for c in evaluation.clips if c.name == "demo"), None)
        if demo is not None:
            _print_demo_events(demo, scoring)
    print(f"\nopen it in the review window:  vad-review {out / 'test' / 'demo.avi'}")
    return 0


def _print_demo_events(demo, scoring) -> None:
    """The events flagged in the demo clip, with the anomaly types they overlap."""
    from vad_core.scoring import find_events
    from vad_core.scoring.vocabulary import flag_rule

    events = find_events(demo.score, scoring.threshold, scoring.min_duration, scoring.merge_gap)
    print(
        f"events flagged in the demo clip ({flag_rule(scoring.threshold)}, the review window's default; "
        "frames inclusive):"
    )
    for event in events:
        kinds = (
            sorted({k for k in demo.categories[event.start : event.end] if k})
            if demo.categories is not None
            else []
        )
        print(
            f"  frames {event.start:4d}-{event.end - 1:4d}  peak anomaly score {event.peak_score:.2f} "
            f"at {event.peak_frame}  ground truth: {', '.join(kinds) or 'none (false alarm)'}"
        )
