"""Regularity s(t), Savitzky-Golay smoothing and the anomaly score of one video.

Implements thesis eq. 4.1 (seed 003, section 4.9.1): the per-frame error e(t) is min-max
normalised over the video and turned into a regularity ``s(t) = 1 - (e(t) - min e) / (max e - min e)``
(1 = most regular frame of the video, 0 = least regular), then smoothed with a Savitzky-Golay
filter over 15 frames, as the thesis does instead of Persistence1D over 50 frames. The anomaly
score shown on the timeline and thresholded into events is ``1 - smoothed s(t)``, clipped to [0, 1].

Because the normalisation is per video, every video reaches a score near 1 somewhere, even one
without anomalies: compare raw errors e(t), not scores, across videos. Callers pass one video at a
time.

Example::

    scores = anomaly_scores(e, ScoringConfig())      # e: (T,) per-frame errors of one video
    scores.score                                     # (T,) in [0, 1], high = anomalous
    events = scores.events(ScoringConfig(threshold=0.6))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from vad_core.errors import ConfigError
from vad_core.scoring.events import Event, find_events
from vad_core.scoring.score_kinds import DEFAULT_MNAD_WEIGHT, check_score_kind, per_video_anomaly


@dataclass(frozen=True)
class ScoringConfig:
    """How errors become scores and scores become events.

    ``smooth_window`` is odd; 1 turns smoothing off. ``threshold`` applies to the anomaly score
    (``1 - smoothed s(t)``, in [0, 1]); a frame is above it when ``score >= threshold``. ``score``
    picks the per-frame series that is normalised (:mod:`vad_core.scoring.score_kinds`: ``"error"``,
    ``"psnr"`` or ``"mnad"`` with ``mnad_weight``).
    """

    smooth_window: int = 15  # thesis 4.9.1: Sav-Gol filter over a window of 15 frames
    polyorder: int = 3  # our choice: the thesis does not give the polynomial order
    threshold: float = 0.5  # our choice: the thesis picks thresholds per dataset (G-mean, eq. 3.21)
    min_duration: int = 5  # our choice: frames; shorter detections are dropped as flicker
    merge_gap: int = 5  # our choice: frames; detections this close are merged into one event
    score: str = "error"  # thesis eq. 4.1 on e(t); "psnr" (Liu et al. 2018), "mnad" (Park et al. 2020)
    mnad_weight: float = DEFAULT_MNAD_WEIGHT  # MNAD's lambda, prediction task: 0.6

    def __post_init__(self) -> None:
        _check_window(self.smooth_window, self.polyorder)
        check_score_kind(self.score, self.mnad_weight)
        if not np.isfinite(self.threshold) or not 0.0 <= self.threshold <= 1.0:
            raise ConfigError("scoring", f"threshold must be in [0, 1], found {self.threshold}")
        if self.min_duration < 1:
            raise ConfigError("scoring", f"min_duration must be >= 1 frame, found {self.min_duration}")
        if self.merge_gap < 0:
            raise ConfigError("scoring", f"merge_gap must be >= 0 frames, found {self.merge_gap}")


@dataclass(frozen=True)
class AnomalyScores:
    """Every stage of scoring one video, each a ``(T,)`` float64 array."""

    errors: np.ndarray  # e(t), as given
    regularity: np.ndarray  # s(t), eq. 4.1
    smoothed_regularity: np.ndarray  # Savitzky-Golay filtered s(t)
    score: np.ndarray  # 1 - smoothed s(t), clipped to [0, 1]; high = anomalous

    def events(self, config: ScoringConfig) -> list[Event]:
        """Events of :attr:`score` with the threshold, minimum duration and merge gap of ``config``."""
        return find_events(self.score, config.threshold, config.min_duration, config.merge_gap)


def _check_window(window: int, polyorder: int) -> None:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1 or window % 2 == 0:
        raise ConfigError("smoothing", f"window must be an odd number of frames >= 1, found {window!r}")
    if isinstance(polyorder, bool) or not isinstance(polyorder, (int, np.integer)) or polyorder < 0:
        raise ConfigError("smoothing", f"polyorder must be an integer >= 0, found {polyorder!r}")
    if window > 1 and polyorder >= window:
        raise ConfigError("smoothing", f"polyorder must be < window ({window}), found {polyorder}")


def _series(values: np.ndarray, what: str) -> np.ndarray:
    """``values`` as a finite 1-D float64 array, or a ConfigError naming ``what``."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ConfigError(what, f"expected a 1-D series (one value per frame), found shape {array.shape}")
    if not np.all(np.isfinite(array)):
        bad = np.flatnonzero(~np.isfinite(array))
        raise ConfigError(what, f"{bad.size} non-finite values (NaN or inf), first at frame {bad[0]}")
    return array


def regularity(errors: np.ndarray) -> np.ndarray:
    """Regularity ``s(t) = 1 - (e(t) - min e) / (max e - min e)`` of one video (thesis eq. 4.1).

    A constant e(t) gives all ones (no frame stands out); an empty series gives an empty array.

    Raises:
        ConfigError: ``errors`` is not 1-D or holds NaN / inf.
    """
    e = _series(errors, "regularity")
    if e.size == 0:
        return e.copy()
    low, high = e.min(), e.max()
    if high <= low:
        return np.ones_like(e)
    return 1.0 - (e - low) / (high - low)


def smooth(values: np.ndarray, window: int = 15, polyorder: int = 3) -> np.ndarray:
    """Savitzky-Golay filter (``scipy.signal.savgol_filter``, mode ``"interp"``) of a 1-D series.

    The output has the length of the input; a polynomial of degree <= ``polyorder`` passes
    unchanged (a linear ramp stays a ramp). A series shorter than ``window`` is smoothed with the
    largest odd window that fits it and still exceeds ``polyorder``; when none does, it is returned
    unchanged (as a float64 copy). ``window == 1`` turns smoothing off.

    Raises:
        ConfigError: ``window`` even or < 1, ``polyorder < 0`` or ``>= window``, non-finite values.
    """
    _check_window(window, polyorder)
    series = _series(values, "smoothing")
    length = series.size
    fitted = min(window, length if length % 2 else length - 1)
    if fitted <= 1 or fitted <= polyorder:
        return series.copy()
    from scipy.signal import savgol_filter  # lazy: scipy costs ~1 s at start-up

    return savgol_filter(series, window_length=fitted, polyorder=polyorder, mode="interp")


def anomaly_scores(
    errors: np.ndarray, config: ScoringConfig | None = None, side: Mapping[str, np.ndarray] | None = None
) -> AnomalyScores:
    """Regularity, smoothed regularity and anomaly score of one video's per-frame errors.

    With ``config.score`` other than ``"error"``, the regularity is ``1 -`` that kind's per-video
    series (``side`` carries the memory distance ``"mnad"`` needs); smoothing and clipping are the same.

    Raises:
        ConfigError: ``errors`` is not 1-D or holds NaN / inf; ``"mnad"`` without a memory distance.
    """
    config = config or ScoringConfig()
    e = _series(errors, "anomaly scores")
    if config.score == "error":
        s = regularity(e)
    else:
        s = 1.0 - per_video_anomaly(e, config.score, side, config.mnad_weight)
    smoothed = smooth(s, config.smooth_window, config.polyorder)
    score = np.clip(1.0 - smoothed, 0.0, 1.0)
    return AnomalyScores(errors=e.copy(), regularity=s, smoothed_regularity=smoothed, score=score)
