"""Convolutional recurrent cells ConvRNN, ConvLSTM and ConvGRU, and a layer that unrolls one over time.

Implements equations 3.15 (ConvRNN), 3.16 (ConvLSTM with Hadamard peepholes, after Shi et al. 2015)
and 3.17 (ConvGRU) of the thesis (seed 003, section 3.7.2): the fully connected maps of RNN / LSTM /
GRU are replaced by 3x3 convolutions so that states keep their spatial layout.

Every cell splits into two parts:

* ``project(x)`` - the input-to-state convolution for all gates at once. With ``stride=2`` it halves
  H and W like a BCAE1 encoder layer; with ``transpose=True`` it is a stride-2 ``ConvTranspose2d``
  that doubles H and W (the "recurrent transpose convolution" cells of a recurrent decoder).
  It is followed by BatchNorm (our choice, after the "2D Conv" blocks of 3.7.2, which pair every
  convolution with BatchNorm; the norm's shift replaces the input bias). ``norm=False`` gives a plain
  biased convolution.
* ``recur(projected, state)`` - the state-to-state convolutions (stride 1, at the output resolution)
  and the gate equations.

``forward(x, state)`` is one time step: ``(B, C, H, W)`` and a state tuple give ``(output, new_state)``.
States start at zeros (the thesis initialises them randomly; zeros make scoring deterministic).
``RecurrentLayer`` unrolls a cell over ``(B, T, C, H, W)``; it computes ``project`` for all T steps in
one batched call, so its BatchNorm statistics are taken over B*T maps.

Example::

    cell = ConvLSTMCell(64, 96, size=(8, 8), stride=2)       # (B, 64, 16, 16) -> (B, 96, 8, 8)
    output, state = cell(torch.rand(2, 64, 16, 16))           # state = (H, C), zeros before
    outputs, last = RecurrentLayer(cell)(torch.rand(2, 8, 64, 16, 16))   # (2, 8, 96, 8, 8)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vad_core.errors import ConfigError

State = tuple[Tensor, ...]


class ConvRecurrentCell(nn.Module):
    """Shared plumbing: the input-to-state projection for ``gates`` gates and the zero state.

    ``stride`` (1 or 2) applies to the ordinary convolution; ``transpose=True`` always doubles H and W.
    """

    gates: int = 1
    state_tensors: int = 1

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        transpose: bool = False,
        norm: bool = True,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ConfigError("model", f"cell stride must be 1 or 2, found {stride}")
        if kernel_size % 2 != 1:
            raise ConfigError("model", f"cell kernel size must be odd, found {kernel_size}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.transpose = transpose
        padding = kernel_size // 2
        out = self.gates * hidden_channels
        if transpose:  # stride-2 transpose conv that exactly doubles H and W (like layers.deconv_block)
            conv: nn.Module = nn.ConvTranspose2d(
                in_channels, out, kernel_size, 2, padding, output_padding=1, bias=not norm
            )
        else:
            conv = nn.Conv2d(in_channels, out, kernel_size, stride, padding, bias=not norm)
        self.project = nn.Sequential(conv, nn.BatchNorm2d(out)) if norm else conv
        self.padding = padding

    def hidden_conv(self, gates: int, kernel_size: int, bias: bool = False) -> nn.Conv2d:
        """State-to-state convolution (stride 1, keeps the output resolution) for ``gates`` gates."""
        return nn.Conv2d(
            self.hidden_channels, gates * self.hidden_channels, kernel_size, 1, self.padding, bias=bias
        )

    def zero_state(self, projected: Tensor) -> State:
        """Zero state shaped like the projected input's spatial grid."""
        batch, _, height, width = projected.shape
        zeros = projected.new_zeros(batch, self.hidden_channels, height, width)
        return tuple(zeros for _ in range(self.state_tensors))

    def recur(self, projected: Tensor, state: State | None) -> tuple[Tensor, State]:
        """The gate equations of one step, given the projected input; ``None`` state means zeros."""
        raise NotImplementedError

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One time step: ``(B, C_in, H, W)`` -> output ``(B, C_hidden, H', W')`` and the new state."""
        return self.recur(self.project(x), state)


class ConvRNNCell(ConvRecurrentCell):
    """Eq. 3.15: ``H_t = tanh(W_x*X_t + W_h*H_{t-1} + b)``, output ``O_t = sigmoid(W_o*H_t + b_o)``.

    ``size`` is unused (every cell takes the same arguments; only ConvLSTM's peepholes need it).
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        size: tuple[int, int] | None = None,
        kernel_size: int = 3,
        stride: int = 1,
        transpose: bool = False,
        norm: bool = True,
    ) -> None:
        super().__init__(in_channels, hidden_channels, kernel_size, stride, transpose, norm)
        self.hidden = self.hidden_conv(1, kernel_size)
        self.output = self.hidden_conv(1, kernel_size, bias=True)

    def recur(self, projected: Tensor, state: State | None) -> tuple[Tensor, State]:
        (h_prev,) = state if state is not None else self.zero_state(projected)
        h = torch.tanh(projected + self.hidden(h_prev))
        return torch.sigmoid(self.output(h)), (h,)


