"""Train several zoo models on one dataset and compare frame-level AUROC under scoring variants.

The data is the built-in synthetic benchmark, a dataset folder, or a cache written by
``benchmarks/make_cache.py`` (frames already resized; used to carry UCSD Ped2 to a GPU machine).
Checkpoints are written to ``--out``; the printed tables are what the README quotes.

    python benchmarks/train_experiments.py --data synthetic --models bcae1 cgru_ae seq2seq_cgru --out runs/syn
    python benchmarks/train_experiments.py --data .carry/ped2_128x128.npz --models bcae1 ssa_cae --svdd bcae1 \
        --max-seconds 90 --out $OUT/ped2
    python benchmarks/train_experiments.py --data .carry/ped2_128x128.npz --models unet_predictor \
        --loss mse+gradient --strides 1 --max-seconds 300 --out /tmp/runs/ped2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from _common import (
    argument_parser,
    evaluate_variants,
    load_video_dataset,
    parse_model,
    parse_size,
    print_header,
)

from vad_core.datasets.base import VideoDataset
from vad_core.models import ModelConfig, count_parameters
from vad_core.sources import Preprocess
from vad_core.training import FrameBank, TrainConfig, train


def print_table(label: str, table: dict, seconds: float, dataset: VideoDataset) -> None:
    frames = sum(len(c.source) for c in dataset.test)
    print(f"  {label}: scored {frames} frames in {seconds:.1f} s")
    for variant, row in table.items():
        extra = "  ".join(
            f"{k} {100 * v:.1f}" for k, v in row.items() if k not in ("auroc", "eer", "auprc", "f1")
        )
        print(
            f"    {variant:<16} AUROC {100 * row['auroc']:.2f}  EER {100 * row['eer']:.2f}  "
            f"AUPRC {100 * row['auprc']:.1f}  F1 {100 * row['f1']:.1f}  {extra}",
            flush=True,
        )


def train_and_evaluate(
    args: argparse.Namespace, dataset: VideoDataset, size: tuple[int, int], out: Path
) -> dict:
    bank = FrameBank.from_sources([c.source for c in dataset.train], Preprocess(size, 1))
    print(f"{dataset.name}: {len(bank)} training frames, {len(dataset.test)} test clips", flush=True)
    summary = {}
    for text in args.models:
        name, options = parse_model(text)
        tag = name + "".join(f"_{k}{v}" for k, v in options.items())
        chosen = {"loss": args.loss} if args.loss else {}
        if args.strides:
            chosen["strides"] = tuple(int(v) for v in args.strides.split(","))
        config = TrainConfig.for_model(
            ModelConfig(name, 1, size, options),
            max_epochs=args.epochs,
            batch_size=args.batch_size,
            device=args.device,
            max_seconds=args.max_seconds,
            max_windows_per_epoch=args.max_windows,
            learning_rate=args.lr,
            **chosen,
        )
        result = train(config, bank, output=out / tag, metadata={"training": {"dataset": dataset.name}})
        print(
            f"\n{tag}: {count_parameters(result.model):,} params, {result.epochs_run} epochs in "
            f"{result.seconds:.0f} s, best val {result.best_val_loss:.5f} (epoch {result.best_epoch})",
            flush=True,
        )
        candidates = [(tag, result.model)]
        if name in args.svdd:
            from vad_core.checkpoint import load_checkpoint
            from vad_core.training.svdd_finetune import finetune_checkpoint

            path = finetune_checkpoint(
                result.checkpoint, bank, lr=args.svdd_lr, epochs=args.svdd_epochs, device=args.device
            )
            candidates.append((tag + "_svdd", load_checkpoint(path, device="cpu").model))
        for label, model in candidates:
            table, seconds = evaluate_variants(model, dataset, args.device, 64)
            summary[label] = {
                "variants": table,
                "scoring_seconds": seconds,
                "epochs": result.epochs_run,
                "train_seconds": result.seconds,
            }
            print_table(label, table, seconds, dataset)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return summary


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--models", nargs="*", default=[], help="name[:option=value,...] to train")
    parser.add_argument("--checkpoints", nargs="*", default=[], help="trained checkpoints to evaluate only")
    parser.add_argument("--size", default="128x128")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--max-seconds", type=float, default=120)
    parser.add_argument("--max-windows", type=int, default=6000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--loss", help="mse | compound | mse+gradient [the model's training default]")
    parser.add_argument("--strides", help="temporal stride augmentation [the model's training default]")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--svdd", nargs="*", default=[], help="models to also fine-tune with SVDD")
    parser.add_argument("--svdd-lr", type=float, default=5e-7)
    parser.add_argument("--svdd-epochs", type=int, default=10)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    print_header()
    height, width = parse_size(args.size)
    dataset = load_video_dataset(args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {}
    for path in args.checkpoints:
        from vad_core.checkpoint import load_checkpoint

        table, seconds = evaluate_variants(load_checkpoint(path).model, dataset, args.device, 64)
        summary[Path(path).stem] = {"variants": table, "scoring_seconds": seconds}
        print_table(Path(path).stem, table, seconds, dataset)
    if args.models:
        summary.update(train_and_evaluate(args, dataset, (height, width), out))
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))


if __name__ == "__main__":
    main()
