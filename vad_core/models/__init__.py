"""The model zoo: one concept per file, all registered by name.

Importing this package registers every architecture; use ``build_model(ModelConfig(name, ...))``.
"""

from vad_core.models import (  # noqa: F401  (imported for their @register side effect)
    bcae,
    conv_recurrent_ae,
    draem,
    ks_cae,
    memae,
    mnad,
    seq2seq,
    soft_attention,
    softmax_attention,
    squeeze_excitation,
    stacked_frames_ae,
    unet_predictor,
)
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
