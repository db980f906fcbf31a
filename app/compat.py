"""Guards against known defects of the Qt binding the window runs on.

PySide6 6.12.0 on CPython < 3.12 drops one reference to ``None`` on every call of a Qt method that
returns ``void`` (``QLabel.setText``, ``QTimer.singleShot``, ``QWidget.update``, ...) and on every
Python override that C++ calls and that returns ``None`` (pyqtgraph's ``paint``) or ``True`` /
``False``. From Python 3.12 on these singletons are immortal and nothing happens; on 3.11 their
reference counts run out and the process aborts with "Fatal Python error: none_dealloc" (or
"bool_dealloc") - in this window after about a minute of playback (painting the timeline alone
costs ~80 references to ``None`` per frame). PySide6 6.11.3 does not have the defect; pinning
``PySide6-Essentials!=6.12.0`` (or Python >= 3.12) is the real fix.

``guard_none_refcount`` detects the defect at start-up with a harmless probe and, only then, makes
``None``, ``True`` and ``False`` effectively immortal the way Python 3.12 does (a reference count
near 2**40), so leaked references can never bring them to zero.

Example::

    app = QApplication(sys.argv)
    guard_none_refcount()
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

IMMORTAL_REFCOUNT = 1 << 40  # about what Python 3.12 gives immortal objects


def none_refcount_leaks(calls: int = 64) -> bool:
    """True when calling a void Qt method loses references to ``None`` (see the module docstring)."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    from PySide6.QtCore import QObject

    probe = QObject()
    probe.setObjectName("probe")
    before = sys.getrefcount(None)
    for _ in range(calls):
        probe.setObjectName("probe")
    return sys.getrefcount(None) - before <= -calls // 2


def guard_none_refcount() -> bool:
    """Make ``None``, ``True`` and ``False`` immortal when the binding leaks their references.

    Returns True when the guard was needed and applied.
    """
    if not none_refcount_leaks():
        return False
    for singleton in (None, True, False):
        refcount = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt: first field of every object
        before = sys.getrefcount(singleton)
        refcount.value += IMMORTAL_REFCOUNT
        if sys.getrefcount(singleton) - before != IMMORTAL_REFCOUNT:  # unexpected object layout: undo
            refcount.value -= IMMORTAL_REFCOUNT
            log.warning("PySide6 leaks references to %r and the guard could not be applied", singleton)
            return False
    from PySide6 import __version__

    log.warning(
        "PySide6 %s leaks references to None/True/False on Python %d.%d; they were made immortal "
        "(pin PySide6-Essentials!=6.12.0 or use Python >= 3.12 to avoid this)",
        __version__,
        *sys.version_info[:2],
    )
    return True
