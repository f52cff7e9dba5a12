"""Destination prediction by Bayes' rule (Ziebart et al. 2008, "Applications").

Given a partial route ζ̃_{A→B} (from its start A to the current segment B),

    P(dest | ζ̃_{A→B}) ∝ P(ζ̃_{A→B} | dest) P(dest)
                       ∝ [Σ_{ζ_{B→dest}} e^{θᵀf_ζ} / Σ_{ζ_{A→dest}} e^{θᵀf_ζ}] P(dest)
                       = exp(log Z_B(dest) − log Z_A(dest)) P(dest),

because the reward of the observed prefix is the same whatever the destination.
(Strictly, a destination that the prefix has already passed through has
posterior zero, since a trip ends at its absorbing goal; the formula, like the
paper's, knows only A and B and does not enforce this.)
Both partition functions come from one batched backward pass of Algorithm 1
(one row per candidate destination).
"""

from __future__ import annotations

import torch
from torch import Tensor

from maxentrl.errors import ConfigError
from maxentrl.irl import _checks as check
from maxentrl.irl.graph import GraphMDP
from maxentrl.irl.maxent import backward_pass

__all__ = ["destination_log_posterior", "destination_log_posterior_from_log_Z"]


def destination_log_posterior_from_log_Z(log_Z_state: Tensor, A: Tensor, B: Tensor, log_prior: Tensor) -> Tensor:
    """log P(dest | partial routes A→B) for ``n`` routes and ``D`` destinations; result ``[n, D]``.

    Args:
        log_Z_state: ``[D, S]`` log Z_s to each destination (Algorithm 1's backward pass).
        A, B: ``[n]`` first and current state of each partial route.
        log_prior: ``[D]`` log P(dest).
    """
    log_Z_state = check.shape("log_Z_state", check.tensor("log_Z_state", log_Z_state), (None, None))
    D, S = log_Z_state.shape
    if bool(torch.isnan(log_Z_state).any()) or bool((log_Z_state == torch.inf).any()):
        raise ConfigError("log_Z_state must not hold NaN or +inf")
    log_prior = check.shape("log_prior", check.tensor("log_prior", log_prior), (D,))
    if bool(torch.isnan(log_prior).any()) or bool((log_prior == torch.inf).any()) or not bool(torch.isfinite(log_prior).any()):
        raise ConfigError("log_prior must be log-probabilities: no NaN or +inf, and not all -inf")
    A = check.indices("A", A, S)
    B = check.indices("B", B, S)
    if A.shape != B.shape:
        raise ConfigError("A and B need one entry per partial route")
    logits = log_Z_state[:, B].T - log_Z_state[:, A].T + log_prior.unsqueeze(0)
    return logits - torch.logsumexp(logits, dim=1, keepdim=True)


def destination_log_posterior(
    mdp: GraphMDP, theta: Tensor, destinations: Tensor, A: Tensor, B: Tensor, log_prior: Tensor, *, horizon: int, tol: float = 0.0
) -> Tensor:
    """:func:`destination_log_posterior_from_log_Z` with the backward pass run here; ``[n, D]``."""
    destinations = check.indices("destinations", destinations, mdp.num_states)
    bw = backward_pass(mdp, theta, destinations, horizon=horizon, tol=tol)
    return destination_log_posterior_from_log_Z(bw.log_Z_state, A, B, log_prior)
