"""Train DRAEM on one MVTec AD category and report image AUROC, pixel AUROC and AUPRO.

Trains ``--model`` (``draem``: the paper's widths; ``draem_small``: quarter widths for a CPU) on
``train/good`` of the category folder with the model's registered recipe (Adam lr 1e-4, batch 8,
700 epochs, lr x 0.2 after 4/7 and 6/7 of the run, last epoch kept), saves the checkpoint
(safetensors + JSON, and the state ``--resume`` continues from), and, when the folder has a test
split, scores it and prints the per-defect table of ``vad eval``. Training reports optimizer
steps/s; ``--max-minutes`` stops after the epoch that passes the budget, saves and evaluates (the lr
milestones then fall at 4/7 and 6/7 of the budget, so a short run still anneals).

    python benchmarks/draem_bottle.py --data ../shared/datasets/mvtec_bottle_256/bottle \\
        --device cuda --out runs/draem_bottle --max-minutes 30
    python benchmarks/draem_bottle.py --data ../shared/datasets/mvtec_bottle_256/bottle \\
        --model draem_small --size 128 --epochs 2 --device cpu --out /tmp/draem_small
"""

from __future__ import annotations

import sys
import time

import torch
from _common import argument_parser, parse_size, print_header

from vad_core.checkpoint import load_checkpoint
from vad_core.datasets.mvtec import read_mvtec
from vad_core.evaluation.images import evaluate_image_dataset, train_on_image_dataset
from vad_core.inference.config import InferenceConfig


class StepRate:
    """Prints each epoch with its optimizer steps/s, and the run's overall rate at the end."""

    def __init__(self) -> None:
        self.began = time.perf_counter()
        self.epoch_began = self.began
        self.steps = 0

    def __call__(self, event) -> None:
        now = time.perf_counter()
        if event.kind == "info":
            print(event.message, flush=True)
        elif event.kind == "epoch":
            rate = event.batches / max(now - self.epoch_began, 1e-9)
            self.steps += event.batches
            print(
                f"epoch {event.epoch:4d}  loss {event.loss:.5f}  lr {event.learning_rate:.2e}  "
                f"{rate:.2f} steps/s  {now - self.began:.0f} s",
                flush=True,
            )
            self.epoch_began = now

    def summary(self) -> str:
        seconds = time.perf_counter() - self.began
        return f"{self.steps} steps in {seconds:.1f} s: {self.steps / max(seconds, 1e-9):.2f} steps/s"


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--data", required=True, help="an MVTec AD category folder (train/good, test/...)")
    parser.add_argument("--out", required=True, help="checkpoint path (stem or .safetensors)")
    parser.add_argument("--model", default="draem", choices=("draem", "draem_small"))
    parser.add_argument("--size", default="256x256", help="model input HxW, multiples of 32 [256x256]")
    parser.add_argument("--epochs", type=int, help="[the recipe's: 700]")
    parser.add_argument("--max-minutes", type=float, help="time budget for training")
    parser.add_argument("--batch-size", type=int, help="[the recipe's: 8]")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-amp", action="store_true", help="no bfloat16 autocast on CUDA")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue the run saved at --out")
    parser.add_argument("--eval-batch", type=int, default=16)
    args = parser.parse_args()
    print_header()
    dataset = read_mvtec(args.data)
    options = {"device": args.device, "seed": args.seed, "amp": not args.no_amp}
    for key, value in (("max_epochs", args.epochs), ("batch_size", args.batch_size)):
        if value is not None:
            options[key] = value
    if args.max_minutes is not None:
        options["max_seconds"] = 60.0 * args.max_minutes
    rate = StepRate()
    result = train_on_image_dataset(
        dataset, args.model, output=args.out, size=parse_size(args.size), channels=3,
        progress=rate, resume=args.out if args.resume else None, **options,
    )  # fmt: skip
    print(f"training: {rate.summary()}; {result.epochs_run} epochs; checkpoint {result.checkpoint}")
    if not dataset.test:
        print("no test split: nothing to evaluate")
        return 0
    checkpoint = load_checkpoint(result.checkpoint, device="cpu")
    scoring = checkpoint.scoring
    inference = InferenceConfig(
        batch_size=args.eval_batch, device=args.device, amp=not args.no_amp, error=scoring["error"],
        reduction=scoring["reduction"], patch=int(scoring["patch"]),
    )  # fmt: skip
    inspection = evaluate_image_dataset(checkpoint, dataset, inference)
    print(inspection.table())
    print(f"scoring: {len(inspection) / max(inspection.seconds, 1e-9):.1f} images/s")
    if torch.cuda.is_available():
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