class ConvLSTMCell(ConvRecurrentCell):
    """Eq. 3.16: ConvLSTM with input, forget and output gates and Hadamard peepholes on the cell state.

    The peephole weights ``W_ci, W_cf, W_co`` have the state's shape ``(C_hidden, H, W)``, so the cell
    needs ``size``, the spatial size of its state (the output resolution). They start at zero (a plain
    ConvLSTM) and are learnt; ``peepholes=False`` drops them.
    """

    gates = 4
    state_tensors = 2

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        size: tuple[int, int] | None = None,
        kernel_size: int = 3,
        stride: int = 1,
        transpose: bool = False,
        norm: bool = True,
        peepholes: bool = True,
    ) -> None:
        super().__init__(in_channels, hidden_channels, kernel_size, stride, transpose, norm)
        self.hidden = self.hidden_conv(4, kernel_size)
        self.peepholes: nn.Parameter | None = None
        if peepholes:
            if size is None:
                raise ConfigError("model", "ConvLSTMCell with peepholes needs the state size (H, W)")
            self.peepholes = nn.Parameter(torch.zeros(3, hidden_channels, *size))

    def recur(self, projected: Tensor, state: State | None) -> tuple[Tensor, State]:
        h_prev, c_prev = state if state is not None else self.zero_state(projected)
        x_i, x_f, x_c, x_o = (projected + self.hidden(h_prev)).chunk(4, dim=1)
        if self.peepholes is not None:
            if self.peepholes.shape[-2:] != c_prev.shape[-2:]:
                found, built = tuple(c_prev.shape[-2:]), tuple(self.peepholes.shape[-2:])
                raise ConfigError("model", f"ConvLSTM state is {found}, peepholes were built for {built}")
            w_ci, w_cf, w_co = self.peepholes
            x_i, x_f = x_i + w_ci * c_prev, x_f + w_cf * c_prev
        c = torch.sigmoid(x_f) * c_prev + torch.sigmoid(x_i) * torch.tanh(x_c)
        if self.peepholes is not None:
            x_o = x_o + w_co * c
        h = torch.sigmoid(x_o) * torch.tanh(c)
        return h, (h, c)


class ConvGRUCell(ConvRecurrentCell):
    """Eq. 3.17: ``u, r = sigmoid(W_x*X + W_h*H)``, ``a = tanh(r . (W_ha*H) + W_xa*X)``,
    ``H_t = a . (1 - u) + u . H_{t-1}`` (``.`` is the Hadamard product). ``size`` is unused."""

    gates = 3

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        size: tuple[int, int] | None = None,
        kernel_size: int = 3,
        stride: int = 1,
        transpose: bool = False,
        norm: bool = True,
    ) -> None:
        super().__init__(in_channels, hidden_channels, kernel_size, stride, transpose, norm)
        self.hidden = self.hidden_conv(3, kernel_size)

    def recur(self, projected: Tensor, state: State | None) -> tuple[Tensor, State]:
        (h_prev,) = state if state is not None else self.zero_state(projected)
        x_u, x_r, x_a = projected.chunk(3, dim=1)
        h_u, h_r, h_a = self.hidden(h_prev).chunk(3, dim=1)
        update = torch.sigmoid(x_u + h_u)
        reset = torch.sigmoid(x_r + h_r)
        candidate = torch.tanh(reset * h_a + x_a)
        h = candidate * (1 - update) + update * h_prev
        return h, (h,)


#: Cell classes by the short names the model options use.
CELLS: dict[str, type[ConvRecurrentCell]] = {"rnn": ConvRNNCell, "lstm": ConvLSTMCell, "gru": ConvGRUCell}


class RecurrentLayer(nn.Module):
    """Unrolls ``cell`` over ``(B, T, C, H, W)`` (backwards if ``reverse``); gives outputs and last state."""

    def __init__(self, cell: ConvRecurrentCell, reverse: bool = False) -> None:
        super().__init__()
        self.cell = cell
        self.reverse = reverse

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State | None]:
        if x.dim() != 5:
            raise ConfigError("model", f"recurrent layers expect (B, T, C, H, W), found {tuple(x.shape)}")
        batch, steps = x.shape[:2]
        projected = self.cell.project(x.flatten(0, 1)).unflatten(0, (batch, steps))
        order = range(steps - 1, -1, -1) if self.reverse else range(steps)
        outputs: list[Tensor] = [projected[:, 0]] * steps
        for t in order:
            outputs[t], state = self.cell.recur(projected[:, t], state)
        return torch.stack(outputs, dim=1), state
