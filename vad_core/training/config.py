"""Training configuration (defaults from the thesis, 4.4.1 and 4.9.1)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from vad_core.errors import ConfigError
from vad_core.models.base import ModelConfig

LOSSES = ("mse", "compound", "mse+gradient")
KEEP = ("best", "last")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; the CLI and the GUI fill the same dataclass."""

    model: ModelConfig
    max_epochs: int = 300  # thesis 4.4.1: 300 epochs, early stopping usually ends sooner
    batch_size: int = 32  # thesis 4.9.1
    learning_rate: float = 1e-3  # thesis 4.4.1: Adam, lr 1e-3
    lr_factor: float = 0.75  # thesis 4.4.1: ReduceLROnPlateau factor 0.75 ...
    lr_patience: int = 4  # ... patience 4
    early_stopping_patience: int = 8  # thesis 4.4.1
    validation_fraction: float = 0.1
    # the last part of every training source, never in a training or validation window: its errors
    # after training become the checkpoint's calibration record (causal scores); 0 turns it off
    holdout_fraction: float = 0.0
    strides: tuple[int, ...] = (1, 2, 4, 8, 16)  # thesis 4.9.1 temporal stride augmentation
    window_step: int = 1  # frames between the starts of consecutive training windows
    # "compound" = 0.5 MSE + 0.5 (1 - SSIM), thesis eq. 3.10; "mse+gradient" = Liu et al. 2018's
    # intensity + gradient loss for frame predictors
    loss: str = "mse"
    compound_eta: float = 0.5
    max_windows_per_epoch: int | None = None  # subsample long footage each epoch
    # an epoch is at least this many batches: small sets (an MVTec category of 209 images is 6
    # batches) are drawn several times per epoch, so the epoch-counted patience of the LR schedule
    # and of early stopping means about as many optimizer steps as on video footage
    min_batches_per_epoch: int = 32
    max_seconds: float | None = None  # stop after the epoch that passes this wall-clock budget
    seed: int = 0
    amp: bool = True  # bfloat16 autocast on CUDA
    device: str = "auto"
    weight_decay: float = 0.0
    # fractions of the run (epochs, or of max_seconds when that is further along) after which the
    # lr is multiplied by lr_factor; empty: ReduceLROnPlateau on the validation loss (thesis)
    lr_milestones: tuple[float, ...] = ()
    # "best": the best validation epoch, with early stopping (thesis); "last": the last epoch, no
    # early stopping (DRAEM: no defects at training time, so no loss to select an epoch by)
    keep: str = "best"
    save_every_seconds: float = 0.0  # 0: checkpoint and state after every epoch; else at most this often
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_epochs < 1:
            raise ConfigError("training", f"max_epochs must be >= 1, found {self.max_epochs}")
        if self.batch_size < 1:
            raise ConfigError("training", f"batch_size must be >= 1, found {self.batch_size}")
        if not 0.0 <= self.validation_fraction < 0.9:
            raise ConfigError(
                "training", f"validation_fraction must be in [0, 0.9), found {self.validation_fraction}"
            )
        if self.loss not in LOSSES:
            raise ConfigError("training", f"loss must be one of {LOSSES}, found {self.loss!r}")
        if not self.strides or min(self.strides) < 1:
            raise ConfigError("training", f"strides must be positive integers, found {self.strides}")
        if self.min_batches_per_epoch < 1:
            raise ConfigError(
                "training", f"min_batches_per_epoch must be >= 1, found {self.min_batches_per_epoch}"
            )
        if not 0.0 <= self.holdout_fraction < 0.5:
            raise ConfigError(
                "training", f"holdout_fraction must be in [0, 0.5), found {self.holdout_fraction}"
            )
        if self.keep not in KEEP:
            raise ConfigError("training", f"keep must be one of {KEEP}, found {self.keep!r}")
        if any(not 0.0 < m < 1.0 for m in self.lr_milestones):
            raise ConfigError("training", f"lr_milestones must lie in (0, 1), found {self.lr_milestones}")
        if self.save_every_seconds < 0:
            raise ConfigError("training", f"save_every_seconds must be >= 0, found {self.save_every_seconds}")
        if self.window_step < 1:
            raise ConfigError("training", f"window_step must be >= 1, found {self.window_step}")

    @classmethod
    def for_model(cls, model: ModelConfig, **settings: Any) -> TrainConfig:
        """The thesis recipe, with the model's registered training defaults, then ``settings``, on top."""
        from vad_core.models.registry import model_entry

        return cls(model=model, **{**model_entry(model.name).training, **settings})

    def scoring_defaults(self) -> dict[str, Any]:
        """How a model trained this way is scored: with the error it was trained on (thesis 4.6:
        "the compound loss function is directly used to score the anomalies"), else the squared error,
        and the model's registered recommended scoring (``score`` psnr / mnad; DRAEM: its segmentation map)."""
        from vad_core.models.registry import model_entry

        if self.loss == "compound":
            return {"error": "compound"}
        defaults: dict[str, Any] = {"error": "mse"}
        entry = model_entry(self.model.name)
        if entry.scoring is not None:
            defaults.update(entry.scoring(self.model.size))
        return defaults

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["model"] = self.model.to_dict()
        data["strides"] = list(self.strides)
        data["lr_milestones"] = list(self.lr_milestones)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        data["model"] = ModelConfig.from_dict(data["model"])
        data["strides"] = tuple(data.get("strides", (1,)))
        data["lr_milestones"] = tuple(data.get("lr_milestones", ()))
        return cls(**data)
