"""The ``vad`` command line: demo, info, models, train, score, eval (and more from other modules).

Every command prints one clear line and exits non-zero on bad input; long work shows a progress bar.

Example::

    vad demo                                   # synthetic benchmark + bundled model -> metrics
    vad train --model bcae1 --data ucsd_ped2 --out runs/bcae1 --epochs 50
    vad score ucsd_ped2/testing/frames/01 --model runs/bcae1.safetensors --out scores/01
    vad eval --dataset ucsd_ped2 --model runs/bcae1.safetensors
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vad_core.errors import Cancelled, VadError


def _progress_bar(total: int, desc: str, unit: str = "frame"):
    from tqdm import tqdm

    return tqdm(
        total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=False, disable=None
    )


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().replace("x", " ").split()
    if len(parts) == 1:
        return int(parts[0]), int(parts[0])
    return int(parts[0]), int(parts[1])


def _inference_config(args: argparse.Namespace, defaults: dict | None = None):
    from vad_core.inference.config import InferenceConfig

    defaults = defaults or {}
    return InferenceConfig(
        batch_size=args.batch_size,
        device=args.device,
        amp=not args.no_amp,
        cuda_graphs=args.cuda_graphs,
        error=args.error or defaults.get("error", "mse"),
        reduction=args.reduction or defaults.get("reduction", "mean"),
        patch=args.patch or int(defaults.get("patch", 16)),
    )


def _scoring_config(args: argparse.Namespace):
    from vad_core.scoring import ScoringConfig

    return ScoringConfig(smooth_window=args.smooth, threshold=args.threshold)


def _add_inference_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=32, help="frames (or windows) per batch [32]")
    parser.add_argument("--device", default="auto", help="auto | cuda | cpu [auto]")
    parser.add_argument("--no-amp", action="store_true", help="disable bfloat16 autocast on CUDA")
    parser.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="on CUDA, replay full batches from a recorded graph (faster for light models; one scoring thread)",
    )
    parser.add_argument("--error", choices=("mse", "ssim"), help="per-pixel error [checkpoint's, else mse]")
    parser.add_argument(
        "--reduction", choices=("mean", "l2", "patch_max"), help="per-frame error [checkpoint's, else mean]"
    )
    parser.add_argument("--patch", type=int, help="patch size for patch_max [checkpoint's, else 16]")
    parser.add_argument("--smooth", type=int, default=15, help="Savitzky-Golay window (thesis: 15)")
    parser.add_argument("--threshold", type=float, default=0.5, help="event threshold on the anomaly score")


# ----------------------------------------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:
    from vad_core.checkpoint import load_checkpoint
    from vad_core.datasets.synthetic import SyntheticConfig, read_synthetic, write_synthetic_dataset
    from vad_core.evaluation.videos import evaluate_dataset
    from vad_core.inference.config import InferenceConfig
    from vad_core.paths import demo_data_dir
    from vad_core.resources import demo_model_path
    from vad_core.scoring import ScoringConfig, find_events

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
            reduction=defaults.get("reduction", "mean"),
            patch=int(defaults.get("patch", 16)),
        )
        scoring = ScoringConfig()
        total = sum(len(c.source) for c in dataset.test)
        bar = _progress_bar(total, f"scoring with {checkpoint.display_name}")
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
            events = find_events(demo.score, scoring.threshold, scoring.min_duration, scoring.merge_gap)
            print(f"events flagged in the demo clip (threshold {scoring.threshold}):")
            for event in events:
                kinds = (
                    sorted({k for k in demo.categories[event.start : event.end] if k})
                    if demo.categories is not None
                    else []
                )
                print(
                    f"  frames {event.start:4d}-{event.end - 1:4d}  peak {event.peak_score:.2f} at {event.peak_frame}"
                    f"  ground truth: {', '.join(kinds) or 'none (false alarm)'}"
                )
    print(f"\nopen it in the review window:  vad-review {out / 'test' / 'demo.avi'}")
    return 0


# ----------------------------------------------------------------------------------------------- info
def cmd_info(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if (
        path.suffix in (".safetensors", ".json")
        or path.with_suffix(".safetensors").is_file()
        and not path.is_dir()
    ):
        from vad_core.checkpoint import load_checkpoint
        from vad_core.models import count_parameters

        checkpoint = load_checkpoint(path)
        training = checkpoint.metadata.get("training", {})
        print(f"checkpoint   {checkpoint.path}")
        print(
            f"model        {checkpoint.display_name} ({checkpoint.config.name}), "
            f"{count_parameters(checkpoint.model):,} parameters"
        )
        print(
            f"input        {checkpoint.config.size[0]}x{checkpoint.config.size[1]}, "
            f"{checkpoint.config.channels} channel(s), mode {checkpoint.model.spec.mode}"
        )
        print(
            f"trained on   {checkpoint.trained_on} ({training.get('frames', '?')} frames, "
            f"{training.get('epochs_run', '?')} epochs, best val loss {training.get('best_val_loss', float('nan')):.5g})"
        )
        print(f"sha256       {checkpoint.sha256}")
        return 0
    if path.is_dir():
        from vad_core.datasets import open_dataset
        from vad_core.errors import DatasetError

        try:
            dataset = open_dataset(path)
        except DatasetError:
            dataset = None
        if dataset is not None:
            kind = type(dataset).__name__
            print(f"{kind} {dataset.name} at {path}")
            train = getattr(dataset, "train", [])
            test = getattr(dataset, "test", [])
            if hasattr(dataset, "category"):
                print(
                    f"  category {dataset.category}: {len(train)} train images, {len(test)} test images, "
                    f"defects: {', '.join(dataset.defect_types)}"
                )
                for note in dataset.notes:
                    print(f"  note: {note}")
                return 0
            frames_train = sum(len(c.source) for c in train)
            frames_test = sum(len(c.source) for c in test)
            anomalous = sum(int(c.labels.sum()) for c in test if c.labels is not None)
            print(f"  train: {len(train)} clips, {frames_train} frames")
            print(f"  test:  {len(test)} clips, {frames_test} frames, {anomalous} labelled anomalous")
            return 0
    from vad_core.sources import open_source

    source = open_source(path, still_images=args.still)
    height, width = source.frame_size
    kind = type(source).__name__
    print(f"{kind} {source.name}")
    print(f"  frames    {len(source)}")
    print(f"  fps       {source.fps:g}" + ("" if source.is_sequence else " (independent images)"))
    print(f"  size      {width}x{height}, {'gray' if source.channels == 1 else 'RGB'}")
    print(f"  duration  {len(source) / source.fps:.1f} s")
    return 0


# ----------------------------------------------------------------------------------------------- models
def cmd_models(args: argparse.Namespace) -> int:
    from vad_core.models import ModelConfig, build_model, count_parameters, model_entry, model_names

    size = _size(args.size)
    print(f"{'name':<16} {'family':<33} {'mode':<8} {'params (1 ch)':>14} {'params (3 ch)':>14}  summary")
    for name in model_names():
        entry = model_entry(name)
        counts = []
        for channels in (1, 3):
            model = build_model(ModelConfig(name, channels, size))
            counts.append(count_parameters(model))
        mode = model.spec.mode
        print(f"{name:<16} {entry.family:<33} {mode:<8} {counts[0]:>14,} {counts[1]:>14,}  {entry.summary}")
    print(f"\n(parameter counts at {size[0]}x{size[1]} input with default options)")
    return 0


# ----------------------------------------------------------------------------------------------- train
def _training_sources(paths: Sequence[str], still: bool):
    from vad_core.datasets import open_dataset
    from vad_core.errors import DatasetError
    from vad_core.sources import ImageFolderSource, open_source

    sources, names = [], []
    for text in paths:
        path = Path(text)
        dataset = None
        if path.is_dir():
            try:
                dataset = open_dataset(path)
            except DatasetError:
                dataset = None
        if dataset is not None and hasattr(dataset, "category"):
            sources.append(
                ImageFolderSource([s.path for s in dataset.train], name=f"{dataset.category}/train")
            )
            names.append(f"MVTec {dataset.category}")
        elif dataset is not None:
            sources.extend(c.source for c in dataset.train)
            names.append(f"{dataset.name} (train split)")
        else:
            sources.append(open_source(path, still_images=still))
            names.append(path.name)
    return sources, ", ".join(names)


def cmd_train(args: argparse.Namespace) -> int:
    from vad_core.models import ModelConfig
    from vad_core.sources import Preprocess
    from vad_core.training import FrameBank, TrainConfig, train

    options = {}
    for item in args.option or []:
        key, _, value = item.partition("=")
        options[key] = parse_option_value(value)
    model_config = ModelConfig(args.model, args.channels, _size(args.size), options)
    chosen = {}  # given on the command line: they override the model's registered training defaults
    if args.loss is not None:
        chosen["loss"] = args.loss
    if args.strides is not None:
        chosen["strides"] = tuple(int(s) for s in args.strides.split(","))
    config = TrainConfig.for_model(
        model_config,
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        device=args.device,
        amp=not args.no_amp,
        window_step=args.window_step,
        max_windows_per_epoch=args.max_windows,
        validation_fraction=args.validation,
        **chosen,
    )
    sources, dataset_name = _training_sources(args.data, args.still)
    total = sum(len(s) for s in sources)
    bar = _progress_bar(total, "loading frames")
    bank = FrameBank.from_sources(
        sources,
        Preprocess(model_config.size, model_config.channels),
        progress=lambda done, _t: bar.update(done - bar.n),
    )
    bar.close()
    metadata = {
        "training": {"dataset": dataset_name},
        "scoring": {"error": "mse", "reduction": args.score_reduction, "patch": args.patch},
    }
    bars: dict[str, Any] = {}

    def show(event) -> None:
        bar = bars.get("epoch")
        if event.kind == "info":
            print(event.message, file=sys.stderr)
        elif event.kind == "batch":
            if bar is None or bar.total != event.batches:
                if bar is not None:
                    bar.close()
                bar = bars["epoch"] = _progress_bar(event.batches, f"epoch {event.epoch}", unit="batch")
            bar.set_description(f"epoch {event.epoch}")
            bar.n = event.batch
            bar.set_postfix(loss=f"{event.loss:.5f}")
            bar.refresh()
        elif event.kind == "epoch":
            if bar is not None:
                bar.close()
                bars.pop("epoch")
            print(
                f"epoch {event.epoch:3d}  train {event.loss:.6f}  val {event.val_loss:.6f}  "
                f"lr {event.learning_rate:.2e}",
                file=sys.stderr,
            )

    try:
        result = train(
            config,
            bank,
            output=args.out,
            resume=args.out if args.resume else None,
            metadata=metadata,
            progress=show,
        )
    except KeyboardInterrupt:  # ``train`` has closed the run; its last finished epoch is saved
        print("interrupted; resume with --resume", file=sys.stderr)
        return 130
    if args.svdd:
        from vad_core.training.svdd_finetune import finetune_checkpoint

        result.checkpoint = finetune_checkpoint(
            result.checkpoint, bank, lr=args.svdd_lr, epochs=args.svdd_epochs, device=args.device
        )
    print(
        f"best validation loss {result.best_val_loss:.6f} at epoch {result.best_epoch} "
        f"({result.epochs_run} epochs, {result.seconds:.0f} s); checkpoint: {result.checkpoint}"
    )
    return 0


def parse_option_value(text: str) -> bool | int | float | str:
    """``"true"`` -> True, ``"3"`` -> 3, ``"1e-3"`` -> 0.001, anything else stays a string."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


