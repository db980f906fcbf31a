"""Scoring every test clip of a dataset with a model and computing the thesis's metrics.

Per clip: per-frame errors -> regularity s(t) per video (eq. 4.1) -> Savitzky-Golay smoothing ->
anomaly score 1 - s(t). Pooled over all frames and per video: AUC-ROC, AUC-PR, EER, F1 at the
G-mean threshold (eq. 3.21). With per-frame categories (the synthetic benchmark), also AUROC per
anomaly type (normal frames plus that type's frames).

Example::

    evaluation = evaluate_dataset(checkpoint.model, read_ucsd("ucsd_ped2"))
    print(evaluation.report.table())
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from vad_core.datasets.base import VideoClip, VideoDataset
from vad_core.evaluation.operator import TARGET_RECALL, OperatorReport, operator_report
from vad_core.inference.config import InferenceConfig
from vad_core.inference.scoring_loop import score_all
from vad_core.metrics import EvaluationReport, evaluate_videos, per_category_auroc
from vad_core.models.base import AnomalyModel
from vad_core.scoring import ScoringConfig, anomaly_scores, check_score_inputs

FRAME_LEGEND = (
    "AUROC / AUPRC: area under the ROC / precision-recall curve of the anomaly score (1 - smoothed s(t), "
    "0-1, high = anomalous) against the labels, 50 % = chance; EER: equal error rate (share of frames "
    "misjudged where misses and false alarms are equal; lower is better); F1 at the threshold; threshold: "
    "the pooled G-mean threshold (eq. 3.21) on the anomaly score, where F1 is measured (events in "
    "vad score and the review window use --threshold, 0.5 unless changed). All in %, the threshold excepted."
)


@dataclass
class ClipScores:
    name: str
    errors: np.ndarray
    score: np.ndarray
    labels: np.ndarray | None
    categories: np.ndarray | None
    maps: np.ndarray | None = None
    side: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. "memory_distance" (T,)
    fps: float = 25.0


@dataclass
class DatasetEvaluation:
    """Metrics of one model on the test clips of one dataset."""

    report: EvaluationReport
    clips: list[ClipScores]
    per_category: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    frames: int = 0
    operator: OperatorReport | None = None  # event recall, false alarms per hour, raw / causal AUROC

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else float("nan")

    def table(self) -> str:
        """The metrics table, the per-type AUROC, the operator table and their legends."""
        text = self.report.table() + "\n" + "\n".join(textwrap.wrap(FRAME_LEGEND, 100))
        if self.per_category:
            rows = "  ".join(f"{kind}: {100 * value:.1f}" for kind, value in self.per_category.items())
            text += f"\nAUROC per anomaly type (%): {rows}"
        if self.operator is not None:
            text += "\n\n" + self.operator.table()
        return text


def score_clips(
    model: AnomalyModel,
    clips: Sequence[VideoClip],
    inference: InferenceConfig | None = None,
    scoring: ScoringConfig | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    keep_maps: bool = False,
) -> list[ClipScores]:
    """Score each clip; ``progress(clip_name, frames_done, frames_total)`` after every chunk."""
    inference = inference or InferenceConfig()
    if inference.keep_maps != keep_maps:
        inference = replace(inference, keep_maps=keep_maps)
    scoring = scoring or ScoringConfig()
    check_score_inputs(scoring.score, inference.error, inference.reduction)
    results = []
    for clip in clips:
        callback = (lambda done, total, name=clip.name: progress(name, done, total)) if progress else None
        scored = score_all(model, clip.source, inference, progress=callback)
        derived = anomaly_scores(scored.errors, scoring, scored.side)
        results.append(
            ClipScores(
                clip.name,
                scored.errors,
                derived.score,
                clip.labels,
                clip.categories,
                scored.maps,
                scored.side,
                float(clip.source.fps),
            )
        )
    return results


def evaluate_scores(
    clips: Sequence[ClipScores],
    threshold: float | None = None,
    scoring: ScoringConfig | None = None,
    calibration: dict | None = None,
    target_recall: float = TARGET_RECALL,
) -> DatasetEvaluation:
    """Metrics of already scored clips (those without labels are skipped), with the operator metrics
    (``calibration``: usable quantile records, :func:`vad_core.scoring.causal.usable_calibration`)."""
    labelled = [c for c in clips if c.labels is not None]
    report = evaluate_videos({c.name: (c.score, c.labels) for c in labelled}, threshold=threshold)
    per_category: dict[str, float] = {}
    with_categories = [c for c in labelled if c.categories is not None]
    if with_categories:
        scores = np.concatenate([c.score for c in with_categories])
        labels = np.concatenate([c.labels for c in with_categories])
        categories = np.concatenate([np.asarray(c.categories).astype(str) for c in with_categories])
        per_category = per_category_auroc(scores, labels, categories)
    operator = operator_report(labelled, scoring, calibration, target_recall)
    return DatasetEvaluation(report=report, clips=list(clips), per_category=per_category, operator=operator)


def evaluate_fused(
    members: Sequence,
    dataset: VideoDataset,
    inference: InferenceConfig | None = None,
    scoring: ScoringConfig | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    target_recall: float = TARGET_RECALL,
) -> DatasetEvaluation:
    """Metrics of a fused model (``vad_core.fusion.open_members``) on the dataset's test clips: each
    clip's fused series is scored as per-frame errors with ``scoring`` (its score kind is "error")."""
    from vad_core.fusion import fused_series

    inference = inference or InferenceConfig()
    scoring = replace(scoring or ScoringConfig(), score="error")
    began = time.perf_counter()
    clips = []
    for clip in dataset.test:
        callback = (lambda done, total, name=clip.name: progress(name, done, total)) if progress else None
        series = fused_series(members, clip.source, inference, callback)
        score = anomaly_scores(series, scoring).score
        clips.append(
            ClipScores(clip.name, series, score, clip.labels, clip.categories, fps=float(clip.source.fps))
        )
    evaluation = evaluate_scores(clips, scoring=scoring, target_recall=target_recall)
    evaluation.seconds = time.perf_counter() - began
    evaluation.frames = sum(len(c.errors) for c in clips)
    return evaluation


