"""Deterministic MDPs stored as sparse graphs: the planning space of MaxEnt IRL.

Ziebart et al. (2008) model a road network as a *deterministic* MDP whose
states are road segments and whose actions are the transitions at
intersections: some 300,000 states and 900,000 actions. A dense transition
tensor ``P[s, a, s']`` of that size would hold ~10^17 entries, so here an
action is an *edge* of a directed graph:

* ``src[e]``  the state s the action is taken in,
* ``dst[e]``  the state s' it leads to (probability one),

for ``e = 0 .. E-1``. Features live on states (``f_s``, Ziebart's road
characteristics, eq. 1's path feature counts are their sums) and, optionally,
on actions (``g_a``, e.g. the turn type at an intersection). The reward of a
path ζ = (s_0, a_0, s_1, ..., s_T = goal) is

    θᵀ f_ζ = Σ_{t<T} θᵀ (f_{s_t} + g_{a_t}),

the goal being an absorbing state that earns nothing (Ziebart et al. 2008,
"Route Choice as an MDP"). Trips that differ only in their goal share one
graph and one θ; a *batch* of goals ``goal[b]`` is the batch dimension of
every computation in :mod:`maxentrl.irl.maxent`.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import torch
from torch import Tensor

from maxentrl.errors import ConfigError, require_int_at_least
from maxentrl.irl import _checks as check

__all__ = ["GraphMDP", "SparsePlan", "path_features", "path_reward", "grid_graph"]


@dataclasses.dataclass(frozen=True)
class GraphMDP:
    """A deterministic MDP as an edge list.

    Attributes:
        num_states: S, the number of states.
        src: ``[E]`` long, state each action is taken in.
        dst: ``[E]`` long, state each action leads to.
        state_features: ``[S, K]`` float, f_s (Ziebart et al. 2008, eq. 1).
        action_features: ``[E, K]`` float, g_a, features paid when taking action a
            (zeros when rewards live on states only, as in the paper's notation).
    """

    num_states: int
    src: Tensor
    dst: Tensor
    state_features: Tensor
    action_features: Tensor

    def __post_init__(self) -> None:
        if not isinstance(self.num_states, int) or isinstance(self.num_states, bool) or self.num_states < 1:
            raise ConfigError(f"num_states must be a positive integer, got {self.num_states!r}")
        for name in ("src", "dst", "state_features", "action_features"):
            if not isinstance(getattr(self, name), Tensor):
                raise ConfigError(f"{name} must be a tensor, got {type(getattr(self, name)).__name__}")
        S, E = self.num_states, int(self.src.shape[0])
        if self.src.ndim != 1 or self.dst.shape != self.src.shape:
            raise ConfigError("src and dst must be 1-d tensors of equal length")
        if self.src.dtype != torch.long or self.dst.dtype != torch.long:
            raise ConfigError("src and dst must be long tensors")
        if E and (int(self.src.min()) < 0 or int(self.src.max()) >= S or int(self.dst.min()) < 0 or int(self.dst.max()) >= S):
            raise ConfigError(f"edge endpoints must lie in [0, {S})")
        if self.state_features.ndim != 2 or self.state_features.shape[0] != S:
            raise ConfigError(f"state_features must have shape [S={S}, K], got {tuple(self.state_features.shape)}")
        K = self.state_features.shape[1]
        if tuple(self.action_features.shape) != (E, K):
            raise ConfigError(f"action_features must have shape [E={E}, K={K}], got {tuple(self.action_features.shape)}")
        for name in ("state_features", "action_features"):
            x = getattr(self, name)
            if not x.is_floating_point() or not bool(torch.isfinite(x).all()):
                raise ConfigError(f"{name} must be finite floating-point numbers")
        if self.action_features.dtype != self.state_features.dtype:
            raise ConfigError("state_features and action_features must have the same dtype")

    @property
    def num_actions(self) -> int:
        """E, the number of actions (edges)."""
        return int(self.src.shape[0])

    @property
    def num_features(self) -> int:
        """K, the number of features."""
        return int(self.state_features.shape[1])

    @staticmethod
    def from_edges(num_states: int, src, dst, state_features: Tensor, action_features: Tensor | None = None) -> "GraphMDP":
        """Build from edge lists (anything ``torch.as_tensor`` takes); action features default to zeros.

        Actions keep the order given; give them sorted by ``src`` for the fast path.
        """
        if not isinstance(num_states, int) or isinstance(num_states, bool) or num_states < 1:
            raise ConfigError(f"num_states must be a positive integer, got {num_states!r}")
        f = check.tensor("state_features", state_features)
        if not f.is_floating_point():
            f = f.double()
        src_t = check.indices("src", src, num_states).to(f.device)
        dst_t = check.indices("dst", dst, num_states).to(f.device)
        if action_features is None:
            action_features = torch.zeros(src_t.shape[0], f.shape[1], dtype=f.dtype, device=f.device)
        return GraphMDP(num_states, src_t, dst_t, f, torch.as_tensor(action_features, dtype=f.dtype, device=f.device))

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "GraphMDP":
        """The same graph with tensors on ``device`` and features in ``dtype``."""
        return GraphMDP(
            self.num_states,
            self.src.to(device),
            self.dst.to(device),
            self.state_features.to(device=device, dtype=dtype),
            self.action_features.to(device=device, dtype=dtype),
        )

    def action_rewards(self, theta: Tensor) -> Tensor:
        """``[E]`` reward of taking each action: θᵀ(f_{src(a)} + g_a) (Algorithm 1's e^{reward(s_i|θ)})."""
        theta = check.theta("theta", theta, self.num_features).to(device=self.src.device, dtype=self.state_features.dtype)
        return self.state_features[self.src] @ theta + self.action_features @ theta

    @functools.cached_property
    def src_segments(self) -> Tensor | None:
        """``[S]`` out-degrees when the actions are sorted by ``src`` (CSR order), else ``None``.

        Sorted graphs let sums over a state's actions use ``torch.segment_reduce``,
        several times faster than scatter operations on a CPU.
        """
        if self.num_actions == 0 or not bool((self.src[1:] >= self.src[:-1]).all()):
            return None
        return torch.bincount(self.src, minlength=self.num_states)

    @functools.cached_property
    def sparse_plan(self) -> "SparsePlan":
        """The graph's sparse-matrix layout for the linear-space passes (built once per graph)."""
        return SparsePlan.build(self.num_states, self.src.cpu().numpy(), self.dst.cpu().numpy())

    def out_degree(self) -> Tensor:
        """``[S]`` number of actions available in each state."""
        return torch.bincount(self.src, minlength=self.num_states)


@dataclasses.dataclass(frozen=True)
class SparsePlan:
    """Where each action's weight goes in the S × S matrices W[s, s'] = Σ_{a: s→s'} w_a and its transpose.

    Several actions between the same two states are summed into one entry
    (minimized, for shortest paths). The arrays are NumPy, for SciPy's sparse
    kernels; :meth:`matrix` fills in the weights of one θ.

    Attributes:
        num_states: S.
        slot: ``[E]`` the entry of ``W`` (CSR order, rows = src) each action adds to.
        indptr, indices: CSR structure of ``W`` (nnz entries).
        slot_t: ``[E]`` the entry of ``Wᵀ`` (CSR order, rows = dst) each action adds to.
        indptr_t, indices_t: CSR structure of ``Wᵀ``.
        unique: whether no two actions join the same pair of states.
    """

    num_states: int
    slot: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    slot_t: np.ndarray
    indptr_t: np.ndarray
    indices_t: np.ndarray
    unique: bool

    @staticmethod
    def _layout(S: int, row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        key = row.astype(np.int64) * S + col
        uniq, slot = np.unique(key, return_inverse=True)
        r, c = uniq // S, uniq % S
        indptr = np.zeros(S + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=S), out=indptr[1:])
        return slot.reshape(-1), indptr, c

    @staticmethod
    def build(S: int, src: np.ndarray, dst: np.ndarray) -> "SparsePlan":
        slot, indptr, indices = SparsePlan._layout(S, src, dst)
        slot_t, indptr_t, indices_t = SparsePlan._layout(S, dst, src)
        return SparsePlan(S, slot, indptr, indices, slot_t, indptr_t, indices_t, bool(len(indices) == len(src)))

    def matrix(self, weight: np.ndarray, *, transpose: bool = False, reduce: str = "sum"):
        """``W`` (or ``Wᵀ``) as a SciPy CSR matrix with the action weights ``weight`` (``[E]``) summed or minimized."""
        from scipy.sparse import csr_matrix

        slot, indptr, indices = (self.slot_t, self.indptr_t, self.indices_t) if transpose else (self.slot, self.indptr, self.indices)
        if self.unique:
            data = np.empty(len(indices), dtype=np.float64)
            data[slot] = weight
        elif reduce == "sum":
            data = np.bincount(slot, weights=weight, minlength=len(indices))
        else:
            data = np.full(len(indices), np.inf)
            np.minimum.at(data, slot, weight)
        return csr_matrix((data, indices, indptr), shape=(self.num_states, self.num_states))


def path_features(mdp: GraphMDP, actions: Tensor | list[int]) -> Tensor:
    """f_ζ = Σ_t (f_{s_t} + g_{a_t}) for a path given as its action (edge) indices; shape ``[K]``."""
    a = check.indices("actions", actions, mdp.num_actions).to(mdp.src.device)
    return mdp.state_features[mdp.src[a]].sum(0) + mdp.action_features[a].sum(0)


def path_reward(mdp: GraphMDP, theta: Tensor, actions: Tensor | list[int]) -> Tensor:
    """θᵀ f_ζ (Ziebart et al. 2008, eq. 2's exponent)."""
    return path_features(mdp, actions) @ theta


def grid_graph(height: int, width: int, state_features: Tensor) -> GraphMDP:
    """A 4-connected gridworld (moves up/down/left/right, walls block), states numbered row-major.

    ``state_features`` has shape ``[height * width, K]``; actions carry no features.
    """
    require_int_at_least("height", height, 1)
    require_int_at_least("width", width, 1)
    state_features = check.shape("state_features", check.tensor("state_features", state_features), (height * width, None))
    src, dst = [], []
    for r in range(height):
        for c in range(width):
            s = r * width + c
            for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                rr, cc = r + dr, c + dc
                if 0 <= rr < height and 0 <= cc < width:
                    src.append(s)
                    dst.append(rr * width + cc)
    return GraphMDP.from_edges(height * width, src, dst, state_features)
