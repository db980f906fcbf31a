"""Frame-, pixel- and image-level detection metrics (thesis seed 003, sections 3.8.5 and 4.3).

* AUC-ROC (4.3.1), AUC-PR (4.3.2, computed as average precision, the step-wise area that the
  thesis describes as "the average of the precision values for each recall"), F1 (4.3.3) and the
  equal error rate (4.3.4, the ROC point where FPR = FNR, linearly interpolated between points).
* The optimal threshold of eq. 3.21: the ROC threshold maximising ``sqrt(TPR * (1 - FPR))``.
* Pooled over all frames of a dataset and per video, pixel AUROC and AUPRO (the MVTec AD paper's
  per-region overlap up to 30 % FPR) for datasets with masks, and AUROC per anomaly category
  (normal frames plus the frames of one category).

Label convention: ``True`` / 1 = anomalous (the positive class), ``False`` / 0 = normal, as in the
dataset readers. (The thesis' section 4.9.1 labels *normal* frames 1; do not feed such labels
here.) Scores are high for anomalous frames, and a frame is predicted anomalous when
``score >= threshold`` (the rule of ``sklearn.metrics.roc_curve`` and of ``find_events``).

When only one class is present (a video without anomalies, say) AUROC, AUPRC, EER and the G-mean
threshold are undefined and reported as NaN; nothing raises. Averages over videos skip NaN.

Example::

    m = frame_metrics(scores, labels)              # threshold from eq. 3.21
    report = evaluate_videos({"Test001": (s1, y1), "Test002": (s2, y2)})
    print(report.table())
    pixel_auroc(maps, masks)
    aupro(maps, masks)                             # per-region overlap up to 30 % FPR

Modules: ``detection`` (frame and image level, per video, per category), ``pixel`` (pixel AUROC),
``regions`` (per-region overlap, AUPRO), ``events`` (operator metrics: event recall and false alarms per hour).
"""

from __future__ import annotations

from vad_core.metrics.detection import (
    NAN,
    EvaluationReport,
    FrameMetrics,
    auroc,
    evaluate_videos,
    frame_metrics,
    gmean_threshold,
    image_auroc,
    per_category_auroc,
)
from vad_core.metrics.events import (
    ClipEvents,
    EventMetrics,
    event_metrics,
    event_metrics_at_gmean,
    label_intervals,
    threshold_for_recall,
)
from vad_core.metrics.pixel import pixel_auroc
from vad_core.metrics.regions import aupro, pro_curve

__all__ = [
    "ClipEvents",
    "EvaluationReport",
    "EventMetrics",
    "FrameMetrics",
    "NAN",
    "aupro",
    "auroc",
    "evaluate_videos",
    "event_metrics",
    "event_metrics_at_gmean",
    "frame_metrics",
    "gmean_threshold",
    "image_auroc",
    "label_intervals",
    "per_category_auroc",
    "pixel_auroc",
    "threshold_for_recall",
    "pro_curve",
]
