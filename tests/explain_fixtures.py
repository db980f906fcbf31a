"""Synthetic "parts" with planted defects, for explainability and image-mode tests.

A part is a round object (a bottle seen from above: a shaded disc with a darker mouth ring) on a
dark background, optionally with a fine texture, with small seeded jitter in position and
brightness so an autoencoder has something to generalise over. A defect is drawn on the object:

* ``scratch`` - a thin bright line,
* ``hole``    - a dark filled circle,
* ``print``   - a red blob.

Each defect comes with its boolean mask. ``write_mvtec_parts`` writes a category in exactly the
MVTec AD layout (``train/good``, ``test/<defect>``, ``ground_truth/<defect>/NNN_mask.png``), and
``train_tiny_cae`` fits a small BCAE1 on good parts in a few seconds on one CPU thread.

Example::

    image = make_part(np.random.default_rng(0), size=32)
    broken, mask = plant_defect(image, "hole", np.random.default_rng(1))
    root = write_mvtec_parts(tmp_path, size=32)            # tmp_path / "part"
    model = train_tiny_cae(good_parts(48, size=32))
    setup = tiny_setup()        # cached: trained model, calibrated scorer, defective parts, masks
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from vad_core.explain import AnomalyScorer
from vad_core.models import AnomalyModel, ModelConfig, build_model

DEFECTS = ("scratch", "hole", "print")


def make_part(rng: np.random.Generator, size: int = 32, textured: bool = False) -> np.ndarray:
    """One good part: uint8 RGB ``(size, size, 3)``, a shaded round object on a dark background."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cx = size / 2 + rng.uniform(-0.03, 0.03) * size
    cy = size / 2 + rng.uniform(-0.03, 0.03) * size
    r = np.hypot(xx - cx, yy - cy) / size
    brightness = rng.uniform(0.92, 1.08)
    body = np.array([120.0, 150.0, 90.0]) * brightness  # olive glass
    image = np.empty((size, size, 3), np.float32)
    image[:] = 28.0
    inside = r < 0.38
    shade = np.clip(1.15 - 0.9 * r, 0.0, 1.2)[..., None]
    image[inside] = (body * shade[inside])[:, :]
    ring = (r > 0.12) & (r < 0.18)
    image[ring] *= 0.55  # the bottle's mouth
    if textured:
        texture = 12.0 * np.sin(xx * 1.7 + yy * 0.9) * np.sin(yy * 1.3)
        image[inside] += texture[inside][:, None]
    image += rng.normal(0.0, 2.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def plant_defect(
    image: np.ndarray, kind: str, rng: np.random.Generator, scale: float = 1.5
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a ``kind`` defect (scratch | hole | print) on the object; return ``(image, mask)``.

    The defect lies on the object's body (between the mouth ring and the rim); ``scale`` grows or
    shrinks it. The mask is bool ``(H, W)``, True where the drawing changed the part.
    """
    if kind not in DEFECTS:
        raise ValueError(f"defect kind must be one of {DEFECTS}, found {kind!r}")
    size = image.shape[0]
    out = image.copy()
    layer = np.zeros(image.shape[:2], np.uint8)
    angle = rng.uniform(0, 2 * np.pi)
    radius = rng.uniform(0.22, 0.27) * size
    cx, cy = size / 2 + radius * np.cos(angle), size / 2 + radius * np.sin(angle)
    if kind == "scratch":
        direction = angle + np.pi / 2 + rng.uniform(-0.4, 0.4)
        half = 0.11 * size * scale
        p0 = (int(round(cx - half * np.cos(direction))), int(round(cy - half * np.sin(direction))))
        p1 = (int(round(cx + half * np.cos(direction))), int(round(cy + half * np.sin(direction))))
        thickness = max(1, int(round(size / 32 * scale)))
        cv2.line(layer, p0, p1, 255, thickness)
        colour = (235, 235, 220)
    elif kind == "hole":
        cv2.circle(layer, (int(round(cx)), int(round(cy))), max(2, int(round(0.07 * size * scale))), 255, -1)
        colour = (5, 5, 5)
    else:
        axes = (max(2, int(round(0.09 * size * scale))), max(1, int(round(0.05 * size * scale))))
        cv2.ellipse(layer, (int(round(cx)), int(round(cy))), axes, np.degrees(angle), 0, 360, 255, -1)
        colour = (220, 30, 40)
    mask = layer > 0
    out[mask] = colour
    return out, mask


def good_parts(count: int, size: int = 32, seed: int = 0, textured: bool = False) -> np.ndarray:
    """``count`` good parts stacked as uint8 ``(count, size, size, 3)``."""
    rng = np.random.default_rng(seed)
    return np.stack([make_part(rng, size, textured) for _ in range(count)])


def defective_parts(
    count: int, size: int = 32, seed: int = 100, kinds: tuple[str, ...] = DEFECTS, textured: bool = False
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``count`` defective parts, cycling through ``kinds``: images, masks ``(count, H, W)`` and kinds."""
    rng = np.random.default_rng(seed)
    images, masks, names = [], [], []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        image, mask = plant_defect(make_part(rng, size, textured), kind, rng)
        images.append(image)
        masks.append(mask)
        names.append(kind)
    return np.stack(images), np.stack(masks), names


def write_mvtec_parts(
    root: Path,
    category: str = "part",
    size: int = 32,
    n_train: int = 24,
    n_good: int = 4,
    n_per_defect: int = 3,
    kinds: tuple[str, ...] = DEFECTS,
    seed: int = 0,
    drop_mask: str | None = None,
) -> Path:
    """Write a category in the MVTec AD layout under ``root / category`` and return that folder.

    ``drop_mask`` names one defect image (``"hole/001.png"``) whose mask is left out, to test how a
    missing mask is reported.
    """
    folder = Path(root) / category
    rng = np.random.default_rng(seed)

    def save(path: Path, image: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(path), data)

    for i in range(n_train):
        save(folder / "train" / "good" / f"{i:03d}.png", make_part(rng, size))
    for i in range(n_good):
        save(folder / "test" / "good" / f"{i:03d}.png", make_part(rng, size))
    for kind in kinds:
        for i in range(n_per_defect):
            image, mask = plant_defect(make_part(rng, size), kind, rng)
            save(folder / "test" / kind / f"{i:03d}.png", image)
            if drop_mask != f"{kind}/{i:03d}.png":
                save(folder / "ground_truth" / kind / f"{i:03d}_mask.png", mask.astype(np.uint8) * 255)
    return folder


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``(N, H, W, 3)`` -> float32 ``(N, 3, H, W)`` in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0).contiguous()


def train_tiny_cae(images: np.ndarray, epochs: int = 60, seed: int = 0, batch_size: int = 16) -> AnomalyModel:
    """A BCAE1 fitted to ``images`` (uint8 ``(N, S, S, 3)``) with Adam; returned in eval mode."""
    torch.manual_seed(seed)
    size = images.shape[1]
    model = build_model(ModelConfig("bcae1", channels=3, size=(size, size)))
    data = to_tensor(images)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=generator)
        for start in range(0, len(data) - 1, batch_size):
            batch = data[order[start : start + batch_size]]
            if len(batch) < 2:
                continue
            loss = torch.nn.functional.mse_loss(model(batch), batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


@dataclass
class TinySetup:
    """A tiny trained BCAE1 on 32x32 parts, a scorer calibrated on 6 good + 6 defective parts,
    and 9 defective test parts (three of each kind) with their masks."""

    model: AnomalyModel
    scorer: AnomalyScorer
    defective: np.ndarray
    masks: np.ndarray
    kinds: list[str]
    good: np.ndarray


@functools.cache
def tiny_setup() -> TinySetup:
    """Trained once per test process (about 2 s on one CPU thread) and shared by the tests."""
    model = train_tiny_cae(good_parts(32, 32), epochs=20, batch_size=8)
    defective, masks, kinds = defective_parts(9, 32)
    good = good_parts(6, 32, seed=7)
    references = np.concatenate([good, defective[:6]])
    labels = np.r_[np.zeros(6, bool), np.ones(6, bool)]
    scorer = AnomalyScorer.calibrate(model, references, labels)
    return TinySetup(model, scorer, defective, masks, kinds, good)