# ----------------------------------------------------------------------------------------------- score
def cmd_score(args: argparse.Namespace) -> int:
    from vad_core.checkpoint import load_checkpoint
    from vad_core.inference.scores_file import write_scores
    from vad_core.inference.scoring_loop import score_all
    from vad_core.scoring import find_events
    from vad_core.sources import open_source

    checkpoint = load_checkpoint(args.model)
    inference = _inference_config(args, checkpoint.scoring)
    scoring = _scoring_config(args)
    source = open_source(args.source, fps=args.fps, still_images=args.still)
    bar = _progress_bar(len(source), f"scoring {source.name}")
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
        out, result.errors, maps=result.maps if not args.no_maps else None, meta=meta, scoring=scoring
    )
    from vad_core.inference.scores_file import read_scores

    scores = read_scores(npz, load_maps=False)
    events = find_events(scores.score, scoring.threshold, scoring.min_duration, scoring.merge_gap)
    print(
        f"scored {len(source)} frames in {result.seconds:.1f} s ({result.frames_per_second:.0f} frames/s) "
        f"-> {npz} and {npz.with_suffix('.csv')}"
    )
    print(f"{len(events)} event(s) above {scoring.threshold}:")
    for event in events:
        print(
            f"  frames {event.start}-{event.end - 1}  ({event.start / source.fps:.1f}-{event.end / source.fps:.1f} s)"
            f"  peak {event.peak_score:.2f} at {event.peak_frame}"
        )
    return 0


