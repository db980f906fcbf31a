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
    """Build the architecture ``config`` describes (untrained)."""
    entry = model_entry(config.name)
    options = {**entry.defaults, **config.options}
    try:
        model = entry.builder(channels=config.channels, size=config.size, **options)
    except TypeError as error:
        raise ConfigError("model", f"{config.name}: bad options {sorted(config.options)} ({error})") from None
    model.config = ModelConfig(config.name.lower(), config.channels, config.size, options)
    return model


def _ensure_loaded() -> None:
    import vad_core.models  # noqa: F401  (importing the package registers every model file)
