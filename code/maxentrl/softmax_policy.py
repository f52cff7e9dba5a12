"""Softmax policies over a finite action set: a table of logits and a small network.

A softmax policy is π_θ(a|s) = exp(z_θ(s, a)) / Σ_{a'} exp(z_θ(s, a')) for
logits ``z[b, s, a]``. Two parametrizations, batched over ``b`` independent
problems (each with its own parameters, so that one call serves a batch of
MDPs or of seeds):

* :func:`tabular_logits`: θ is the logit table itself, ``theta[b, S·A]``.
  Adding a constant to the logits of one state leaves π unchanged, so the
  Fisher matrix of this parametrization is singular (see
  :mod:`maxentrl.natural_gradient`).
* :class:`MLPPolicy`: a one-hidden-layer tanh network of state features,
  ``z(s, ·) = [W₂ tanh(W₁ x_s + b₁) + b₂, 0]``. Its last action's logit is
  fixed at zero, which removes the one direction (a common shift of all
  logits) that no softmax policy can see; the parameters are one flat tensor
  ``theta[b, p]``, so that Jacobians, Jacobian-vector products and solves act
  on plain matrices.

Everything is a pure function of ``theta`` (no ``nn.Module``): the Jacobian
``J[b, s, a, i] = ∂z(s, a)/∂θ_i`` comes from :mod:`torch.func`, and the score
∇_θ log π(a|s) = J(s, a) − Σ_{a'} π(a'|s) J(s, a') from :func:`score`.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor

from maxentrl.errors import ConfigError, require_finite, require_int_at_least, require_positive, require_shape

__all__ = [
    "tabular_logits",
    "tabular_jacobian",
    "MLPPolicy",
    "LinearPolicy",
    "log_policy",
    "score",
]


def _check_theta(theta: Tensor, p: int, name: str = "theta") -> None:
    if not isinstance(theta, Tensor) or not theta.is_floating_point():
        raise ConfigError(f"{name} must be a floating-point tensor")
    if theta.dim() != 2 or theta.shape[1] != p:
        raise ConfigError(f"{name} must have shape [b, {p}], got {tuple(theta.shape)}")


def tabular_logits(theta: Tensor, n_states: int, n_actions: int) -> Tensor:
    """The logit table ``z[b, s, a]`` of a tabular softmax policy with parameters ``theta[b, S·A]`` (row-major)."""
    require_int_at_least("n_states", n_states, 1)
    require_int_at_least("n_actions", n_actions, 1)
    _check_theta(theta, n_states * n_actions)
    return theta.reshape(theta.shape[0], n_states, n_actions)


def tabular_jacobian(batch: int, n_states: int, n_actions: int, *, dtype: torch.dtype = torch.float64,
                     device: torch.device | str = "cpu") -> Tensor:
    """``J[b, s, a, i] = ∂z(s, a)/∂θ_i`` of :func:`tabular_logits`: the identity, reshaped to ``[b, S, A, S·A]``."""
    require_int_at_least("batch", batch, 1)
    p = n_states * n_actions
    eye = torch.eye(p, dtype=dtype, device=device).reshape(n_states, n_actions, p)
    return eye.expand(batch, n_states, n_actions, p)


@dataclasses.dataclass(frozen=True)
class MLPPolicy:
    """The architecture of a small softmax policy network (its parameters live in a flat ``theta[b, p]``).

    Attributes:
        n_features: k, the length of a state's feature vector x_s.
        n_hidden: H, the width of the tanh layer.
        n_actions: |A|; the network outputs |A| − 1 logits and the last is 0.
    """

    n_features: int
    n_hidden: int
    n_actions: int

    def __post_init__(self) -> None:
        require_int_at_least("n_features", self.n_features, 1)
        require_int_at_least("n_hidden", self.n_hidden, 1)
        require_int_at_least("n_actions", self.n_actions, 2)

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """Shapes of W₁ [H, k], b₁ [H], W₂ [|A|−1, H], b₂ [|A|−1], in the order they sit in θ."""
        k, H, A = self.n_features, self.n_hidden, self.n_actions
        return ((H, k), (H,), (A - 1, H), (A - 1,))

    @property
    def n_params(self) -> int:
        """p, the length of θ."""
        return sum(math.prod(s) for s in self.shapes)

    def unflatten(self, theta: Tensor) -> tuple[Tensor, ...]:
        """W₁ [b, H, k], b₁ [b, H], W₂ [b, |A|−1, H], b₂ [b, |A|−1] as views of ``theta[b, p]``."""
        out, i = [], 0
        for shape in self.shapes:
            n = math.prod(shape)
            out.append(theta[:, i:i + n].reshape(theta.shape[0], *shape))
            i += n
        return tuple(out)

    def init(self, batch: int, *, generator: torch.Generator, scale: float = 1.0,
             dtype: torch.dtype = torch.float64) -> Tensor:
        """Random parameters ``theta[batch, p]``: Gaussian weights with variance scale²/fan-in, zero biases."""
        require_int_at_least("batch", batch, 1)
        require_positive("scale", scale)
        parts = []
        for shape in self.shapes:
            if len(shape) == 2:
                w = torch.randn((batch, *shape), generator=generator, dtype=dtype, device=generator.device)
                parts.append((scale / math.sqrt(shape[1]) * w).reshape(batch, -1))
            else:
                parts.append(torch.zeros((batch, *shape), dtype=dtype, device=generator.device))
        return torch.cat(parts, dim=1)

    def logits(self, theta: Tensor, x: Tensor) -> Tensor:
        """``z[b, s, a]`` for parameters ``theta[b, p]`` and state features ``x[b, S, k]`` (or ``x[S, k]`` shared)."""
        _check_theta(theta, self.n_params)
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(theta.shape[0], *x.shape)
        if x.dim() != 3 or x.shape[0] != theta.shape[0] or x.shape[2] != self.n_features:
            raise ConfigError(f"x must have shape [b, S, {self.n_features}] with b = {theta.shape[0]}, got {tuple(x.shape)}")
        W1, b1, W2, b2 = self.unflatten(theta)
        h = torch.tanh(torch.einsum("bhk,bsk->bsh", W1, x.to(theta.dtype)) + b1.unsqueeze(1))
        z = torch.einsum("bah,bsh->bsa", W2, h) + b2.unsqueeze(1)
        return torch.cat([z, torch.zeros_like(z[..., :1])], dim=-1)

    def jacobian(self, theta: Tensor, x: Tensor) -> Tensor:
        """``J[b, s, a, i] = ∂z(s, a)/∂θ_i`` at ``theta[b, p]`` (one small Jacobian per batch element, via vmap)."""
        _check_theta(theta, self.n_params)
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(theta.shape[0], *x.shape)

        def one(th: Tensor, xs: Tensor) -> Tensor:
            return self.logits(th.unsqueeze(0), xs.unsqueeze(0)).squeeze(0)

        return torch.func.vmap(torch.func.jacrev(one))(theta, x)


@dataclasses.dataclass(frozen=True)
class LinearPolicy:
    """A log-linear softmax policy: z(s, ·) = [W x_s, 0] with W ∈ R^{(|A|−1)×k}; parameters ``theta[b, p]``, p = (|A|−1)k.

    The logits are linear in θ, so log π curves only through its normalizer:
    along any direction w, d²/dt² log π_{θ+tw}(a|s) = −Var_{π(·|s)}(∂z·w), the
    Fisher quadratic form of that state. Second-order effects of a step are
    therefore of the size of the squared first-order change of log π.

    Attributes:
        n_features: k, the length of a state's feature vector x_s.
        n_actions: |A|.
    """

    n_features: int
    n_actions: int

    def __post_init__(self) -> None:
        require_int_at_least("n_features", self.n_features, 1)
        require_int_at_least("n_actions", self.n_actions, 2)

    @property
    def n_params(self) -> int:
        """p = (|A| − 1)·k."""
        return (self.n_actions - 1) * self.n_features

    def init(self, batch: int, *, generator: torch.Generator, scale: float = 0.0,
             dtype: torch.dtype = torch.float64) -> Tensor:
        """Parameters ``theta[batch, p]``: zero (the uniform policy) by default, else Gaussian with standard deviation ``scale``."""
        require_int_at_least("batch", batch, 1)
        if not scale >= 0:
            raise ConfigError(f"scale must be >= 0, got {scale!r}")
        shape = (batch, self.n_params)
        if scale == 0:
            return torch.zeros(shape, dtype=dtype, device=generator.device)
        return scale * torch.randn(shape, generator=generator, dtype=dtype, device=generator.device)

    def logits(self, theta: Tensor, x: Tensor) -> Tensor:
        """``z[b, s, a]`` for ``theta[b, p]`` and features ``x[b, S, k]`` (or ``x[S, k]`` shared)."""
        _check_theta(theta, self.n_params)
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(theta.shape[0], *x.shape)
        if x.dim() != 3 or x.shape[0] != theta.shape[0] or x.shape[2] != self.n_features:
            raise ConfigError(f"x must have shape [b, S, {self.n_features}] with b = {theta.shape[0]}, got {tuple(x.shape)}")
        W = theta.reshape(theta.shape[0], self.n_actions - 1, self.n_features)
        z = torch.einsum("bak,bsk->bsa", W, x.to(theta.dtype))
        return torch.cat([z, torch.zeros_like(z[..., :1])], dim=-1)

    def jacobian(self, theta: Tensor, x: Tensor) -> Tensor:
        """``J[b, s, a, i] = ∂z(s, a)/∂θ_i``, independent of θ: x_s in the block of action a (zero for the last action)."""
        _check_theta(theta, self.n_params)
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(theta.shape[0], *x.shape)
        b, S, k = x.shape
        A = self.n_actions
        eye = torch.eye(A - 1, dtype=theta.dtype, device=theta.device)
        J = torch.einsum("ac,bsk->bsack", eye, x.to(theta.dtype)).reshape(b, S, A - 1, self.n_params)
        return torch.cat([J, torch.zeros_like(J[:, :, :1])], dim=2)


def log_policy(z: Tensor) -> Tensor:
    """log π(a|s) = z(s, a) − log Σ_{a'} exp z(s, a') for logits ``z[..., a]``."""
    require_finite("logits", z)
    return z - torch.logsumexp(z, dim=-1, keepdim=True)


def score(J: Tensor, pi: Tensor) -> Tensor:
    """The score ψ(s, a) = ∇_θ log π_θ(a|s) = J(s, a) − Σ_{a'} π(a'|s) J(s, a'), shape ``[b, S, A, p]``.

    ``J[b, s, a, p]`` is the Jacobian of the logits, ``pi[b, s, a]`` the
    policy. Schulman et al. (2017, §5) write ψ_t for the score of the t-th
    sample; its π-average is zero in every state.
    """
    if J.dim() != 4:
        raise ConfigError(f"J must have shape [b, S, A, p], got {tuple(J.shape)}")
    require_shape("pi", pi, tuple(J.shape[:3]), meaning="[b, S, A]")
    return J - torch.einsum("bsa,bsap->bsp", pi.to(J.dtype), J).unsqueeze(2)
