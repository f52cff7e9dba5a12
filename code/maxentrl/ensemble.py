"""Many independent networks evaluated as one: seeds as a batch dimension.

An :class:`EnsembleMLP` holds E multilayer perceptrons with the same layer
sizes as stacked weight tensors ``W[E, in, out]`` and evaluates all of them
with one batched matrix product per layer (``torch.baddbmm``). Training E
seeds of an agent then costs one kernel launch per layer instead of E, which
is what makes many seeds per process cheap on a GPU and, for small networks,
on a CPU too. The members share nothing but the tensors they are stored in:
a loss that is a *sum* of per-member losses gives each member exactly the
gradient it would get alone, and Adam's update is elementwise, so the
members train independently.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from maxentrl.errors import ConfigError, require_int_at_least

__all__ = ["EnsembleMLP", "ornstein_uhlenbeck_step"]


class EnsembleMLP(nn.Module):
    """E multilayer perceptrons with ReLU hidden layers and a linear output.

    Input ``x[E, N, in_dim]`` (N rows per member), output ``[E, N, out_dim]``.
    Weights are drawn like ``nn.Linear``'s defaults, U(−1/√fan_in, 1/√fan_in),
    from ``generator``.
    """

    def __init__(
        self,
        n_members: int,
        in_dim: int,
        hidden: tuple[int, ...],
        out_dim: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        require_int_at_least("n_members", n_members, 1)
        require_int_at_least("in_dim", in_dim, 1)
        require_int_at_least("out_dim", out_dim, 1)
        for width in hidden:
            require_int_at_least("hidden layer width", width, 1)
        self.n_members, self.in_dim, self.out_dim = n_members, in_dim, out_dim
        sizes = (in_dim, *hidden, out_dim)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(fan_in)
            w = (torch.rand((n_members, fan_in, fan_out), generator=generator, dtype=dtype, device=device) * 2 - 1) * bound
            b = (torch.rand((n_members, 1, fan_out), generator=generator, dtype=dtype, device=device) * 2 - 1) * bound
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(b))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[0] != self.n_members or x.shape[-1] != self.in_dim:
            raise ConfigError(f"input must have shape [E={self.n_members}, N, {self.in_dim}], got {tuple(x.shape)}")
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if k < last:
                x = torch.relu(x)
        return x

    def member(self, index: int) -> list[tuple[Tensor, Tensor]]:
        """The (weight ``[in, out]``, bias ``[out]``) pairs of one member, for inspection and tests."""
        if not 0 <= index < self.n_members:
            raise ConfigError(f"member index must lie in [0, {self.n_members}), got {index}")
        return [(w[index], b[index, 0]) for w, b in zip(self.weights, self.biases)]


def ornstein_uhlenbeck_step(noise: Tensor, *, theta: float, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    """One step of the Ornstein-Uhlenbeck exploration noise, n ← n − θ n + σ ε with ε ∼ N(0, I) (unit time step).

    Haarnoja et al. (App. D.1) add it to the actions of both DDPG and soft
    Q-learning with θ = 0.15, σ = 0.3, following Lillicrap et al. (2015).
    """
    eps = torch.randn(noise.shape, generator=generator, dtype=noise.dtype, device=noise.device)
    return noise - theta * noise + sigma * eps
