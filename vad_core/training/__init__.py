"""Training any registered model on normal footage; resumable; cancellable."""

from vad_core.training.config import TrainConfig
from vad_core.training.frame_bank import FrameBank
from vad_core.training.trainer import TrainEvent, TrainResult, train, train_iter

__all__ = ["FrameBank", "TrainConfig", "TrainEvent", "TrainResult", "train", "train_iter"]
