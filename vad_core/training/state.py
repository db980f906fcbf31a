"""Resumable training state: latest weights, best weights and Adam moments in safetensors + JSON.

Written next to the checkpoint as ``NAME.state.safetensors`` / ``NAME.state.json`` after every epoch,
so ``vad train --resume NAME`` continues where an interrupted run stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vad_core.checkpoint import _atomic_write_bytes, checkpoint_paths, load_weights_into
from vad_core.errors import CheckpointError
from vad_core.json_reading import Fields, describe, read_json

STATE_FORMAT = "vad-review training state"


def state_paths(output: str | Path) -> tuple[Path, Path]:
    weights, _ = checkpoint_paths(output)
    stem = weights.with_suffix("")
    return stem.with_name(stem.name + ".state.safetensors"), stem.with_name(stem.name + ".state.json")


@dataclass
class TrainingState:
    epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    best_val_loss: float = float("inf")
    best_epoch: int = 0
    bad_epochs: int = 0
    best_weights: dict[str, torch.Tensor] | None = None


def save_training_state(
    output: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    epoch: int,
    history: list[dict[str, float]],
    best_val_loss: float,
    best_epoch: int,
    bad_epochs: int,
    best_weights: dict[str, torch.Tensor],
) -> None:
    """Write the state needed to continue training after ``epoch``."""
    from safetensors.torch import save

    tensors: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        tensors[f"model.{name}"] = tensor.detach().cpu().contiguous().clone()
    for name, tensor in best_weights.items():
        tensors[f"best.{name}"] = tensor.detach().cpu().contiguous().clone()
    optimizer_state = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in optimizer_state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value) and value.dim() > 0:
                tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous().clone()
            else:
                scalars.setdefault(str(index), {})[key] = float(value)
    weights_path, json_path = state_paths(output)
    _atomic_write_bytes(weights_path, save(tensors))
    description = {
        "format": STATE_FORMAT,
        "version": 1,
        "epoch": epoch,
        "history": history,
        "best_val_loss": best_val_loss,
        "best_epoch": best_epoch,
        "bad_epochs": bad_epochs,
        "optimizer_param_groups": optimizer_state["param_groups"],
        "optimizer_scalars": scalars,
        "scheduler": {
            k: v for k, v in scheduler.state_dict().items() if isinstance(v, (int, float, str, type(None)))
        },
    }
    _atomic_write_bytes(json_path, json.dumps(description, indent=1).encode())


def _read_state_description(json_path: Path) -> dict[str, Any]:
    """The state's JSON (through :mod:`vad_core.json_reading`) with every field it restores checked."""
    description = read_json(json_path, CheckpointError, max_bytes=64 * 1024 * 1024, what="a training state")
    if not isinstance(description, dict) or description.get("format") != STATE_FORMAT:
        raise CheckpointError(json_path, f"not a {STATE_FORMAT} file")
    fields = Fields(description, json_path, CheckpointError)
    fields.integer("epoch", minimum=0)
    fields.array("history", default=[])
    for name in ("best_epoch", "bad_epochs"):
        fields.integer(name, default=0, minimum=0)
    best = fields.value("best_val_loss", 0.0)
    if isinstance(best, bool) or not isinstance(best, int | float):
        raise fields.fail("best_val_loss", f"expected a number, found {describe(best)}")
    groups = fields.array("optimizer_param_groups")
    if not all(isinstance(group, dict) for group in groups):
        raise fields.fail("optimizer_param_groups", "expected a list of objects")
    scalars = fields.section("optimizer_scalars", {})
    for index, values in scalars.data.items():
        if not index.isdigit() or not isinstance(values, dict):
            raise scalars.fail(index, "expected an object of numbers under a parameter index")
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise scalars.fail(f"{index}.{name}", f"expected a number, found {describe(value)}")
    fields.section("scheduler", {})
    return description


def load_training_state(
    output: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    device: torch.device,
) -> TrainingState:
    """Restore model, optimizer and scheduler from ``save_training_state``; return the bookkeeping."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights_path, json_path = state_paths(output)
    if not json_path.is_file() or not weights_path.is_file():
        raise CheckpointError(
            json_path, "no training state to resume from (was the run started with an output?)"
        )
    description = _read_state_description(json_path)
    try:
        tensors = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(weights_path, f"cannot read training state ({error})") from None
    model_weights = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    best = {k[len("best.") :]: v.to(device) for k, v in tensors.items() if k.startswith("best.")}
    load_weights_into(model, model_weights, weights_path)  # type: ignore[arg-type]
    model.to(device)
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value.to(device)
    for index, values in description.get("optimizer_scalars", {}).items():
        for name, value in values.items():
            state.setdefault(int(index), {})[name] = torch.tensor(value)
    try:
        optimizer.load_state_dict({"state": state, "param_groups": description["optimizer_param_groups"]})
    except (ValueError, KeyError) as error:
        raise CheckpointError(json_path, f"optimizer state does not fit this model ({error})") from None
    scheduler_state = scheduler.state_dict()
    scheduler_state.update(description.get("scheduler", {}))
    scheduler.load_state_dict(scheduler_state)
    return TrainingState(
        epoch=int(description["epoch"]),
        history=list(description.get("history", [])),
        best_val_loss=float(description.get("best_val_loss", float("inf"))),
        best_epoch=int(description.get("best_epoch", 0)),
        bad_epochs=int(description.get("bad_epochs", 0)),
        best_weights=best or None,
    )
