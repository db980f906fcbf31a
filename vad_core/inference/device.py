"""Choosing the compute device and recognising out-of-memory errors."""

from __future__ import annotations

import torch

from vad_core.errors import ConfigError

DEVICE_CHOICES = ("auto", "cuda", "cpu")


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else CPU; ``cuda`` without a GPU is a ``ConfigError``."""
    if isinstance(name, torch.device):
        return name
    name = str(name).lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("device", "CUDA was asked for but no CUDA GPU is available")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ConfigError("device", f"device must be one of {DEVICE_CHOICES}, found {name!r}")


def describe_device(device: torch.device) -> str:
    """``NVIDIA H100 80GB HBM3 (cuda:0)`` or ``CPU (2 threads)``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"{torch.cuda.get_device_name(index)} (cuda:{index})"
    return f"CPU ({torch.get_num_threads()} threads)"


def is_out_of_memory(error: BaseException) -> bool:
    """True for CUDA (or CPU allocator) out-of-memory errors."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def free_cached_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
