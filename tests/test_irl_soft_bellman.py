"""Algorithm 1's backward pass is soft value iteration at τ = 1.

Chapter 2's dense :func:`maxentrl.soft_bellman.soft_value_iteration` needs a
discount γ < 1 and every action in every state. On a small deterministic MDP
whose goal is absorbing (every action of the goal loops back to it with reward
−log|A|, so that V(goal) = 0 is the fixed point), its soft values V equal the
sparse backward pass's log Z with the same γ, and Q(s, a) equals log Z_a.
"""

from __future__ import annotations

import math

import pytest
import torch

from maxentrl.irl.graph import GraphMDP
from maxentrl.irl.maxent import backward_pass
from maxentrl.mdp import TabularMDP
from maxentrl.soft_bellman import soft_value, soft_value_iteration


@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99])
def test_backward_pass_equals_chapter2_soft_value_iteration(gamma: float) -> None:
    g = torch.Generator().manual_seed(0)
    S, A, K = 6, 3, 2
    goal = S - 1
    nxt = torch.randint(S, (S, A), generator=g)
    f = torch.rand(S, K, generator=g, dtype=torch.float64)
    ga = torch.rand(S, A, K, generator=g, dtype=torch.float64)
    theta = torch.tensor([-1.0, -0.5], dtype=torch.float64)
    # sparse graph: every (s, a) of a non-goal state is an action s -> nxt[s, a]
    src = torch.arange(S).repeat_interleave(A)
    mdp = GraphMDP(S, src, nxt.reshape(-1), f, ga.reshape(S * A, K))
    bw = backward_pass(mdp, theta, torch.tensor([goal]), horizon=5000, tol=1e-14, gamma=gamma)
    # dense version for chapter 2
    P = torch.zeros(S, A, S, dtype=torch.float64)
    P[torch.arange(S).unsqueeze(1), torch.arange(A), nxt] = 1.0
    r = (f.unsqueeze(1) + ga) @ theta  # r(s, a) = θᵀ(f_s + g_a)
    P[goal] = 0.0
    P[goal, :, goal] = 1.0
    r[goal] = -math.log(A)
    mu0 = torch.full((S,), 1.0 / S, dtype=torch.float64)
    Q, V, info = soft_value_iteration(TabularMDP(P, r, gamma, mu0), 1.0, tol=1e-13)
    assert bool(info["converged"].all())
    assert torch.allclose(V[0], bw.log_Z_state[0], atol=1e-9, rtol=0)
    assert torch.allclose(Q[0, :goal].reshape(-1), bw.log_Z_action[0, : goal * A], atol=1e-9, rtol=0)
    assert torch.allclose(soft_value(Q, 1.0)[0], V[0])