def evaluate_dataset(
    model: AnomalyModel,
    dataset: VideoDataset,
    inference: InferenceConfig | None = None,
    scoring: ScoringConfig | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    clips: Sequence[str] | None = None,
    scores_dir: str | Path | None = None,
    meta: dict | None = None,
    calibration: dict | None = None,
    target_recall: float = TARGET_RECALL,
) -> DatasetEvaluation:
    """Score the dataset's test clips (or the named ``clips``) and compute metrics.

    With ``scores_dir``, each clip's scores are also written there as ``<clip>.npz`` / ``.csv``.
    ``calibration`` (a checkpoint's ``metadata["calibration"]``) adds the causal AUROC when its
    records were made with ``inference``'s error and reduction.
    """
    from vad_core.scoring.causal import usable_calibration

    inference = inference or InferenceConfig()
    records = usable_calibration(calibration, inference.error, inference.reduction, inference.patch)
    chosen = [c for c in dataset.test if clips is None or c.name in clips]
    began = time.perf_counter()
    scored = score_clips(model, chosen, inference, scoring, progress, keep_maps=scores_dir is not None)
    seconds = time.perf_counter() - began
    if scores_dir is not None:
        from vad_core.inference.scores_file import write_scores

        for clip, result in zip(chosen, scored, strict=True):
            write_scores(
                Path(scores_dir) / clip.name,
                result.errors,
                maps=result.maps,
                labels=result.labels,
                categories=result.categories,
                meta={
                    **(meta or {}),
                    "name": clip.name,
                    "fps": clip.source.fps,
                    "source": str(clip.source.path or clip.name),
                    "dataset": dataset.name,
                },
                scoring=scoring,
                side=result.side,
            )
    evaluation = evaluate_scores(scored, scoring=scoring, calibration=records, target_recall=target_recall)
    evaluation.seconds = seconds
    evaluation.frames = sum(len(c.errors) for c in scored)
    return evaluation
