"""Synthetic anomalies for DRAEM: Perlin-noise masks filled with textures made from good images.

After Zavrtanik et al. (ICCV 2021, "DRAEM", section 3.2), without their external texture set (DTD):
every anomaly texture is made from the training images themselves or drawn procedurally.

* Mask ``M``: 2-D Perlin gradient noise at random power-of-two scales (cells per image side
  ``2^e`` with ``e`` drawn independently for each axis from ``min_scale_exponent ..
  max_scale_exponent``), randomly rotated (-90..90 degrees), thresholded at 0.5. The authors' code
  draws ``e`` with ``torch.randint(0, 6)``, i.e. 2^0 .. 2^5, which is the default here. The noise
  is defined on the image's own extent, so blobs scale with the input size.
* Texture ``A`` (one kind per image, ``source_weights``): another good image (or the same one)
  under a random geometric transform (flips, 90-degree rotations, a +-45 degree tilt, a random
  crop rescaled to full size); the same, cut into a grid of 2x2, 4x4 or 8x8 patches that are
  shuffled; or a procedural texture (fractal Perlin noise between two random colours, channel by
  channel for half of them). Then ``colour_ops`` (3, as the paper's random pick of 3 augmenters)
  colour operations drawn from: gamma, brightness, sharpness, hue / saturation, solarize,
  posterize, invert, auto-contrast, equalise.
* Blend (paper, eq. 1): ``I_a = (1 - M) I + (1 - beta) M I + beta M A`` with beta uniform in
  [0.1, 1.0]; with probability ``1 - anomaly_probability`` (0.5, as the paper) the image stays as
  it is and its mask is all zero. Outside the mask ``I_a`` equals ``I`` exactly.

Everything is vectorised over the batch (every operation runs on the whole batch and each image
keeps the result it drew, so nothing waits on the host), runs on the images' device and draws all
randomness from one ``torch.Generator`` on that device: the same seed gives the same batch.

Example::

    generator = torch.Generator(device=images.device).manual_seed(0)
    batch = synthesize_anomalies(images, sources, generator)   # images, sources: (B, C, H, W) in [0, 1]
    batch.images, batch.masks, batch.has_anomaly                 # (B, C, H, W), (B, 1, H, W), (B,)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from vad_core.errors import ConfigError

COLOUR_OPS = (
    "gamma", "brightness", "sharpness", "hue_saturation", "solarize",
    "posterize", "invert", "autocontrast", "equalize",
)  # fmt: skip
SOURCE_KINDS = ("image", "shuffled_patches", "noise_texture")
PATCH_GRIDS = (2, 4, 8)


@dataclass(frozen=True)
class SynthesisConfig:
    """How anomalies are drawn (defaults from the paper and the authors' code, see module doc)."""

    anomaly_probability: float = 0.5
    min_scale_exponent: int = 0
    max_scale_exponent: int = 5
    threshold: float = 0.5
    beta_range: tuple[float, float] = (0.1, 1.0)
    colour_ops: int = 3
    source_weights: tuple[float, float, float] = (0.5, 0.25, 0.25)  # image, patches, noise texture
    noise_octaves: int = 4

    def __post_init__(self) -> None:
        if not 0.0 <= self.anomaly_probability <= 1.0:
            raise ConfigError(
                "synthesis", f"anomaly_probability must be in [0, 1], found {self.anomaly_probability}"
            )
        if not 0 <= self.min_scale_exponent <= self.max_scale_exponent <= 8:
            raise ConfigError(
                "synthesis",
                f"need 0 <= min_scale_exponent <= max_scale_exponent <= 8, found "
                f"{self.min_scale_exponent}, {self.max_scale_exponent}",
            )
        low, high = self.beta_range
        if not 0.0 <= low <= high <= 1.0:
            raise ConfigError("synthesis", f"beta_range must lie in [0, 1], found {self.beta_range}")
        if not 0 <= self.colour_ops <= len(COLOUR_OPS):
            raise ConfigError(
                "synthesis", f"colour_ops must be in 0..{len(COLOUR_OPS)}, found {self.colour_ops}"
            )
        if len(self.source_weights) != 3 or min(self.source_weights) < 0 or sum(self.source_weights) <= 0:
            raise ConfigError(
                "synthesis", f"source_weights needs 3 non-negative weights, found {self.source_weights}"
            )
        if self.noise_octaves < 1:
            raise ConfigError("synthesis", f"noise_octaves must be >= 1, found {self.noise_octaves}")


@dataclass
class SyntheticAnomalies:
    """A batch with pasted anomalies: images ``(B, C, H, W)``, masks ``(B, 1, H, W)`` (0 / 1), flags ``(B,)``."""

    images: Tensor
    masks: Tensor
    has_anomaly: Tensor


# ------------------------------------------------------------------------------------------ random
def _uniform(
    generator: torch.Generator, shape: tuple[int, ...], low: float = 0.0, high: float = 1.0
) -> Tensor:
    return torch.rand(shape, generator=generator, device=generator.device) * (high - low) + low


def _integers(generator: torch.Generator, shape: tuple[int, ...], low: int, high: int) -> Tensor:
    """Integers in ``low .. high`` inclusive."""
    return torch.randint(low, high + 1, shape, generator=generator, device=generator.device)


def _per_image(values: Tensor) -> Tensor:
    """``(B,)`` -> ``(B, 1, 1, 1)`` for broadcasting over images."""
    return values.view(-1, 1, 1, 1)


# ------------------------------------------------------------------------------------------ Perlin
def _fade(t: Tensor) -> Tensor:
    return t * t * t * (t * (t * 6 - 15) + 10)


def perlin_noise(size: tuple[int, int], cells: Tensor, generator: torch.Generator, max_cells: int) -> Tensor:
    """2-D Perlin gradient noise ``(B, H, W)``, values in about [-1, 1], axis-aligned.

    ``cells`` ``(B, 2)`` holds each image's number of noise cells along (y, x), at most
    ``max_cells``; each image gets its own random gradients and a random sub-cell phase. The
    coordinates of a row (column) depend on the row (column) only, so the per-pixel work is one
    gather of the four corner gradients and the interpolation.
    """
    height, width = size
    batch, device = cells.shape[0], generator.device
    lattice = int(max_cells) + 2
    phase = _uniform(generator, (batch, 2))
    y = (torch.arange(height, device=device) + 0.5)[None] * (cells[:, :1].float() / height) + phase[:, :1]
    x = (torch.arange(width, device=device) + 0.5)[None] * (cells[:, 1:].float() / width) + phase[:, 1:]
    y0, x0 = torch.floor(y), torch.floor(x)
    fy, fx = (y - y0)[:, :, None], (x - x0)[:, None, :]  # (B, H, 1), (B, 1, W)
    index = (y0.long() * lattice)[:, :, None] + x0.long()[:, None, :]
    angles = _uniform(generator, (batch, lattice * lattice + lattice + 1), 0.0, 2.0 * math.pi)
    span = lattice * lattice
    offsets = (0, 1, lattice, lattice + 1)  # corners (y0, x0), (y0, x1), (y1, x0), (y1, x1)
    corner_angles = torch.stack([angles[:, o : o + span] for o in offsets], dim=1)  # (B, 4, L*L)
    gathered = torch.gather(corner_angles, 2, index.view(batch, 1, -1).expand(-1, 4, -1))
    gathered = gathered.view(batch, 4, height, width)
    sin, cos = torch.sin(gathered), torch.cos(gathered)  # gradient (gy, gx) of each corner
    n00 = sin[:, 0] * fy + cos[:, 0] * fx
    n01 = sin[:, 1] * fy + cos[:, 1] * (fx - 1)
    n10 = sin[:, 2] * (fy - 1) + cos[:, 2] * fx
    n11 = sin[:, 3] * (fy - 1) + cos[:, 3] * (fx - 1)
    ty, tx = _fade(fy), _fade(fx)
    return math.sqrt(2.0) * torch.lerp(torch.lerp(n00, n01, tx), torch.lerp(n10, n11, tx), ty)


def rotate_maps(maps: Tensor, angle: Tensor) -> Tensor:
    """Rotate ``(B, 1, H, W)`` maps by ``angle`` ``(B,)`` radians about the centre; zeros outside."""
    height, width = maps.shape[-2:]
    cos, sin = torch.cos(angle), torch.sin(angle)
    zeros = torch.zeros_like(angle)
    theta = torch.stack(
        [
            torch.stack([cos, -sin * height / width, zeros], dim=1),
            torch.stack([sin * width / height, cos, zeros], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta.to(maps.dtype), list(maps.shape), align_corners=False)
    return F.grid_sample(maps, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def perlin_masks(
    batch: int, size: tuple[int, int], generator: torch.Generator, config: SynthesisConfig | None = None
) -> Tensor:
    """Binary float masks ``(B, 1, H, W)``: Perlin noise at random scales, rotated, above the threshold.

    Every image gets a noise mask here; ``synthesize_anomalies`` zeroes the masks of the images
    drawn to stay good. As in the authors' code the noise image is rotated (-90..90 degrees), so
    corners it leaves hold no anomaly.
    """
    config = config or SynthesisConfig()
    exponents = _integers(generator, (batch, 2), config.min_scale_exponent, config.max_scale_exponent)
    noise = perlin_noise(size, 2.0 ** exponents.float(), generator, 2**config.max_scale_exponent)
    angle = _uniform(generator, (batch,), -math.pi / 2, math.pi / 2)
    return (rotate_maps(noise[:, None], angle) > config.threshold).float()


def fractal_noise(batch: int, size: tuple[int, int], generator: torch.Generator, octaves: int = 4) -> Tensor:
    """Fractal value noise ``(B, H, W)`` in [0, 1] per image: octaves of 4, 8, 16 ... cells, each a
    bicubic upsampling of random values, weighted by random per-image amplitudes."""
    total = torch.zeros(batch, 1, *size, device=generator.device)
    for octave in range(octaves):
        cells = 4 * 2**octave
        values = _uniform(generator, (batch, 1, cells + 1, cells + 1))
        amplitude = _per_image(_uniform(generator, (batch,)))
        total = total + amplitude * F.interpolate(values, size=size, mode="bicubic", align_corners=True)
    low = total.flatten(1).amin(dim=1).view(-1, 1, 1, 1)
    high = total.flatten(1).amax(dim=1).view(-1, 1, 1, 1)
    return ((total - low) / (high - low).clamp_min(1e-6))[:, 0]


# ------------------------------------------------------------------------------------ colour ops
def _gamma(x: Tensor, generator: torch.Generator) -> Tensor:
    gamma = _uniform(generator, (*x.shape[:2], 1, 1), 0.5, 2.0)  # per channel
    return x.clamp_min(0.0) ** gamma


def _brightness(x: Tensor, generator: torch.Generator) -> Tensor:
    scale = _per_image(_uniform(generator, (x.shape[0],), 0.8, 1.2))
    shift = _per_image(_uniform(generator, (x.shape[0],), -30 / 255, 30 / 255))
    return x * scale + shift


def _sharpness(x: Tensor, generator: torch.Generator) -> Tensor:
    """Blend with a 3x3 blur by a factor in [0, 2] (0 = blurred, 1 = unchanged, 2 = sharpened)."""
    blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    factor = _per_image(_uniform(generator, (x.shape[0],), 0.0, 2.0))
    return blurred + factor * (x - blurred)


def _hue_saturation(x: Tensor, generator: torch.Generator) -> Tensor:
    """Rotate the chroma about the grey axis (hue, +-60 degrees) and scale it (saturation 0.5..1.5)."""
    angle = _per_image(_uniform(generator, (x.shape[0],), -math.pi / 3, math.pi / 3))
    saturation = _per_image(_uniform(generator, (x.shape[0],), 0.5, 1.5))
    if x.shape[1] != 3:
        return x
    grey = x.mean(dim=1, keepdim=True)
    chroma = x - grey
    r, g, b = chroma[:, 0:1], chroma[:, 1:2], chroma[:, 2:3]
    cross = torch.cat([g - b, b - r, r - g], dim=1) / math.sqrt(3.0)  # axis (1, 1, 1)/sqrt(3) x chroma
    rotated = chroma * torch.cos(angle) + cross * torch.sin(angle)
    return grey + saturation * rotated


def _solarize(x: Tensor, generator: torch.Generator) -> Tensor:
    threshold = _per_image(_uniform(generator, (x.shape[0],), 32 / 255, 128 / 255))
    active = _per_image(_uniform(generator, (x.shape[0],)) < 0.5)
    return torch.where(active & (x >= threshold), 1.0 - x, x)


def _posterize(x: Tensor, generator: torch.Generator) -> Tensor:
    step = _per_image(2.0 ** (8 - _integers(generator, (x.shape[0],), 1, 7).float()))
    return torch.floor(x.clamp(0.0, 1.0) * 255.0 / step) * step / 255.0


def _invert(x: Tensor, generator: torch.Generator) -> Tensor:
    return 1.0 - x


def _autocontrast(x: Tensor, generator: torch.Generator) -> Tensor:
    low = x.amin(dim=(2, 3), keepdim=True)
    high = x.amax(dim=(2, 3), keepdim=True)
    return (x - low) / (high - low).clamp_min(1e-3)


def _equalize(x: Tensor, generator: torch.Generator) -> Tensor:
    """Histogram equalisation per channel (256 levels): each value becomes its empirical CDF."""
    levels = (x.clamp(0.0, 1.0) * 255.0).round().long().flatten(2)
    counts = torch.zeros(*levels.shape[:2], 256, device=x.device, dtype=x.dtype)
    counts.scatter_add_(2, levels, x.new_ones(()).expand(levels.shape))
    cdf = counts.cumsum(dim=2) / levels.shape[2]
    return torch.gather(cdf, 2, levels).view_as(x)


_OPS = {
    "gamma": _gamma, "brightness": _brightness, "sharpness": _sharpness,
    "hue_saturation": _hue_saturation, "solarize": _solarize, "posterize": _posterize,
    "invert": _invert, "autocontrast": _autocontrast, "equalize": _equalize,
}  # fmt: skip


def colour_augment(images: Tensor, generator: torch.Generator, ops: int = 3) -> Tensor:
    """Apply ``ops`` colour operations, drawn per image without repeats from ``COLOUR_OPS``; in [0, 1]."""
    batch = images.shape[0]
    positions = _uniform(generator, (batch, len(COLOUR_OPS))).argsort(dim=1).argsort(dim=1)
    chosen = positions < ops
    out = images
    for index, name in enumerate(COLOUR_OPS):
        changed = _OPS[name](out, generator).clamp(0.0, 1.0)
        out = torch.where(_per_image(chosen[:, index]), changed, out)
    return out.clamp(0.0, 1.0)


# ------------------------------------------------------------------------------------- geometry
def geometric_augment(images: Tensor, generator: torch.Generator) -> Tensor:
    """Random flips, 90-degree rotation, +-45 degree tilt and a crop of 50-100 % rescaled to full size."""
    batch = images.shape[0]
    quarter = _integers(generator, (batch,), 0, 3).float() * (math.pi / 2)
    angle = quarter + _uniform(generator, (batch,), -math.pi / 4, math.pi / 4)
    flips = torch.where(_uniform(generator, (batch, 2)) < 0.5, -1.0, 1.0)
    scale = _uniform(generator, (batch,), 0.5, 1.0)
    shift = _uniform(generator, (batch, 2), -1.0, 1.0) * (1.0 - scale)[:, None]
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack(
        [
            torch.stack([cos * flips[:, 0], -sin * flips[:, 1], shift[:, 0]], dim=1),
            torch.stack([sin * flips[:, 0], cos * flips[:, 1], shift[:, 1]], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def shuffle_patches(images: Tensor, generator: torch.Generator) -> Tensor:
    """Cut each image into a 2x2, 4x4 or 8x8 grid (drawn per image) and permute the patches.

    Every grid is expressed as a permutation of the 8x8 fine patches (a coarse cell moves its
    fine patches together), so the whole batch is one gather.
    """
    batch, channels, height, width = images.shape
    fine = PATCH_GRIDS[-1]
    device = images.device
    grids = torch.tensor(PATCH_GRIDS, device=device)[_integers(generator, (batch,), 0, len(PATCH_GRIDS) - 1)]
    per_cell = (fine // grids).view(-1, 1, 1)  # fine patches along one side of a coarse cell
    rows = torch.arange(fine, device=device).view(1, -1, 1)
    cols = torch.arange(fine, device=device).view(1, 1, -1)
    coarse = (rows // per_cell) * grids.view(-1, 1, 1) + cols // per_cell  # (B, 8, 8)
    unused = torch.arange(fine * fine, device=device)[None] >= (grids * grids)[:, None]
    order = (_uniform(generator, (batch, fine * fine)) + 2.0 * unused).argsort(dim=1)
    source = torch.gather(order, 1, coarse.flatten(1)).view_as(coarse)  # coarse cell each comes from
    g = grids.view(-1, 1, 1)
    src_row = (source // g) * per_cell + rows % per_cell
    src_col = (source % g) * per_cell + cols % per_cell
    src = (src_row * fine + src_col).flatten(1)  # (B, 64) fine patch read by each output patch
    ph, pw = height // fine, width // fine
    crop = images[..., : ph * fine, : pw * fine]
    patches = crop.reshape(batch, channels, fine, ph, fine, pw).permute(0, 2, 4, 1, 3, 5)
    patches = patches.reshape(batch, fine * fine, channels, ph, pw)
    moved = torch.gather(patches, 1, src.view(batch, -1, 1, 1, 1).expand_as(patches))
    out = moved.reshape(batch, fine, fine, channels, ph, pw).permute(0, 3, 1, 4, 2, 5)
    out = out.reshape(batch, channels, ph * fine, pw * fine)
    if out.shape[-2:] != images.shape[-2:]:
        out = F.interpolate(out, size=(height, width), mode="nearest")
    return out


def noise_textures(like: Tensor, generator: torch.Generator, octaves: int = 4) -> Tensor:
    """Fractal noise between two random colours ``(B, C, H, W)``; per channel for half the images."""
    batch, channels, height, width = like.shape
    noise = fractal_noise(batch * channels, (height, width), generator, octaves)
    noise = noise.view(batch, channels, height, width)
    shared = _per_image(_uniform(generator, (batch,)) < 0.5)
    noise = torch.where(shared, noise[:, :1].expand_as(noise), noise)
    low = _uniform(generator, (batch, channels, 1, 1))
    high = _uniform(generator, (batch, channels, 1, 1))
    return (low + (high - low) * noise).to(like.dtype)


def anomaly_textures(
    sources: Tensor, generator: torch.Generator, config: SynthesisConfig | None = None
) -> Tensor:
    """One texture per image ``(B, C, H, W)`` in [0, 1]: a kind drawn by ``source_weights``, then colours."""
    config = config or SynthesisConfig()
    weights = torch.tensor(config.source_weights, device=sources.device, dtype=torch.float32)
    thresholds = torch.cumsum(weights / weights.sum(), dim=0)
    draw = _uniform(generator, (sources.shape[0], 1))
    kind = (draw > thresholds[None, :-1]).sum(dim=1)  # 0 image, 1 shuffled patches, 2 noise
    moved = geometric_augment(sources, generator)
    shuffled = shuffle_patches(moved, generator)
    noise = noise_textures(sources, generator, config.noise_octaves)
    texture = torch.where(_per_image(kind == 0), moved, torch.where(_per_image(kind == 1), shuffled, noise))
    return colour_augment(texture.clamp(0.0, 1.0), generator, config.colour_ops)


# ---------------------------------------------------------------------------------------- blend
def synthesize_anomalies(
    images: Tensor,
    sources: Tensor | None = None,
    generator: torch.Generator | None = None,
    config: SynthesisConfig | None = None,
) -> SyntheticAnomalies:
    """Paste anomalies into good ``images`` ``(B, C, H, W)`` in [0, 1] (see module docstring).

    ``sources`` (same shape; default: ``images``) are the good images the textures are made from;
    ``generator`` must live on the images' device (default: a fresh one seeded 0).
    """
    config = config or SynthesisConfig()
    if images.dim() != 4:
        raise ConfigError("synthesis", f"expected images (B, C, H, W), found {tuple(images.shape)}")
    sources = images if sources is None else sources
    if sources.shape != images.shape:
        raise ConfigError(
            "synthesis", f"sources {tuple(sources.shape)} differ from images {tuple(images.shape)}"
        )
    if generator is None:
        generator = torch.Generator(device=images.device).manual_seed(0)
    if torch.device(generator.device).type != images.device.type:
        raise ConfigError("synthesis", f"generator on {generator.device} but images on {images.device}")
    images = images.float()
    batch = images.shape[0]
    masks = perlin_masks(batch, tuple(images.shape[-2:]), generator, config)
    keep = _uniform(generator, (batch,)) < config.anomaly_probability
    masks = masks * _per_image(keep).float()
    textures = anomaly_textures(sources.float(), generator, config)
    beta = _per_image(_uniform(generator, (batch,), *config.beta_range))
    blended = images + beta * (textures - images)  # (1 - beta) I + beta A inside the mask
    out = torch.where(masks > 0, blended, images)
    return SyntheticAnomalies(out, masks, masks.flatten(1).amax(dim=1) > 0)


__all__ = [
    "COLOUR_OPS",
    "SOURCE_KINDS",
    "SynthesisConfig",
    "SyntheticAnomalies",
    "anomaly_textures",
    "colour_augment",
    "fractal_noise",
    "geometric_augment",
    "noise_textures",
    "perlin_masks",
    "perlin_noise",
    "shuffle_patches",
    "synthesize_anomalies",
]
