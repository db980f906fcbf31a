"""One reading path for every JSON file the engine reads: size and depth limits, typed fields.

Label files, checkpoint and fused-model descriptions, training states, the ``meta`` of scores files
and cache entries, the batch index's JSON columns and the synthetic benchmark's manifest all come
through :func:`decode_json` / :func:`read_json`, so whatever a file holds, the only thing that can
come out is the reader's own typed error (a :class:`~vad_core.errors.VadError` subclass) naming
the file and the problem:

* the size is checked before the text is read, and the bracket depth (outside strings) before
  ``json.loads`` can recurse, so a few KB of ``[[[[...`` is a message, not a ``RecursionError``;
* numbers ``json`` cannot hold (``1e400`` is infinity, a 5000-digit integer is refused by Python)
  and, where the reader asks, ``NaN`` / ``Infinity`` are refused with a message;
* :class:`Fields` reads the fields of an object with their types and ranges checked, and its
  errors name the field (``model.size: expected 2 whole numbers, found "abc"``).

Example::

    data = read_json("run.json", CheckpointError, max_bytes=16 * 1024**2)
    fields = Fields(data, "run.json", CheckpointError)
    version = fields.integer("version", default=0, minimum=0)
    model = fields.section("model")
    name = model.text("name")
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from vad_core.errors import VadError

MAX_DEPTH = 64  # our choice: our files nest 5 levels at most; 64 leaves room and stays far from recursion
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_MISSING: Any = object()


def describe(value: Any, limit: int = 40) -> str:
    """A short, readable rendering of a JSON value for a message (``"abc"``, ``a list``, ``null``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return f"an object of {len(value)} field{'s' if len(value) != 1 else ''}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return "a number too large to hold" if math.isinf(value) else "NaN"
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def nesting_depth(data: bytes) -> int:
    """Deepest nesting of ``[`` / ``{`` in JSON text ``data``, brackets inside strings not counted."""
    outside = _STRING.sub(b'""', data)
    codes = np.frombuffer(outside, np.uint8)
    steps = np.zeros(len(codes), np.int32)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(steps).max()) if len(steps) else 0


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed here")


def decode_json(
    data: bytes | str,
    where: object,
    error: type[VadError],
    *,
    max_bytes: int,
    max_depth: int = MAX_DEPTH,
    what: str = "JSON",
    constants: bool = True,
) -> Any:
    """JSON text -> value, or ``error(where, ...)`` saying what is wrong with it.

    ``what`` names the expected content in messages ("a JSON label document"); ``constants=False``
    refuses ``NaN``, ``Infinity`` and ``-Infinity``.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise error(where, f"too large for {what} ({len(raw)} bytes, limit {max_bytes})")
    if not raw.strip():
        raise error(where, f"empty (expected {what})")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        raise error(where, f"not UTF-8 text (byte {problem.start}); expected {what}") from None
    depth = nesting_depth(raw)
    if depth > max_depth:
        raise error(where, f"nested {depth} levels deep (limit {max_depth}); expected {what}")
    try:
        return json.loads(text, parse_constant=None if constants else _reject_constant)
    except json.JSONDecodeError as problem:
        raise error(
            where, f"not valid JSON: {problem.msg} at line {problem.lineno}, column {problem.colno}"
        ) from None
    except RecursionError:  # the depth scan makes this unreachable; kept as the last guard
        raise error(where, f"nested too deeply (expected {what})") from None
    except ValueError as problem:  # a disallowed constant, an integer of too many digits
        raise error(where, f"not valid JSON: {problem}") from None


def read_json(
    path: str | Path,
    error: type[VadError],
    *,
    max_bytes: int,
    max_depth: int = MAX_DEPTH,
    what: str = "JSON",
    constants: bool = True,
) -> Any:
    """The JSON value in file ``path`` (size checked before reading); ``error`` naming the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise error(path, f"too large for {what} ({size} bytes, limit {max_bytes})")
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(path, "not found") from None
    except OSError as problem:
        raise error(path, f"cannot be read ({problem.strerror or problem})") from None
    return decode_json(
        data, path, error, max_bytes=max_bytes, max_depth=max_depth, what=what, constants=constants
    )