# ----------------------------------------------------------------------------------------------- eval
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
    checkpoint = load_checkpoint(args.model)
    dataset = open_dataset(args.dataset)
    if hasattr(dataset, "category"):
        from vad_core.evaluation.images import evaluate_image_dataset

        evaluation = evaluate_image_dataset(checkpoint, dataset, _inference_config(args, checkpoint.scoring))
        print(evaluation.table())
        return 0
    from vad_core.evaluation.videos import evaluate_dataset

    inference = _inference_config(args, checkpoint.scoring)
    total = sum(len(c.source) for c in dataset.test)
    bar = _progress_bar(total, f"scoring {dataset.name}")
    seen: dict[str, int] = {}

    def progress(name: str, done: int, _total: int) -> None:
        bar.update(done - seen.get(name, 0))
        seen[name] = done

    evaluation = evaluate_dataset(
        checkpoint.model,
        dataset,
        inference,
        _scoring_config(args),
        progress,
        scores_dir=args.scores_out,
        meta={"model": checkpoint.display_name, "checkpoint_sha256": checkpoint.sha256},
    )
    bar.close()
    print(
        f"{checkpoint.display_name} on {dataset.name} ({len(dataset.test)} test clips, {evaluation.frames} frames, "
        f"{evaluation.frames_per_second:.0f} frames/s)"
    )
    print(evaluation.table())
    return 0


