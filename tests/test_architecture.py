"""Architecture rules that ruff cannot check, checked on the source tree.

* the engine (``vad_core``) never imports Qt (PySide6, PyQt*, shiboken, pyqtgraph) nor the GUI
  package ``app``: statically, every import statement of every file wherever it sits, and
  dynamically, by importing every engine module in a fresh interpreter;
* no function over 80 lines and no file over 800 lines in ``vad_core/`` and ``app/`` (the
  allow-lists below name the exceptions and cap them at their length today);
* the engine's torch-free modules (configs, scoring, labels, datasets, checkpoint descriptions)
  import without torch, so the GUI starts and the CLI parses arguments without paying for it.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENGINE = REPO / "vad_core"
GUI = REPO / "app"

MAX_FUNCTION_LINES = 80
MAX_FILE_LINES = 800

#: Functions allowed over MAX_FUNCTION_LINES (``"path::Class.method": length``, with the reason
#: as a comment), each capped at its length when it was listed; none today. The stale-entry test
#: below says which entries have become unnecessary.
LONG_FUNCTIONS: dict[str, int] = {}
#: Files allowed over MAX_FILE_LINES, the same way; none today.
LONG_FILES: dict[str, int] = {}

#: Modules that must import without torch (what the GUI and the CLI need before any model runs).
TORCH_FREE = (
    "vad_core.inference.config",
    "vad_core.model_config",
    "vad_core.scoring",
    "vad_core.labels",
    "vad_core.datasets",
    "vad_core.checkpoint",
)
#: Third-party packages of optional extras: an engine module that needs a missing one is skipped.
OPTIONAL_PACKAGES = {"ray", "shap", "lime", "skimage"}


# --------------------------------------------------------------------------------------- helpers
def is_qt_or_gui(module: str) -> bool:
    """Whether ``module`` (a dotted name) belongs to Qt, its bindings, pyqtgraph or the GUI."""
    root = module.split(".")[0]
    return root in ("PySide2", "PySide6", "pyqtgraph", "app") or root.startswith(("PyQt", "shiboken"))


def imported_modules(source: str) -> Iterator[tuple[int, str]]:
    """``(line, module)`` of every import in ``source``: statements anywhere (module level, in
    functions, in classes) and ``importlib.import_module`` / ``__import__`` with a literal name."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif isinstance(node, ast.Call) and node.args and _is_import_call(node.func):
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield node.lineno, first.value


def _is_import_call(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def qt_or_gui_imports(source: str) -> list[tuple[int, str]]:
    return [(line, module) for line, module in imported_modules(source) if is_qt_or_gui(module)]


def function_lengths(source: str) -> Iterator[tuple[str, int]]:
    """``(qualified name, lines from def to last line)`` of every function, methods and nested
    functions included (``Class.method``, ``outer.inner``)."""

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                yield name, child.end_lineno - child.lineno + 1
                yield from walk(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, prefix + child.name + ".")
            else:
                yield from walk(child, prefix)

    yield from walk(ast.parse(source), "")


def python_files(*roots: Path) -> list[Path]:
    return sorted(path for root in roots for path in root.rglob("*.py") if "__pycache__" not in path.parts)


def engine_module_names() -> list[str]:
    names = []
    for path in python_files(ENGINE):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__main__":
            continue  # running it is the command line
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter that imports this checkout; return its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _relative(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


@functools.cache
def _over_the_limits() -> tuple[dict[str, int], dict[str, int]]:
    functions, files = {}, {}
    for path in python_files(ENGINE, GUI):
        source = path.read_text(encoding="utf-8")
        lines = len(source.splitlines())
        if lines > MAX_FILE_LINES:
            files[_relative(path)] = lines
        for name, length in function_lengths(source):
            if length > MAX_FUNCTION_LINES:
                functions[f"{_relative(path)}::{name}"] = length
    return functions, files


# ----------------------------------------------------------------------------- the checks checked
def test_the_import_check_finds_qt_and_gui_imports_anywhere_in_a_file() -> None:
    source = """
import json
import pyqtgraph as pg
from vad_core.errors import VadError

def later():
    from PySide6.QtCore import QObject
    import importlib
    return importlib.import_module("PyQt6.QtWidgets")

class Panel:
    def show(self):
        from app.workers import Worker
        import shiboken6
        import application_helpers
        return __import__("app")
"""
    assert qt_or_gui_imports(source) == [
        (3, "pyqtgraph"),
        (7, "PySide6.QtCore"),
        (9, "PyQt6.QtWidgets"),
        (13, "app.workers"),
        (14, "shiboken6"),
        (16, "app"),
    ]


def test_the_length_check_measures_methods_and_nested_functions() -> None:
    source = (
        "class Widget:\n    def __init__(self):\n"
        + "        x = 1\n" * 3
        + ("def outer():\n    def inner():\n        return 1\n    return inner\n")
    )
    assert dict(function_lengths(source)) == {"Widget.__init__": 4, "outer": 4, "outer.inner": 2}


def test_the_torch_check_sees_a_module_that_loads_torch() -> None:
    assert json.loads(run_python(_TORCH_PROBE.format(module="vad_core.models.base"))) is True


# ------------------------------------------------------------------------------------ the rules
def test_no_engine_file_imports_qt_or_the_gui() -> None:
    found = [
        f"{_relative(path)}:{line} imports {module}"
        for path in python_files(ENGINE)
        for line, module in qt_or_gui_imports(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_importing_every_engine_module_loads_neither_qt_nor_the_gui() -> None:
    code = f"""
import importlib, json, sys
names, optional = {engine_module_names()!r}, {sorted(OPTIONAL_PACKAGES)!r}
imported, skipped = [], []
for name in names:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in optional:
            raise
        skipped.append(name)
    else:
        imported.append(name)
roots = ("PySide2", "PySide6", "pyqtgraph", "app")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in roots or m.startswith(("PyQt", "shiboken")))
print(json.dumps({{"imported": imported, "skipped": skipped, "loaded": loaded}}))
"""
    result = json.loads(run_python(code).splitlines()[-1])
    assert len(result["imported"]) + len(result["skipped"]) == len(engine_module_names())
    assert len(result["imported"]) > 80  # the check really imported the engine
    assert result["loaded"] == []


def test_no_function_is_longer_than_80_lines_outside_the_allow_list() -> None:
    functions, _ = _over_the_limits()
    too_long = {
        name: length
        for name, length in functions.items()
        if name not in LONG_FUNCTIONS or length > LONG_FUNCTIONS[name]
    }
    assert too_long == {}, f"split these into steps of at most {MAX_FUNCTION_LINES} lines"


def test_no_file_is_longer_than_800_lines_outside_the_allow_list() -> None:
    _, files = _over_the_limits()
    too_long = {
        name: lines for name, lines in files.items() if name not in LONG_FILES or lines > LONG_FILES[name]
    }
    assert too_long == {}, f"split these by concept into files of at most {MAX_FILE_LINES} lines"


def test_the_allow_lists_name_only_what_is_still_too_long() -> None:
    functions, files = _over_the_limits()
    stale = sorted(set(LONG_FUNCTIONS) - set(functions)) + sorted(set(LONG_FILES) - set(files))
    assert stale == [], "within the limits now: remove these entries from the allow-lists"


_TORCH_PROBE = "import json, sys, {module}; print(json.dumps('torch' in sys.modules))"


@pytest.mark.parametrize("module", TORCH_FREE)
def test_torch_free_modules_import_without_torch(module: str) -> None:
    assert json.loads(run_python(_TORCH_PROBE.format(module=module))) is False
