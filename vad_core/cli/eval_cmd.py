"""``vad eval``: a metrics table from scores files and labels, or for a dataset scored with a model.

Example::

    vad eval scores/ --labels labels/
    vad eval --dataset ucsd_ped2 --model runs/bcae1.safetensors
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vad_core.cli.options import add_inference_options, inference_config, progress_bar, scoring_config
from vad_core.errors import VadError


def register(sub) -> None:
    """Add ``vad eval`` to the ``vad`` parser."""
    evaluate = sub.add_parser("eval", help="metrics table from scores files + labels, or for a dataset")
    evaluate.add_argument("scores", nargs="*", help="scores .npz files or folders of them")
    evaluate.add_argument(
        "--labels",
        help="labels: .npy per-frame 0/1, label JSON or CSV of intervals, or a video (file or frame "
        "folder): the labels the review window keeps for it",
    )
    evaluate.add_argument("--dataset", help="dataset root: score its test clips with --model")
    evaluate.add_argument(
        "--ground-truth",
        metavar="FILE",
        help="UCSD folders: the ground-truth file (.m or .mat) [UCSDpedN.m, pedN.mat or the only one]",
    )
    evaluate.add_argument("--model", help="checkpoint for --dataset")
    evaluate.add_argument("--scores-out", help="with --dataset: also write per-clip scores here")
    evaluate.add_argument(
        "--target-recall", type=float, default=0.9, help="event recall of the second operating point [0.9]"
    )
    add_inference_options(evaluate)
    evaluate.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    if args.dataset:
        return _eval_dataset(args)
    if not args.scores:
        raise VadError(None, "give scores files (from vad score) or --dataset ROOT --model CKPT")
    return _eval_scores(args)


def _eval_dataset(args: argparse.Namespace) -> int:
    from vad_core.checkpoint import load_checkpoint
    from vad_core.datasets import open_dataset

    if not args.model:
        raise VadError(None, "--dataset needs --model CKPT")
    from vad_core.fusion import is_fused_model

    if is_fused_model(args.model):
        return _eval_fused(args)
    checkpoint = load_checkpoint(args.model)
    dataset = open_dataset(args.dataset, args.ground_truth)
    if hasattr(dataset, "category"):
        from vad_core.evaluation.images import evaluate_image_dataset

        evaluation = evaluate_image_dataset(checkpoint, dataset, inference_config(args, checkpoint.scoring))
        print(evaluation.table())
        return 0
    from vad_core.evaluation.videos import evaluate_dataset

    inference = inference_config(args, checkpoint.scoring)
    total = sum(len(c.source) for c in dataset.test)
    bar = progress_bar(total, f"scoring {dataset.name}")
    seen: dict[str, int] = {}

    def progress(name: str, done: int, _total: int) -> None:
        bar.update(done - seen.get(name, 0))
        seen[name] = done

    evaluation = evaluate_dataset(
        checkpoint.model,
        dataset,
        inference,
        scoring_config(args, checkpoint.scoring, inference),
        progress,
        scores_dir=args.scores_out,
        meta={"model": checkpoint.display_name, "checkpoint_sha256": checkpoint.sha256},
        calibration=checkpoint.metadata.get("calibration"),
        target_recall=args.target_recall,
    )
    bar.close()
    print(
        f"{checkpoint.display_name} on {dataset.name} ({len(dataset.test)} test clips, {evaluation.frames} frames, "
        f"{evaluation.frames_per_second:.0f} frames/s)"
    )
    print(evaluation.table())
    from vad_core.evaluation.fit import check_scored_clips

    fit = check_scored_clips(
        checkpoint.metadata,
        checkpoint.display_name,
        evaluation.clips,
        [c.source for c in dataset.test],
        inference,
        evaluation.report.pooled.auroc,
    )
    if not fit.fits:
        print(f"\nWARNING: {fit.sentence(f'the footage of {dataset.name}')}\n{TRAIN_HINT}")
    return 0


#: How to get a model for one's own footage (printed under a fit warning).
TRAIN_HINT = (
    "Train on normal footage of this scene: vad train --model bcae1 --data DATASET_OR_FOLDER --out runs/mine "
    '(or "Train on this footage" in the review window).'
)


def _eval_fused(args: argparse.Namespace) -> int:
    """``vad eval --dataset ROOT --model FUSED.json``: each member scores with its own recommendation."""
    from vad_core.datasets import open_dataset
    from vad_core.evaluation.videos import evaluate_fused
    from vad_core.fusion import open_members, read_fused

    fused = read_fused(args.model)
    members = open_members(fused)
    dataset = open_dataset(args.dataset, args.ground_truth)
    if hasattr(dataset, "category"):
        raise VadError(args.model, "a fused model scores videos; this dataset is an image category")
    total = len(members) * sum(len(c.source) for c in dataset.test)
    bar = progress_bar(total, f"scoring {dataset.name}")
    seen: dict[str, int] = {}

    def progress(name: str, done: int, _total: int) -> None:
        bar.update(done - seen.get(name, 0))
        seen[name] = done

    evaluation = evaluate_fused(
        members, dataset, inference_config(args), scoring_config(args), progress, args.target_recall
    )
    bar.close()
    print(
        f"{fused.display_name} on {dataset.name} ({len(dataset.test)} test clips, {evaluation.frames} frames)"
    )
    print(evaluation.table())
    return 0


def _eval_scores(args: argparse.Namespace) -> int:
    import numpy as np

    from vad_core.evaluation.videos import ClipScores, evaluate_scores
    from vad_core.inference.scores_file import read_scores
    from vad_core.scoring import anomaly_scores

    files: list[Path] = []
    for text in args.scores:
        path = Path(text)
        files.extend(sorted(path.glob("*.npz")) if path.is_dir() else [path])
    if not files:
        raise VadError(args.scores[0], "no scores files (.npz) found")
    loaded = [(path, read_scores(path, load_maps=False)) for path in files]
    lengths = {scores.name: len(scores.errors) for _, scores in loaded}
    external = _read_label_file(args.labels, lengths) if args.labels else {}
    clips = []
    # the score the files were written with (their meta), unless --score / --mnad-weight say otherwise
    scoring = scoring_config(args, loaded[0][1].meta.get("scoring", {}))
    for path, scores in loaded:
        labels = external.get(scores.name, scores.labels)
        if labels is None and len(external) == 1 and len(files) == 1:
            labels = next(iter(external.values()))
        if labels is not None and len(labels) != len(scores.errors):
            raise VadError(path, f"{len(labels)} labels for {len(scores.errors)} frames")
        score = anomaly_scores(scores.errors, scoring, scores.side).score
        clips.append(
            ClipScores(
                scores.name,
                scores.errors,
                score,
                None if labels is None else np.asarray(labels, bool),
                scores.categories,
                side=scores.side,
                fps=scores.fps,
            )
        )
    if not any(c.labels is not None for c in clips):
        raise VadError(files[0], "no labels: the scores carry none and --labels was not given")
    evaluation = evaluate_scores(clips, scoring=scoring, target_recall=args.target_recall)
    print(evaluation.table())
    from vad_core.evaluation.fit import check_fit

    model = str(loaded[0][1].meta.get("model") or "The model")
    fit = check_fit({}, model, auroc=evaluation.report.pooled.auroc)  # scores files: the AUROC only
    if not fit.fits:
        print(f"\nWARNING: {fit.sentence('the scored footage')}\n{TRAIN_HINT}")
    return 0


def _read_label_file(path_text: str, lengths: dict[str, int] | None = None) -> dict:
    """Labels for ``vad eval``: a label document, CSV of intervals, .npy per-frame 0/1 array or UCSD .m,
    or a video (file or frame folder): the label file the review window keeps for it."""
    from vad_core.labels.io import read_frame_labels
    from vad_core.labels.locations import resolve_label_argument

    return read_frame_labels(resolve_label_argument(path_text), lengths=lengths)
