"""SVDD encoder fine-tuning of a trained checkpoint (thesis 3.6.2 / 4.8): a new checkpoint "X + SVDD".

Example::

    path = finetune_checkpoint("runs/bcae1.safetensors", bank)   # -> runs/bcae1_svdd.safetensors
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from vad_core.checkpoint import load_checkpoint, save_checkpoint
from vad_core.inference.device import resolve_device
from vad_core.training.frame_bank import FrameBank


def finetune_checkpoint(
    checkpoint_path: str | Path,
    bank: FrameBank,
    lr: float = 5e-7,  # thesis 4.8.2: ~5e-7 ...
    epochs: int = 10,  # ... for 10 epochs
    batch_size: int = 32,
    device: str = "auto",
    output: str | Path | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """Fine-tune the last encoder layer of a frame model with SVDD; write and return a new checkpoint."""
    from vad_core.models.svdd import svdd_finetune

    target_device = resolve_device(device)
    checkpoint = load_checkpoint(checkpoint_path, device=target_device)
    model = checkpoint.model
    bank = bank.to(target_device)
    rows = bank.windows(1)

    def batches() -> Iterator[torch.Tensor]:
        order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(0))
        for start in range(0, len(order), batch_size):
            yield bank.gather(rows[order[start : start + batch_size]])[:, 0]

    result = svdd_finetune(
        model, batches, lr=lr, epochs=epochs, progress=progress, should_stop=should_stop, device=target_device
    )
    source = Path(checkpoint.path or checkpoint_path)
    output = Path(output) if output else source.with_name(source.stem + "_svdd")
    metadata = dict(checkpoint.metadata)
    # the base model's normal range (vad_core.evaluation.fit) no longer describes the fine-tuned errors
    for key in ("weights_sha256", "created", "preprocess", "normal_range"):
        metadata.pop(key, None)
    metadata["display_name"] = f"{checkpoint.display_name} + SVDD"
    metadata["svdd"] = {
        "lr": lr,
        "epochs": epochs,
        "losses": [float(x) for x in result.losses],
        "base_checkpoint_sha256": checkpoint.sha256,
    }
    return save_checkpoint(model, output, metadata)
