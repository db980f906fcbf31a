"""Compare SHAP, LIME, e-LRP and counterfactuals on MVTec defects (thesis 4.10) and draw the panels.

Trains (or loads) a BCAE1 on a category's ``train/good`` images (``--checkpoint`` may be any frame
model: DRAEM is explained through its image score, and e-LRP, which covers sequential
autoencoders only, is left out for it), calibrates the anomaly scorer on
the test split (thesis 3.8.5: scale = largest test error, G-mean threshold of eq. 3.21), explains
``--per-defect`` images of every defect type with each method and measures how well each heatmap
points at the ground-truth mask (pointing game, IoU and precision of the top 5 % pixels, relevance
mass, pixel AUROC; ``vad_core.explain.localisation``). The plain error map is scored as the
baseline the thesis argues against. Writes into ``--out`` (default ``docs/xai``):

* ``<defect>_<image>.png``  - one row per explained image: input with mask outline, reconstruction,
  error map, SHAP, LIME, e-LRP, e-LRP (midpoint loss split), counterfactual boxes;
* ``overview.png``          - the first image of each defect type stacked (for the README);
* ``results.md`` / ``results.json`` - set-up, timings and the localisation table.

    python benchmarks/explain_compare.py --epochs 25 --size 128            # trains, ~10 min on 2 CPU cores
    python benchmarks/explain_compare.py --checkpoint runs/xai/bottle_bcae1_128 --per-defect 4
    python benchmarks/explain_compare.py --checkpoint runs/draem_small_bottle --device cuda --out docs/xai/draem

Needs matplotlib (a dependency of shap) for the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from vad_core.checkpoint import load_checkpoint
from vad_core.datasets import read_mvtec
from vad_core.evaluation.images import evaluate_image_dataset, mask_outline, train_on_image_dataset
from vad_core.explain import AnomalyScorer, Calibration, explain
from vad_core.explain.localisation import (
    LocalisationScores,
    box_mask,
    coverage,
    localisation_scores,
    markdown_table,
    near_tolerance,
    summarise,
)
from vad_core.inference.config import InferenceConfig
from vad_core.sources import prepare_frames, read_image, resize_map

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MVTEC = ROOT.parent / "shared" / "datasets" / "mvtec_bottle_256" / "bottle"
FRACTION = 0.05
#: (row name, explain() method, options); "error map" is computed without explain().
METHODS: list[tuple[str, str, dict[str, Any]]] = [
    ("SHAP", "shap", {"max_evals": 500}),
    ("LIME", "lime", {"num_samples": 500}),
    ("e-LRP", "lrp", {}),
    ("e-LRP (midpoint)", "lrp", {"loss_rule": "midpoint"}),
    ("Counterfactual", "counterfactual", {}),
    ("Counterfactual (blur)", "counterfactual", {"replacement": "blur"}),
]


def methods_for(model) -> list[tuple[str, str, dict[str, Any]]]:
    """The methods that apply to ``model``: e-LRP needs a sequential autoencoder (not DRAEM)."""
    if getattr(model, "segments", False):
        return [entry for entry in METHODS if entry[1] != "lrp"]
    return METHODS


def train_or_load(args: argparse.Namespace, dataset) -> tuple[Any, dict[str, Any]]:
    """The checkpoint at ``--checkpoint`` when it exists, else a BCAE1 trained there now."""
    path = Path(args.checkpoint)
    if path.with_suffix(".safetensors").is_file() or path.is_file():
        checkpoint = load_checkpoint(path)
        training = checkpoint.metadata.get("training", {})
        return checkpoint, {
            "trained_now": False,
            "epochs": training.get("epochs_run"),
            "seconds": training.get("seconds"),
        }
    print(
        f"training BCAE1 at {args.size}x{args.size} for {args.epochs} epochs on {len(dataset.train)} images ..."
    )
    began = time.perf_counter()

    def report(event) -> None:
        if event.kind == "epoch":
            print(f"  epoch {event.epoch}: loss {event.loss:.5f}  val {event.val_loss:.5f}", flush=True)

    result = train_on_image_dataset(
        dataset,
        "bcae1",
        output=path,
        size=(args.size, args.size),
        max_epochs=args.epochs,
        batch_size=16,
        seed=args.seed,
        early_stopping_patience=max(8, args.epochs),
        progress=report,
    )
    return load_checkpoint(result.checkpoint), {
        "trained_now": True,
        "epochs": result.epochs_run,
        "seconds": time.perf_counter() - began,
    }


def overlay(ax, image: np.ndarray, heat: np.ndarray | None, signed: bool, title: str, outlines) -> None:
    """Gray image, heatmap on top (diverging for signed maps), mask outline in green."""
    gray = image.mean(axis=2) if image.ndim == 3 else image
    if heat is None:
        ax.imshow(image)
    else:
        ax.imshow(gray, cmap="gray", vmin=0, vmax=255)
        peak = float(np.percentile(np.abs(heat), 99.5)) or float(np.abs(heat).max()) or 1.0
        if signed:
            ax.imshow(heat, cmap="bwr", vmin=-peak, vmax=peak, alpha=0.6)
        else:
            ax.imshow(heat, cmap="inferno", vmin=0, vmax=peak, alpha=0.6)
    for contour in outlines:
        closed = np.vstack([contour, contour[:1]])
        ax.plot(closed[:, 0], closed[:, 1], color="lime", linewidth=0.8)
    ax.set_title(title, fontsize=7)
    ax.axis("off")


def draw_boxes(ax, boxes) -> None:
    for box in boxes:
        ax.add_patch(
            plt.Rectangle(
                (box["x0"] - 0.5, box["y0"] - 0.5),
                box["x1"] - box["x0"],
                box["y1"] - box["y0"],
                fill=False,
                edgecolor="yellow",
                linewidth=1.2,
            )
        )


def label(scores: LocalisationScores) -> str:
    hit = "hit" if scores.pointing_hit else "miss"
    return f"{hit}, IoU {scores.iou:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mvtec", type=Path, default=DEFAULT_MVTEC, help="MVTec category folder")
    parser.add_argument("--size", type=int, default=128, help="model input side (multiple of 32) [128]")
    parser.add_argument("--epochs", type=int, default=25, help="training epochs when training [25]")
    parser.add_argument("--checkpoint", default=str(ROOT / "runs" / "xai" / "bottle_bcae1_128"))
    parser.add_argument("--per-defect", type=int, default=3, help="explained images per defect type [3]")
    parser.add_argument(
        "--select",
        choices=("top", "first"),
        default="top",
        help="which defect images: the highest-scored of each type (the parts the model flags) or the first [top]",
    )
    parser.add_argument("--panels", type=int, default=2, help="panel pictures per defect type [2]")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "xai")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda [cpu]")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    dataset = read_mvtec(args.mvtec)
    checkpoint, training = train_or_load(args, dataset)
    model = checkpoint.model.to(args.device).eval()
    size = checkpoint.config.size
    methods = methods_for(model)
    segments = getattr(model, "segments", False)

    scoring = {k: checkpoint.scoring[k] for k in ("error", "reduction", "patch")} if segments else {}
    inference = InferenceConfig(batch_size=16, device=args.device, **scoring)
    evaluation = evaluate_image_dataset(checkpoint, dataset, inference)
    print(evaluation.table())
    # the scorer's raw error e(x) per test image: the mean squared error (reduction "mean"), or a
    # segmenting model's image score (DRAEM: max of the mean-filtered segmentation map)
    raw_errors = evaluation.scores
    calibration = Calibration.from_errors(raw_errors, evaluation.labels)
    scorer = AnomalyScorer(model, calibration)
    print(f"calibration: {calibration}")

    rows: dict[str, list[LocalisationScores]] = {name: [] for name, _, _ in [("Error map", "", {}), *methods]}
    per_type: dict[str, dict[str, list[LocalisationScores]]] = {}
    coverages: list[float] = []
    seconds: dict[str, list[float]] = {name: [] for name, _, _ in methods}
    overview_rows: list[tuple[str, Path]] = []
    order = evaluation.order() if args.select == "top" else list(range(len(evaluation.samples)))
    for defect in dataset.defect_types:
        samples = [
            evaluation.samples[i]
            for i in order
            if evaluation.samples[i].defect_type == defect and evaluation.samples[i].mask_path is not None
        ]
        for rank, sample in enumerate(samples[: args.per_defect]):
            image = read_image(sample.path)
            mask = sample.read_mask(image.shape[:2])
            frame = torch.from_numpy(prepare_frames(image[None], size, checkpoint.config.channels)[0])
            frame = frame.to(args.device)
            with torch.no_grad():
                reconstruction = scorer.reconstruct(frame[None])[0].float().cpu().numpy().transpose(1, 2, 0)
                error_map = scorer.error_maps(frame[None])[0].float().cpu().numpy()
            error_full = resize_map(error_map, image.shape[:2])
            results = {"Error map": (error_full, False, {})}
            rows["Error map"].append(localisation_scores(error_full, mask, FRACTION))
            for name, method, options in methods:
                result = explain(method, model, image, scorer=scorer, seed=args.seed, **options)
                results[name] = (result.heatmap, result.signed, result.extras)
                seconds[name].append(result.seconds)
                rows[name].append(localisation_scores(result.heatmap, mask, FRACTION))
                per_type.setdefault(defect, {}).setdefault(name, []).append(rows[name][-1])
                if name == "Counterfactual":
                    coverages.append(coverage(box_mask(result.extras["boxes"], mask.shape), mask))
            per_type.setdefault(defect, {}).setdefault("Error map", []).append(rows["Error map"][-1])
            score = float(scorer.score(frame[None]).item())
            print(
                f"{defect}/{sample.path.name}: score {score:.3f} (threshold {calibration.threshold:.3f}); "
                + "; ".join(f"{name} {label(rows[name][-1])}" for name in results)
            )
            if rank >= args.panels:
                continue
            outlines = mask_outline(mask)
            figure, axes = plt.subplots(1, 3 + len(methods), figsize=(2 * (3 + len(methods)), 2.5), dpi=110)
            recon_full = (np.clip(reconstruction, 0, 1) * 255).astype(np.uint8)
            recon_full = cv2.resize(
                recon_full, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR
            )
            overlay(axes[0], image, None, False, f"{defect} {sample.path.stem} (score {score:.2f})", outlines)
            overlay(axes[1], recon_full, None, False, "reconstruction", [])
            for ax, name in zip(axes[2:], ["Error map", *(n for n, _, _ in methods)], strict=False):
                heat, signed, extras = results[name]
                overlay(ax, image, heat, signed, f"{name}: {label(rows[name][-1])}", outlines)
                if "boxes" in extras:
                    draw_boxes(ax, extras["boxes"])
            figure.tight_layout()
            path = args.out / f"{defect}_{sample.path.stem}.png"
            figure.savefig(path)
            plt.close(figure)
            if rank == 0:
                overview_rows.append((defect, path))
            print(f"  wrote {path}")

    # overview: the first panel of each defect type stacked
    images = [plt.imread(path) for _, path in overview_rows]
    if images:
        stacked = np.concatenate([im[..., :3] for im in images], axis=0)
        plt.imsave(args.out / "overview.png", stacked)

    summary = summarise(rows)
    near = near_tolerance(read_image(dataset.test[0].path).shape)
    table = markdown_table(summary, FRACTION, near)
    per_type_tables = {
        defect: markdown_table(summarise(methods), FRACTION, near) for defect, methods in per_type.items()
    }
    timing = {name: float(np.median(values)) for name, values in seconds.items() if values}
    setup = {
        "dataset": f"{dataset.name} {dataset.category} ({args.mvtec})",
        "model": f"{checkpoint.config.name}, {size[0]}x{size[1]} RGB",
        "error_map": "segmentation map" if segments else "squared error map",
        "training": training,
        "image_auroc": evaluation.image_auroc,
        "pixel_auroc": evaluation.pixel_auroc,
        "calibration": vars(calibration),
        "explained_images": sum(len(v) for v in rows.values()) // len(rows),
        "per_defect": args.per_defect,
        "select": args.select,
        "seed": args.seed,
        "threads": torch.get_num_threads(),
        "median_seconds": timing,
        "counterfactual_mask_coverage": float(np.mean(coverages)) if coverages else math.nan,
    }
    (args.out / "results.json").write_text(
        json.dumps({"setup": setup, "summary": summary}, indent=2, default=str), encoding="utf-8"
    )
    lines = [
        "# Explanation methods on MVTec AD (generated by benchmarks/explain_compare.py)",
        "",
        f"- data: {setup['dataset']}",
        f"- model: {setup['model']}; epochs: {training['epochs']}; "
        f"training time: {training['seconds'] or 0:.0f} s ({'trained now' if training['trained_now'] else 'loaded'})",
        f"- 'Error map' row: the model's {setup['error_map']}"
        + ("; e-LRP left out (it covers sequential autoencoders only)" if segments else ""),
        f"- model quality on the test split: image AUROC {100 * evaluation.image_auroc:.1f} %, "
        f"pixel AUROC {100 * evaluation.pixel_auroc:.1f} %",
        f"- scorer: {calibration.note}; threshold {calibration.threshold:.3f}",
        f"- explained: {setup['explained_images']} defect images ({args.per_defect} per defect type, "
        + ("the highest-scored of each type" if args.select == "top" else "the first of each type")
        + f"), seed {args.seed}; heatmaps at image resolution",
        f"- median seconds per explanation on {args.device} ({setup['threads']} CPU threads): "
        + ", ".join(f"{k} {v:.2f}" for k, v in timing.items()),
        f"- counterfactual boxes contain on average {100 * setup['counterfactual_mask_coverage']:.0f} % of the mask",
        *(
            [
                "- images: MVTec AD (Bergmann et al., CVPR 2019), CC BY-NC-SA 4.0 (non-commercial, share-alike; "
                "see the category's license.txt): the panels are derivatives under the same licence",
            ]
            if (args.mvtec / "license.txt").is_file()
            else []
        ),
        "",
        "## Localisation against the ground-truth masks (mean over explained images)",
        "",
        table,
        "",
        f"Chance level of the top-{100 * FRACTION:g}% IoU: {summary['Error map']['chance_iou']:.3f}.",
        "",
    ]
    for defect, text in per_type_tables.items():
        lines += [f"### {defect}", "", text, ""]
    lines += ["## Panels", ""] + [f"![{d}]({p.name})" for d, p in overview_rows]
    (args.out / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
