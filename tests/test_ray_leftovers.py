"""A local Ray started by a batch run does not outlive the run, even when its driver is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from vad_core.batch.ray_reaper import _start_time, ray_descendants

pytest.importorskip("ray")
pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="the reaper reads /proc (Linux)")

DRIVER = """
import sys, time
from vad_core.batch.config import BatchConfig
from vad_core.batch.ray_cluster import start_ray
start_ray(BatchConfig(root=".", checkpoint="x", results="r", cpus=1))
print("ready", flush=True)
time.sleep(600)
"""


def _command(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _wait_for_ray_processes(pid: int, timeout: float) -> dict[int, str]:
    """The driver's Ray processes, once the agents (dashboard, runtime env) are among them."""
    deadline = time.monotonic() + timeout
    found: dict[int, str] = {}
    while time.monotonic() < deadline:
        found = ray_descendants(pid)
        commands = b" ".join(_command(p) for p in found)
        if b"raylet" in commands and b"agent" in commands:
            return found
        time.sleep(0.5)
    return found


def test_a_sigkilled_driver_leaves_no_ray_process_behind(tmp_path):
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert driver.stdout.readline().strip() == "ready"
        processes = _wait_for_ray_processes(driver.pid, timeout=60)
        assert len(processes) >= 3, processes  # raylet, GCS, agents
        time.sleep(1.5)  # the reaper notes the processes once a second
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    deadline = time.monotonic() + 30
    alive = processes
    while time.monotonic() < deadline:
        alive = {pid: start for pid, start in processes.items() if _start_time(pid) == start}
        if not alive:
            break
        time.sleep(0.5)
    commands = {pid: _command(pid)[:80] for pid in alive}
    assert not alive, commands
