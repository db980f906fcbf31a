"""Start-up time of the review window: process start to the first painted splash and review window.

Starts ``vad-review --print-startup-time`` with ``VAD_REVIEW_QUIT_AFTER_PAINT=1`` ``--runs`` times
cold and ``--runs`` times warm and prints the median of each mark the program reports (seconds
after the process started, measured inside it):

* ``splash_painted`` - the splash (icon, name, what is loading) has been painted: the first pixels;
* ``engine_imported`` - torch, scipy and the model zoo are imported (on a background thread);
* ``window_painted`` - the review window has been painted;

and ``process_exit``, the wall time from launch to exit as seen from outside.

*Cold* runs first drop the program's files from the page cache (``posix_fadvise(DONTNEED)`` on every
file of the packages it loads, or of the bundle; Linux only, no root needed). Pages that another
running process has mapped stay cached, so "cold" is an upper bound of what this can evict, not
a freshly booted machine. *Warm* runs follow each other.

Examples::

    python benchmarks/startup_time.py                                   # from source (this venv)
    python benchmarks/startup_time.py --bundle dist/vad-review/vad-review
    xvfb-run -a -s "-screen 0 1920x1080x24" python benchmarks/startup_time.py --platform xcb
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import argument_parser, print_header

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("torch", "PySide6", "shiboken6", "scipy", "numpy", "cv2", "pyqtgraph", "sklearn", "safetensors")
MARKS = ("splash_painted", "engine_imported", "window_painted", "process_exit")


def package_folders() -> list[Path]:
    """Folders of the packages a start from source loads (and the project's own)."""
    folders = [REPO / "app", REPO / "vad_core", REPO / "resources"]
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            folders.extend(Path(p) for p in spec.submodule_search_locations)
    libs = Path(sys.prefix) / "lib"
    folders.extend(p for p in libs.glob("python3*/site-packages/*.libs") if p.is_dir())
    return folders


def evict(folders: list[Path]) -> int:
    """Drop the files under ``folders`` from the page cache; returns how many files were advised."""
    if not hasattr(os, "posix_fadvise"):
        return 0
    count = 0
    for folder in folders:
        for path in folder.rglob("*"):
            if not path.is_file() or path.is_symlink():
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                count += 1
            except OSError:
                pass
            finally:
                os.close(fd)
    return count


def one_start(command: list[str], platform: str, home: Path) -> dict[str, float]:
    """Run the program once until its window is painted; the marks it printed plus ``process_exit``."""
    env = dict(os.environ)
    env.update(
        {
            "VAD_REVIEW_QUIT_AFTER_PAINT": "1",
            "VAD_REVIEW_NO_USER_SETTINGS": "1",
            "VAD_REVIEW_HOME": str(home),
            "QT_QPA_PLATFORM": platform,
        }
    )
    began = time.perf_counter()
    done = subprocess.run(
        [*command, "--print-startup-time"], env=env, capture_output=True, text=True, timeout=300
    )
    wall = time.perf_counter() - began
    line = next((x for x in done.stdout.splitlines() if x.startswith("startup-time: ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    marks = json.loads(line.split(": ", 1)[1])
    marks["process_exit"] = round(wall, 3)
    return marks


def summarize(label: str, runs: list[dict[str, float]]) -> None:
    print(f"{label} ({len(runs)} runs), seconds after process start: median [min - max]")
    for mark in MARKS:
        values = [r[mark] for r in runs if mark in r]
        if values:
            print(f"  {mark:16s} {statistics.median(values):6.2f}  [{min(values):.2f} - {max(values):.2f}]")


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs of each kind [5]")
    parser.add_argument("--bundle", type=Path, help="the bundle's vad-review executable [from source]")
    parser.add_argument("--platform", default="offscreen", help="QT_QPA_PLATFORM [offscreen]")
    parser.add_argument("--no-cold", action="store_true", help="warm runs only")
    args = parser.parse_args(argv)
    print_header()
    if args.bundle:
        command, folders, what = [str(args.bundle)], [args.bundle.resolve().parent], f"bundle {args.bundle}"
    else:
        command, folders, what = [sys.executable, "-m", "app"], package_folders(), "source (python -m app)"
    print(f"start-up of {what}, platform {args.platform}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="vad-review-startup-") as home:
        one_start(command, args.platform, Path(home))  # compiles .pyc files, fills caches
        results: dict[str, list[dict[str, float]]] = {}
        if not args.no_cold:
            cold, files = [], 0
            for _ in range(args.runs):
                files = evict(folders)
                cold.append(one_start(command, args.platform, Path(home)))
            results[f"cold (page cache of {files} files dropped before each run)"] = cold
        results["warm"] = [one_start(command, args.platform, Path(home)) for _ in range(args.runs)]
    for label, runs in results.items():
        summarize(label, runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