class Fields:
    """Typed, range-checked access to the fields of one JSON object; errors name file and field.

    ``prefix`` is the object's own place in the file (``"model."``), so nested sections' messages
    say where in the file the problem is.
    """

    def __init__(self, data: Any, where: object, error: type[VadError], prefix: str = "") -> None:
        if not isinstance(data, dict):
            place = prefix.rstrip(".") or "the top level"
            raise error(where, f"{place}: expected a JSON object, found {describe(data)}")
        self.data = data
        self.where = where
        self.error = error
        self.prefix = prefix

    def fail(self, name: str, problem: str) -> VadError:
        """The error for field ``name`` (to raise)."""
        return self.error(self.where, f"{self.prefix}{name}: {problem}")

    def _get(self, name: str, default: Any) -> Any:
        if name in self.data:
            return self.data[name]
        if default is _MISSING:
            raise self.fail(name, "missing")
        return default

    def value(self, name: str, default: Any = None) -> Any:
        """The raw value (any JSON type)."""
        return self.data.get(name, default)

    def integer(
        self, name: str, default: Any = _MISSING, minimum: int | None = None, maximum: int | None = None
    ) -> Any:
        """A whole number (``2`` or ``2.0``, never ``true``) within ``[minimum, maximum]``."""
        value = self._get(name, default)
        if value is default and name not in self.data:
            return value
        return self._check_integer(name, value, minimum, maximum)

    def _check_integer(self, name: str, value: Any, minimum: int | None, maximum: int | None) -> int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, f"expected a whole number, found {describe(value)}")
        return _in_range(self, name, value, minimum, maximum)

    def number(
        self,
        name: str,
        default: Any = _MISSING,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> Any:
        """A finite number within ``[minimum, maximum]`` (as a float)."""
        value = self._get(name, default)
        if value is default and name not in self.data:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(name, f"expected a finite number, found {describe(value)}")
        return float(_in_range(self, name, value, minimum, maximum))

    def text(self, name: str, default: Any = _MISSING, choices: tuple[str, ...] | None = None) -> Any:
        """A string (one of ``choices`` when given)."""
        value = self._get(name, default)
        if value is default and name not in self.data:
            return value
        if not isinstance(value, str):
            raise self.fail(name, f"expected text, found {describe(value)}")
        if choices is not None and value not in choices:
            raise self.fail(name, f"expected one of {', '.join(choices)}, found {describe(value)}")
        return value

    def boolean(self, name: str, default: Any = _MISSING) -> Any:
        value = self._get(name, default)
        if value is default and name not in self.data:
            return value
        if not isinstance(value, bool):
            raise self.fail(name, f"expected true or false, found {describe(value)}")
        return value

    def array(self, name: str, default: Any = _MISSING) -> Any:
        """A list (its items unchecked)."""
        value = self._get(name, default)
        if value is default and name not in self.data:
            return value
        if not isinstance(value, list):
            raise self.fail(name, f"expected a list, found {describe(value)}")
        return value

    def integers(
        self,
        name: str,
        count: int,
        default: Any = _MISSING,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> Any:
        """A list of exactly ``count`` whole numbers, each within ``[minimum, maximum]``."""
        value = self._get(name, default)
        if value is default and name not in self.data:
            return value
        if not isinstance(value, list | tuple) or len(value) != count:
            raise self.fail(name, f"expected {count} whole numbers, found {describe(value)}")
        return [self._check_integer(f"{name}[{i}]", item, minimum, maximum) for i, item in enumerate(value)]

    def section(self, name: str, default: Any = _MISSING) -> Fields:
        """The object at ``name`` as ``Fields`` (``default`` when absent: ``{}`` gives an empty one)."""
        value = self._get(name, default)
        if not isinstance(value, dict):
            raise self.fail(name, f"expected a JSON object, found {describe(value)}")
        return Fields(value, self.where, self.error, f"{self.prefix}{name}.")

    def optional_section(self, name: str) -> Fields:
        """Like :meth:`section`, an absent or ``null`` field reading as an empty object."""
        return (
            self.section(name, {}) if self.data.get(name) is not None else Fields({}, self.where, self.error)
        )


def _in_range(fields: Fields, name: str, value: Any, minimum: Any, maximum: Any) -> Any:
    if minimum is not None and value < minimum or maximum is not None and value > maximum:
        low = "" if minimum is None else f"{minimum} <= "
        high = "" if maximum is None else f" <= {maximum}"
        raise fields.fail(name, f"expected {low}value{high}, found {describe(value)}")
    return value
