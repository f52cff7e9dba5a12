"""An ensemble of actor-critic networks with a shared trunk, evaluated as one batched network.

Chapter 4 trains many agents at once (every seed and every variant of a
learning rule) in one process. Rather than a loop over networks, each layer
holds the weights of all ``E`` members stacked on a leading axis and applies
them with one batched matrix product (:class:`EnsembleLinear`, ``torch.baddbmm``)
or one grouped convolution (:class:`EnsembleConv2d`, ``groups=E``). Members
never mix: member e's output depends only on member e's weights and inputs, so
the gradient of a sum of per-member losses is each member's own gradient, and
any element-wise optimizer (RMSprop, Adam) updates every member as if it were
alone. Gradient clipping is the one place where members must be kept apart
(:func:`clip_grad_norm_per_member`).

The network (:class:`ActorCritic`) is the one Schulman et al. (2017, §6.3)
describe: a trunk shared by two heads, an action head (``A`` outputs) and a
value head (one output). The A2C learners read the action head as policy
logits, soft Q-learning as the advantage stream of Q = V + τ log π, and DQN as
Q-values. Trunks:

* ``"nature"``: the convolutional trunk of Mnih et al. (2015) for 84×84 Atari
  frames (4 stacked), uint8 input scaled to [0, 1];
* ``"minatar"``: one 3×3 convolution with 16 channels and a 128-unit layer,
  the network of Young and Tian (2019) for MinAtar's 10×10×C boolean frames
  (channels last, as MinAtar returns them);
* ``"mlp"``: two tanh layers for vector observations (classic control).

Shapes: observations ``[E, B, *obs_shape]``; logits ``[E, B, A]``; values ``[E, B]``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maxentrl.errors import ConfigError, require_int_at_least

__all__ = ["EnsembleLinear", "EnsembleConv2d", "ActorCritic", "TRUNKS", "clip_grad_norm_per_member", "member_norms"]

TRUNKS = ("mlp", "minatar", "nature")


def _orthogonal_(weight: Tensor, gain: float, generator: torch.Generator | None) -> None:
    """Orthogonal initialization of each member's matrix ``weight[e].reshape(out, -1)``."""
    with torch.no_grad():
        for e in range(weight.shape[0]):
            w = torch.empty(weight.shape[1], math.prod(weight.shape[2:]), dtype=weight.dtype)
            nn.init.orthogonal_(w, gain=gain, generator=generator)
            weight[e].copy_(w.reshape(weight.shape[1:]))


class EnsembleLinear(nn.Module):
    """E independent affine maps: ``x[E, B, n_in] → x @ W[e] + b[e]``, shape ``[E, B, n_out]``."""

    def __init__(self, members: int, n_in: int, n_out: int, *, gain: float = math.sqrt(2.0),
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(members, n_out, n_in))
        self.bias = nn.Parameter(torch.zeros(members, 1, n_out))
        _orthogonal_(self.weight, gain, generator)

    def forward(self, x: Tensor) -> Tensor:
        return torch.baddbmm(self.bias, x, self.weight.transpose(1, 2))


