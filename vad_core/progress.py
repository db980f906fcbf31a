"""Running the engine's progress generators to the end, outside a GUI worker.

Long jobs (training, scoring, image inspection, export) are generators that yield progress and
return their result; the GUI's worker drives them on a thread. ``drive`` is the same loop for the
CLI, the Python API and the tests: a callback per yielded value, cooperative cancellation, and the
generator closed (so it can clean up partial files) whenever driving stops early.

Example::

    result = drive(train_iter(config, bank), progress=print, should_stop=lambda: stop_requested)
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

from vad_core.errors import Cancelled

T = TypeVar("T")


def drive(
    generator: Generator[Any, None, T],
    progress: Callable[[Any], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    what: str = "job",
) -> T:
    """Run ``generator`` to its return value; ``should_stop()`` raises ``Cancelled(f"{what} cancelled")``."""
    try:
        while True:
            try:
                item = next(generator)
            except StopIteration as stop:
                return stop.value
            if progress is not None:
                progress(item)
            if should_stop is not None and should_stop():
                raise Cancelled(f"{what} cancelled")
    except BaseException:
        generator.close()
        raise
