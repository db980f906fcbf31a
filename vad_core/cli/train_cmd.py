"""``vad train``: train a registered model on normal footage (optionally SVDD fine-tuning after).

Example::

    vad train --model bcae1 --data ucsd_ped2 --out runs/bcae1 --epochs 50
    vad train --model bcae1 --data ucsd_ped2 --out runs/bcae1 --epochs 50 --resume
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vad_core.cli.options import parse_option_value, parse_size, progress_bar
from vad_core.scoring.frame_error import REDUCTIONS
from vad_core.scoring.score_kinds import SCORES


def register(sub) -> None:
    """Add ``vad train`` to the ``vad`` parser."""
    train = sub.add_parser("train", help="train a model on normal footage")
    train.add_argument("--model", required=True, help="registered architecture (see vad models)")
    train.add_argument(
        "--data", required=True, nargs="+", help="dataset folder(s) (train split) or videos/folders"
    )
    train.add_argument("--out", required=True, help="checkpoint path (stem or .safetensors)")
    train.add_argument("--size", default="128", help="model input size [128]")
    train.add_argument("--channels", type=int, default=1, choices=(1, 3))
    train.add_argument(
        "--epochs", type=int, help="maximum epochs (early stopping) [300; draem: 700, last epoch kept]"
    )
    train.add_argument("--batch-size", type=int, help="[the model's registered default, else 32; draem: 8]")
    train.add_argument("--lr", type=float, help="[the model's registered default, else 1e-3; draem: 1e-4]")
    train.add_argument(
        "--max-minutes", type=float, help="stop (and save) after the epoch that passes this time budget"
    )
    train.add_argument(
        "--loss",
        choices=("mse", "compound", "mse+gradient"),
        help="training loss [mse; unet_predictor: mse+gradient]",
    )
    train.add_argument("--strides", help="temporal stride augmentation [1,2,4,8,16; unet_predictor: 1]")
    train.add_argument("--window-step", type=int, default=1, help="frames between training windows [1]")
    train.add_argument("--max-windows", type=int, help="windows sampled per epoch (long footage)")
    train.add_argument("--validation", type=float, help="validation fraction [0.1; draem: 0]")
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
        "--holdout",
        type=float,
        help="tail of every source held out of training; its errors calibrate causal scores "
        "[0.1; --still: 0]",
    )
    train.add_argument(
        "--score-reduction",
        choices=REDUCTIONS,
        help="per-frame error recommended to scorers [the model's, else mean; draem: smoothed_max]",
    )
    train.add_argument("--patch", type=int, help="[16; draem: the 21 px filter scaled to the size]")
    train.add_argument(
        "--score",
        choices=SCORES,
        help="score recommended to scorers [the model's: psnr for unet_predictor, mnad for mnad_predictor, else error]",
    )
    train.add_argument("--mnad-weight", type=float, help="lambda of the mnad score [0.6]")
    train.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from vad_core.training import train

    config = train_config(args)
    bank, dataset_name = _load_frames(args, config.model)
    metadata = {"training": {"dataset": dataset_name}, "scoring": recommended_scoring(args, config)}
    try:
        result = train(
            config,
            bank,
            output=args.out,
            resume=args.out if args.resume else None,
            metadata=metadata,
            progress=_TrainingProgress(),
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


def recommended_scoring(args: argparse.Namespace, config) -> dict[str, Any]:
    """The checkpoint's ``scoring``: the model's defaults, then ``--score-reduction``, ``--patch``,
    ``--score`` and ``--mnad-weight``; ``ConfigError`` for a score its error and reduction cannot give."""
    from vad_core.scoring.score_kinds import check_score_inputs, check_score_kind

    scoring = {"reduction": "mean", "patch": 16, **config.scoring_defaults()}
    if args.score_reduction is not None:
        scoring["reduction"] = args.score_reduction
    if args.patch is not None:
        scoring["patch"] = args.patch
    if args.score is not None:
        scoring["score"] = args.score
    if args.mnad_weight is not None:
        scoring["mnad_weight"] = args.mnad_weight
    check_score_kind(scoring.get("score", "error"), scoring.get("mnad_weight", 0.6))
    check_score_inputs(scoring.get("score", "error"), scoring["error"], scoring["reduction"])
    return scoring


def train_config(args: argparse.Namespace):
    """The ``TrainConfig`` of the options: the model's registered training defaults, overridden by
    ``--loss`` and ``--strides`` when given."""
    from vad_core.models import ModelConfig
    from vad_core.training import TrainConfig

    options = {}
    for item in args.option or []:
        key, _, value = item.partition("=")
        options[key] = parse_option_value(value)
    model_config = ModelConfig(args.model, args.channels, parse_size(args.size), options)
    chosen = {}  # given on the command line: they override the model's registered training defaults
    if args.loss is not None:
        chosen["loss"] = args.loss
    if args.strides is not None:
        chosen["strides"] = tuple(int(s) for s in args.strides.split(","))
    given = {
        "max_epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "validation_fraction": args.validation,
        "max_seconds": None if args.max_minutes is None else 60.0 * args.max_minutes,
    }
    chosen.update({key: value for key, value in given.items() if value is not None})
    return TrainConfig.for_model(
        model_config,
        seed=args.seed,
        device=args.device,
        amp=not args.no_amp,
        window_step=args.window_step,
        max_windows_per_epoch=args.max_windows,
        holdout_fraction=_holdout(args),
        **chosen,
    )


def _holdout(args: argparse.Namespace) -> float:
    """``--holdout``, else 0.1 of footage and nothing of still images (MVTec parts keep every image)."""
    if args.holdout is not None:
        return args.holdout
    return 0.0 if args.still else 0.1


def _load_frames(args: argparse.Namespace, model_config: Any):
    """The ``FrameBank`` of ``--data`` at the model's size (with a progress bar), and its name."""
    from vad_core.sources import Preprocess
    from vad_core.training import FrameBank

    sources, dataset_name = _training_sources(args.data, args.still)
    total = sum(len(s) for s in sources)
    bar = progress_bar(total, "loading frames")
    bank = FrameBank.from_sources(
        sources,
        Preprocess(model_config.size, model_config.channels),
        progress=lambda done, _t: bar.update(done - bar.n),
    )
    bar.close()
    return bank, dataset_name


class _TrainingProgress:
    """Shows ``TrainEvent``s: a bar per epoch for batches, one line per epoch and per message."""

    def __init__(self) -> None:
        self.bar: Any = None

    def __call__(self, event) -> None:
        if event.kind == "info":
            print(event.message, file=sys.stderr)
        elif event.kind == "batch":
            self._batch(event)
        elif event.kind == "epoch":
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            print(
                f"epoch {event.epoch:3d}  train {event.loss:.6f}  val {event.val_loss:.6f}  "
                f"lr {event.learning_rate:.2e}",
                file=sys.stderr,
            )

    def _batch(self, event) -> None:
        if self.bar is None or self.bar.total != event.batches:
            if self.bar is not None:
                self.bar.close()
            self.bar = progress_bar(event.batches, f"epoch {event.epoch}", unit="batch")
        self.bar.set_description(f"epoch {event.epoch}")
        self.bar.n = event.batch
        self.bar.set_postfix(loss=f"{event.loss:.5f}")
        self.bar.refresh()


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