def _eval_scores(args: argparse.Namespace) -> int:
    import numpy as np

    from vad_core.evaluation.videos import ClipScores, evaluate_scores
    from vad_core.inference.scores_file import read_scores
    from vad_core.scoring import ScoringConfig, anomaly_scores

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
    scoring = ScoringConfig(smooth_window=args.smooth, threshold=args.threshold)
    for path, scores in loaded:
        labels = external.get(scores.name, scores.labels)
        if labels is None and len(external) == 1 and len(files) == 1:
            labels = next(iter(external.values()))
        if labels is not None and len(labels) != len(scores.errors):
            raise VadError(path, f"{len(labels)} labels for {len(scores.errors)} frames")
        score = anomaly_scores(scores.errors, scoring).score
        clips.append(
            ClipScores(
                scores.name,
                scores.errors,
                score,
                None if labels is None else np.asarray(labels, bool),
                scores.categories,
            )
        )
    if not any(c.labels is not None for c in clips):
        raise VadError(files[0], "no labels: the scores carry none and --labels was not given")
    evaluation = evaluate_scores(clips)
    print(evaluation.table())
    return 0


def _read_label_file(path_text: str, lengths: dict[str, int] | None = None) -> dict:
    """Labels for ``vad eval``: a label document, CSV of intervals, .npy per-frame 0/1 array or UCSD .m."""
    from vad_core.labels.io import read_frame_labels

    return read_frame_labels(Path(path_text), lengths=lengths)


