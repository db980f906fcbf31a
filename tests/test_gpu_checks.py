"""On CUDA, scores do not depend on where frames shrink, where maps are reduced, or on CUDA graphs.

The device's area resize equals OpenCV's, the device-side scoring path gives the host path's
errors and maps, and scoring from recorded CUDA graphs gives eager scoring's, for every model. CI
has no GPU, so these skip there (the CPU stand-ins are in test_device_resize.py, test_inference.py
and test_cuda_graphs.py); ``bash benchmarks/gpu_session.sh gpu-checks`` runs them on a GPU machine.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import vad_core.inference.scoring_loop as scoring_loop
from vad_core.inference.config import InferenceConfig
from vad_core.inference.cuda_graphs import graphs_for
from vad_core.inference.device_resize import AreaResize
from vad_core.inference.scoring_loop import score_all
from vad_core.models import ModelConfig, build_model
from vad_core.models.registry import model_names
from vad_core.sources import ArraySource
from vad_core.sources.preprocess import resize_frame

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CUDA = torch.device("cuda")
FOOTAGE = (240, 360)  # UCSD Ped2's frame size, shrunk to the models' 128x128 on the device


@pytest.fixture
def deterministic_cudnn():
    """The same convolution algorithms in every run, so that two paths can be compared bit for bit."""
    saved = torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = False, True
    yield
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved


def _noise(frames: int, size: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (frames, *size), dtype=np.uint8)


def _model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig(name, 1, (128, 128)))


@pytest.mark.parametrize(
    "frame_size", [(240, 360), (360, 640), (480, 640), (1080, 1920), (256, 256)], ids=str
)
@pytest.mark.parametrize("colour", [False, True], ids=["gray", "rgb"])
def test_area_resize_on_cuda_equals_opencv_bit_for_bit(frame_size, colour) -> None:
    frames = _noise(16, (*frame_size, 3) if colour else frame_size, seed=1)
    expected = np.stack([resize_frame(frame, (128, 128)) for frame in frames])
    channels_first = frames.transpose(0, 3, 1, 2) if colour else frames[:, None]
    resized = AreaResize(frame_size, (128, 128), CUDA)(
        torch.from_numpy(np.ascontiguousarray(channels_first)).to(CUDA)
    )
    got = resized.cpu().numpy()
    got = got.transpose(0, 2, 3, 1) if colour else got[:, 0]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("reduction", ["mean", "patch_max"])
@pytest.mark.parametrize("name", ["bcae1", "cgru_ae", "unet_predictor"])
def test_device_side_path_on_cuda_gives_the_host_path_scores(
    name, reduction, monkeypatch, deterministic_cudnn
) -> None:
    """Resize, windows and reduction on the GPU with read-ahead, against OpenCV's resize and the
    numpy reduction of maps copied back (the CPU's path, forced on CUDA)."""
    frames = _noise(200, FOOTAGE)
    model = _model(name)
    config = InferenceConfig(batch_size=32, device="cuda", amp=False, reduction=reduction)
    assert scoring_loop._scores_on_device(CUDA)
    device_side = score_all(model, ArraySource(frames, fps=25), config)
    monkeypatch.setattr(scoring_loop, "_scores_on_device", lambda device: False)
    host = score_all(model, ArraySource(frames, fps=25), config)
    np.testing.assert_allclose(device_side.errors, host.errors, rtol=1e-6)
    np.testing.assert_array_equal(device_side.maps, host.maps)


def _eager_and_graphed(model: torch.nn.Module, frames: np.ndarray, config: InferenceConfig):
    eager = score_all(model, ArraySource(frames, fps=25), config)
    graphed = score_all(model, ArraySource(frames, fps=25), replace(config, cuda_graphs=True))
    return eager, graphed


@pytest.mark.parametrize("name", model_names())
def test_cuda_graphs_give_the_eager_scores(name, deterministic_cudnn) -> None:
    """Batches of 8 windows: every model has several full batches, recorded once and then replayed."""
    model = _model(name)
    config = InferenceConfig(batch_size=8, device="cuda", amp=True)
    eager, graphed = _eager_and_graphed(model, _noise(400, FOOTAGE), config)
    assert len(graphs_for(model)) >= 1  # full batches came from a graph, not from eager scoring
    np.testing.assert_array_equal(graphed.errors, eager.errors)
    np.testing.assert_array_equal(graphed.maps, eager.maps)


def test_cuda_graphs_are_recorded_again_after_the_weights_move(deterministic_cudnn) -> None:
    model = _model("bcae1")
    frames = _noise(400, FOOTAGE)
    config = InferenceConfig(batch_size=8, device="cuda", amp=True)
    eager, _ = _eager_and_graphed(model, frames, config)
    model.cpu()
    model.cuda()  # new weight tensors: graphs recorded with the old ones would read freed memory
    moved = score_all(model, ArraySource(frames, fps=25), replace(config, cuda_graphs=True))
    assert len(graphs_for(model)) >= 1
    np.testing.assert_array_equal(moved.errors, eager.errors)
    np.testing.assert_array_equal(moved.maps, eager.maps)
