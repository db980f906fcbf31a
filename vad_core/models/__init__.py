"""The model zoo: one concept per file, all registered by name.

Importing this package registers every architecture; use ``build_model(ModelConfig(name, ...))``.
"""

from vad_core.models.base import AnomalyModel, ModelConfig, TemporalSpec, count_parameters, example_input
from vad_core.models.registry import build_model, model_entry, model_names, register

__all__ = [
    "AnomalyModel",
    "ModelConfig",
    "TemporalSpec",
    "build_model",
    "count_parameters",
    "example_input",
    "model_entry",
    "model_names",
    "register",
]