# ----------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vad", description="vad-review engine: score video for anomalies.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)

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

    info = sub.add_parser("info", help="describe a video, frame folder, dataset or checkpoint")
    info.add_argument("path")
    info.add_argument("--still", action="store_true", help="treat a folder as independent images")
    info.set_defaults(func=cmd_info)

    models = sub.add_parser("models", help="list the registered architectures with parameter counts")
    models.add_argument("--size", default="128", help="input size, e.g. 128 or 240x352 [128]")
    models.set_defaults(func=cmd_models)

    train = sub.add_parser("train", help="train a model on normal footage")
    train.add_argument("--model", required=True, help="registered architecture (see vad models)")
    train.add_argument(
        "--data", required=True, nargs="+", help="dataset folder(s) (train split) or videos/folders"
    )
    train.add_argument("--out", required=True, help="checkpoint path (stem or .safetensors)")
    train.add_argument("--size", default="128", help="model input size [128]")
    train.add_argument("--channels", type=int, default=1, choices=(1, 3))
    train.add_argument("--epochs", type=int, default=300, help="maximum epochs (early stopping) [300]")
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument(
        "--loss",
        choices=("mse", "compound", "mse+gradient"),
        help="training loss [mse; unet_predictor: mse+gradient]",
    )
    train.add_argument("--strides", help="temporal stride augmentation [1,2,4,8,16; unet_predictor: 1]")
    train.add_argument("--window-step", type=int, default=1, help="frames between training windows [1]")
    train.add_argument("--max-windows", type=int, help="windows sampled per epoch (long footage)")
    train.add_argument("--validation", type=float, default=0.1, help="validation fraction [0.1]")
    train.add_argument("--option", action="append", help="model option KEY=VALUE (repeatable)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="auto")
    train.add_argument("--no-amp", action="store_true")
    train.add_argument("--resume", action="store_true", help="continue the interrupted run saved at --out")
    train.add_argument("--still", action="store_true", help="folders are independent images (MVTec)")
    train.add_argument(
        "--svdd", action="store_true", help="then fine-tune the encoder with SVDD (thesis 3.6)"
    )
    train.add_argument("--svdd-lr", type=float, default=5e-7)
    train.add_argument("--svdd-epochs", type=int, default=10)
    train.add_argument(
        "--score-reduction",
        default="mean",
        choices=("mean", "l2", "patch_max"),
        help="per-frame error recommended to scorers [mean]",
    )
    train.add_argument("--patch", type=int, default=16)
    train.set_defaults(func=cmd_train)

    score = sub.add_parser("score", help="score a video or frame folder; write .npz and .csv")
    score.add_argument("source")
    score.add_argument("--model", required=True, help="checkpoint (.safetensors)")
    score.add_argument("--out", help="output stem [source name in the current folder]")
    score.add_argument("--fps", type=float, help="frame rate of a frame folder [25]")
    score.add_argument("--still", action="store_true", help="folder of independent images")
    score.add_argument("--no-maps", action="store_true", help="do not store error maps")
    _add_inference_options(score)
    score.set_defaults(func=cmd_score)

    evaluate = sub.add_parser("eval", help="metrics table from scores files + labels, or for a dataset")
    evaluate.add_argument("scores", nargs="*", help="scores .npz files or folders of them")
    evaluate.add_argument("--labels", help="labels: .npy per-frame 0/1, label JSON or CSV of intervals")
    evaluate.add_argument("--dataset", help="dataset root: score its test clips with --model")
    evaluate.add_argument("--model", help="checkpoint for --dataset")
    evaluate.add_argument("--scores-out", help="with --dataset: also write per-clip scores here")
    _add_inference_options(evaluate)
    evaluate.set_defaults(func=cmd_eval)

    _register_extensions(sub)
    return parser


def _register_extensions(sub) -> None:
    """Commands defined by other engine modules (labels, export, batch) add themselves here."""
    import importlib

    for module_name in ("vad_core.cli.labels_cmd", "vad_core.cli.export_cmd", "vad_core.cli.batch_cmd"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                continue
            raise
        module.register(sub)


def _version() -> str:
    try:
        from importlib.metadata import version

        return f"vad-review {version('vad-review')}"
    except Exception:  # noqa: BLE001
        return "vad-review (source tree)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except VadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Cancelled:
        print("cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
