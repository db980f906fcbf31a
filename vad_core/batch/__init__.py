"""Archive scoring at scale: score whole footage archives on Ray, resumably, and triage the results.

* ``discover``: find the clips under a root (video files, frame folders) and hash their content;
* ``chunking``: split long clips into chunks whose stitched scores equal an unsplit run exactly;
* ``index``: the SQLite results index (``ResultsIndex``) the review window's triage table reads;
* ``runner``: the Ray job (``run_batch``): model workers, a bounded task queue, one index writer;
  its pieces: ``config`` (``BatchConfig``), ``planning`` (``plan_workers``), ``worker`` (the actor),
  ``scheduler`` (the driver loop's rules), ``cluster`` / ``ray_cluster`` (every Ray call behind one
  adapter), ``writing`` (scores files and rows), ``resume`` (the skip rule), ``progress``, ``summary``.

Ray is needed only by ``runner.run_batch`` (``pip install 'vad-review[batch]'``); the index can be
read, and clips discovered and chunked, without it.

Example::

    from vad_core.batch import BatchConfig, ResultsIndex, run_batch

    summary = run_batch(BatchConfig("/archive/site7", "runs/bcae1.safetensors", "results/site7"))
    worst = ResultsIndex.open("results/site7", readonly=True).rows(order_by="max_error", limit=10)
"""

import importlib
from typing import Any

_HOME = {
    "Chunk": "chunking",
    "chunk_plan": "chunking",
    "plan_chunks": "chunking",
    "score_chunk": "chunking",
    "stitch": "chunking",
    "ClipRef": "discover",
    "content_hash": "discover",
    "discover_clips": "discover",
    "ClipRow": "index",
    "ResultsIndex": "index",
    "ResultsIndexError": "index",
    "BatchConfig": "config",
    "BatchProgress": "summary",
    "BatchSummary": "summary",
    "run_batch": "runner",
}


def __getattr__(name: str) -> Any:
    """Import submodules on first use: reading the index must not cost importing torch and scipy."""
    if name in _HOME:
        return getattr(importlib.import_module(f"vad_core.batch.{_HOME[name]}"), name)
    raise AttributeError(f"module 'vad_core.batch' has no attribute {name!r}")


__all__ = [
    "BatchConfig",
    "BatchProgress",
    "BatchSummary",
    "Chunk",
    "ClipRef",
    "ClipRow",
    "ResultsIndex",
    "ResultsIndexError",
    "chunk_plan",
    "content_hash",
    "discover_clips",
    "plan_chunks",
    "run_batch",
    "score_chunk",
    "stitch",
]
