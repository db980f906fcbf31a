"""Live monitoring: score camera streams as frames arrive, raise events, record incidents with pre-roll.

One direction, one file per step::

    LiveSource (vad_core.sources.live)  -> DroppingQueue (frame_queue)  -> StreamScorer (stream_scorer)
      -> CausalNormaliser (normaliser)  -> EventTracker (event_tracker)  -> IncidentRecorder (recorder)
      -> ClipWriter: clip + sidecar (vad_core.export), events.jsonl / scores.csv (journal)

``StreamWorker`` (stream_worker) runs one stream end to end; ``WatchSession`` (session) runs several
with one checkpoint, which is what ``vad watch`` does. ``MjpegServer`` (loopback) serves a clip as an
MJPEG stream on 127.0.0.1 for tests and benchmarks.

Example::

    session = WatchSession(["rtsp://camera/stream"], "bcae1.safetensors", "watch/")
    session.run(duration=3600, status=lambda lines: print(*lines, sep="\\n"))
"""

from vad_core.live.event_tracker import EventChange, EventTracker
from vad_core.live.frame_queue import DroppingQueue
from vad_core.live.journal import EventJournal, ScoresLog, read_journal
from vad_core.live.normaliser import CausalNormaliser
from vad_core.live.session import WatchSession
from vad_core.live.stream_scorer import ScoredFrame, StreamScorer
from vad_core.live.stream_worker import StreamWorker, WatchConfig, status_line

__all__ = [
    "CausalNormaliser",
    "DroppingQueue",
    "EventChange",
    "EventJournal",
    "EventTracker",
    "ScoredFrame",
    "ScoresLog",
    "StreamScorer",
    "StreamWorker",
    "WatchConfig",
    "WatchSession",
    "read_journal",
    "status_line",
]
