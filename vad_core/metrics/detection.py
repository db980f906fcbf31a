"""Frame- and image-level detection metrics: AUROC, AUPRC, EER, F1 at the G-mean threshold (eq. 3.21),
pooled and per video, and per anomaly category. Conventions are in :mod:`vad_core.metrics`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

from vad_core.errors import ConfigError


class _LazySklearnMetrics:
    """``sklearn.metrics``, imported on first use (it costs ~1 s, the GUI must start fast)."""

    def __getattr__(self, name: str):
        import sklearn.metrics

        return getattr(sklearn.metrics, name)


_sk = _LazySklearnMetrics()

NAN = float("nan")


@dataclass(frozen=True)
class FrameMetrics:
    """Detection quality of a set of frames; rates are fractions in [0, 1], NaN when undefined.

    ``threshold`` is the one precision, recall and F1 were computed at (the G-mean threshold
    unless the caller gave one). AUROC, AUPRC, EER and both derived thresholds are NaN when all
    frames belong to one class; precision is NaN when nothing is predicted anomalous, recall when
    nothing is anomalous.
    """

    auroc: float
    auprc: float
    eer: float
    eer_threshold: float
    gmean_threshold: float
    threshold: float
    precision: float
    recall: float
    f1: float
    n_frames: int
    n_anomalous: int

    @property
    def single_class(self) -> bool:
        """True when all frames are normal or all anomalous (the ranking metrics are then NaN)."""
        return self.n_anomalous in (0, self.n_frames)


def _scores_and_labels(scores: np.ndarray, labels: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    raw = np.asarray(labels)
    if raw.size != s.size:
        raise ConfigError(what, f"scores and labels must have the same length, found {s.size} and {raw.size}")
    if raw.dtype != bool and raw.size and not np.all(np.isin(raw, (0, 1))):
        raise ConfigError(
            what, f"labels must be bool or 0/1 (1 = anomalous), found values {np.unique(raw)[:5]}"
        )
    if not np.all(np.isfinite(s)):
        raise ConfigError(what, f"{int(np.sum(~np.isfinite(s)))} scores are NaN or inf")
    return s, raw.astype(bool).ravel()


def _has_both_classes(y: np.ndarray) -> bool:
    return bool(y.any()) and not bool(y.all())


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (labels True = anomalous), NaN when only one class is present."""
    s, y = _scores_and_labels(scores, labels, "auroc")
    return float(_sk.roc_auc_score(y, s)) if _has_both_classes(y) else NAN


image_auroc = auroc
"""Image-level AUROC: one score and one label per image (e.g. MVTec), the same computation."""


def _roc(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _sk.roc_curve(y, s, drop_intermediate=False)


def _gmean_from_roc(fpr: np.ndarray, tpr: np.ndarray, thresholds: np.ndarray) -> float:
    gmean = np.sqrt(tpr * (1.0 - fpr))
    gmean[~np.isfinite(thresholds)] = -1.0  # sklearn's first point (threshold inf) flags nothing
    return float(thresholds[int(np.argmax(gmean))])  # ties: the highest threshold, fewest alarms


def _eer_from_roc(fpr: np.ndarray, tpr: np.ndarray, thresholds: np.ndarray) -> tuple[float, float]:
    """EER where the ROC polyline meets FPR = FNR, and the threshold of the ROC point nearest it."""
    gap = fpr - (1.0 - tpr)  # non-decreasing from -1 (nothing flagged) to +1 (everything flagged)
    i = int(np.argmax(gap >= 0.0))
    if gap[i] == 0.0 or i == 0:
        return float(fpr[i]), float(thresholds[i])
    w = -gap[i - 1] / (gap[i] - gap[i - 1])
    eer = float(fpr[i - 1] + w * (fpr[i] - fpr[i - 1]))
    nearest = i if (-gap[i - 1] > gap[i] or not np.isfinite(thresholds[i - 1])) else i - 1
    return eer, float(thresholds[nearest])


def gmean_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """Optimal threshold of thesis eq. 3.21: ``argmax_delta sqrt(TPR(delta) * (1 - FPR(delta)))``.

    Candidates are the thresholds of the ROC curve (the distinct scores), so the result is a
    score value and ``score >= threshold`` realises the chosen ROC point. NaN with one class.
    """
    s, y = _scores_and_labels(scores, labels, "G-mean threshold")
    if not _has_both_classes(y):
        return NAN
    return _gmean_from_roc(*_roc(s, y))


def frame_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float | None = None) -> FrameMetrics:
    """AUROC, AUPRC, EER, thresholds and precision / recall / F1 of per-frame scores.

    Args:
        scores: ``(T,)`` anomaly scores, high = anomalous, finite.
        labels: ``(T,)`` bool or 0/1, True = anomalous.
        threshold: where to compute precision, recall and F1 (``score >= threshold`` is flagged);
            None uses the G-mean threshold of eq. 3.21 (NaN, and so NaN P/R/F1, with one class).

    Raises:
        ConfigError: lengths differ, labels not binary, or scores not finite.
    """
    s, y = _scores_and_labels(scores, labels, "frame metrics")
    n, n_pos = int(s.size), int(y.sum())
    area = ap = eer = eer_t = gm_t = NAN
    if _has_both_classes(y):
        fpr, tpr, thresholds = _roc(s, y)
        area = float(_sk.auc(fpr, tpr))  # the same value as roc_auc_score, from the curve we have
        ap = float(_sk.average_precision_score(y, s))
        eer, eer_t = _eer_from_roc(fpr, tpr, thresholds)
        gm_t = _gmean_from_roc(fpr, tpr, thresholds)
    used = gm_t if threshold is None else float(threshold)
    precision = recall = f1 = NAN
    if n and math.isfinite(used):
        predicted = s >= used
        p, r, f, _ = _sk.precision_recall_fscore_support(
            y, predicted, average="binary", pos_label=True, labels=[False, True], zero_division=np.nan
        )
        precision, recall, f1 = float(p), float(r), float(f)
    return FrameMetrics(area, ap, eer, eer_t, gm_t, used, precision, recall, f1, n, n_pos)


