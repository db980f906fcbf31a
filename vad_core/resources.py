"""Where the files shipped with vad-review live (source tree, installed wheel or frozen bundle)."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_root() -> Path:
    """The folder holding ``models/``, ``icons/`` and ``help/``."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        candidate = Path(frozen) / "vad_resources"
        if candidate.is_dir():
            return candidate
    try:
        import vad_resources

        return Path(vad_resources.__file__).resolve().parent
    except ImportError:  # running from a source tree without installation
        return Path(__file__).resolve().parents[1] / "resources"


def resource_path(*parts: str) -> Path:
    """Path of a shipped file, e.g. ``resource_path("models", "demo_bcae1.safetensors")``."""
    return resources_root().joinpath(*parts)


#: Bundled demo models (trained by ``packaging/train_demo_models.sh`` on the synthetic benchmark).
DEMO_MODELS = {
    "frame": "models/demo_bcae1",
    "temporal": "models/demo_unet_predictor",
}


def demo_model_path(kind: str = "temporal") -> Path:
    """The bundled demo checkpoint of ``kind`` ("frame" or "temporal")."""
    return resource_path(*DEMO_MODELS[kind].split("/")).with_suffix(".safetensors")
