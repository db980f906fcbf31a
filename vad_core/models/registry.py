"""Registry mapping model names to builders.

A builder is ``builder(channels: int, size: (H, W), **options) -> AnomalyModel``. Model files
register themselves with the ``@register`` decorator; ``vad_core.models`` imports them all.

Example::

    @register("bcae1", family="spatial CAE", summary="Baseline CAE of the thesis (4.4.2)")
    def build_bcae1(channels: int, size: tuple[int, int], **options) -> AnomalyModel: ...

    model = build_model(ModelConfig("bcae1", channels=1, size=(128, 128)))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vad_core.errors import ConfigError
from vad_core.models.base import AnomalyModel, ModelConfig

Builder = Callable[..., AnomalyModel]


@dataclass(frozen=True)
class ModelEntry:
    """A registered architecture: its builder, family, one-line summary and default options."""

    name: str
    builder: Builder
    family: str
    summary: str
    defaults: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields this model trains best with
    # how checkpoints of this model are scored, from the input size: InferenceConfig's error,
    # reduction and patch (None: by the error it was trained with, see TrainConfig.scoring_defaults)
    scoring: Callable[[tuple[int, int]], dict[str, Any]] | None = None


_REGISTRY: dict[str, ModelEntry] = {}


def register(
    name: str,
    family: str,
    summary: str,
    training: dict[str, Any] | None = None,
    scoring: dict[str, Any] | Callable[[tuple[int, int]], dict[str, Any]] | None = None,
    **defaults: Any,
) -> Callable[[Builder], Builder]:
    """Decorator registering ``builder`` under ``name`` (lower-case, unique).

    ``defaults`` are the builder's default options; ``training`` holds ``TrainConfig`` fields that
    differ from the thesis recipe for this model (``TrainConfig.for_model`` applies them);
    ``scoring`` the recommended scoring (``score``, ``mnad_weight``, ``error``, ``reduction``, ``patch``)
    that ``TrainConfig.scoring_defaults`` copies into the checkpoints of this model: a dict, or a
    function of the input size giving one.
    """

    def decorate(builder: Builder) -> Builder:
        key = name.lower()
        if key in _REGISTRY:
            raise ConfigError("registry", f"model name {name!r} registered twice")
        _REGISTRY[key] = ModelEntry(
            key, builder, family, summary, dict(defaults), dict(training or {}), _scoring_function(scoring)
        )
        return builder

    return decorate


def _scoring_function(
    scoring: dict[str, Any] | Callable[[tuple[int, int]], dict[str, Any]] | None,
) -> Callable[[tuple[int, int]], dict[str, Any]] | None:
    """A registered scoring as a function of the input size (a dict is the same at every size)."""
    if scoring is None or callable(scoring):
        return scoring
    fixed = dict(scoring)
    return lambda _size: dict(fixed)


def model_names() -> list[str]:
    """All registered names, in registration order."""
    _ensure_loaded()
    return list(_REGISTRY)


def model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``; ``ConfigError`` listing the known names if unknown."""
    _ensure_loaded()
    key = name.lower()
    if key not in _REGISTRY:
        raise ConfigError("model", f"unknown model {name!r}; known: {', '.join(_REGISTRY)}")
    return _REGISTRY[key]


def build_model(config: ModelConfig) -> AnomalyModel:
    """Build the architecture ``config`` describes (untrained).

    Every option is checked against the architecture first (known name, the type of its default,
    a sane range), and the parameter count is taken on the ``meta`` device (no memory) before the
    real build: ``ConfigError`` names the option or the size instead of a builder's traceback or
    an allocation of many gigabytes.
    """
    entry = model_entry(config.name)
    check_options(entry, config.options)
    options = {**entry.defaults, **config.options}
    _check_parameter_count(entry, config, options)
    try:
        model = entry.builder(channels=config.channels, size=config.size, **options)
    except (TypeError, ValueError, RuntimeError, ZeroDivisionError, IndexError) as error:
        raise ConfigError("model", f"{config.name}: bad options {sorted(config.options)} ({error})") from None
    model.config = ModelConfig(config.name.lower(), config.channels, config.size, options)
    return model


MAX_INT_OPTION = 65_536  # our choice: no option of a registered model is a count beyond a few thousand
MAX_PARAMETERS = 500_000_000  # our choice: 2 GB of float32 weights; the largest registered (DRAEM) has ~97 M


def check_options(entry: ModelEntry, options: dict[str, Any]) -> None:
    """Each option known to ``entry`` and of its default's kind and range; ``ConfigError`` otherwise."""
    accepted = _builder_parameters(entry.builder)
    for name, value in options.items():
        if accepted is not None and name not in accepted and name not in entry.defaults:
            known = ", ".join(sorted(set(entry.defaults) | accepted)) or "none"
            raise ConfigError(
                "model", f"{entry.name}: bad options [{name!r}]: unknown option {name!r} (known: {known})"
            )
        problem = _option_problem(entry.defaults.get(name, _UNKNOWN), value)
        if problem:
            raise ConfigError("model", f"{entry.name}: option {name}: {problem}, found {value!r}"[:300])


_UNKNOWN = object()


def _option_problem(default: Any, value: Any) -> str | None:
    """Why ``value`` cannot replace ``default`` (None when it can)."""

    def number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and abs(v) <= 1e9

    if isinstance(default, bool):
        return None if isinstance(value, bool) else "expected true or false"
    if isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INT_OPTION
        return None if ok else f"expected a whole number 0..{MAX_INT_OPTION}"
    if isinstance(default, float) or default is None:
        return None if value is None or number(value) else "expected a finite number"
    if isinstance(default, str):
        return None if isinstance(value, str) else "expected text"
    if isinstance(default, list | tuple):
        ok = isinstance(value, list | tuple) and 0 < len(value) <= 16 and all(number(v) for v in value)
        return None if ok else "expected a short list of numbers"
    return None  # an option without a registered default: the builder's own checks apply


def _builder_parameters(builder: Builder) -> set[str] | None:
    """Keyword options ``builder`` takes (None when it takes ``**options``)."""
    import inspect

    parameters = inspect.signature(builder).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters if p.name not in ("channels", "size")}


def _check_parameter_count(entry: ModelEntry, config: ModelConfig, options: dict[str, Any]) -> None:
    """Refuse a model of more than ``MAX_PARAMETERS``, counted on the meta device (no allocation)."""
    import torch

    try:
        with torch.device("meta"):
            probe = entry.builder(channels=config.channels, size=config.size, **options)
        count = sum(p.numel() for p in probe.parameters())
    except Exception:  # a builder that cannot run on the meta device is checked by the real build
        return
    if count > MAX_PARAMETERS:
        raise ConfigError(
            "model",
            f"{config.name} with options {options} has {count / 1e6:.0f} M parameters "
            f"(limit {MAX_PARAMETERS / 1e6:.0f} M); use smaller options",
        )


def _ensure_loaded() -> None:
    import vad_core.models  # noqa: F401  (importing the package registers every model file)
