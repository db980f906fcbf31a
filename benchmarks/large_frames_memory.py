"""Peak memory of ``vad score`` on footage of very large frames (issue 18: memory follows the model).

Writes a 6000x6000 MJPG clip (moving shapes on a textured background) once, then scores it with
the bundled BCAE1 on the CPU in a child process whose peak resident memory (``ru_maxrss``) is read
from ``getrusage``. ``--code`` picks the checkout whose ``vad_core`` runs, so one machine measures
before (``--code /work/main``) and after (``--code .``) in one go.

Example::

    python benchmarks/large_frames_memory.py --code /work/main --code . --out docs/results/large-frames-memory
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

SIDE = 6000
FRAMES = 40
FPS = 10.0


def write_clip(path: Path) -> Path:
    """A ``FRAMES``-frame ``SIDE`` x ``SIDE`` MJPG clip: a soft gradient and a moving orange disc."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (SIDE, SIDE))
    ramp = np.linspace(40, 200, SIDE, dtype=np.float32)
    background = ((ramp[None, :] + ramp[:, None]) / 2).astype(np.uint8)
    for index in range(FRAMES):
        frame = cv2.cvtColor(background, cv2.COLOR_GRAY2BGR)
        centre = (500 + index * 120, SIDE // 2)
        cv2.circle(frame, centre, 300, (40, 120, 255), -1)  # colour: the clip opens as RGB
        writer.write(frame)
    writer.release()
    return path


def peak_of(code: Path, clip: Path, model: Path, out: Path) -> tuple[float, float, int, str]:
    """(peak RSS in MB, seconds, exit status, the vad_core it imported) of one ``vad score`` run
    with ``code`` on the path."""
    command = [sys.executable, "-c", _CHILD, str(clip), str(model), str(out)]
    env = {**os.environ, "PYTHONPATH": str(code.resolve()), "OMP_NUM_THREADS": "2"}
    began = time.perf_counter()
    # cwd: the clip's folder, so that ``-c`` (which puts the cwd first on sys.path) imports ``code``
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=clip.parent)
    seconds = time.perf_counter() - began
    if result.returncode:
        print(result.stdout[-2000:], result.stderr[-2000:], sep="\n")
    peak_kb = int(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 else -1
    imported = next((line for line in result.stderr.splitlines() if line.startswith("vad_core from")), "?")
    return peak_kb / 1024, seconds, result.returncode, imported


# the child: score, then print its own peak RSS (kB) on the last line
_CHILD = """
import resource, sys
import vad_core
from vad_core.cli.main import main
print("vad_core from", vad_core.__file__, file=sys.stderr)
code = main(["score", sys.argv[1], "--model", sys.argv[2], "--out", sys.argv[3], "--device", "cpu"])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def _commit(code: Path) -> str:
    result = subprocess.run(
        ["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return result.stdout.strip() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--code", action="append", type=Path, required=True, help="checkout to measure (repeat)"
    )
    parser.add_argument("--model", type=Path, default=Path("resources/models/demo_bcae1.safetensors"))
    parser.add_argument("--out", type=Path, help="folder for the log (printed only when not given)")
    args = parser.parse_args()
    lines = [
        f"# date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"# machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        f"# command: python {' '.join(sys.argv)}",
    ]
    with tempfile.TemporaryDirectory() as folder:
        clip = write_clip(Path(folder) / "large.avi")
        lines.append(f"# this checkout's commit: {_commit(Path('.'))}")
        lines.append(
            f"# clip: {FRAMES} frames {SIDE}x{SIDE} MJPG, {clip.stat().st_size / 1e6:.1f} MB; model {args.model}"
        )
        for code in args.code:
            peak, seconds, status, imported = peak_of(
                code, clip, args.model.resolve(), Path(folder) / "scores"
            )
            lines.append(
                f"code {code} (commit {_commit(code)}; {imported}): peak RSS {peak:.0f} MB, "
                f"{seconds:.1f} s, exit {status}"
            )
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{dt.date.today().isoformat()}_cpu.txt").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