class EnsembleConv2d(nn.Module):
    """E independent 2-D convolutions as one grouped convolution: ``[E, B, C, H, W] → [E, B, C', H', W']``."""

    def __init__(self, members: int, c_in: int, c_out: int, kernel: int, stride: int, *, gain: float = math.sqrt(2.0),
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.members, self.stride = members, stride
        self.weight = nn.Parameter(torch.empty(members, c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(members, c_out))
        _orthogonal_(self.weight, gain, generator)

    def forward(self, x: Tensor) -> Tensor:
        E, B, C, H, W = x.shape
        z = x.transpose(0, 1).reshape(B, E * C, H, W)
        w = self.weight.reshape(E * self.weight.shape[1], *self.weight.shape[2:])
        z = F.conv2d(z, w, self.bias.reshape(-1), stride=self.stride, groups=E)
        return z.reshape(B, E, -1, z.shape[-2], z.shape[-1]).transpose(0, 1)


class ActorCritic(nn.Module):
    """``E`` actor-critic networks with a shared trunk and two heads (action: ``A`` outputs; value: one).

    Args:
        obs_shape: shape of one observation (``(4,)``; ``(10, 10, C)`` for MinAtar; ``(4, 84, 84)`` for Atari).
        n_actions: ``A``.
        members: ``E``, the ensemble size.
        trunk: one of :data:`TRUNKS`.
        hidden: width of the MLP trunk's layers (``"mlp"`` only).
        generator: draws the initial weights (orthogonal, gain √2 in the trunk,
            0.01 for the action head, 1 for the value head, zero biases).
    """

    def __init__(self, obs_shape: tuple[int, ...], n_actions: int, *, members: int = 1, trunk: str = "mlp",
                 hidden: int = 64, generator: torch.Generator | None = None) -> None:
        super().__init__()
        require_int_at_least("n_actions", n_actions, 1)
        require_int_at_least("members", members, 1)
        if trunk not in TRUNKS:
            raise ConfigError(f"trunk must be one of {', '.join(TRUNKS)}, got {trunk!r}")
        self.obs_shape, self.n_actions, self.members, self.trunk = tuple(obs_shape), n_actions, members, trunk
        E, g = members, generator
        if trunk == "mlp":
            if len(obs_shape) != 1:
                raise ConfigError(f"the mlp trunk takes vector observations, got shape {tuple(obs_shape)}")
            self.layers = nn.ModuleList([EnsembleLinear(E, obs_shape[0], hidden, generator=g),
                                         EnsembleLinear(E, hidden, hidden, generator=g)])
            features = hidden
        elif trunk == "minatar":
            if len(obs_shape) != 3:
                raise ConfigError(f"the minatar trunk takes [10, 10, C] frames, got shape {tuple(obs_shape)}")
            h, w, c = obs_shape
            self.convs = nn.ModuleList([EnsembleConv2d(E, c, 16, 3, 1, generator=g)])
            self.layers = nn.ModuleList([EnsembleLinear(E, 16 * (h - 2) * (w - 2), 128, generator=g)])
            features = 128
        else:
            if tuple(obs_shape) != (4, 84, 84):
                raise ConfigError(f"the nature trunk takes [4, 84, 84] frames, got shape {tuple(obs_shape)}")
            self.convs = nn.ModuleList([EnsembleConv2d(E, 4, 32, 8, 4, generator=g),
                                        EnsembleConv2d(E, 32, 64, 4, 2, generator=g),
                                        EnsembleConv2d(E, 64, 64, 3, 1, generator=g)])
            self.layers = nn.ModuleList([EnsembleLinear(E, 64 * 7 * 7, 512, generator=g)])
            features = 512
        self.action_head = EnsembleLinear(E, features, n_actions, gain=0.01, generator=g)
        self.value_head = EnsembleLinear(E, features, 1, gain=1.0, generator=g)

    def features(self, obs: Tensor) -> Tensor:
        """The shared trunk: ``obs[E, B, *obs_shape]`` → ``[E, B, features]``."""
        E, B = obs.shape[:2]
        if tuple(obs.shape[2:]) != self.obs_shape or E != self.members:
            raise ConfigError(f"observations must have shape [E={self.members}, B, {', '.join(map(str, self.obs_shape))}], "
                              f"got {tuple(obs.shape)}")
        dtype = self.action_head.weight.dtype
        if self.trunk == "mlp":
            x = obs.to(dtype)
            for layer in self.layers:
                x = torch.tanh(layer(x))
            return x
        if self.trunk == "minatar":
            x = obs.to(dtype).permute(0, 1, 4, 2, 3)  # channels first
        else:
            x = obs.to(dtype) / 255.0
        for conv in self.convs:
            x = F.relu(conv(x))
        x = x.reshape(E, B, -1)
        return F.relu(self.layers[0](x))

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """``(action_head[E, B, A], value[E, B])``."""
        z = self.features(obs)
        return self.action_head(z), self.value_head(z).squeeze(-1)


def member_norms(grads: list[Tensor]) -> Tensor:
    """‖g_e‖₂ over all tensors of each member (the leading axis of every tensor): ``[E]``."""
    return torch.sqrt(sum(g.reshape(g.shape[0], -1).pow(2).sum(-1) for g in grads))


def clip_grad_norm_per_member(parameters: list[nn.Parameter], max_norm: float) -> Tensor:
    """Scale each member's gradient so that its own norm is at most ``max_norm``; returns the norms before.

    ``torch.nn.utils.clip_grad_norm_`` would clip the ensemble's joint norm and so
    couple the members; this clips member by member.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    norms = member_norms(grads)
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))
    return norms
