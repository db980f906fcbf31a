"""How many windows fit in memory at once: estimate a batch's memory before allocating it.

Scoring a batch of ``B`` windows needs, per window, the uint8 frames, the float input, every
activation of one forward pass, the output and the error maps. :func:`window_bytes` measures the
activations by running the architecture once on PyTorch's ``meta`` device (shapes only, nothing is
allocated) with a hook on every module; :func:`fit_batch_size` compares ``B`` times that with the
memory free on the device (CUDA: ``mem_get_info``; CPU: ``MemAvailable``) and reduces the batch,
saying so, or refuses with a ``ConfigError`` when not even one window fits.

Example::

    batch = fit_batch_size(model, 32, device, frame_size=(6000, 6000), on_notice=print)
    # "CPU memory: about 310 MB per window and 3.1 GB free; batch size reduced from 32 to 6"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from vad_core.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from vad_core.models.base import AnomalyModel

# our choice: plan batches for 60 % of the free memory; the rest is for the decoder, the
# allocator's slack and other work of the process (the window, a second scoring job)
BUDGET_FRACTION = 0.6
# our choice, used only when the architecture cannot run on the meta device: activations as a
# multiple of the float input (the registered CAEs measure 20-60x)
FALLBACK_ACTIVATION_FACTOR = 64


def free_memory_bytes(device: torch.device) -> int | None:
    """Bytes free for new allocations on ``device`` (None when unknown)."""
    import torch

    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


_MEASURED: dict[str, int | None] = {}  # activation bytes by (config, prediction, segmentation)


def _activation_bytes(model: AnomalyModel, prediction: str, segmentation: bool) -> int | None:
    """Bytes of every module output of one window's forward pass (an upper bound of what is live
    at once), measured on the meta device once per architecture and settings."""
    config = model.config
    if config is None:
        return None
    key = repr((config.to_dict(), prediction, segmentation))
    if key not in _MEASURED:
        _MEASURED[key] = _measure_activations(model, prediction, segmentation)
    return _MEASURED[key]


def _measure_activations(model: AnomalyModel, prediction: str, segmentation: bool) -> int | None:
    import torch

    from vad_core.inference.scoring_loop import _predict_with_side, segmentation_maps
    from vad_core.models.registry import model_entry

    config = model.config
    if config is None:
        return None
    total = 0

    def count(_module: torch.nn.Module, _inputs: object, output: object) -> None:
        nonlocal total
        for tensor in output if isinstance(output, tuple | list) else (output,):
            if isinstance(tensor, torch.Tensor):
                total += tensor.numel() * tensor.element_size()

    try:
        entry = model_entry(config.name)
        with torch.device("meta"):
            probe = entry.builder(channels=config.channels, size=config.size, **config.options).eval()
            hooks = [module.register_forward_hook(count) for module in probe.modules()]
            clip = torch.zeros((1, probe.spec.window, config.channels, *config.size))
            inputs, target = probe.split(clip)
            with torch.inference_mode():
                if segmentation:
                    segmentation_maps(probe, inputs)
                else:
                    _predict_with_side(probe, inputs, target, prediction)
        for hook in hooks:
            hook.remove()
    except Exception:  # an architecture the meta device cannot run: the caller falls back
        return None
    return total


def window_bytes(
    model: AnomalyModel,
    prediction: str = "next",
    segmentation: bool = False,
    frame_size: tuple[int, int] | None = None,
) -> int:
    """Estimated peak bytes one window adds to a batch (see the module docstring); ``frame_size``:
    the source's frames when they travel to the device at their own size."""
    config = model.config
    if config is None:
        raise ConfigError("inference", "model has no config; cannot estimate its memory")
    frames = model.spec.window
    pixels = config.size[0] * config.size[1]
    input_bytes = frames * config.channels * pixels * 4
    activations = _activation_bytes(model, prediction, segmentation)
    if activations is None:
        activations = FALLBACK_ACTIVATION_FACTOR * input_bytes
    maps = frames * pixels * 4 * 3  # error maps, the selected ones and their float16 copy
    shipped = frames * config.channels * frame_size[0] * frame_size[1] * 5 if frame_size else 0
    return input_bytes + activations + maps + shipped


def fit_batch_size(
    model: AnomalyModel,
    batch_size: int,
    device: torch.device,
    prediction: str = "next",
    segmentation: bool = False,
    frame_size: tuple[int, int] | None = None,
    on_notice: Callable[[str], None] | None = None,
    free_bytes: int | None = None,
) -> int:
    """``batch_size``, or the largest smaller one whose estimate fits :data:`BUDGET_FRACTION` of the
    free memory (said through ``on_notice``); ``ConfigError`` when one window does not fit."""
    free = free_memory_bytes(device) if free_bytes is None else free_bytes
    if free is None:
        return batch_size
    per_window = window_bytes(model, prediction, segmentation, frame_size)
    budget = int(free * BUDGET_FRACTION)
    if per_window > budget:
        name = model.config.name if model.config else type(model).__name__
        raise ConfigError(
            "inference",
            f"one window of {name} at {model.config.size[0]}x{model.config.size[1]} needs about "  # type: ignore[union-attr]
            f"{_size(per_window)} of {device.type.upper()} memory, and only {_size(free)} is free; "
            "use a smaller input size or free memory",
        )
    fitting = max(1, budget // per_window)
    if fitting >= batch_size:
        return batch_size
    if on_notice is not None:
        on_notice(
            f"{device.type.upper()} memory: about {_size(per_window)} per window and {_size(free)} free; "
            f"batch size reduced from {batch_size} to {fitting}"
        )
    return int(fitting)


def _size(count: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count / 1e3:.0f} KB"
