"""The two parts of DDPG that soft Q-learning does not share: the hard backup and the deterministic policy gradient.

DDPG (Lillicrap et al. 2015) regresses its critic on the hard target

    Q̂(s, a) = r + γ Q_θ̄(s′, μ_φ̄(s′)),

where the target actor μ_φ̄ stands in for the maximizer of Q_θ̄(s′, ·), and
moves the actor μ_φ(s) = tanh(f^φ(s)) up the critic, ∇_φ Q(s, μ_φ(s)).
Haarnoja et al. (2017, section 4) read this as the maximum-a-posteriori limit
of soft Q-learning: with a single particle the kernel is κ(a, a) = 1 and its
gradient vanishes, so the Stein direction of eq. 13 is the plain gradient
∇_a Q and the sampler becomes a deterministic maximizer.
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["hard_q_target", "ddpg_policy_loss"]


def hard_q_target(reward: Tensor, terminal: Tensor, next_q: Tensor, *, gamma: float) -> Tensor:
    """Q̂ = r + γ (1 − terminal) Q_θ̄(s′, μ_φ̄(s′)); ``reward[...]``, ``terminal[...]`` (bool), ``next_q[...]``."""
    return reward + gamma * (~terminal).to(reward.dtype) * next_q


def ddpg_policy_loss(q_at_policy: Tensor) -> Tensor:
    """−Q(s, μ_φ(s)), averaged over states and summed over ensemble members; ``q_at_policy[E, B]`` → scalar."""
    return -q_at_policy.mean(-1).sum()
