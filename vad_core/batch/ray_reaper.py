"""A local Ray never outlives the process that started it, even one killed with SIGKILL.

Ray's own fate-sharing stops the raylet and GCS with the driver, but the dashboard agent and the
runtime-env agent (children of the raylet) were seen alive after ``vad batch`` was SIGKILLed.
``watch_local_ray()`` starts a small reaper process holding the read end of a pipe whose write end
only the driver has: while the driver lives, the reaper notes every Ray process descending from
it (pid and start time, from ``/proc``) once a second; when the pipe reports end-of-file (the
driver exited, however it ended) it waits a moment for ``ray.shutdown`` and then ends every noted
process that is still the same process (SIGTERM, then SIGKILL). Linux only (``/proc``); elsewhere a
no-op.

Example::

    ray.init(address="local")
    watch_local_ray()            # from now on, nothing of this Ray outlives this process
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

SNAPSHOT_S = 1.0  # how often the reaper notes the driver's Ray processes
GRACE_S = 2.0  # after the driver ended: time for ray.shutdown's own clean-up
_WRITE_ENDS: list[int] = []  # kept open for the life of the driver


def watch_local_ray() -> bool:
    """Start the reaper for this process (once); False where there is no ``/proc``."""
    if _WRITE_ENDS or not Path("/proc/self/stat").is_file():
        return bool(_WRITE_ENDS)
    read_end, write_end = os.pipe()  # not inheritable: no other child keeps the pipe open
    subprocess.Popen(
        [sys.executable, "-m", "vad_core.batch.ray_reaper", str(os.getpid())],
        stdin=read_end,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl+C to the driver's group does not stop the reaper
    )
    os.close(read_end)
    _WRITE_ENDS.append(write_end)
    return True


def _start_time(pid: int) -> str | None:
    """Field 22 of ``/proc/PID/stat`` (start time in clock ticks), or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split()[19]


def ray_descendants(root: int) -> dict[int, str]:
    """``{pid: start time}`` of the processes below ``root`` whose command line mentions Ray."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[-1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found: dict[int, str] = {}
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        start = _start_time(pid)
        if pid != os.getpid() and b"ray" in command and start is not None:
            found[pid] = start
    return found


def _end(processes: dict[int, str]) -> None:
    """SIGTERM, then SIGKILL, each process that is still the one noted (same start time)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [pid for pid, start in processes.items() if _start_time(pid) == start]
        for pid in alive:
            with contextlib.suppress(OSError):  # it ended meanwhile
                os.kill(pid, sig)
        if not alive:
            return
        time.sleep(1.0)


def main(argv: list[str]) -> int:
    driver = int(argv[0])
    noted: dict[int, str] = {}
    while True:
        noted.update(ray_descendants(driver))
        ready, _, _ = select.select([0], [], [], SNAPSHOT_S)
        if ready and not os.read(0, 1):
            break  # end-of-file: the driver is gone
    time.sleep(GRACE_S)
    _end(noted)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
