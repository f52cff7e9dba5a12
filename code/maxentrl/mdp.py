"""Batched tabular Markov decision processes.

A :class:`TabularMDP` holds ``b`` finite MDPs with the same numbers of states
``S`` and actions ``A`` on one device, so that one tensor operation performs a
Bellman backup in all of them at once:

========  =================  =====================================================
field     shape              meaning
========  =================  =====================================================
``P``     ``[b, S, A, S]``   ``P[b, s, a, s']`` = Pr(s_{t+1} = s' | s_t = s, a_t = a)
``r``     ``[b, S, A]``      reward r(s, a) received on taking a in s
``gamma`` float or ``[b]``   discount factor γ ∈ [0, 1), one per MDP if a tensor
``mu0``   ``[b, S]``         initial-state distribution μ₀(s)
========  =================  =====================================================

Unbatched inputs (``P[S, A, S]``, ``r[S, A]``, ``mu0[S]``) are accepted and
become a batch of one. Two generators build MDPs for the book's experiments:
:func:`random_mdp` (Dirichlet transition rows, Gaussian rewards) and
:func:`gridworld` (a corner-to-corner grid with many equally short routes).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import torch
from torch import Tensor

from maxentrl.errors import ConfigError, require_int_at_least, require_positive, require_shape

__all__ = [
    "TabularMDP",
    "random_mdp",
    "gridworld",
    "GRID_ACTIONS",
    "policy_transition",
    "state_visitation",
]

#: Names of the gridworld's actions, in the order of the action axis.
GRID_ACTIONS: tuple[str, ...] = ("up", "down", "left", "right")
_GRID_MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))


def _row_tolerance(dtype: torch.dtype) -> float:
    """How far a probability row may sum from 1 in ``dtype``."""
    return 1e-9 if dtype == torch.float64 else 1e-4


@dataclasses.dataclass(frozen=True)
class TabularMDP:
    """A batch of ``b`` finite MDPs (S states, A actions) on one device.

    Attributes:
        P: transition tensor ``P[b, s, a, s']``; each row ``P[b, s, a, :]`` is a distribution.
        r: reward tensor ``r[b, s, a]``, finite.
        gamma: discount γ ∈ [0, 1): a Python float shared by the batch or a tensor ``[b]``.
        mu0: initial-state distribution ``mu0[b, s]``.

    Validation (a one-line :class:`ConfigError` on failure): floating dtypes,
    matching shapes and devices, non-negative rows of ``P`` and ``mu0`` that sum
    to one (to 1e-9 in float64, 1e-4 otherwise), finite rewards, 0 ≤ γ < 1.
    """

    P: Tensor
    r: Tensor
    gamma: float | Tensor
    mu0: Tensor

    def __post_init__(self) -> None:
        P, r, mu0, gamma = self.P, self.r, self.mu0, self.gamma
        for name, x in (("P", P), ("r", r), ("mu0", mu0)):
            if not isinstance(x, Tensor):
                raise ConfigError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
            if not x.is_floating_point():
                raise ConfigError(f"{name} must have a floating dtype, got {x.dtype}")
        if P.dim() == 3 and r.dim() == 2 and mu0.dim() == 1:  # one MDP: a batch of one
            P, r, mu0 = P.unsqueeze(0), r.unsqueeze(0), mu0.unsqueeze(0)
            if isinstance(gamma, Tensor) and gamma.dim() == 0:
                gamma = gamma.reshape(1)
        if P.dim() != 4:
            raise ConfigError(f"P must have shape [b, S, A, S], got {tuple(P.shape)}")
        b, S, A, S2 = P.shape
        if S2 != S or S < 1 or A < 1 or b < 1:
            raise ConfigError(f"P must have shape [b, S, A, S] with S, A >= 1, got {tuple(P.shape)}")
        if tuple(r.shape) != (b, S, A):
            raise ConfigError(f"r must have shape [b, S, A] = {(b, S, A)}, got {tuple(r.shape)}")
        if tuple(mu0.shape) != (b, S):
            raise ConfigError(f"mu0 must have shape [b, S] = {(b, S)}, got {tuple(mu0.shape)}")
        if r.device != P.device or mu0.device != P.device:
            raise ConfigError(f"P, r and mu0 must be on one device, got {P.device}, {r.device}, {mu0.device}")
        tol = _row_tolerance(P.dtype)
        if not bool(torch.all(P >= 0)) or not bool(torch.all((P.sum(-1) - 1).abs() <= tol)):
            raise ConfigError("every row P[b, s, a, :] must be a probability distribution (non-negative, sum 1)")
        if not bool(torch.all(mu0 >= 0)) or not bool(torch.all((mu0.sum(-1) - 1).abs() <= _row_tolerance(mu0.dtype))):
            raise ConfigError("every mu0[b, :] must be a probability distribution (non-negative, sum 1)")
        if not bool(torch.all(torch.isfinite(r))):
            raise ConfigError("rewards r must be finite")
        if isinstance(gamma, Tensor):
            if tuple(gamma.shape) != (b,):
                raise ConfigError(f"gamma must be a float or a tensor of shape [b] = ({b},), got {tuple(gamma.shape)}")
            if not bool(torch.all((gamma >= 0) & (gamma < 1))):
                raise ConfigError("every discount gamma must lie in [0, 1)")
            gamma = gamma.to(device=P.device, dtype=P.dtype)
        else:
            if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not (0 <= gamma < 1):
                raise ConfigError(f"gamma must lie in [0, 1), got {gamma!r}")
            gamma = float(gamma)
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "r", r.to(P.dtype))
        object.__setattr__(self, "mu0", mu0.to(P.dtype))
        object.__setattr__(self, "gamma", gamma)

    # -- sizes --------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        """b, the number of MDPs."""
        return self.P.shape[0]

    @property
    def n_states(self) -> int:
        """S."""
        return self.P.shape[1]

    @property
    def n_actions(self) -> int:
        """A."""
        return self.P.shape[2]

    @property
    def device(self) -> torch.device:
        return self.P.device

    @property
    def dtype(self) -> torch.dtype:
        return self.P.dtype

    def gamma_tensor(self) -> Tensor:
        """γ as a tensor ``[b]`` on the MDP's device and dtype."""
        if isinstance(self.gamma, Tensor):
            return self.gamma
        return torch.full((self.batch_size,), self.gamma, dtype=self.dtype, device=self.device)

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> TabularMDP:
        """The same MDPs on ``device`` and/or in ``dtype`` (validated again there)."""
        def move(x: Tensor) -> Tensor:
            return x.to(device=device if device is not None else x.device, dtype=dtype or x.dtype)

        gamma = move(self.gamma) if isinstance(self.gamma, Tensor) else self.gamma
        return TabularMDP(P=move(self.P), r=move(self.r), gamma=gamma, mu0=move(self.mu0))

    def select(self, index: Tensor | slice | int | list[int]) -> TabularMDP:
        """The sub-batch ``index`` (an int keeps a batch of one)."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        gamma = self.gamma[index] if isinstance(self.gamma, Tensor) else self.gamma
        return TabularMDP(P=self.P[index], r=self.r[index], gamma=gamma, mu0=self.mu0[index])


def random_mdp(
    batch: int,
    n_states: int,
    n_actions: int,
    *,
    generator: torch.Generator,
    concentration: float = 1.0,
    reward_scale: float = 1.0,
    gamma: float | tuple[float, float] = 0.9,
    dtype: torch.dtype = torch.float64,
) -> TabularMDP:
    """``batch`` random MDPs: Dirichlet transitions, Gaussian rewards, uniform μ₀.

    Each row ``P[b, s, a, :]`` is drawn from Dirichlet(concentration · 1_S)
    (small concentration: nearly deterministic transitions; large: nearly
    uniform), each reward ``r[b, s, a]`` from N(0, reward_scale²). ``gamma`` is
    either one discount for all or a range ``(low, high)`` from which each MDP
    draws its own uniformly. Everything is drawn from ``generator`` on its
    device, so a seed fixes the batch.
    """
    require_int_at_least("batch", batch, 1)
    require_int_at_least("n_states", n_states, 1)
    require_int_at_least("n_actions", n_actions, 1)
    require_positive("concentration", concentration)
    require_positive("reward_scale", reward_scale)
    device = generator.device
    # Dirichlet(c) rows are normalized Gamma(c, 1) draws; torch's own Gamma
    # sampler takes no generator, so _gamma_draws samples them from one.
    shape = (batch, n_states, n_actions, n_states)
    g = _gamma_draws(shape, concentration, generator=generator, dtype=dtype)
    P = g / g.sum(-1, keepdim=True)
    r = reward_scale * torch.randn((batch, n_states, n_actions), generator=generator, dtype=dtype, device=device)
    mu0 = torch.full((batch, n_states), 1.0 / n_states, dtype=dtype, device=device)
    if isinstance(gamma, tuple):
        low, high = gamma
        if not (0 <= low <= high < 1):
            raise ConfigError(f"gamma range must satisfy 0 <= low <= high < 1, got {gamma!r}")
        u = torch.rand((batch,), generator=generator, dtype=dtype, device=device)
        gamma_value: float | Tensor = low + (high - low) * u
    else:
        gamma_value = gamma
    return TabularMDP(P=P, r=r, gamma=gamma_value, mu0=mu0)


def _gamma_draws(shape: tuple[int, ...], c: float, *, generator: torch.Generator, dtype: torch.dtype) -> Tensor:
    """Gamma(c, 1) variates from ``generator`` (Marsaglia and Tsang 2000, with the boost for c < 1)."""
    device = generator.device
    boost = c < 1
    d = (c + 1 if boost else c) - 1.0 / 3.0
    scale = 1.0 / math.sqrt(9.0 * d)
    out = torch.empty(shape, dtype=dtype, device=device)
    todo = torch.ones(shape, dtype=torch.bool, device=device)
    while bool(todo.any()):
        x = torch.randn(shape, generator=generator, dtype=dtype, device=device)
        u = torch.rand(shape, generator=generator, dtype=dtype, device=device)
        v = (1 + scale * x) ** 3
        ok = (v > 0) & (torch.log(u.clamp_min(1e-300)) < 0.5 * x**2 + d - d * v + d * torch.log(v.clamp_min(1e-300)))
        take = todo & ok
        out = torch.where(take, d * v, out)
        todo = todo & ~ok
    if boost:
        u = torch.rand(shape, generator=generator, dtype=dtype, device=device)
        out = out * u.clamp_min(1e-300) ** (1.0 / c)
    return out.clamp_min(torch.finfo(dtype).tiny)


def gridworld(
    n_rows: int = 5,
    n_cols: int = 5,
    *,
    step_reward: float = -1.0,
    gamma: float = 0.95,
    walls: Iterable[tuple[int, int]] = (),
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> TabularMDP:
    """A deterministic grid: start in the top-left corner, absorbing goal in the bottom-right.

    States are the cells, numbered row-major (``s = row * n_cols + col``);
    actions are :data:`GRID_ACTIONS` (up, down, left, right). A move into the
    border or into a wall cell leaves the agent where it is. Every action in a
    non-goal cell earns ``step_reward`` (default −1), so the return of a route
    is minus its discounted length. The goal is absorbing: every action there
    loops back to it with reward 0 (its soft value is then τ log|A|/(1−γ), the
    most entropy any state can collect, so lingering elsewhere never pays).

    Without walls every monotone (right/down only) route is a shortest one,
    and there are C(n_rows + n_cols − 2, n_rows − 1) of them: equally good
    routes among which a hard-max policy must pick one.

    Returns a batch of one MDP with μ₀ concentrated on the start cell.
    """
    require_int_at_least("n_rows", n_rows, 1)
    require_int_at_least("n_cols", n_cols, 1)
    if n_rows * n_cols < 2:
        raise ConfigError("a gridworld needs at least two cells")
    if not math.isfinite(step_reward):
        raise ConfigError(f"step_reward must be finite, got {step_reward!r}")
    S, A = n_rows * n_cols, len(GRID_ACTIONS)
    blocked = set()
    for cell in walls:
        i, j = cell
        if not (0 <= i < n_rows and 0 <= j < n_cols):
            raise ConfigError(f"wall {cell!r} lies outside the {n_rows}x{n_cols} grid")
        blocked.add((i, j))
    start, goal = 0, S - 1
    if (0, 0) in blocked or (n_rows - 1, n_cols - 1) in blocked:
        raise ConfigError("the start and goal cells cannot be walls")
    P = torch.zeros((S, A, S), dtype=dtype)
    r = torch.full((S, A), float(step_reward), dtype=dtype)
    for i in range(n_rows):
        for j in range(n_cols):
            s = i * n_cols + j
            for a, (di, dj) in enumerate(_GRID_MOVES):
                if s == goal:
                    P[s, a, s] = 1.0
                    continue
                ni, nj = i + di, j + dj
                if not (0 <= ni < n_rows and 0 <= nj < n_cols) or (ni, nj) in blocked:
                    ni, nj = i, j
                P[s, a, ni * n_cols + nj] = 1.0
    r[goal] = 0.0
    mu0 = torch.zeros(S, dtype=dtype)
    mu0[start] = 1.0
    return TabularMDP(P=P, r=r, gamma=gamma, mu0=mu0).to(device=device)


def policy_transition(mdp: TabularMDP, pi: Tensor) -> Tensor:
    """P_π[b, s, s'] = Σ_a π(a|s) P(s'|s, a) for a policy ``pi[b, s, a]``."""
    require_shape("pi", pi, (mdp.batch_size, mdp.n_states, mdp.n_actions), meaning="[b, S, A]")
    tol = _row_tolerance(pi.dtype)
    if not bool(torch.all(pi >= 0)) or not bool(torch.all((pi.sum(-1) - 1).abs() <= tol)):
        raise ConfigError("pi[b, s, :] must be a probability distribution over actions in every state")
    return torch.einsum("bsa,bsan->bsn", pi.to(mdp.dtype), mdp.P)


def state_visitation(mdp: TabularMDP, pi: Tensor, *, horizon: int, discounted: bool = False) -> Tensor:
    """Expected visits Σ_{t<T} Pr(s_t = s) (times γ^t if ``discounted``) under ``pi``; ``[b, S]``.

    Exact (a forward recursion on the state distribution from μ₀), not sampled.
    """
    require_int_at_least("horizon", horizon, 1)
    P_pi = policy_transition(mdp, pi)
    d = mdp.mu0.clone()
    total = torch.zeros_like(d)
    weight = torch.ones(mdp.batch_size, 1, dtype=mdp.dtype, device=mdp.device)
    g = mdp.gamma_tensor().unsqueeze(-1)
    for _ in range(horizon):
        total = total + weight * d
        d = torch.einsum("bs,bsn->bn", d, P_pi)
        if discounted:
            weight = weight * g
    return total
