"""Maximum-entropy IRL on sparse deterministic MDPs (Ziebart et al. 2008).

The model (eq. 2) puts probability P(ζ|θ) = exp(θᵀf_ζ)/Z(θ) on every path ζ
from a start state to the goal. Everything learning needs comes from
**Algorithm 1**, written here over an edge list so it runs on graphs with
hundreds of thousands of states, batched over goals ``b`` (one row per goal):

* :func:`backward_pass` — steps 1–2, the partition functions Z_{a}, Z_{s}, in
  log space (``log_Z_state[b, s]``, ``log_Z_action[b, a]``). With τ = 1 this
  *is* soft value iteration: V(s) = log Z_s = log Σ_a exp(r(s, a) + V(s')).
* :func:`local_action_probabilities` — step 3, π(a|s) = Z_a / Z_s, the
  stochastic policy of eq. 5.
* :func:`forward_pass` — steps 4–6, expected state and action (edge)
  visitation frequencies D_s, D_a.
* :func:`log_likelihood_and_gradient` — L(θ) and eq. 6's gradient
  f̃ − Σ_a D_a (f_{src(a)} + g_a).

The backward pass sums over the actions leaving a state with a dense
slot-major table of them (:func:`out_edge_table`: a gather and a logsumexp);
the forward pass sums over the actions entering a state with ``index_add_``.
Each pass costs O(E) per iteration on CPU or GPU.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from maxentrl.errors import ConfigError, require_int_at_least, require_positive
from maxentrl.irl import _checks as check
from maxentrl.irl.graph import GraphMDP

__all__ = [
    "segment_logsumexp",
    "BackwardPass",
    "backward_pass",
    "local_action_probabilities",
    "forward_pass",
    "Visitation",
    "expected_visitation",
    "cost_to_goal",
    "shaped_visitation",
    "linear_visitation",
    "shaped_backups",
    "SHAPED_RANGE",
    "expected_feature_counts",
    "Demonstrations",
    "make_demonstrations",
    "log_likelihood_and_gradient",
    "FitResult",
    "FitState",
    "resume_state",
    "LBFGS_TOLERANCE_CHANGE",
    "LBFGS_LINE_SEARCH_EVALS",
    "fit_gradient",
    "fit_exponentiated_gradient",
    "fit_lbfgs",
    "sample_paths",
    "out_edge_table",
    "check_demonstrations",
]


def segment_logsumexp(x: Tensor, index: Tensor, num_segments: int, *, lengths: Tensor | None = None) -> Tensor:
    """log Σ_{e: index[e]=s} exp(x[..., e]) for every segment s; ``x`` is ``[B, E]``, result ``[B, S]``.

    Empty segments give −inf. Stable: the per-segment maximum is subtracted
    first. When ``index`` is sorted, pass ``lengths`` (the segment sizes, ``[S]``)
    to use ``torch.segment_reduce`` instead of scatter operations.
    """
    x = check.tensor("x", x)
    check.shape("x", x, (None, None))
    index = check.indices("index", index, num_segments)
    if index.shape[0] != x.shape[1]:
        raise ConfigError(f"index must have one entry per column of x ({x.shape[1]}), got {index.shape[0]}")
    if bool(torch.isnan(x).any()):
        raise ConfigError("x must not hold NaN")
    if lengths is not None:
        check.shape("lengths", check.tensor("lengths", lengths), (num_segments,))
    B = x.shape[0]
    if lengths is not None:
        L = lengths.unsqueeze(0).expand(B, -1)
        m = torch.segment_reduce(x, "max", lengths=L, axis=1, unsafe=True)
        m_safe = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        s = torch.segment_reduce(torch.exp(x - m_safe.index_select(1, index)), "sum", lengths=L, axis=1, unsafe=True)
        return m_safe + torch.log(s)
    idx = index.unsqueeze(0).expand(B, -1)
    m = torch.full((B, num_segments), -math.inf, dtype=x.dtype, device=x.device)
    m.scatter_reduce_(1, idx, x, reduce="amax", include_self=True)
    m_safe = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    s = torch.zeros_like(m).index_add_(1, index, torch.exp(x - m_safe.index_select(1, index)))
    return m_safe + torch.log(s)


_LOG_ZERO = -1e30
"""Finite stand-in for log 0 inside the backward pass (far below any real log Z)."""


def _goal_mask(mdp: GraphMDP, goal: Tensor) -> tuple[Tensor, Tensor]:
    """``is_goal[b, s]`` and ``leaves_goal[b, a]`` (actions out of an absorbing goal are disabled)."""
    goal = goal.to(device=mdp.src.device, dtype=torch.long)
    is_goal = torch.zeros(goal.shape[0], mdp.num_states, dtype=torch.bool, device=goal.device)
    is_goal[torch.arange(goal.shape[0], device=goal.device), goal] = True
    return is_goal, is_goal[:, mdp.src]


@dataclasses.dataclass(frozen=True)
class BackwardPass:
    """Result of Algorithm 1's backward pass for a batch of goals.

    Attributes:
        log_Z_state: ``[B, S]`` log Z_s, the log partition function of paths from s to goal b.
        log_Z_action: ``[B, E]`` log Z_a = reward(a) + log Z_{dst(a)}.
        iterations: number of backups done (N, or fewer when ``tol`` stopped it).
        history: ``[N+1, B, S]`` log Z_s after 0..N backups, when asked for (time-varying policy).
    """

    log_Z_state: Tensor
    log_Z_action: Tensor
    iterations: int
    history: Tensor | None = None


def backward_pass(
    mdp: GraphMDP,
    theta: Tensor,
    goal: Tensor,
    *,
    horizon: int,
    tol: float = 0.0,
    keep_history: bool = False,
    gamma: float = 1.0,
) -> BackwardPass:
    """Algorithm 1, steps 1–2, in log space (Ziebart et al. 2008).

    Step 1 sets Z_{goal} = 1 (log 0) and every other Z_s = 0 (log −inf); step 2
    repeats ``horizon`` times

        log Z_a = θᵀ(f_{s} + g_a) + log Z_{s'}           (a: s → s')
        log Z_s = log Σ_{a ∈ A(s)} Z_a    (s ≠ goal),     log Z_goal = 0,

    so after n backups Z_s sums exp(θᵀf_ζ) over all paths from s that reach the
    goal in at most n actions. This is soft value iteration at temperature
    τ = 1 with V = log Z, no discount and an absorbing zero-value goal.

    Args:
        mdp: the graph (S states, E actions, K features).
        theta: ``[K]`` reward weights θ.
        goal: ``[B]`` goal state of each batch row.
        horizon: N, the maximum number of backups.
        tol: stop early once no finite log Z_s moves by more than ``tol``
            (0 runs exactly ``horizon`` backups).
        keep_history: also return every iterate (memory N·B·S), for the exact
            finite-horizon, time-varying policy.
        gamma: discount γ in log Z_a = r_a + γ log Z_{s'}. Ziebart et al. use
            γ = 1 (a partition function over paths); γ < 1 gives the discounted
            soft value iteration of Haarnoja et al. (2017) at τ = 1, which the
            tests compare with :func:`maxentrl.soft_bellman.soft_value_iteration`.
    """
    if not (isinstance(gamma, (int, float)) and 0.0 < gamma <= 1.0):
        raise ConfigError(f"gamma must lie in (0, 1], got {gamma!r}")
    check.horizon(horizon)
    check.tolerance(tol)
    theta = check.theta("theta", theta, mdp.num_features).to(device=mdp.src.device, dtype=mdp.state_features.dtype)
    goal = check.indices("goal", goal, mdp.num_states).to(mdp.src.device)
    is_goal, leaves_goal = _goal_mask(mdp, goal)
    r_a = mdp.action_rewards(theta).unsqueeze(0)  # [1, E]
    neg_inf = torch.tensor(-math.inf, dtype=r_a.dtype, device=r_a.device)
    zero = torch.zeros((), dtype=r_a.dtype, device=r_a.device)
    # log 0 (a state that cannot reach the goal yet) is carried as the finite
    # stand-in _LOG_ZERO: it contributes exp(_LOG_ZERO − m) = 0 exactly, like
    # −inf would, but keeps the logarithm of an all-empty sum off the slow
    # special-value path of the CPU kernels. It is mapped back to −inf below.
    log_zero = torch.tensor(_LOG_ZERO, dtype=r_a.dtype, device=r_a.device)
    log_Z = torch.where(is_goal, zero, log_zero)  # step 1
    history = [log_Z] if keep_history else None
    # The actions leaving each state as a dense slot-major table [K, S] (K the
    # largest out-degree; empty slots carry log 0): a backup is then one gather
    # and one logsumexp over the slot axis, several times faster than
    # scatter-based segment reductions over the action list.
    table = out_edge_table(mdp).T  # [K, S]
    slot = table.clamp(min=0)
    K, S = table.shape
    dst_flat = mdp.dst[slot].reshape(-1)  # [K·S]
    r_table = torch.where(table >= 0, r_a[0, slot], log_zero)  # [K, S]
    rows = torch.arange(goal.shape[0], device=goal.device)
    n = 0
    for n in range(1, horizon + 1):
        log_Z_next = log_Z.index_select(1, dst_flat).view(-1, K, S)  # log Z_{s'} of each action
        if gamma != 1.0:
            log_Z_next = gamma * log_Z_next
        new = torch.logsumexp(r_table + log_Z_next, dim=1).clamp_(min=_LOG_ZERO)  # [B, S]
        new[rows, goal] = 0.0  # the goal is absorbing: nothing leaves it, log Z_goal = 0
        if history is not None:
            history.append(new)
        if tol > 0:
            reached = new > _LOG_ZERO
            same_support = torch.equal(reached, log_Z > _LOG_ZERO)
            delta = (new - log_Z).abs()[reached].max() if bool(reached.any()) else zero
            log_Z = new
            if same_support and float(delta) <= tol:
                break
        else:
            log_Z = new
    log_Z = torch.where(log_Z > _LOG_ZERO, log_Z, neg_inf)
    if history is not None:
        history = [torch.where(h > _LOG_ZERO, h, neg_inf) for h in history]
    log_Z_a = torch.where(leaves_goal, neg_inf, r_a + gamma * log_Z.index_select(1, mdp.dst))
    return BackwardPass(log_Z, log_Z_a, n, torch.stack(history) if history is not None else None)


def local_action_probabilities(mdp: GraphMDP, log_Z_action: Tensor, log_Z_state: Tensor) -> Tensor:
    """Algorithm 1, step 3: π(a|s) = Z_a / Z_s, shape ``[B, E]`` (eq. 5's policy).

    Actions in states that cannot reach the goal (Z_s = 0) get probability 0.
    """
    check.shape("log_Z_state", check.tensor("log_Z_state", log_Z_state), (None, mdp.num_states))
    check.shape("log_Z_action", check.tensor("log_Z_action", log_Z_action), (log_Z_state.shape[0], mdp.num_actions))
    if bool(torch.isnan(log_Z_state).any()) or bool(torch.isnan(log_Z_action).any()) or bool((log_Z_state == math.inf).any()):
        raise ConfigError("log_Z_state and log_Z_action must not hold NaN or +inf")
    log_Z_src = log_Z_state.index_select(1, mdp.src)
    pi = torch.exp(log_Z_action - log_Z_src)
    return torch.where(torch.isfinite(log_Z_src), pi, torch.zeros_like(pi))


def forward_pass(
    mdp: GraphMDP,
    pi: Tensor,
    D0: Tensor,
    *,
    horizon: int,
    tol: float = 0.0,
) -> tuple[Tensor, Tensor, int]:
    """Algorithm 1, steps 4–6: expected visitation frequencies.

    D_{s,0} = P(s_0 = s) (``D0[b, s]``, a distribution or a sum of them, e.g.
    the start counts of all trips to goal b); then for t = 0 .. N−1

        x_{a,t} = D_{src(a),t} π(a|src(a)),     D_{s',t+1} = Σ_{a: dst(a)=s'} x_{a,t},

    and D_s = Σ_t D_{s,t}, D_a = Σ_t x_{a,t}. Mass that reaches the goal stops
    there (no action leaves an absorbing goal, π = 0 there).

    Args:
        pi: ``[B, E]`` stationary policy, or ``[N, B, E]`` a time-varying one (π_t).
        D0: ``[B, S]`` initial state distribution(s).
        horizon: N, the number of steps.
        tol: stop early once the mass still travelling is below ``tol`` (0: run N steps).

    Returns:
        ``(D_state [B, S], D_action [B, E], steps)``.
    """
    check.horizon(horizon)
    check.tolerance(tol)
    pi = check.tensor("pi", pi)
    time_varying = pi.ndim == 3
    check.shape("pi", pi, (None, None, mdp.num_actions) if time_varying else (None, mdp.num_actions))
    if time_varying and pi.shape[0] < horizon:
        raise ConfigError(f"a time-varying policy needs {horizon} steps, got {pi.shape[0]}")
    check.finite("pi", pi)
    if bool((pi < 0).any()):
        raise ConfigError("pi must be non-negative")
    D0 = check.distribution("D0", D0, int(pi.shape[-2]), mdp.num_states)
    D_t = D0.to(pi.dtype)
    D_state = D_t.clone()
    D_action = torch.zeros(pi.shape[-2:], dtype=pi.dtype, device=pi.device)
    t = 0
    for t in range(horizon):
        pi_t = pi[t] if time_varying else pi
        x = D_t.index_select(1, mdp.src) * pi_t  # step 5: flow along each action
        D_action += x
        D_t = torch.zeros_like(D_t).index_add_(1, mdp.dst, x)
        D_state += D_t  # step 6: sum over time
        if tol > 0 and float(x.sum()) <= tol:
            break
    return D_state, D_action, t + 1


@dataclasses.dataclass(frozen=True)
class Visitation:
    """Output of :func:`expected_visitation` (all of Algorithm 1).

    Attributes:
        D_state: ``[B, S]`` expected state visitation frequencies D_s (goal included: its arrival mass).
        D_action: ``[B, E]`` expected action (edge) frequencies D_a.
        pi: ``[B, E]`` local action probabilities (the last step's, if time-varying).
        log_Z_state: ``[B, S]`` log partition functions after the backward pass.
        backward_iterations: backups done.
        forward_steps: forward steps done.
        method: ``"log"`` (log-space passes), ``"linear"`` (linear-space passes, all goals at once) or
            ``"shaped"`` (potential-shaped linear passes, one goal at a time).
    """

    D_state: Tensor
    D_action: Tensor
    pi: Tensor
    log_Z_state: Tensor
    backward_iterations: int
    forward_steps: int
    method: str = "log"


def expected_visitation(
    mdp: GraphMDP,
    theta: Tensor,
    goal: Tensor,
    D0: Tensor,
    *,
    horizon: int,
    tol: float = 0.0,
    time_varying: bool = False,
    method: str = "auto",
) -> Visitation:
    """Algorithm 1 end to end: backward pass, local action probabilities, forward pass.

    ``method`` picks how the sums are held: ``"log"`` runs the log-space passes
    (:func:`backward_pass`, :func:`forward_pass`), batched over goals, on any
    device; ``"linear"`` runs the linear-space passes of :func:`linear_visitation`
    (CPU, batched over goals); ``"shaped"`` runs the potential-shaped linear
    passes of :func:`shaped_visitation` (CPU, one goal at a time). The two
    linear ones fall back to log space where they cannot hold the numbers.
    ``"auto"`` takes ``"shaped"`` on a CPU for graphs of at least
    :data:`SHAPED_MIN_STATES` states, ``"linear"`` on a CPU below that and
    ``"log"`` elsewhere. All give the same frequencies up to rounding.

    With ``time_varying=False`` (the paper's version) the forward pass uses the
    stationary policy from the last backup: exact for the infinite-horizon model
    once the backward pass has converged (``tol`` > 0), and exact for a DAG once
    ``horizon`` exceeds its longest path. With ``time_varying=True`` step t uses
    π_t(a|s) = Z_a^{(N−t)}/Z_s^{(N−t)}, which is exact for the distribution over
    paths with at most N actions on any graph (the model brute-force enumeration checks).
    """
    check.horizon(horizon)
    check.tolerance(tol)
    if method not in ("auto", "log", "linear", "shaped"):
        raise ConfigError(f"method must be 'auto', 'log', 'linear' or 'shaped', got {method!r}")
    theta = check.theta("theta", theta, mdp.num_features)
    goal = check.indices("goal", goal, mdp.num_states)
    D0 = check.distribution("D0", D0, int(goal.shape[0]), mdp.num_states)
    if time_varying:
        bw = backward_pass(mdp, theta, goal, horizon=horizon, keep_history=True)
        assert bw.history is not None
        hist = bw.history  # [N+1, B, S]
        goal_t = torch.as_tensor(goal, dtype=torch.long, device=mdp.src.device).reshape(-1)
        _, leaves_goal = _goal_mask(mdp, goal_t)
        r_a = mdp.action_rewards(theta.to(device=mdp.src.device, dtype=mdp.state_features.dtype))
        pis = []
        for t in range(horizon):
            m = horizon - t  # paths from step t on may use at most m more actions
            log_Z_a = torch.where(leaves_goal, torch.tensor(-math.inf, dtype=r_a.dtype, device=r_a.device), r_a + hist[m - 1][:, mdp.dst])
            pis.append(local_action_probabilities(mdp, log_Z_a, hist[m]))
        pi = torch.stack(pis)
        D_state, D_action, steps = forward_pass(mdp, pi, D0, horizon=horizon)
        return Visitation(D_state, D_action, pi[-1], bw.log_Z_state, bw.iterations, steps)
    if method == "auto":
        cpu = mdp.src.device.type == "cpu"
        method = "log" if not cpu else "shaped" if mdp.num_states >= SHAPED_MIN_STATES else "linear"
    if method == "linear":
        vis = linear_visitation(mdp, theta, torch.as_tensor(goal).reshape(-1), D0, horizon=horizon, tol=tol)
        if vis is not None:
            return vis
    if method == "shaped":
        vis = shaped_visitation(mdp, theta, torch.as_tensor(goal).reshape(-1), D0, horizon=horizon, tol=tol)
        if vis is not None:
            return vis
    bw = backward_pass(mdp, theta, goal, horizon=horizon, tol=tol)
    pi = local_action_probabilities(mdp, bw.log_Z_action, bw.log_Z_state)
    D_state, D_action, steps = forward_pass(mdp, pi, D0, horizon=horizon, tol=tol)
    return Visitation(D_state, D_action, pi, bw.log_Z_state, bw.iterations, steps)


SHAPED_RANGE = (1e-290, 1e290)
"""The shaped partition functions Z'_s must stay inside this range (float64 holds 1e±308), else
:func:`expected_visitation` falls back to the log-space passes."""

SHAPED_MIN_STATES = 20_000
"""``method="auto"`` uses the shaped passes on a CPU from this many states on (below it the
linear-space passes, one product for all goals per step, are faster)."""


SHAPED_SPLIT_STATES = 100_000
"""From this many states on, each sparse product of the shaped passes is split into two row blocks
computed on two threads (SciPy's kernels release the interpreter lock), when torch may use two."""

_POOL: list = []


class _RowBlocks:
    """A CSR matrix whose product with a vector is computed as two row blocks on two threads (or one)."""

    def __init__(self, W, threads: int) -> None:
        self.W = W
        self.blocks = None
        if threads >= 2:
            # split where half of the stored entries lie, so both threads do the same work
            cut = int(np.searchsorted(W.indptr, W.indptr[-1] // 2))
            self.blocks = (W[:cut], W[cut:])

    def dot(self, x: np.ndarray) -> np.ndarray:
        if self.blocks is None:
            return self.W @ x
        top = _pool().submit(self.blocks[0].dot, x)
        bottom = self.blocks[1] @ x
        return np.concatenate([top.result(), bottom])


SHAPED_BLOCK_ROWS = 2048
"""States per block of :func:`shaped_backups` (a block is recomputed or skipped as a whole)."""

SHAPED_THREAD_NNZ = 400_000
""":func:`shaped_backups` spreads a backup's products over two threads when they hold this many entries."""


def shaped_backups(W, goal: int, order: np.ndarray, *, horizon: int, tol: float = 0.0,
                   threads: int = 1) -> tuple[np.ndarray, int]:
    """Step 2 after shaping: z ← W z with z_goal = 1, ``horizon`` times, computing only rows whose inputs moved.

    A backup z_s ← Σ_{s'} W[s, s'] z_{s'} can give a new value only if some
    successor s' changed in the previous backup. The states are renumbered in
    ``order`` (by cost to the goal, so that neighbours in the list are at a
    similar distance) and cut into blocks of :data:`SHAPED_BLOCK_ROWS`; a
    backup recomputes the rows from the first to the last block that reads from
    a block that changed in the previous backup. Ahead of the wavefront z is
    still 0, behind it z has settled to the last bit, so a backup touches a band
    of the graph rather than all of it. The result is bitwise that of
    recomputing every row every time: a skipped row's inputs are exactly those
    it was last computed from, and each row sums its entries in the same order.
    The backups stop early at a fixed point (nothing changed), or, with ``tol``
    > 0, once no positive z_s moved by more than ``tol`` relatively and none
    became positive.

    Args:
        W: ``[S, S]`` SciPy CSR matrix of the shaped weights, W[s, s'] = Σ_{a: s→s'} e^{r'_a}.
        goal: the goal state (its z is held at 1).
        order: ``[S]`` a permutation of the states.
        horizon: N, the most backups.
        tol: relative tolerance for stopping early (0: only at a fixed point).
        threads: 2 spreads large backups over two threads.
    Returns:
        ``z`` (``[S]``, the shaped partition functions Z'_s) and the number of backups computed.
    """
    S = W.shape[0]
    B = max(1, min(SHAPED_BLOCK_ROWS, S))
    if B == S:  # one block: the plain product z ← W z in every backup
        return _plain_backups(_RowBlocks(W, threads), goal, S, horizon=horizon, tol=tol)
    new_index = np.empty(S, dtype=W.indices.dtype)
    new_index[order] = np.arange(S, dtype=W.indices.dtype)
    Wp = W[order]  # rows in the new numbering; columns renumbered below, each row keeps its order of entries
    ptr, col, val = Wp.indptr, new_index[Wp.indices], Wp.data
    blocks = -(-S // B)
    reads = np.zeros((blocks, blocks), dtype=bool)  # reads[k, j]: a row of block k has a successor in block j
    reads[np.repeat(np.arange(S) // B, np.diff(ptr)), col // B] = True

    def product(r0: int, r1: int) -> np.ndarray:  # rows r0..r1-1 of Wp z
        return _csr_rows_times(ptr, col, val, r0, r1, z)

    g = int(new_index[goal])
    z = np.zeros(S)
    z[g] = 1.0
    changed = np.zeros(blocks, dtype=bool)
    changed[g // B] = True
    n = 0
    for n in range(1, horizon + 1):
        todo = np.flatnonzero(reads[:, changed].any(axis=1))
        if todo.size == 0:  # a fixed point: every later backup gives the same z
            n -= 1
            break
        lo, hi = int(todo[0]), int(todo[-1]) + 1
        r0, r1 = lo * B, min(hi * B, S)
        if threads >= 2 and ptr[r1] - ptr[r0] >= SHAPED_THREAD_NNZ:
            cut = int(np.searchsorted(ptr, (ptr[r0] + ptr[r1]) // 2))
            top = _pool().submit(product, r0, cut)  # SciPy's kernels release the interpreter lock
            v = np.concatenate([top.result(), product(cut, r1)]) if cut < r1 else top.result()
        else:
            v = product(r0, r1)
        if r0 <= g < r1:
            v[g - r0] = 1.0
        old = z[r0:r1]
        moved = v != old
        changed[:] = False
        changed[lo:hi] = np.logical_or.reduceat(moved, np.arange(0, r1 - r0, B))
        settled = False
        if tol > 0:
            pos = v > 0
            settled = np.array_equal(pos, old > 0) and bool(np.all(np.abs(v[pos] - old[pos]) <= tol * v[pos]))
        z[r0:r1] = v
        if settled:
            break
    return z[new_index], n


def _plain_backups(W: "_RowBlocks", goal: int, S: int, *, horizon: int, tol: float) -> tuple[np.ndarray, int]:
    """:func:`shaped_backups` with every row recomputed in every backup (same stopping rules, same bits)."""
    z = np.zeros(S)
    z[goal] = 1.0
    n = 0
    for n in range(1, horizon + 1):
        z_new = W.dot(z)
        z_new[goal] = 1.0
        if np.array_equal(z_new, z):  # a fixed point
            break
        settled = tol > 0 and np.array_equal(z_new > 0, z > 0) and bool(
            np.all(np.abs(z_new - z) <= tol * np.where(z_new > 0, z_new, np.inf)))
        z = z_new
        if settled:
            break
    return z, n


def _csr_rows_times(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, r0: int, r1: int,
                    x: np.ndarray) -> np.ndarray:
    """Rows ``r0``..``r1``-1 of the CSR matrix (``indptr``, ``indices``, ``data``) times ``x``, without copying them.

    Calls SciPy's CSR kernel directly: building a ``csr_matrix`` of the rows first checks and copies
    its arrays, which costs more than the product on the narrow bands of :func:`shaped_backups`.
    """
    a, b = int(indptr[r0]), int(indptr[r1])
    out = np.zeros(r1 - r0)
    if _csr_matvec is None:
        from scipy.sparse import csr_matrix

        return csr_matrix((data[a:b], indices[a:b], indptr[r0:r1 + 1] - a), shape=(r1 - r0, len(x))) @ x
    _csr_matvec(r1 - r0, len(x), indptr[r0:r1 + 1] - a, indices[a:b], data[a:b], x, out)
    return out


try:  # SciPy's compiled CSR product (y += A x), in SciPy since 0.14; where it moves, the public route is used
    from scipy.sparse._sparsetools import csr_matvec as _csr_matvec
except ImportError:  # pragma: no cover
    _csr_matvec = None


def _pool():
    if not _POOL:
        from concurrent.futures import ThreadPoolExecutor

        _POOL.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="maxentrl-shaped"))
    return _POOL[0]


def _hops_to_goal(mdp: GraphMDP, goals: np.ndarray) -> np.ndarray:
    """``[S, B]`` the fewest actions from each state to each goal (+inf where none), by breadth-first search."""
    from scipy.sparse.csgraph import shortest_path

    WT = mdp.sparse_plan.matrix(np.ones(mdp.num_actions), transpose=True)
    return shortest_path(WT, directed=True, unweighted=True, indices=goals).T


def cost_to_goal(mdp: GraphMDP, cost: np.ndarray, goal: int) -> np.ndarray:
    """d(s) = the least total cost Σ_t c_{a_t} of a path from s to ``goal``, for every s (``[S]``, +inf where none).

    Dijkstra from the goal over the reversed graph (SciPy); ``cost`` is ``[E]``, non-negative.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.shape != (mdp.num_actions,) or not np.all(np.isfinite(cost)) or np.any(cost < 0):
        raise ConfigError(f"cost must be a finite, non-negative [E={mdp.num_actions}] array")
    if not (isinstance(goal, (int, np.integer)) and 0 <= int(goal) < mdp.num_states):
        raise ConfigError(f"goal must be a state in [0, {mdp.num_states}), got {goal!r}")
    from scipy.sparse.csgraph import dijkstra

    return dijkstra(mdp.sparse_plan.matrix(cost, transpose=True, reduce="min"), directed=True, indices=int(goal))


def shaped_visitation(
    mdp: GraphMDP, theta: Tensor, goal: Tensor, D0: Tensor, *, horizon: int, tol: float = 0.0
) -> Visitation | None:
    """Algorithm 1 in linear space after potential shaping; ``None`` where that cannot hold the numbers.

    With costs c_a = −r_a ≥ 0 and d(s) the least cost from s to the goal
    (:func:`cost_to_goal`), the potential φ(s) = −d(s) shapes every reward to

        r'_a = r_a + φ(s') − φ(s) ≤ 0        (a: s → s'),

    and a path's shaped reward is its reward plus a constant of its start,
    Σ_t r'_{a_t} = θᵀf_ζ − φ(s_0) (the potentials telescope, φ(goal) = 0). So
    the shaped partition functions are Z'_s = Z_s e^{d(s)} after any number of
    backups, the local probabilities π(a|s) = e^{r'_a} Z'_{s'} / Z'_s are
    exactly Algorithm 1's, and so is the path distribution. Every shaped weight
    is at most 1 and the cheapest path weighs exactly 1, so Z'_s ≥ 1 once the
    horizon covers that path, instead of spanning hundreds of orders of
    magnitude. A backup is then one sparse product z ← W z with
    W[s, s'] = Σ_{a: s→s'} e^{r'_a} (:func:`shaped_backups` computes only the
    rows whose successors moved in the previous backup), and the forward pass is one product with
    Wᵀ per step on y_t = D_t / Z' (since D_{t+1} = Z' ⊙ Wᵀ y_t).

    Returns ``None`` when some reward is positive (no Dijkstra potential) or
    some Z'_s leaves :data:`SHAPED_RANGE` (e.g. θ ≈ 0 on a large graph, where
    Z'_s counts astronomically many paths). Computes in float64 on the CPU and
    returns tensors in the dtype and device of the graph's features.
    """
    check.horizon(horizon)
    check.tolerance(tol)
    theta = check.theta("theta", theta, mdp.num_features)
    goal = check.indices("goal", goal, mdp.num_states)
    D0 = check.distribution("D0", D0, int(goal.shape[0]), mdp.num_states)
    dtype, dev = mdp.state_features.dtype, mdp.src.device
    r = mdp.action_rewards(theta.to(device=dev, dtype=dtype)).detach().cpu().double().numpy()
    if not bool(np.all(r <= 0)):
        return None
    goals = goal.reshape(-1).cpu().tolist()
    D0_np = D0.detach().cpu().double().numpy()
    plan = mdp.sparse_plan
    src, dst = mdp.src.cpu().numpy(), mdp.dst.cpu().numpy()
    S, E, B = mdp.num_states, mdp.num_actions, len(goals)
    lo, hi = SHAPED_RANGE
    threads = 2 if S >= SHAPED_SPLIT_STATES and torch.get_num_threads() >= 2 else 1
    log_Z = np.empty((B, S))
    D_state = np.empty((B, S))
    D_action = np.empty((B, E))
    pi = np.empty((B, E))
    iters = steps = 0
    for b, g in enumerate(goals):
        d = cost_to_goal(mdp, -r, g)
        reach = np.isfinite(d)
        d_src, d_dst = np.where(reach[src], d[src], 0.0), np.where(reach[dst], d[dst], 0.0)
        w = np.where(reach[src] & reach[dst] & (src != g), np.exp(r - d_dst + d_src), 0.0)  # e^{r'_a} ≤ 1
        order = np.argsort(d, kind="stable")  # states by cost to the goal (unreachable ones last)
        z, n = shaped_backups(plan.matrix(w), g, order, horizon=horizon, tol=tol, threads=threads)  # step 2
        iters = max(iters, n)
        if not (np.all(np.isfinite(z)) and z.max() <= hi and np.all(z[reach] >= lo)):
            return None
        pos = z > 0
        with np.errstate(divide="ignore"):
            log_Z[b] = np.where(pos, np.log(np.where(pos, z, 1.0)) - np.where(reach, d, 0.0), -np.inf)
        pi[b] = np.where(pos[src], w * z[dst] / np.where(pos[src], z[src], 1.0), 0.0)  # step 3
        WT = _RowBlocks(plan.matrix(w, transpose=True), threads)
        y = np.where(pos, D0_np[b] / np.where(pos, z, 1.0), 0.0)  # y_0 = D_0 / Z'
        Y = np.zeros(S)
        t = 0
        for t in range(horizon):  # forward pass, steps 4–6, on y_t = D_t / Z'
            Y += y
            y = WT.dot(y)
            if tol > 0 and float(y @ z) <= tol:
                break
        steps = max(steps, t + 1)
        D_action[b] = pi[b] * (z[src] * Y[src])  # D_a = π(a|s) Σ_t D_{s,t}
        D_state[b] = z * (Y + y) + np.where(pos, 0.0, D0_np[b])
    as_t = lambda x: torch.from_numpy(x).to(device=dev, dtype=dtype)  # noqa: E731
    return Visitation(as_t(D_state), as_t(D_action), as_t(pi), as_t(log_Z), iters, steps, method="shaped")


def linear_visitation(
    mdp: GraphMDP, theta: Tensor, goal: Tensor, D0: Tensor, *, horizon: int, tol: float = 0.0
) -> Visitation | None:
    """Algorithm 1 in linear space for all goals at once; ``None`` where float64 cannot hold the numbers.

    With every reward r_a ≤ 0 the weights w_a = e^{r_a} are at most 1, and the
    backups of step 2 for the B goals are one sparse-times-dense product per
    backup, Z ← W Z with W[s, s'] = Σ_{a: s→s'} w_a and Z[goal_b, b] held at 1
    (``[S, B]``, SciPy CSR on the CPU). The forward pass works on y_t = D_t / Z
    (elementwise), for which D_{t+1}(s') = Σ_{a: s→s'} D_t(s) w_a Z_{s'} / Z_s
    becomes y_{t+1} = Wᵀ y_t, with y held at 0 on each column's goal (nothing
    leaves it); then D_s = Z_s Σ_t y_t(s) and D_a = w_a Z_{s'} Σ_t y_t(s).
    These are Algorithm 1's sums, not an approximation: the same numbers as the
    log-space passes up to rounding, at the cost of two products per step
    instead of a log-sum-exp over every action.

    Linear space cannot hold Z when paths are long and cheap (θ ≈ 0 on a large
    graph: astronomically many paths) or expensive (e^{−r} beyond float64).
    The function then returns ``None`` and :func:`expected_visitation` falls back
    to log space: when some reward is positive, when a Z_s is not finite or
    leaves :data:`SHAPED_RANGE`, or when a state that reaches its goal within
    the backups done was rounded to Z_s = 0.
    """
    check.horizon(horizon)
    check.tolerance(tol)
    theta = check.theta("theta", theta, mdp.num_features)
    goal = check.indices("goal", goal, mdp.num_states).reshape(-1)
    D0 = check.distribution("D0", D0, int(goal.shape[0]), mdp.num_states)
    dtype, dev = mdp.state_features.dtype, mdp.src.device
    r = mdp.action_rewards(theta.to(device=dev, dtype=dtype)).detach().cpu().double().numpy()
    if not bool(np.all(r <= 0)):
        return None
    plan = mdp.sparse_plan
    src, dst = mdp.src.cpu().numpy(), mdp.dst.cpu().numpy()
    g = goal.cpu().numpy()
    S, B = mdp.num_states, len(g)
    cols = np.arange(B)
    w = np.exp(r)
    W, WT = plan.matrix(w), plan.matrix(w, transpose=True)
    lo, hi = SHAPED_RANGE
    Z = np.zeros((S, B))
    Z[g, cols] = 1.0  # step 1
    reached = Z > 0
    n = 0
    for n in range(1, horizon + 1):  # step 2: Z ← W Z, goals held at 1
        new = W @ Z
        new[g, cols] = 1.0
        if not np.isfinite(new).all() or new.max() > hi:
            return None
        new_reached = new > 0
        settled = tol > 0 and np.array_equal(new_reached, reached) and \
            bool(np.all(np.abs(new - Z) <= tol * new))
        Z, reached = new, new_reached
        if settled:
            break
    # a state n actions or fewer from its goal has Z_s > 0 in exact arithmetic: refuse if one was rounded to 0
    hops = _hops_to_goal(mdp, g)
    if not np.array_equal(reached, hops <= n) or (reached.any() and Z[reached].min() < lo):
        return None
    with np.errstate(divide="ignore"):
        log_Z = np.where(reached, np.log(np.where(reached, Z, 1.0)), -np.inf)
    inv_Z = np.where(reached, 1.0 / np.where(reached, Z, 1.0), 0.0)
    D0_T = D0.detach().cpu().double().numpy().T  # [S, B]
    y = D0_T * inv_Z  # y_0 = D_0 / Z
    Y = np.zeros((S, B))  # Σ_t y_t
    t = 0
    for t in range(horizon):  # steps 4–6
        Y += y
        y[g, cols] = 0.0  # nothing leaves the goal
        moving = float((y * Z).sum())  # the mass that takes an action at step t
        y = WT @ y
        if tol > 0 and moving <= tol:
            break
    leaving = Y.copy()
    leaving[g, cols] = 0.0  # Σ_{t<T} y_t at the states that take actions
    Y += y  # the last step's arrivals
    D_state = Z * Y + np.where(reached, 0.0, D0_T)  # a state that cannot reach its goal keeps only its start mass
    leaves_goal = src[None, :] == g[:, None]  # [B, E]
    pi = np.where(leaves_goal, 0.0, w[None, :] * Z[dst].T * inv_Z[src].T)  # step 3
    D_action = np.where(leaves_goal, 0.0, w[None, :] * Z[dst].T * leaving[src].T)  # D_a = π(a|s) Σ_t D_t(s)
    as_t = lambda x: torch.from_numpy(np.ascontiguousarray(x)).to(device=dev, dtype=dtype)  # noqa: E731
    return Visitation(as_t(D_state.T), as_t(D_action), as_t(pi), as_t(log_Z.T), n, t + 1, method="linear")


def expected_feature_counts(mdp: GraphMDP, D_action: Tensor) -> Tensor:
    """Σ_ζ P(ζ) f_ζ = Σ_a D_a (f_{src(a)} + g_a), shape ``[B, K]`` (eq. 6's second term)."""
    check.finite("D_action", check.shape("D_action", check.tensor("D_action", D_action), (None, mdp.num_actions)))
    return D_action @ (mdp.state_features[mdp.src] + mdp.action_features)


@dataclasses.dataclass(frozen=True)
class Demonstrations:
    """Demonstrated paths, summarized as eq. 6 needs them.

    Attributes:
        start: ``[M]`` first state of each path.
        goal: ``[M]`` goal (last state) of each path.
        feature_counts: ``[M, K]`` f_ζ̃ of each path.
        actions: the paths as lists of action indices (kept for evaluation).
    """

    start: Tensor
    goal: Tensor
    feature_counts: Tensor
    actions: tuple[tuple[int, ...], ...] = ()

    def __len__(self) -> int:
        return int(self.start.shape[0])

    def subset(self, index) -> "Demonstrations":
        """The demonstrations at positions ``index`` (a list or long tensor)."""
        idx = torch.as_tensor(index, dtype=torch.long)
        acts = tuple(self.actions[int(i)] for i in idx) if self.actions else ()
        return Demonstrations(self.start[idx.to(self.start.device)], self.goal[idx.to(self.goal.device)],
                              self.feature_counts[idx.to(self.feature_counts.device)], acts)


def make_demonstrations(mdp: GraphMDP, paths: list[list[int]]) -> Demonstrations:
    """Demonstrations from paths given as action-index lists (each non-empty, ending at its goal)."""
    if not paths:
        raise ConfigError("need at least one demonstrated path")
    dev = mdp.src.device
    phi = mdp.state_features[mdp.src] + mdp.action_features
    starts, goals, feats = [], [], []
    for p in paths:
        if len(p) == 0:
            raise ConfigError("a demonstrated path must take at least one action")
        a = check.indices("a demonstrated path's actions", p, mdp.num_actions).to(dev)
        if len(p) > 1 and not bool(torch.equal(mdp.dst[a[:-1]], mdp.src[a[1:]])):
            raise ConfigError("a demonstrated path must be connected (dst of each action = src of the next)")
        starts.append(int(mdp.src[a[0]]))
        goals.append(int(mdp.dst[a[-1]]))
        feats.append(phi[a].sum(0))
    return Demonstrations(
        torch.tensor(starts, dtype=torch.long, device=dev),
        torch.tensor(goals, dtype=torch.long, device=dev),
        torch.stack(feats),
        tuple(tuple(int(x) for x in p) for p in paths),
    )


def check_demonstrations(mdp: GraphMDP, demos: Demonstrations, *, horizon: int | None = None) -> None:
    """Refuse demonstrations that do not fit the graph, or (given ``horizon``) are longer than it.

    A demonstration longer than N actions lies outside the model of paths with
    at most N actions (its probability is 0), and one whose start cannot reach
    its goal within N makes the log-likelihood +inf.
    """
    M = len(demos)
    if M == 0:
        raise ConfigError("need at least one demonstration")
    check.indices("demonstration starts", demos.start, mdp.num_states)
    check.indices("demonstration goals", demos.goal, mdp.num_states)
    check.finite("demonstration feature counts",
                 check.shape("demonstration feature counts", demos.feature_counts, (M, mdp.num_features)))
    if demos.goal.shape != demos.start.shape:
        raise ConfigError("demonstrations need one goal per start")
    if horizon is not None and demos.actions:
        longest = max(len(a) for a in demos.actions)
        if longest > horizon:
            raise ConfigError(f"a demonstration takes {longest} actions, more than the horizon {horizon}")


def _group_by_goal(mdp: GraphMDP, demos: Demonstrations) -> tuple[Tensor, Tensor, Tensor]:
    """Unique goals ``[B]``, each demo's row ``[M]`` and start counts ``D0[B, S]``."""
    goals, row = torch.unique(demos.goal, return_inverse=True)
    D0 = torch.zeros(goals.shape[0], mdp.num_states, dtype=mdp.state_features.dtype, device=mdp.src.device)
    D0.index_put_((row, demos.start), torch.ones_like(demos.start, dtype=D0.dtype), accumulate=True)
    return goals, row, D0


def log_likelihood_and_gradient(
    mdp: GraphMDP,
    theta: Tensor,
    demos: Demonstrations,
    *,
    horizon: int,
    tol: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Mean log-likelihood L(θ)/M and its gradient (Ziebart et al. 2008, eq. 6), divided by M.

        L(θ) = Σ_i [θᵀ f_ζ̃i − log Z_{s0_i}(θ; goal_i)],
        ∇L(θ) = Σ_i f_ζ̃i − Σ_b Σ_a D_{b,a} (f_{src(a)} + g_a),

    where D_b is Algorithm 1's edge frequency for goal b started from the
    starts of all demonstrations with that goal. One batched call of
    Algorithm 1 covers every goal.
    """
    theta = check.theta("theta", theta, mdp.num_features)
    check.horizon(horizon)
    check_demonstrations(mdp, demos, horizon=horizon)
    goals, row, D0 = _group_by_goal(mdp, demos)
    vis = expected_visitation(mdp, theta, goals, D0, horizon=horizon, tol=tol)
    M = len(demos)
    log_Z0 = vis.log_Z_state[row, demos.start]
    if not bool(torch.isfinite(log_Z0).all()):
        m = int(torch.nonzero(~torch.isfinite(log_Z0))[0])
        raise ConfigError(f"demonstration {m} cannot reach its goal within the horizon {horizon}")
    L = (demos.feature_counts @ theta - log_Z0).sum() / M
    grad = (demos.feature_counts.sum(0) - expected_feature_counts(mdp, vis.D_action).sum(0)) / M
    return L, grad


@dataclasses.dataclass(frozen=True)
class FitResult:
    """A learned θ with its trace.

    Attributes:
        theta: ``[K]`` learned reward weights.
        log_likelihood: mean log-likelihood per iteration.
        grad_norm: ‖∇L‖/M per iteration (eq. 6: 0 when feature expectations match).
    """

    theta: Tensor
    log_likelihood: list[float]
    grad_norm: list[float]


FitState = dict
"""The whole state of a fit after some iteration (counter, parameters, trace; for L-BFGS the optimizer's
``state_dict()`` too). Every fit of :mod:`maxentrl.irl` hands it to ``on_iteration`` at the end of each
iteration and takes it back as ``state``: the fit then continues exactly as if it had not stopped, so a
long fit can be checkpointed and resumed. It holds tensors, numbers and lists only (``torch.save`` takes it)."""


def resume_state(state: FitState | None, keys: tuple[str, ...]) -> FitState | None:
    """``state`` unchanged if it is ``None`` or a dict holding ``keys`` (a saved fit state), else a ConfigError."""
    if state is not None and not (isinstance(state, dict) and all(k in state for k in keys)):
        raise ConfigError(f"a fit's state must be a dict with the keys {', '.join(keys)}")
    return state


def fit_gradient(
    mdp: GraphMDP,
    demos: Demonstrations,
    theta0: Tensor,
    *,
    step: float,
    iterations: int,
    horizon: int,
    tol: float = 0.0,
    callback: Callable[[int, Tensor], None] | None = None,
    state: FitState | None = None,
    on_iteration: Callable[[FitState], None] | None = None,
) -> FitResult:
    """Plain gradient ascent θ ← θ + η ∇L(θ)/M on the convex log-likelihood (eq. 6).

    ``state`` and ``on_iteration`` resume and report the fit (see :data:`FitState`).
    """
    require_positive("step", step)
    require_int_at_least("iterations", iterations, 1)
    theta = check.theta("theta0", theta0, mdp.num_features).clone()
    Ls, gs, i0 = [], [], 0
    if resume_state(state, ("iteration", "theta", "log_likelihood", "grad_norm")) is not None:
        i0, theta = int(state["iteration"]), state["theta"].clone()
        Ls, gs = list(state["log_likelihood"]), list(state["grad_norm"])
    for i in range(i0, iterations):
        L, g = log_likelihood_and_gradient(mdp, theta, demos, horizon=horizon, tol=tol)
        Ls.append(float(L))
        gs.append(float(g.norm()))
        theta = theta + step * g
        if callback is not None:
            callback(i, theta)
        if on_iteration is not None:
            on_iteration({"iteration": i + 1, "theta": theta, "log_likelihood": Ls, "grad_norm": gs})
    return FitResult(theta, Ls, gs)


def fit_exponentiated_gradient(
    mdp: GraphMDP,
    demos: Demonstrations,
    cost0: Tensor,
    *,
    step: float,
    iterations: int,
    horizon: int,
    tol: float = 0.0,
    decay: float = 0.0,
    state: FitState | None = None,
    on_iteration: Callable[[FitState], None] | None = None,
) -> FitResult:
    """Exponentiated gradient on positive costs w = −θ (Ziebart et al. 2008, "Learning from Demonstrated Behavior").

    The costs stay positive through the multiplicative update

        w ← w ⊙ exp(−η_i ∂(−L/M)/∂w) = w ⊙ exp(η_i (Σ_a D_a φ_a − Σ_i f_ζ̃i)/M),

    with η_i = step / (1 + decay · i): the cost of a feature that the model uses
    more than the demonstrations did rises, the cost of one it uses less falls.
    The update is the mirror-descent step
    for the entropy regularizer, whose ℓ1-like effect the paper mentions.
    Returns θ = −w. ``state`` and ``on_iteration`` resume and report the fit
    (see :data:`FitState`).
    """
    require_positive("step", step)
    require_int_at_least("iterations", iterations, 1)
    if not (isinstance(decay, (int, float)) and math.isfinite(decay) and decay >= 0):
        raise ConfigError(f"decay must be a finite number >= 0, got {decay!r}")
    cost0 = check.theta("cost0", cost0, mdp.num_features)
    if bool((cost0 <= 0).any()):
        raise ConfigError("exponentiated gradient needs strictly positive initial costs")
    w, Ls, gs, i0 = cost0.clone(), [], [], 0
    if resume_state(state, ("iteration", "w", "log_likelihood", "grad_norm")) is not None:
        i0, w = int(state["iteration"]), state["w"].clone()
        Ls, gs = list(state["log_likelihood"]), list(state["grad_norm"])
    for i in range(i0, iterations):
        L, g = log_likelihood_and_gradient(mdp, -w, demos, horizon=horizon, tol=tol)
        Ls.append(float(L))
        gs.append(float(g.norm()))
        w = w * torch.exp(-(step / (1.0 + decay * i)) * g)  # ∂L/∂w = −∂L/∂θ = −g
        if on_iteration is not None:
            on_iteration({"iteration": i + 1, "w": w, "log_likelihood": Ls, "grad_norm": gs})
    return FitResult(-w, Ls, gs)


LBFGS_TOLERANCE_CHANGE = 1e-14
""":func:`fit_lbfgs` stops once an iteration moves θ (largest entry) or L by no more than this."""

LBFGS_LINE_SEARCH_EVALS = 25
"""The most evaluations of Algorithm 1 that one line search of :func:`fit_lbfgs` may make (torch's default)."""


def fit_lbfgs(
    mdp: GraphMDP,
    demos: Demonstrations,
    theta0: Tensor,
    *,
    iterations: int,
    horizon: int,
    tol: float = 0.0,
    grad_tol: float = 1e-10,
    state: FitState | None = None,
    on_iteration: Callable[[FitState], None] | None = None,
) -> FitResult:
    """Maximize L(θ) with L-BFGS (strong-Wolfe line search), the gradient from Algorithm 1 (eq. 6).

    ``torch.optim.LBFGS`` keeps its curvature pairs, last direction and step in
    the optimizer's state. It runs here one iteration per call, and after each
    ``on_iteration`` receives θ, the trace and that state (the optimizer's
    ``state_dict()``); a fit given such a ``state`` back restores the optimizer
    from it and takes exactly the steps an uninterrupted fit takes. It stops
    after ``iterations`` iterations, once the gradient's largest entry is at
    most ``grad_tol``, or once an iteration moves neither θ nor L by more than
    :data:`LBFGS_TOLERANCE_CHANGE` (the tests torch's L-BFGS applies within one
    call). The trace holds L/M and ‖∇L‖/M at θ₀ and after every iteration.
    Each iteration evaluates Algorithm 1 at the points its line search tries;
    the value at the point it ends on is kept for the next iteration's start.
    """
    require_int_at_least("iterations", iterations, 1)
    theta = check.theta("theta0", theta0, mdp.num_features).clone().requires_grad_(True)
    # one iteration per step() call; max_eval bounds the evaluations of one call, so 1 + LBFGS_LINE_SEARCH_EVALS
    # leaves the line search its evaluations (torch gives it max_eval minus those already made)
    opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=1, max_eval=1 + LBFGS_LINE_SEARCH_EVALS, line_search_fn="strong_wolfe",
                            tolerance_grad=grad_tol, tolerance_change=LBFGS_TOLERANCE_CHANGE, history_size=20)
    cache: dict[bytes, tuple[Tensor, Tensor]] = {}

    def evaluate(point: Tensor) -> tuple[Tensor, Tensor]:
        key = point.detach().cpu().numpy().tobytes()
        if key not in cache:
            with torch.no_grad():
                cache[key] = log_likelihood_and_gradient(mdp, point.detach().clone(), demos, horizon=horizon, tol=tol)
        return cache[key]

    def closure() -> Tensor:
        L, g = evaluate(theta)
        theta.grad = -g.clone()
        return -L

    if resume_state(state, ("iteration", "theta", "optimizer", "log_likelihood", "grad_norm", "converged")) is None:
        L, g = evaluate(theta)
        i0, Ls, gs = 0, [float(L)], [float(g.norm())]
        converged = float(g.abs().max()) <= grad_tol
    else:
        i0, converged = int(state["iteration"]), bool(state["converged"])
        with torch.no_grad():
            theta.copy_(state["theta"])
        opt.load_state_dict(copy.deepcopy(state["optimizer"]))
        Ls, gs = list(state["log_likelihood"]), list(state["grad_norm"])
    for i in range(i0, iterations):
        if converged:
            break
        before = theta.detach().clone()
        opt.step(closure)
        L, g = evaluate(theta)
        cache.clear()  # only the current point is needed again
        cache[theta.detach().cpu().numpy().tobytes()] = (L, g)
        moved = float((theta.detach() - before).abs().max())
        converged = (float(g.abs().max()) <= grad_tol or moved <= LBFGS_TOLERANCE_CHANGE
                     or abs(float(L) - Ls[-1]) <= LBFGS_TOLERANCE_CHANGE)
        Ls.append(float(L))
        gs.append(float(g.norm()))
        if on_iteration is not None:
            on_iteration({"iteration": i + 1, "theta": theta.detach().clone(), "optimizer": copy.deepcopy(opt.state_dict()),
                          "log_likelihood": Ls, "grad_norm": gs, "converged": converged})
    return FitResult(theta.detach(), Ls, gs)


def out_edge_table(mdp: GraphMDP) -> Tensor:
    """``[S, max_degree]`` action indices leaving each state, padded with −1."""
    deg = mdp.out_degree()
    dmax = int(deg.max()) if mdp.num_actions else 0
    order = torch.argsort(mdp.src, stable=True)
    start = torch.cumsum(deg, 0) - deg
    slot = torch.arange(mdp.num_actions, device=mdp.src.device) - start[mdp.src[order]]
    table = torch.full((mdp.num_states, max(dmax, 1)), -1, dtype=torch.long, device=mdp.src.device)
    table[mdp.src[order], slot] = order
    return table


def sample_paths(
    mdp: GraphMDP,
    pi: Tensor,
    start: Tensor,
    row: Tensor,
    goal: Tensor,
    *,
    generator: torch.Generator,
    max_steps: int,
) -> list[list[int]]:
    """Draw paths by following π(a|s) (``pi[B, E]``) from each ``start[m]`` to ``goal[m]``.

    ``row[m]`` picks the row of ``pi`` (the goal's batch index). Paths that have
    not reached the goal after ``max_steps`` are returned as they are.
    """
    require_int_at_least("max_steps", max_steps, 1)
    pi = check.finite("pi", check.shape("pi", check.tensor("pi", pi), (None, mdp.num_actions)))
    start = check.indices("start", start, mdp.num_states)
    row = check.indices("row", row, int(pi.shape[0]))
    goal = check.indices("goal", goal, mdp.num_states)
    if not (start.shape == row.shape == goal.shape):
        raise ConfigError("start, row and goal need one entry per path")
    table = out_edge_table(mdp)
    s = start.clone().to(mdp.src.device)
    M = s.shape[0]
    paths: list[list[int]] = [[] for _ in range(M)]
    alive = s != goal
    for _ in range(max_steps):
        if not bool(alive.any()):
            break
        idx = torch.nonzero(alive).squeeze(1)
        cand = table[s[idx]]  # [m, dmax]
        p = torch.where(cand >= 0, pi[row[idx].unsqueeze(1), cand.clamp(min=0)], torch.zeros((), dtype=pi.dtype, device=pi.device))
        choice = torch.multinomial(p, 1, generator=generator).squeeze(1)
        a = cand[torch.arange(idx.shape[0], device=cand.device), choice]
        for m, act in zip(idx.tolist(), a.tolist()):
            paths[m].append(act)
        s[idx] = mdp.dst[a]
        alive = s != goal
    return paths
