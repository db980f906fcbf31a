"""Epsilon layer-wise relevance propagation (e-LRP) for convolutional autoencoders (thesis 3.8.1).

Our own implementation for sequential frame autoencoders (BCAE1, BCAE2 and any
``ConvAutoEncoder`` built from Conv2d, ConvTranspose2d, BatchNorm2d, ReLU, LeakyReLU, Sigmoid).
The explained output is the normalised anomaly score of thesis 3.8.5 *without* the logistic (the
thesis applies e-LRP to the plain CAE plus its loss layer):

    s(x) = 1 / (C H W scale) * sum_i (x_i - xhat_i)^2,      xhat = f(x)

How relevance flows (the design decisions, top to bottom):

1. **Loss layer.** Each term ``r_i = d_i^2 / (C H W scale)`` with ``d_i = x_i - xhat_i`` is a
   linear layer ``d_i = (+1) x_i + (-1) xhat_i`` followed by an element-wise square. The square is
   treated like an activation (relevance passes through unchanged to ``d_i``); the linear layer is
   split by LRP-0 (its epsilon is 0 because ``r_i / d_i = d_i / (C H W scale)`` is exact, with no
   division by zero):  ``R(x_i) = x_i d_i / (C H W scale)`` goes to the **input copy** and
   ``R(xhat_i) = -xhat_i d_i / (C H W scale)`` to the **reconstruction**. The two sum to ``r_i``, so
   the loss layer conserves the score exactly; where the reconstruction is right (``d_i = 0``) both
   are zero.
2. **Decoder and encoder.** ``R(xhat)`` passes through the sigmoid unchanged and is redistributed
   layer by layer with the epsilon rule of eq. 3.18,
   ``R_j = sum_k a_j w_jk / (z_k + eps sign(z_k)) R_k`` (``z_k`` with bias), over every transpose
   convolution and convolution. BatchNorm is folded into the convolution before it (eval-mode
   statistics), ReLU and LeakyReLU pass relevance through unchanged. Biases (a folded BatchNorm
   has one) and ``eps`` absorb some relevance; on a bias-free model with small ``eps`` the input
   receives all of it.
3. **Input.** The input relevance is the sum of both paths: the input-copy term of step 1 (a
   pixel-exact, sharp map close to the signed error) and what comes back through the encoder (a
   coarse, blocky map: everything passed through the bottleneck of H/32 x W/32 cells). The
   heatmap is their sum over channels; ``extras`` keeps both paths apart.

Rules per layer type (``LRPRules``): ``"epsilon"`` (default everywhere, the thesis' e-LRP),
``"zero"`` (LRP-0), ``"gamma"`` (LRP-gamma, favours positive contributions) for convolutions, and
``"zbox"`` for the first layer (pixel bounds ``low``/``high``). All of them conserve relevance on
bias-free layers.

Example::

    result = lrp_relevance(scorer, frame)             # frame (C, H, W) in [0, 1]
    print(result.score, result.relevance.sum(), result.conservation)
    heatmap = result.heatmap                          # (H, W), signed
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vad_core.errors import ConfigError
from vad_core.explain.explanation import MethodResult, Progress
from vad_core.explain.scorer import AnomalyScorer, ExplainInput

LINEAR_RULES = ("epsilon", "zero", "gamma")
INPUT_RULES = ("epsilon", "zero", "gamma", "zbox")
LOSS_RULES = ("lrp0", "midpoint")
_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.Sigmoid)


@dataclass(frozen=True)
class LRPRules:
    """Which rule each layer type uses, and the rules' parameters.

    Attributes:
        epsilon: stabiliser of eq. 3.18 (absolute, added with the sign of ``z``).
        input_rule: rule of the first convolution (the one that sees pixels).
        encoder_rule: rule of the other encoder convolutions.
        decoder_rule: rule of the decoder transpose convolutions.
        gamma: weight of positive contributions in the ``"gamma"`` rule.
        low, high: pixel bounds of the ``"zbox"`` rule (inputs are in [0, 1]).
        loss_rule: how the loss layer splits ``d_i^2`` between input copy and reconstruction:
            ``"lrp0"`` (``x_i d_i`` and ``-xhat_i d_i``, the epsilon rule of the linear layer
            ``d = x - xhat``) or ``"midpoint"`` (half each: contributions measured from the root
            point ``x = xhat = (x + xhat) / 2``, which does not vanish on black pixels).
    """

    epsilon: float = 0.01
    input_rule: str = "epsilon"
    encoder_rule: str = "epsilon"
    decoder_rule: str = "epsilon"
    gamma: float = 0.25
    low: float = 0.0
    high: float = 1.0
    loss_rule: str = "lrp0"

    def __post_init__(self) -> None:
        if self.loss_rule not in LOSS_RULES:
            raise ConfigError("e-LRP", f"loss_rule must be one of {LOSS_RULES}, found {self.loss_rule!r}")
        if self.epsilon < 0:
            raise ConfigError("e-LRP", f"epsilon must be >= 0, found {self.epsilon}")
        if self.input_rule not in INPUT_RULES:
            raise ConfigError("e-LRP", f"input_rule must be one of {INPUT_RULES}, found {self.input_rule!r}")
        for name in ("encoder_rule", "decoder_rule"):
            value = getattr(self, name)
            if value not in LINEAR_RULES:
                raise ConfigError("e-LRP", f"{name} must be one of {LINEAR_RULES}, found {value!r}")
        if self.gamma < 0:
            raise ConfigError("e-LRP", f"gamma must be >= 0, found {self.gamma}")


@dataclass
class _Linear:
    """A convolution or transpose convolution with the following BatchNorm folded in."""

    transpose: bool
    weight: Tensor
    bias: Tensor | None
    stride: Any
    padding: Any
    output_padding: Any
    dilation: Any
    groups: int
    where: str  # "input" | "encoder" | "decoder"
    name: str

    def __call__(self, a: Tensor, weight: Tensor | None = None, bias: Tensor | None | bool = True) -> Tensor:
        w = self.weight if weight is None else weight
        b = self.bias if bias is True else (bias if isinstance(bias, Tensor) else None)
        if self.transpose:
            return F.conv_transpose2d(
                a, w, b, self.stride, self.padding, self.output_padding, self.groups, self.dilation
            )
        return F.conv2d(a, w, b, self.stride, self.padding, self.dilation, self.groups)

    def fold_batch_norm(self, bn: nn.BatchNorm2d) -> None:
        """Fold eval-mode BatchNorm ``y = gamma (z - mean) / sqrt(var + eps) + beta`` into weights and bias."""
        dtype = self.weight.dtype
        mean = (
            bn.running_mean.to(dtype)
            if bn.running_mean is not None
            else torch.zeros_like(bn.weight, dtype=dtype)
        )
        var = (
            bn.running_var.to(dtype)
            if bn.running_var is not None
            else torch.ones_like(bn.weight, dtype=dtype)
        )
        gamma = bn.weight.detach().to(dtype) if bn.weight is not None else torch.ones_like(mean)
        beta = bn.bias.detach().to(dtype) if bn.bias is not None else torch.zeros_like(mean)
        factor = gamma / torch.sqrt(var + bn.eps)
        shape = (1, -1, 1, 1) if self.transpose else (-1, 1, 1, 1)  # out channels: dim 1 (transpose) or 0
        self.weight = self.weight * factor.reshape(shape)
        bias = self.bias if self.bias is not None else torch.zeros_like(mean)
        self.bias = (bias - mean) * factor + beta
        self.name += "+BN"


@dataclass
class _Activation:
    kind: str  # "relu" | "leaky_relu" | "sigmoid"
    slope: float = 0.0

    def __call__(self, z: Tensor) -> Tensor:
        if self.kind == "relu":
            return F.relu(z)
        if self.kind == "leaky_relu":
            return F.leaky_relu(z, self.slope)
        return torch.sigmoid(z)


Step = _Linear | _Activation


@dataclass
class LRPResult:
    """Input relevance of one frame and where the score's relevance went.

    Attributes:
        relevance: ``(C, H, W)`` input relevance, both paths summed.
        direct: ``(H, W)`` relevance of the input copy (loss layer, step 1), summed over channels.
        through_model: ``(H, W)`` relevance that came back through decoder and encoder.
        score: the explained normalised score ``s(x)``.
        layer_sums: total relevance entering each linear layer from the output side, input last.
        reconstruction: ``(C, H, W)`` the model's reconstruction.
    """

    relevance: np.ndarray
    direct: np.ndarray
    through_model: np.ndarray
    score: float
    layer_sums: list[tuple[str, float]] = field(default_factory=list)
    reconstruction: np.ndarray | None = None

    @property
    def heatmap(self) -> np.ndarray:
        """``(H, W)`` float32 signed relevance summed over channels."""
        return self.relevance.sum(axis=0).astype(np.float32)

    @property
    def total(self) -> float:
        return float(self.relevance.sum())

    @property
    def conservation(self) -> float:
        """Input relevance / explained score (1.0 = perfectly conserved)."""
        return self.total / self.score if self.score else float("nan")


def _walk(module: nn.Module, prefix: str) -> Iterator[tuple[str, nn.Module]]:
    """Leaf layers of nested ``nn.Sequential`` containers, in execution order."""
    if isinstance(module, nn.Sequential):
        for name, child in module.named_children():
            yield from _walk(child, f"{prefix}.{name}")
    else:
        yield prefix, module


def lrp_steps(model: nn.Module, dtype: torch.dtype = torch.float64) -> list[Step]:
    """The model as a list of linear layers (BatchNorm folded) and activations.

    Raises:
        ConfigError: the model is not a sequential frame autoencoder of supported layers.
    """
    from vad_core.models.bcae import ConvAutoEncoder

    name = model.config.name if getattr(model, "config", None) else type(model).__name__
    if not (
        isinstance(model, ConvAutoEncoder)
        and type(model).forward is ConvAutoEncoder.forward
        and type(model).encode is ConvAutoEncoder.encode
    ):
        raise ConfigError(
            "e-LRP",
            f"{name}: e-LRP needs a sequential frame autoencoder (encoder and decoder of Conv2d, "
            "ConvTranspose2d, BatchNorm2d, ReLU, LeakyReLU, Sigmoid) such as bcae1 or bcae2; "
            "use SHAP, LIME or counterfactuals for this model",
        )
    steps: list[Step] = []
    seen_linear = False
    for part in ("encoder", "decoder"):
        for path, layer in _walk(getattr(model, part), part):
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
                transpose = isinstance(layer, nn.ConvTranspose2d)
                where = part if seen_linear else "input"
                seen_linear = True
                steps.append(
                    _Linear(
                        transpose=transpose,
                        weight=layer.weight.detach().to(dtype).contiguous(),
                        bias=None if layer.bias is None else layer.bias.detach().to(dtype),
                        stride=layer.stride,
                        padding=layer.padding,
                        output_padding=layer.output_padding if transpose else 0,
                        dilation=layer.dilation,
                        groups=layer.groups,
                        where=where,
                        name=f"{path} {type(layer).__name__}",
                    )
                )
            elif isinstance(layer, nn.BatchNorm2d):
                if not steps or not isinstance(steps[-1], _Linear) or steps[-1].name.endswith("+BN"):
                    raise ConfigError("e-LRP", f"{name}: {path} BatchNorm2d does not follow a convolution")
                steps[-1].fold_batch_norm(layer)
            elif isinstance(layer, nn.ReLU):
                steps.append(_Activation("relu"))
            elif isinstance(layer, nn.LeakyReLU):
                steps.append(_Activation("leaky_relu", float(layer.negative_slope)))
            elif isinstance(layer, nn.Sigmoid):
                steps.append(_Activation("sigmoid"))
            elif isinstance(layer, nn.Identity):
                continue
            else:
                raise ConfigError(
                    "e-LRP",
                    f"{name}: layer {path} ({type(layer).__name__}) is not supported by e-LRP "
                    "(Conv2d, ConvTranspose2d, BatchNorm2d, ReLU, LeakyReLU, Sigmoid)",
                )
    if not steps or not isinstance(steps[-1], _Activation) or steps[-1].kind != "sigmoid":
        raise ConfigError("e-LRP", f"{name}: expected the decoder to end in a sigmoid")
    return steps


def _stabilise(z: Tensor, epsilon: float) -> Tensor:
    sign = torch.where(z >= 0, torch.ones_like(z), -torch.ones_like(z))
    return z + epsilon * sign


def _propagate(step: _Linear, a: Tensor, relevance: Tensor, rules: LRPRules) -> Tensor:
    """Relevance of the layer input ``a`` given the relevance of its output (``z`` before activation)."""
    rule = {"input": rules.input_rule, "encoder": rules.encoder_rule, "decoder": rules.decoder_rule}[
        step.where
    ]
    epsilon = 0.0 if rule == "zero" else rules.epsilon
    a = a.detach().requires_grad_(True)
    if rule == "zbox":
        low = torch.full_like(a, rules.low).requires_grad_(True)
        high = torch.full_like(a, rules.high).requires_grad_(True)
        positive, negative = step.weight.clamp(min=0), step.weight.clamp(max=0)
        z = step(a, bias=False) - step(low, positive, bias=False) - step(high, negative, bias=False)
        s = (relevance / _stabilise(z, epsilon)).detach()
        grad_a, grad_low, grad_high = torch.autograd.grad((z * s).sum(), (a, low, high))
        return (a * grad_a + low * grad_low + high * grad_high).detach()
    if rule == "gamma":
        weight = step.weight + rules.gamma * step.weight.clamp(min=0)
        bias = None if step.bias is None else step.bias + rules.gamma * step.bias.clamp(min=0)
        z = step(a, weight, bias if bias is not None else False)
    else:
        z = step(a)
    s = (relevance / _stabilise(z, epsilon)).detach()
    (grad,) = torch.autograd.grad((z * s).sum(), a)
    return (a * grad).detach()


def lrp_relevance(
    scorer: AnomalyScorer,
    frame: Tensor,
    rules: LRPRules | None = None,
    dtype: torch.dtype | None = None,
    progress: Progress | None = None,
) -> LRPResult:
    """e-LRP of the normalised score of one frame ``(C, H, W)`` in [0, 1] (see module docstring).

    Args:
        scorer: supplies the model and the normalisation ``scale``; must wrap a frame model and
            use the ``"mse"`` error.
        frame: the explained frame at model size.
        rules: rule per layer type; default epsilon 0.01 everywhere.
        dtype: computation precision; default float64 on the CPU (exact conservation checks),
            float32 on a GPU.
        progress: reports one unit per layer and honours cancellation.

    Raises:
        ConfigError: unsupported model, clip context, or SSIM error.
    """
    rules = rules or LRPRules()
    if scorer.context is not None:
        raise ConfigError("e-LRP", "e-LRP explains frame models only; use SHAP, LIME or counterfactuals")
    if scorer.error != "mse":
        raise ConfigError("e-LRP", f"e-LRP explains the squared error, found error {scorer.error!r}")
    device = scorer.device
    if dtype is None:
        dtype = torch.float64 if device.type == "cpu" else torch.float32
    steps = lrp_steps(scorer.model, dtype)
    for step in steps:
        if isinstance(step, _Linear):
            step.weight = step.weight.to(device)
            step.bias = None if step.bias is None else step.bias.to(device)
    x = frame.detach().to(device=device, dtype=dtype)[None].contiguous()
    tick = progress or Progress(len(steps))
    with torch.no_grad():
        activations: list[Tensor] = []
        a = x
        for step in steps:
            if isinstance(step, _Linear):
                activations.append(a)
            a = step(a)
        reconstruction = a
        check = scorer.model(x.float().contiguous(memory_format=torch.channels_last))
    if not torch.allclose(reconstruction.float(), check.float(), atol=1e-3, rtol=1e-3):
        raise ConfigError(
            "e-LRP", "the layer-by-layer forward pass differs from the model's own (unsupported structure)"
        )
    norm = float(x.numel()) * scorer.calibration.scale
    difference = x - reconstruction
    if rules.loss_rule == "lrp0":
        direct = x * difference / norm
        relevance = -reconstruction * difference / norm  # enters the sigmoid output, passes through it
    else:
        direct = difference * difference / (2.0 * norm)
        relevance = direct.clone()
    score = float((difference * difference).sum() / norm)
    layer_sums: list[tuple[str, float]] = []
    linear_index = len(activations)
    for step in reversed(steps):
        if isinstance(step, _Activation):
            continue  # pass-through: relevance of z equals relevance of the activation
        linear_index -= 1
        layer_sums.append((step.name, float(relevance.sum())))
        relevance = _propagate(step, activations[linear_index], relevance, rules)
        tick.advance(1)
    through = relevance
    total = (direct + through)[0]
    layer_sums.append(("input (through the model)", float(through.sum())))
    layer_sums.append(("input (copy in the loss layer)", float(direct.sum())))
    return LRPResult(
        relevance=total.float().cpu().numpy(),
        direct=direct[0].sum(0).float().cpu().numpy(),
        through_model=through[0].sum(0).float().cpu().numpy(),
        score=score,
        layer_sums=layer_sums,
        reconstruction=reconstruction[0].float().cpu().numpy(),
    )


def explain_lrp(
    scorer: AnomalyScorer,
    inputs: ExplainInput,
    progress: Progress,
    seed: int = 0,
    epsilon: float = 0.01,
    input_rule: str = "epsilon",
    encoder_rule: str = "epsilon",
    decoder_rule: str = "epsilon",
    gamma: float = 0.25,
    loss_rule: str = "lrp0",
    dtype: str | None = None,
) -> MethodResult:
    """e-LRP as an explanation method (registered as ``"lrp"``).

    Extras: ``direct`` and ``through_model`` maps (H, W) at model size, ``relevance`` (C, H, W),
    ``explained_score``, ``relevance_sum``, ``conservation`` (sum / score) and ``layer_sums``.
    The seed is unused (e-LRP is deterministic).
    """
    rules = LRPRules(epsilon, input_rule, encoder_rule, decoder_rule, gamma, loss_rule=loss_rule)
    torch_dtype = {None: None, "float32": torch.float32, "float64": torch.float64}.get(dtype, "bad")
    if torch_dtype == "bad":
        raise ConfigError("e-LRP", f"dtype must be 'float32' or 'float64', found {dtype!r}")
    progress.total = 16
    result = lrp_relevance(scorer, inputs.frame, rules, torch_dtype, progress)  # type: ignore[arg-type]
    extras: dict[str, Any] = {
        "direct": result.direct,
        "through_model": result.through_model,
        "relevance": result.relevance,
        "explained_score": result.score,
        "relevance_sum": result.total,
        "conservation": result.conservation,
        "layer_sums": result.layer_sums,
        "reconstruction": result.reconstruction,
    }
    settings = {**asdict(rules), "dtype": dtype or "auto"}
    return MethodResult(heatmap=result.heatmap, signed=True, extras=extras, settings=settings)
