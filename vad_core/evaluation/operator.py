"""Operator metrics of a video evaluation: what a threshold catches and what it costs, beside AUROC.

For scored clips (``evaluation.videos.ClipScores``), pooled over clips:

* event recall and false alarms per hour (:mod:`vad_core.metrics.events`) of the smoothed scores at
  the pooled G-mean threshold and at the highest threshold that reaches ``target_recall`` (90 %);
* frame AUROC with the Savitzky-Golay smoothing and without it (papers report either);
* with a calibration record (``metadata["calibration"]``), the AUROC of the causal score
  (:func:`vad_core.scoring.causal.calibrated_scores`: no per-video normalisation, no future frames).

Example::

    report = operator_report(clips, ScoringConfig(), calibration=records)
    print(report.table())
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from vad_core.metrics import (
    ClipEvents,
    EventMetrics,
    evaluate_videos,
    event_metrics_at_gmean,
    threshold_for_recall,
)
from vad_core.scoring import ScoringConfig, anomaly_scores
from vad_core.scoring.causal import ErrorQuantiles, calibrated_scores

TARGET_RECALL = 0.9  # our choice: the operating point "catch 9 incidents of 10"

LEGEND = (
    "event recall: share of ground-truth anomalous intervals overlapped by a flagged event; "
    "false alarms/h: flagged events overlapping no interval, per hour of footage at each clip's fps "
    "(events: score >= threshold, gaps <= {gap} frames merged, shorter than {duration} frames dropped); "
    "AUROC smoothed / raw: pooled frame AUROC with / without the Savitzky-Golay step; "
    "causal: against the checkpoint's held-out normal errors, no per-video normalisation or smoothing. "
    "All in %, false alarms per hour excepted."
)


@dataclass(frozen=True)
class OperatorReport:
    """The operator metrics of one evaluation (fractions in [0, 1]; the table prints percent)."""

    at_gmean: EventMetrics | None
    at_target: EventMetrics | None  # None when no threshold reaches the target recall
    target_recall: float
    auroc_smoothed: float
    auroc_raw: float
    auroc_causal: float | None  # None without a usable calibration record
    min_duration: int = 5
    merge_gap: int = 5

    def table(self) -> str:
        """Two rows (G-mean threshold, target-recall threshold), the AUROC line and the legend."""
        lines = [
            f"{'operating point':<22}{'threshold':>10}{'event recall %':>16}{'caught':>9}{'false alarms/h':>16}"
        ]
        target = f"recall >= {100 * self.target_recall:.0f} %"
        for label, metrics in (("G-mean", self.at_gmean), (target, self.at_target)):
            if metrics is None:
                lines.append(f"{label:<22}{'n/a':>10}{'n/a':>16}{'':>9}{'n/a':>16}")
                continue
            lines.append(
                f"{label:<22}{metrics.threshold:>10.4g}{_pct(metrics.recall):>16}"
                f"{f'{metrics.caught}/{metrics.intervals}':>9}{metrics.false_alarms_per_hour:>16.1f}"
            )
        causal = "n/a (no calibration)" if self.auroc_causal is None else _pct(self.auroc_causal)
        lines.append(
            f"frame AUROC %: smoothed {_pct(self.auroc_smoothed)}  raw {_pct(self.auroc_raw)}  causal {causal}"
        )
        legend = LEGEND.format(gap=self.merge_gap, duration=self.min_duration)
        lines.extend(textwrap.wrap(legend, 100))
        return "\n".join(lines)


def _pct(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{100.0 * value:.1f}"


def operator_report(
    clips: Sequence,
    scoring: ScoringConfig | None = None,
    calibration: dict[str, ErrorQuantiles] | None = None,
    target_recall: float = TARGET_RECALL,
) -> OperatorReport | None:
    """The operator metrics of the labelled ``clips``; None when no clip has labels."""
    scoring = scoring or ScoringConfig()
    labelled = [c for c in clips if c.labels is not None]
    if not labelled:
        return None
    events = [ClipEvents(c.score, np.asarray(c.labels, bool), c.fps, c.name) for c in labelled]
    two_classes = len({bool(v) for c in labelled for v in np.unique(c.labels)}) == 2
    at_gmean = (
        event_metrics_at_gmean(events, scoring.min_duration, scoring.merge_gap) if two_classes else None
    )
    at_target = threshold_for_recall(events, target_recall, scoring.min_duration, scoring.merge_gap)
    unsmoothed = replace(scoring, smooth_window=1)
    raw = {c.name: (anomaly_scores(c.errors, unsmoothed, c.side).score, c.labels) for c in labelled}
    causal = None
    if calibration is not None:
        per_clip = {
            c.name: (
                calibrated_scores(c.errors, calibration, c.side, scoring.score, scoring.mnad_weight),
                c.labels,
            )
            for c in labelled
        }
        causal = evaluate_videos(per_clip).pooled.auroc
    return OperatorReport(
        at_gmean=at_gmean,
        at_target=at_target,
        target_recall=target_recall,
        auroc_smoothed=evaluate_videos({c.name: (c.score, c.labels) for c in labelled}).pooled.auroc,
        auroc_raw=evaluate_videos(raw).pooled.auroc,
        auroc_causal=causal,
        min_duration=scoring.min_duration,
        merge_gap=scoring.merge_gap,
    )
