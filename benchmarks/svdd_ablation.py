"""SVDD fine-tuning of a trained frame model: frame-level AUROC against learning rate and epochs.

Thesis 4.8 (Figure 4.8) fine-tunes the last encoder layer of a trained BCAE1 with the SVDD objective
and reports gains of up to 5 AUROC points on UCSD Ped2 around lr 5e-7 and 10 epochs. This script
repeats that ablation on our checkpoint: for every learning rate it fine-tunes a fresh copy (Adam,
centre = mean training embedding, weight decay 1e-6) and scores the test set after the chosen
epochs, printing the AUROC, the SVDD loss (mean squared distance to the centre) and how far the
tuned layer's weights moved.

    python benchmarks/svdd_ablation.py --data .carry/ped2_128x128.npz \\
        --checkpoint runs/ped2_cpu/bcae1.safetensors --lrs 5e-7 5e-6 5e-5 5e-4 --evaluate-at 1 3 10 30
"""

from __future__ import annotations

import time

import torch
from _common import argument_parser, evaluate_variants, load_video_dataset, print_header

from vad_core.checkpoint import load_checkpoint
from vad_core.models.svdd import svdd_finetune
from vad_core.sources import Preprocess
from vad_core.training import FrameBank


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--data", required=True, help="dataset folder or make_cache.py cache")
    parser.add_argument("--checkpoint", required=True, help="a trained frame model (e.g. BCAE1)")
    parser.add_argument("--lrs", type=float, nargs="+", default=[5e-7, 5e-6, 5e-5, 5e-4])
    parser.add_argument("--evaluate-at", type=int, nargs="+", default=[1, 3, 10, 30], help="epochs")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print_header()
    base = load_checkpoint(args.checkpoint, device="cpu")
    size = base.config.size
    dataset = load_video_dataset(args.data)
    bank = FrameBank.from_sources([c.source for c in dataset.train], Preprocess(size, base.config.channels))
    rows = bank.windows(1)

    def batches():
        order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(0))
        for start in range(0, len(order), args.batch_size):
            yield bank.gather(rows[order[start : start + args.batch_size]])[:, 0]

    def evaluate(model) -> dict:
        table, _ = evaluate_variants(model, dataset, args.device, 64)
        return {name: table[name] for name in ("mean", "mean+log")}

    print(
        f"{base.display_name} from {args.checkpoint}; {len(bank)} training frames, {len(dataset.test)} test clips"
    )
    print(
        f"{'lr':>8} {'epoch':>5} {'AUROC mean':>10} {'AUROC log':>9} {'EER mean':>8} {'SVDD loss':>10} {'weights moved':>13}"
    )
    start = evaluate(base.model)
    print(
        f"{'-':>8} {0:>5} {100 * start['mean']['auroc']:>10.2f} {100 * start['mean+log']['auroc']:>9.2f} "
        f"{100 * start['mean']['eer']:>8.2f} {'':>10} {'':>13}",
        flush=True,
    )
    last_epoch = max(args.evaluate_at)
    for lr in args.lrs:
        model = load_checkpoint(args.checkpoint, device=args.device).model
        layer = model.last_encoder_layer()
        before = torch.cat([p.detach().flatten().clone() for p in layer.parameters()])
        began = time.perf_counter()

        def on_epoch(epoch: int, loss: float, lr=lr, model=model, layer=layer, before=before) -> None:
            if epoch not in args.evaluate_at:
                return
            after = torch.cat([p.detach().flatten() for p in layer.parameters()])
            moved = float((after - before).norm() / before.norm())
            table = evaluate(model)
            print(
                f"{lr:>8.0e} {epoch:>5} {100 * table['mean']['auroc']:>10.2f} "
                f"{100 * table['mean+log']['auroc']:>9.2f} {100 * table['mean']['eer']:>8.2f} "
                f"{loss:>10.4g} {moved:>13.2e}",
                flush=True,
            )

        svdd_finetune(model, batches, lr=lr, epochs=last_epoch, device=args.device, on_epoch=on_epoch)
        print(
            f"         ({last_epoch} epochs at lr {lr:.0e}: {time.perf_counter() - began:.0f} s)", flush=True
        )


if __name__ == "__main__":
    main()