def _nanmean(values: Iterable[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else NAN


@dataclass(frozen=True)
class EvaluationReport:
    """Metrics pooled over all frames of a set of videos and per video.

    Per-video precision / recall / F1 use one threshold for all videos: the caller's, or else the
    pooled G-mean threshold, as a deployed system would. Each per-video entry still carries its
    own ``gmean_threshold`` and ``eer_threshold``.
    """

    pooled: FrameMetrics
    per_video: dict[str, FrameMetrics]

    def mean(self) -> dict[str, float]:
        """Mean over videos of every float field, skipping NaN (videos with one class)."""
        return {
            f.name: _nanmean(getattr(m, f.name) for m in self.per_video.values())
            for f in fields(FrameMetrics)
            if f.type in ("float", float)
        }

    def table(self) -> str:
        """A plain-text table: one row per video, then the mean over videos and the pooled row."""
        header = ("video", "frames", "anomalous", "AUROC %", "AUPRC %", "EER %", "F1 %", "threshold")

        def pct(value: float) -> str:
            return "n/a" if not math.isfinite(value) else f"{100.0 * value:.1f}"

        def num(value: float) -> str:
            return "n/a" if not math.isfinite(value) else f"{value:.4g}"

        def row(name: str, m: FrameMetrics) -> tuple[str, ...]:
            return (
                name,
                str(m.n_frames),
                str(m.n_anomalous),
                pct(m.auroc),
                pct(m.auprc),
                pct(m.eer),
                pct(m.f1),
                num(m.threshold),
            )

        rows = [row(name, m) for name, m in self.per_video.items()]
        mean = self.mean()
        rows.append(
            (
                "mean of videos",
                "",
                "",
                pct(mean["auroc"]),
                pct(mean["auprc"]),
                pct(mean["eer"]),
                pct(mean["f1"]),
                "",
            )
        )
        rows.append(row("pooled", self.pooled))
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

        def line(cells: Sequence[str]) -> str:
            first = cells[0].ljust(widths[0])
            rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
            return "  ".join((first, *rest)).rstrip()

        out = [line(header), "  ".join("-" * w for w in widths)]
        out += [line(r) for r in rows[:-2]]
        out.append("  ".join("-" * w for w in widths))
        out += [line(r) for r in rows[-2:]]
        if any(m.single_class for m in self.per_video.values()):
            out.append("n/a: the video holds one class only, so AUROC, AUPRC and EER are undefined.")
        return "\n".join(out)


def evaluate_videos(
    per_video: Mapping[str, tuple[np.ndarray, np.ndarray]], threshold: float | None = None
) -> EvaluationReport:
    """Frame metrics pooled over all videos (frames concatenated) and for each video.

    Args:
        per_video: video name -> ``(scores, labels)`` of that video.
        threshold: flagging threshold for precision / recall / F1; None uses the pooled G-mean
            threshold (eq. 3.21) for the pooled row and for every video.

    Raises:
        ConfigError: no videos, or one video's scores and labels do not fit (names the video).
    """
    if not per_video:
        raise ConfigError("evaluation", "no videos to evaluate")
    checked: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, (scores, labels) in per_video.items():
        checked[name] = _scores_and_labels(scores, labels, str(name))
    all_scores = np.concatenate([s for s, _ in checked.values()])
    all_labels = np.concatenate([y for _, y in checked.values()])
    pooled = frame_metrics(all_scores, all_labels, threshold)
    shared = pooled.threshold if threshold is None else threshold
    videos = {
        name: frame_metrics(s, y, shared if math.isfinite(shared) else None)
        for name, (s, y) in checked.items()
    }
    return EvaluationReport(pooled=pooled, per_video=videos)


def per_category_auroc(scores: np.ndarray, labels: np.ndarray, categories: Sequence[str]) -> dict[str, float]:
    """AUROC of each anomaly category against all normal frames.

    For every category found among the anomalous frames, the AUROC is computed on all normal
    frames plus the anomalous frames of that category (how the synthetic benchmark reports
    spatial / temporal / spatio-temporal AUROC). Categories of normal frames are ignored;
    anomalous frames without a category (``""`` or None) are grouped as ``"uncategorised"``.
    Keys are sorted; a value is NaN when there are no normal frames.
    """
    s, y = _scores_and_labels(scores, labels, "per-category AUROC")
    cats = np.asarray(["" if c is None else str(c) for c in categories], dtype=object)
    if cats.size != s.size:
        raise ConfigError("per-category AUROC", f"expected {s.size} categories, found {cats.size}")
    cats[cats == ""] = "uncategorised"
    normal = ~y
    result: dict[str, float] = {}
    for category in sorted(set(cats[y].tolist())):
        keep = normal | (y & (cats == category))
        result[category] = auroc(s[keep], y[keep])
    return result
