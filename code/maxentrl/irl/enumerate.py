"""Brute force: enumerate every path, the exponential computation Algorithm 1 avoids.

On a small graph, list every path from a start to the goal with at most N
actions, give each the MaxEnt probability exp(θᵀf_ζ)/Z (Ziebart et al. 2008,
eq. 2) and add up how often each state and action is visited. The number of
paths grows exponentially with N, which is the point of Algorithm 1.
"""

from __future__ import annotations

import torch
from torch import Tensor

from maxentrl.errors import ConfigError, require_int_at_least
from maxentrl.irl import _checks as check
from maxentrl.irl.graph import GraphMDP

__all__ = ["enumerate_paths", "enumerated_visitation"]


def enumerate_paths(mdp: GraphMDP, start: int, goal: int, *, max_actions: int, limit: int = 1_000_000) -> list[list[int]]:
    """Every path (as action-index lists) from ``start`` that first reaches ``goal`` within ``max_actions``.

    The goal is absorbing, so a path ends the first time it enters it. Raises
    :class:`ConfigError` if there are more than ``limit`` paths.
    """
    require_int_at_least("max_actions", max_actions, 0)
    require_int_at_least("limit", limit, 1)
    for name, s in (("start", start), ("goal", goal)):
        if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < mdp.num_states:
            raise ConfigError(f"{name} must be a state in [0, {mdp.num_states}), got {s!r}")
    out_edges: list[list[int]] = [[] for _ in range(mdp.num_states)]
    for a, s in enumerate(mdp.src.tolist()):
        out_edges[s].append(a)
    dst = mdp.dst.tolist()
    paths: list[list[int]] = []
    stack: list[tuple[int, list[int]]] = [(start, [])]
    while stack:
        s, path = stack.pop()
        if s == goal:
            paths.append(path)
            if len(paths) > limit:
                raise ConfigError(f"more than {limit} paths; enumeration is exponential, use Algorithm 1")
            continue
        if len(path) == max_actions:
            continue
        for a in out_edges[s]:
            stack.append((dst[a], path + [a]))
    return paths


def enumerated_visitation(
    mdp: GraphMDP, theta: Tensor, start: int, goal: int, *, max_actions: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Expected state and action visitation under eq. 2 by enumerating all paths.

    Returns ``(D_state [S], D_action [E], log_Z)``; D_state counts the start
    and every state entered (the goal included), as Algorithm 1's forward pass does.
    """
    theta = check.theta("theta", theta, mdp.num_features)
    paths = enumerate_paths(mdp, start, goal, max_actions=max_actions)
    if not paths:
        raise ConfigError(f"no path from {start} to {goal} within {max_actions} actions")
    dtype, dev = mdp.state_features.dtype, mdp.src.device
    r_a = mdp.action_rewards(theta.to(dtype=dtype, device=dev))
    rewards = torch.stack([r_a[torch.as_tensor(p, dtype=torch.long, device=dev)].sum() if p else r_a.new_zeros(()) for p in paths])
    log_Z = torch.logsumexp(rewards, 0)
    prob = torch.exp(rewards - log_Z)
    dst = mdp.dst.tolist()
    D_state = torch.zeros(mdp.num_states, dtype=dtype, device=dev)
    D_action = torch.zeros(mdp.num_actions, dtype=dtype, device=dev)
    for p, w in zip(paths, prob):
        D_state[start] += w
        for a in p:
            D_action[a] += w
            D_state[dst[a]] += w
    return D_state, D_action, log_Z

