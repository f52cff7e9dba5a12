"""The models Ziebart et al. (2008) compare MaxEnt IRL with (Table 1).

* Time-based: the fastest route, cost = travel time at the speed limit.
* Maximum-margin planning (Ratliff, Bagnell & Zinkevich 2006): costs w ≥ 0 such
  that each demonstrated route is cheaper than every other route by a margin
  that grows with how much the other route differs from it (loss-augmented
  planning, projected subgradient).
* The action-based model (eq. 7): P(a|s) ∝ exp(Q*(s, a)), Q* the negated optimal
  cost to the goal after taking a — locally normalized, hence label bias.

Costs are positive weights w over the features (reward θ = −w). Shortest
paths use :func:`maxentrl.irl.roads.shortest_path` (Dijkstra).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from maxentrl.errors import ConfigError, require_int_at_least, require_positive
from maxentrl.irl import _checks as check
from maxentrl.irl.graph import GraphMDP
from maxentrl.irl.maxent import (Demonstrations, FitState, _goal_mask, check_demonstrations, cost_to_goal,
                                  out_edge_table, resume_state)

__all__ = [
    "time_cost",
    "optimal_cost_to_go",
    "action_model_log_policy",
    "action_model_log_likelihood_and_gradient",
    "fit_action_model",
    "fit_max_margin",
    "label_bias_example",
    "MarginFit",
]


def time_cost(mdp: GraphMDP, length_m: np.ndarray, speed_kmh: np.ndarray) -> np.ndarray:
    """``[E]`` travel time (seconds) of each action: the length of the segment left at its speed limit."""
    length_m, speed_kmh = np.asarray(length_m, dtype=np.float64), np.asarray(speed_kmh, dtype=np.float64)
    for name, x in (("length_m", length_m), ("speed_kmh", speed_kmh)):
        if x.shape != (mdp.num_states,) or not np.all(np.isfinite(x)) or np.any(x <= 0):
            raise ConfigError(f"{name} must be a positive, finite [S={mdp.num_states}] array")
    src = mdp.src.cpu().numpy()
    return (length_m[src] / 1000.0) / speed_kmh[src] * 3600.0


def optimal_cost_to_go(mdp: GraphMDP, cost: Tensor, goal: Tensor, *, horizon: int) -> tuple[Tensor, Tensor, Tensor]:
    """Hard-min value iteration (Bellman-Ford) to a batch of absorbing goals.

    V*(s) = min_a [c(s, a) + V*(s')], V*(goal) = 0, with c(s, a) = wᵀ(f_s + g_a).
    This is Algorithm 1's backward pass with the soft minimum replaced by a
    minimum (the τ → 0 limit of soft value iteration).

    Returns ``(V [B, S], Q [B, E] = c(s, a) + V(s'), best_action [B, S])``
    (best action −1 at the goal and where the goal is unreachable).
    """
    require_int_at_least("horizon", horizon, 1)
    cost = check.theta("cost", cost, mdp.num_features)
    goal = check.indices("goal", goal, mdp.num_states).to(mdp.src.device)
    is_goal, leaves_goal = _goal_mask(mdp, goal)
    c = mdp.action_rewards(cost).unsqueeze(0)  # wᵀ(f_s + g_a), here a cost
    inf = torch.tensor(math.inf, dtype=c.dtype, device=c.device)
    B = goal.shape[0]
    idx = mdp.src.unsqueeze(0).expand(B, -1)

    def greedy(V: Tensor) -> tuple[Tensor, Tensor]:
        Q = torch.where(leaves_goal, inf, c + V.index_select(1, mdp.dst))
        # the best action of each state: the first action attaining the minimum
        is_best = (Q == V.index_select(1, mdp.src)) & torch.isfinite(Q)
        E = mdp.num_actions
        cand = torch.where(is_best, torch.arange(E, device=c.device).expand(B, -1), torch.full_like(idx, E))
        best = torch.full((B, mdp.num_states), E, dtype=torch.long, device=c.device).scatter_reduce_(1, idx, cand, reduce="amin")
        return Q, torch.where(best == E, torch.full_like(best, -1), best)

    if c.device.type == "cpu" and bool((c >= 0).all()):
        # Dijkstra gives the same fixed point at once; it is the answer when every optimal route
        # takes at most `horizon` actions (then the hop-limited iteration below converges to it)
        c_np = c[0].detach().cpu().double().numpy()
        V = torch.from_numpy(np.stack([cost_to_goal(mdp, c_np, int(g)) for g in goal.tolist()])).to(dtype=c.dtype)
        Q, best = greedy(V)
        if _route_actions(mdp, best) <= horizon:
            return V, Q, best
    V = torch.where(is_goal, torch.zeros((), dtype=c.dtype, device=c.device), inf)
    for _ in range(horizon):
        Q = torch.where(leaves_goal, inf, c + V.index_select(1, mdp.dst))
        new = torch.full_like(V, math.inf).scatter_reduce_(1, idx, Q, reduce="amin", include_self=True)
        new = torch.where(is_goal, torch.zeros_like(new), new)
        if torch.equal(new, V):
            break
        V = new
    Q, best = greedy(V)
    return V, Q, best


def _route_actions(mdp: GraphMDP, best: Tensor) -> float:
    """The most actions on any route that follows ``best`` to its goal (+inf if one loops; pointer doubling)."""
    B, S = best.shape
    has = best >= 0
    hops = has.double()
    nxt = torch.where(has, mdp.dst[best.clamp(min=0)], torch.arange(S).expand(B, -1))
    for _ in range(max(1, math.ceil(math.log2(S + 1)))):
        hops = hops + torch.gather(hops, 1, nxt)
        nxt = torch.gather(nxt, 1, nxt)
    # after the doubling every route has reached a fixed point (a goal or a dead end), unless it loops
    looping = torch.gather(has, 1, nxt).any()
    return math.inf if bool(looping) else float(hops.max()) if hops.numel() else 0.0


def action_model_log_policy(mdp: GraphMDP, cost: Tensor, goal: Tensor, *, horizon: int) -> Tensor:
    """log P(a|s) = Q*(s, a) − log Σ_a' exp Q*(s, a') with Q* = −(optimal cost after a) (eq. 7); ``[B, E]``."""
    from maxentrl.irl.maxent import segment_logsumexp

    _, Qc, _ = optimal_cost_to_go(mdp, cost, goal, horizon=horizon)
    Qr = -Qc  # Q*(s, a): rewards
    lse = segment_logsumexp(Qr, mdp.src, mdp.num_states, lengths=mdp.src_segments)
    return Qr - lse.index_select(1, mdp.src)


def _route_features(mdp: GraphMDP, best: Tensor, b: Tensor, s: Tensor, horizon: int) -> Tensor:
    """``[N, K]`` features of the optimal route to goal ``b[i]`` from state ``s[i]`` (following ``best``).

    The routes are walked together, one action per step, until every one has
    reached its goal (at most 2^⌈log₂(N+1)⌉ actions for horizon N).
    """
    phi = mdp.state_features[mdp.src] + mdp.action_features  # [E, K]
    F = torch.zeros(s.shape[0], phi.shape[1], dtype=phi.dtype, device=phi.device)
    cur = s.clone()
    for _ in range(2 ** max(1, math.ceil(math.log2(horizon + 1)))):
        a = best[b, cur]
        live = a >= 0
        if not bool(live.any()):
            break
        a0 = a.clamp(min=0)
        F += torch.where(live.unsqueeze(-1), phi[a0], torch.zeros((), dtype=phi.dtype, device=phi.device))
        cur = torch.where(live, mdp.dst[a0], cur)
    return F


def action_model_log_likelihood_and_gradient(
    mdp: GraphMDP, cost: Tensor, demos: Demonstrations, *, horizon: int
) -> tuple[Tensor, Tensor]:
    """Mean log-likelihood Σ_t log P(a_t|s_t) (eq. 7) of the demonstrations and its (sub)gradient in ``cost``.

    ∂Q*(s, a)/∂w = −Φ(s, a) where Φ(s, a) = f_s + g_a + (features of the optimal
    route from s'), valid wherever the optimal route is unique.
    """
    check_demonstrations(mdp, demos, horizon=horizon)
    if not demos.actions:
        raise ConfigError("the action model needs the demonstrated actions, not only feature counts")
    goals, row = torch.unique(demos.goal, return_inverse=True)
    _, Qc, best = optimal_cost_to_go(mdp, cost, goals, horizon=horizon)
    from maxentrl.irl.maxent import segment_logsumexp

    Qr = -Qc
    log_pi = Qr - segment_logsumexp(Qr, mdp.src, mdp.num_states, lengths=mdp.src_segments).index_select(1, mdp.src)
    phi = mdp.state_features[mdp.src] + mdp.action_features  # [E, K]
    dev = phi.device
    # every demonstrated step: its goal row b and action a, taken in state s = src(a)
    a = torch.cat([torch.as_tensor(acts, dtype=torch.long, device=dev) for acts in demos.actions])
    b = torch.repeat_interleave(row.to(dev), torch.tensor([len(acts) for acts in demos.actions], device=dev))
    L = log_pi[b, a].sum()
    # Φ(s, a') for the demonstrated action and for every action a' available in s ([T, D, K], D the most actions)
    alt = out_edge_table(mdp)[mdp.src[a]]  # [T, D], −1 pads
    ok = alt >= 0
    alt0 = alt.clamp(min=0)
    b_alt = b.unsqueeze(1).expand_as(alt0)
    # the optimal route's features after each of these actions, for the demonstrated ones last
    F = _route_features(mdp, best, torch.cat([b_alt.reshape(-1), b]), mdp.dst[torch.cat([alt0.reshape(-1), a])], horizon)
    Phi_alt = phi[alt0] + F[:alt0.numel()].view(*alt0.shape, -1)
    Phi_alt = torch.where((ok & torch.isfinite(Qr[b_alt, alt0])).unsqueeze(-1), Phi_alt,
                          torch.zeros((), dtype=phi.dtype, device=dev))
    pi_alt = torch.where(ok, torch.exp(log_pi[b_alt, alt0]), torch.zeros((), dtype=phi.dtype, device=dev))
    Phi_a = phi[a] + F[alt0.numel():]
    # ∂ log π(a|s)/∂w = −Φ(s, a) + E_π[Φ(s, ·)]
    grad = ((pi_alt.unsqueeze(-1) * Phi_alt).sum(1) - Phi_a).sum(0)
    M = len(demos)
    return L / M, grad / M


def fit_action_model(
    mdp: GraphMDP,
    demos: Demonstrations,
    cost0: Tensor,
    *,
    step: float,
    iterations: int,
    horizon: int,
    state: FitState | None = None,
    on_iteration: Callable[[FitState], None] | None = None,
) -> tuple[Tensor, list[float]]:
    """Fit the action-based model's costs by exponentiated gradient ascent (costs stay positive).

    Returns the costs of the largest training log-likelihood met and the log-likelihood per iteration.
    ``state`` and ``on_iteration`` resume and report the fit (see :data:`maxentrl.irl.maxent.FitState`).
    """
    require_positive("step", step)
    require_int_at_least("iterations", iterations, 1)
    w = check.theta("cost0", cost0, mdp.num_features).clone()
    if bool((w <= 0).any()):
        raise ConfigError("the action model's exponentiated gradient needs strictly positive initial costs")
    best_w, best_L, trace, i0 = w, -math.inf, [], 0
    if resume_state(state, ("iteration", "w", "best_w", "best_L", "log_likelihood")) is not None:
        i0, w, best_w, best_L = int(state["iteration"]), state["w"].clone(), state["best_w"].clone(), float(state["best_L"])
        trace = list(state["log_likelihood"])
    for i in range(i0, iterations):
        L, g = action_model_log_likelihood_and_gradient(mdp, w, demos, horizon=horizon)
        trace.append(float(L))
        if float(L) > best_L:
            best_L, best_w = float(L), w
        w = w * torch.exp(step / math.sqrt(1 + i) * g.clamp(-5, 5))
        if on_iteration is not None:
            on_iteration({"iteration": i + 1, "w": w, "best_w": best_w, "best_L": best_L, "log_likelihood": trace})
    return best_w, trace


@dataclasses.dataclass(frozen=True)
class MarginFit:
    """Costs learned by maximum-margin planning and the objective trace."""

    cost: Tensor
    objective: list[float]


def fit_max_margin(
    mdp: GraphMDP,
    demos: Demonstrations,
    cost0: Tensor,
    *,
    length_m: np.ndarray,
    step: float,
    iterations: int,
    margin: float = 1.0,
    reg: float = 1e-3,
    min_cost: float = 1e-3,
    state: FitState | None = None,
    on_iteration: Callable[[FitState], None] | None = None,
) -> MarginFit:
    """Maximum-margin planning (Ratliff, Bagnell & Zinkevich 2006) by projected subgradient descent.

    Minimizes (reg/2)‖w‖² + (1/M) Σ_i [wᵀf_ζ̃i − min_ζ (wᵀf_ζ − margin·ℓ(ζ, ζ̃i))]
    over w ≥ min_cost, where ℓ counts the distance (100 m units) of ζ off the
    demonstrated route. The inner minimum is loss-augmented planning: Dijkstra
    with the cost of each off-route segment lowered by its loss (kept at least
    5% of its cost so the search stays valid). ``state`` and ``on_iteration``
    resume and report the fit (see :data:`maxentrl.irl.maxent.FitState`).
    """
    from maxentrl.irl.roads import _action_lookup, shortest_path

    require_positive("step", step)
    require_int_at_least("iterations", iterations, 1)
    require_positive("margin", margin)
    require_positive("min_cost", min_cost)
    if not (isinstance(reg, (int, float)) and math.isfinite(reg) and reg >= 0):
        raise ConfigError(f"reg must be a finite number >= 0, got {reg!r}")
    cost0 = check.theta("cost0", cost0, mdp.num_features)
    length_m = np.asarray(length_m, dtype=np.float64)
    if length_m.shape != (mdp.num_states,) or not np.all(np.isfinite(length_m)) or np.any(length_m < 0):
        raise ConfigError(f"length_m must be a non-negative, finite [S={mdp.num_states}] array")
    check_demonstrations(mdp, demos)
    if not demos.actions:
        raise ConfigError("maximum-margin planning needs the demonstrated actions, not only feature counts")
    lookup = _action_lookup(mdp)
    src = mdp.src.cpu().numpy()
    phi = (mdp.state_features[mdp.src] + mdp.action_features).cpu().double()  # [E, K]
    loss_per_state = margin * length_m / 100.0
    w, trace, i0 = cost0.cpu().double().clone(), [], 0
    if resume_state(state, ("iteration", "cost", "objective")) is not None:
        i0, w, trace = int(state["iteration"]), state["cost"].cpu().double().clone(), list(state["objective"])
    for i in range(i0, iterations):
        sub = reg * w
        obj = 0.5 * reg * float(w @ w)
        edge_cost = (phi @ w).numpy()
        for m, acts in enumerate(demos.actions):
            on_route = np.zeros(mdp.num_states, dtype=bool)
            on_route[src[list(acts)]] = True
            aug = edge_cost - np.where(on_route[src], 0.0, loss_per_state[src])
            aug = np.maximum(aug, 0.05 * edge_cost)
            pred = shortest_path(mdp, aug, int(demos.start[m]), int(demos.goal[m]), lookup=lookup)
            f_demo = phi[list(acts)].sum(0)
            f_pred = phi[pred].sum(0)
            loss_pred = float(loss_per_state[src[pred]][~on_route[src[pred]]].sum())
            obj += (float(f_demo @ w) - (float(f_pred @ w) - loss_pred)) / len(demos)
            sub = sub + (f_demo - f_pred) / len(demos)
        trace.append(obj)
        w = (w - step / math.sqrt(1 + i) * sub).clamp(min=min_cost)
        if on_iteration is not None:
            on_iteration({"iteration": i + 1, "cost": w, "objective": trace})
    return MarginFit(w.to(cost0), trace)


def label_bias_example() -> tuple[GraphMDP, int, int, list[list[int]]]:
    """Fig. 2 of Ziebart et al. (2008): three equal-reward paths from A to B.

    From A one action leads to path 3's first state and one to a branching
    state from which paths 1 and 2 split. Every path has three actions and
    every state the same zero features, so all paths have equal reward.
    States: A=0, B=1, branch=2, p1=3, p2=4, p3a=5, p3b=6.
    Returns ``(mdp, A, B, paths)`` with paths 1, 2, 3 as action lists.
    """
    edges = [(0, 2), (0, 5), (2, 3), (2, 4), (3, 1), (4, 1), (5, 6), (6, 1)]
    src, dst = zip(*edges)
    mdp = GraphMDP.from_edges(7, list(src), list(dst), torch.zeros(7, 1, dtype=torch.float64))
    paths = [[0, 2, 4], [0, 3, 5], [1, 6, 7]]
    return mdp, 0, 1, paths
