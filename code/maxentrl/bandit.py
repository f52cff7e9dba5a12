"""The entropy-regularized bandit of Schulman, Chen and Abbeel (2017), section 2.

A batch of ``B`` independent bandits with ``A`` arms each. Arm ``a`` of bandit
``b`` pays a noisy reward with mean ``r_bar[b, a]`` (r̄ in the paper). The goal
is the policy maximizing

    η(π) = E_{a∼π, r}[r] − τ D_KL[π ‖ π̄]                          (eq. 1)

whose maximizer is the Boltzmann policy π^B_r̄(a) ∝ π̄(a) exp(r̄(a)/τ) (eq. 2).
Two learners reach it from samples (a, r) alone:

* policy-based: stochastic gradient ascent on η for a softmax policy
  π_θ = softmax(θ), with the unbiased estimator of eq. 7;
* value-based: regress q_θ(a) on the sampled rewards with the squared error of
  eq. 8 (gradient eq. 9) and act with the Boltzmann policy of q_θ (eqs. 10–12).

Shapes: batch first. ``r_bar``, ``theta``, ``q``, ``pi``, ``log_prior`` are
``(B, A)``; a per-bandit temperature ``tau`` is a float or a ``(B,)`` tensor;
``actions`` and ``rewards`` are ``(B, M)`` for ``M`` samples per bandit.
Every random draw takes a ``torch.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from maxentrl.boltzmann import (
    boltzmann_log_policy,
    boltzmann_policy,
    check_temperature,
    soft_maximum,
)
from maxentrl.errors import ConfigError, require_int_at_least, require_positive

__all__ = [
    "BanditBatch",
    "make_bandits",
    "boltzmann_optimum",
    "s6_sides",
    "regularized_value",
    "sample_actions",
    "sample_rewards",
    "policy_gradient_estimate",
    "expected_policy_gradient",
    "value_gradient_estimate",
    "learning_rate",
    "train_policy_based",
    "train_value_based",
    "tail_average_window",
    "asymptotic_kl_constant",
    "under_tried",
]


@dataclass(frozen=True)
class BanditBatch:
    """``B`` bandits with ``A`` arms: mean rewards, reference policy and reward noise.

    Attributes:
        r_bar: ``(B, A)`` mean reward r̄(a) = E[r | a] of each arm.
        log_prior: ``(B, A)`` log π̄(a) of the reference policy (each row sums to 1 in exp).
        noise_std: standard deviation of the Gaussian reward noise, r = r̄(a) + noise_std · ξ.
    """

    r_bar: Tensor
    log_prior: Tensor
    noise_std: float


def make_bandits(
    batch: int,
    arms: int,
    *,
    reward_scale: float = 1.0,
    noise_std: float = 1.0,
    random_prior: bool = True,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> BanditBatch:
    """Random bandits: r̄ ∼ N(0, reward_scale²) per arm; π̄ uniform or softmax of standard normal logits."""
    require_int_at_least("batch", batch, 1)
    require_int_at_least("arms", arms, 2)
    require_positive("reward_scale", reward_scale)
    if not noise_std >= 0:
        raise ConfigError(f"noise_std must be non-negative, got {noise_std!r}")
    r_bar = reward_scale * torch.randn(batch, arms, dtype=dtype, device=device, generator=generator)
    if random_prior:
        logits = torch.randn(batch, arms, dtype=dtype, device=device, generator=generator)
        log_prior = torch.log_softmax(logits, dim=-1)
    else:
        log_prior = torch.full((batch, arms), -math.log(arms), dtype=dtype, device=device)
    return BanditBatch(r_bar=r_bar, log_prior=log_prior, noise_std=float(noise_std))


def boltzmann_optimum(r_bar: Tensor, tau: float | Tensor, *, log_prior: Tensor | None = None) -> Tensor:
    """π^B_r̄(a) = π̄(a) exp(r̄(a)/τ) / E_{a'∼π̄}[exp(r̄(a')/τ)] (Schulman et al. 2017, eq. 2); ``(B, A)``."""
    return boltzmann_policy(r_bar, tau, log_prior=log_prior)


def regularized_value(pi: Tensor, r_bar: Tensor, tau: float | Tensor, *, log_prior: Tensor | None = None) -> Tensor:
    """η(π) = E_{a∼π}[r̄(a)] − τ D_KL[π ‖ π̄] (eq. 1, the noise averaged out); ``(B,)``."""
    check_temperature(tau)
    t = _per_bandit(tau, pi)
    return (pi * r_bar).sum(-1) - t * _kl_from_log(pi, _log_prior(pi, log_prior))


def s6_sides(
    pi: Tensor, r_bar: Tensor, tau: float | Tensor, *, log_prior: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Both sides of Schulman et al. (2017), eq. 6, each of shape ``(B,)``:

        lhs = E_{a∼π}[r̄(a)] − τ D_KL[π ‖ π̄],
        rhs = τ log E_{a∼π̄}[exp(r̄(a)/τ)] − τ D_KL[π ‖ π^B_r̄].

    They are equal for every policy π; the rhs shows that η is maximal, with
    value τ log E_π̄[exp(r̄/τ)], exactly at π = π^B_r̄.
    """
    check_temperature(tau)
    lhs = regularized_value(pi, r_bar, tau, log_prior=log_prior)
    t = _per_bandit(tau, pi)
    # D_KL[π ‖ π^B] in log space: π^B itself may underflow to 0 where r̄/τ is very negative.
    log_pi_B = boltzmann_log_policy(r_bar, tau, log_prior=log_prior)
    rhs = soft_maximum(r_bar, tau, log_prior=log_prior) - t * _kl_from_log(pi, log_pi_B)
    return lhs, rhs


def sample_actions(pi: Tensor, samples: int, *, generator: torch.Generator | None = None) -> Tensor:
    """``samples`` actions per bandit drawn from ``pi`` (``(B, A)``), with replacement; ``(B, samples)`` int64."""
    require_int_at_least("samples", samples, 1)
    return torch.multinomial(pi, samples, replacement=True, generator=generator)


def sample_rewards(bandits: BanditBatch, actions: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """r = r̄(a) + noise_std · ξ, ξ ∼ N(0, 1), for ``actions`` ``(B, M)``; returns ``(B, M)``."""
    mean = bandits.r_bar.gather(-1, actions)
    if bandits.noise_std == 0:
        return mean
    noise = torch.randn(mean.shape, dtype=mean.dtype, device=mean.device, generator=generator)
    return mean + bandits.noise_std * noise


def policy_gradient_estimate(
    theta: Tensor,
    actions: Tensor,
    rewards: Tensor,
    tau: float | Tensor,
    *,
    log_prior: Tensor | None = None,
    baseline: Tensor | None = None,
) -> Tensor:
    """Unbiased estimate of ∇_θ η(π_θ) for π_θ = softmax(θ) (Schulman et al. 2017, eq. 7); ``(B, A)``.

        ∇_θ η = E_{a∼π_θ, r}[∇_θ log π_θ(a) r − τ ∇_θ D_KL[π_θ ‖ π̄]].

    For the softmax, ∇_θ log π_θ(a) = e_a − π_θ and, π̄ being known, the KL
    gradient is exact: ∂/∂θ_j D_KL = π_j (log π_j − log π̄_j − D_KL). The
    score term is averaged over the ``M`` samples; ``baseline`` (``(B, M)``,
    each entry independent of its own sample, e.g. the mean of the other
    rewards) is subtracted from the rewards — it leaves the estimate unbiased
    because E_{a∼π}[∇ log π(a)] = 0.
    """
    check_temperature(tau)
    log_pi = torch.log_softmax(theta, dim=-1)
    pi = log_pi.exp()
    lp = _log_prior(theta, log_prior)
    advantage = rewards if baseline is None else rewards - baseline
    M = actions.shape[-1]
    counts = torch.zeros_like(theta).scatter_add_(-1, actions, advantage) / M  # (1/M) Σ_m e_{a_m} (r_m − b_m)
    score = counts - pi * advantage.mean(-1, keepdim=True)  # (1/M) Σ_m (e_{a_m} − π)(r_m − b_m)
    log_ratio = log_pi - lp
    kl = (pi * log_ratio).sum(-1, keepdim=True)
    kl_grad = pi * (log_ratio - kl)
    t = _per_bandit(tau, theta)
    if isinstance(t, Tensor):
        t = t.unsqueeze(-1)
    return score - t * kl_grad


def expected_policy_gradient(
    theta: Tensor, r_bar: Tensor, tau: float | Tensor, *, log_prior: Tensor | None = None
) -> Tensor:
    """The exact gradient ∇_θ η(π_θ) of eq. 1 for π_θ = softmax(θ): the mean of :func:`policy_gradient_estimate`; ``(B, A)``.

        ∂η/∂θ_j = π_j (r̄_j − ⟨π, r̄⟩) − τ π_j (log π_j − log π̄_j − D_KL[π ‖ π̄]).

    The score term's expectation is E_{a∼π}[(e_a − π) r̄(a)] = π ⊙ (r̄ − ⟨π, r̄⟩)
    (a baseline independent of the sample adds nothing), and the KL term is the
    estimator's own, already exact. Every arm's component carries its factor π_j.
    """
    check_temperature(tau)
    log_pi = torch.log_softmax(theta, dim=-1)
    pi = log_pi.exp()
    log_ratio = log_pi - _log_prior(theta, log_prior)
    kl = (pi * log_ratio).sum(-1, keepdim=True)
    t = _per_bandit(tau, theta)
    if isinstance(t, Tensor):
        t = t.unsqueeze(-1)
    return pi * (r_bar - (pi * r_bar).sum(-1, keepdim=True)) - t * pi * (log_ratio - kl)


def value_gradient_estimate(q: Tensor, actions: Tensor, rewards: Tensor) -> Tensor:
    """Sample estimate of ∇_θ L_π(θ) = E_{a∼π, r}[∇_θ q_θ(a) (q_θ(a) − r)] for tabular q_θ = θ (eqs. 8–9); ``(B, A)``.

    With ``M`` samples per bandit: (1/M) Σ_m e_{a_m} (q(a_m) − r_m).
    """
    residual = q.gather(-1, actions) - rewards
    return torch.zeros_like(q).scatter_add_(-1, actions, residual) / actions.shape[-1]


def learning_rate(step: int, lr: float, decay_steps: float) -> float:
    """The Robbins–Monro schedule lr_k = lr / (1 + k / decay_steps) (Σ lr_k = ∞, Σ lr_k² < ∞)."""
    return lr / (1.0 + step / decay_steps)


def _leave_one_out_mean(rewards: Tensor) -> Tensor:
    """For each sample the mean of the other ``M − 1`` rewards (0 when M = 1); ``(B, M)``."""
    M = rewards.shape[-1]
    if M == 1:
        return torch.zeros_like(rewards)
    return (rewards.sum(-1, keepdim=True) - rewards) / (M - 1)


def asymptotic_kl_constant(arms: int, noise_std: float, tau: float | Tensor, samples: int) -> float | Tensor:
    """c in E KL[π_k ‖ π^B] ≈ c / k for a learner whose reward estimates are sample means.

    With n_a ≈ k M π^B(a) noisy rewards of arm a, the estimate of r̄(a) has
    variance σ²/n_a, and to second order KL = Var_{π^B}[q − r̄] / (2τ²), whose
    expectation is (A − 1) σ² / (2 τ² M k): the 1/k rate, with this constant.
    """
    require_int_at_least("arms", arms, 2)
    require_int_at_least("samples", samples, 1)
    check_temperature(tau)
    return (arms - 1) * noise_std**2 / (2 * tau**2 * samples)


def train_policy_based(
    bandits: BanditBatch,
    tau: float | Tensor,
    *,
    steps: int,
    samples: int,
    lr: float,
    decay_steps: float,
    power: float = 1.0,
    averaging: bool = False,
    gradient: str = "sampled",
    generator: torch.Generator | None = None,
    record: Callable[[int, Tensor], None] | None = None,
    state: dict | None = None,
    on_step: Callable[[int, dict], None] | None = None,
) -> Tensor:
    """Stochastic gradient ascent on η (eq. 7) for π_θ = softmax(θ), θ₀ = log π̄; returns θ ``(B, A)``.

    Each step draws ``samples`` actions per bandit from π_θ, their noisy
    rewards, and moves θ ← θ + α_k ĝ with the leave-one-out baseline and
    α_k = lr / (1 + k / decay_steps)^power.

    With ``averaging`` (Polyak–Ruppert), the policy reported is softmax(θ̄_k),
    θ̄_k the mean of the iterates θ_i with 2^(j−1) ≤ i ≤ k, where 2^j ≤ k <
    2^(j+1): always at least the last half of the run and at most its last
    three quarters (:func:`tail_average_window`). It is kept as the means of
    two blocks, the last complete one [2^(j−1), 2^j) and the current one. Steps that shrink more slowly than 1/k
    (0.5 < power < 1) then give θ̄_k the 1/k rate of a sample mean whatever
    the curvature, while a plain 1/k schedule reaches it only where
    lr · decay_steps is large against the inverse curvature, which for an arm of
    small probability it is not. ``record(k, pi)`` is called with the
    (averaged) policy after step k (and k = 0). Returns the (averaged) θ.

    ``gradient="expected"`` takes the exact gradient (:func:`expected_policy_gradient`)
    in place of the sampled estimate and draws nothing: the same schedule and
    averaging with no noise, so its divergence from π^B is what remains of the
    start θ₀ after k steps, the part of the sampled learner's error that is not
    noise (to second order the two add).

    ``on_step(k, state)`` receives the learner's whole state after step k (a
    dict of tensors and counters); passing such a ``state`` back continues the
    run from there (with the generator's state restored by the caller), so a
    long run can be checkpointed and resumed exactly.
    """
    check_temperature(tau)
    require_int_at_least("steps", steps, 0)
    require_int_at_least("samples", samples, 2)
    require_positive("lr", lr)
    require_positive("decay_steps", decay_steps)
    require_positive("power", power)
    if gradient not in ("sampled", "expected"):
        raise ConfigError(f"gradient must be 'sampled' or 'expected', got {gradient!r}")
    if state is None:
        theta = bandits.log_prior.clone()
        # means of the current block of iterates (since the last power of two) and of the block before it
        block_mean, block_count, prev_mean, prev_count, k0 = torch.zeros_like(theta), 0, torch.zeros_like(theta), 0, 0
        theta_bar = theta.clone()
        if record is not None:
            record(0, torch.softmax(theta, -1))
    else:
        theta, theta_bar, k0 = state["theta"].clone(), state["theta_bar"].clone(), int(state["k"])
        block_mean, block_count = state["block_mean"].clone(), int(state["block_count"])
        prev_mean, prev_count = state["prev_mean"].clone(), int(state["prev_count"])
    for k in range(k0 + 1, steps + 1):
        if gradient == "expected":
            g = expected_policy_gradient(theta, bandits.r_bar, tau, log_prior=bandits.log_prior)
        else:
            pi = torch.softmax(theta, -1)
            actions = sample_actions(pi, samples, generator=generator)
            rewards = sample_rewards(bandits, actions, generator=generator)
            g = policy_gradient_estimate(
                theta, actions, rewards, tau, log_prior=bandits.log_prior, baseline=_leave_one_out_mean(rewards)
            )
        theta = theta + (lr / (1.0 + (k - 1) / decay_steps) ** power) * g
        if averaging:
            if k & (k - 1) == 0:  # k is a power of two: the current block is complete, start the next one
                prev_mean, prev_count = block_mean, block_count
                block_mean, block_count = torch.zeros_like(theta), 0
            block_count += 1
            block_mean = block_mean + (theta - block_mean) / block_count
            total = prev_count + block_count
            theta_bar = prev_mean * (prev_count / total) + block_mean * (block_count / total)
        if record is not None:
            record(k, torch.softmax(theta_bar if averaging else theta, -1))
        if on_step is not None:
            on_step(k, {"k": k, "theta": theta, "theta_bar": theta_bar, "block_mean": block_mean,
                        "block_count": block_count, "prev_mean": prev_mean, "prev_count": prev_count})
    return theta_bar if averaging else theta


def tail_average_window(k: int) -> tuple[int, int]:
    """The first and last step whose iterates :func:`train_policy_based` averages after step ``k`` ≥ 1:
    (2^(j−1), k) for 2^j ≤ k < 2^(j+1) (and (1, 1) at k = 1), at least the last half of the k iterates."""
    require_int_at_least("k", k, 1)
    j = k.bit_length() - 1
    return (max(1, 1 << max(j - 1, 0)), k)


def under_tried(n: Tensor, pi_B: Tensor, k: int, samples: int, *, below: float = 0.1) -> Tensor:
    """``(B,)`` bool: bandits whose least-tried arm has fewer than ``below`` × k M π^B(a) rewards.

    ``n`` ``(B, A)`` counts the rewards of each arm after ``k`` steps of ``samples``
    (M) actions; a learner sampling from π^B itself would give arm a about
    k M π^B(a). The constant of :func:`asymptotic_kl_constant` assumes every
    arm gets about that many.
    """
    require_int_at_least("k", k, 1)
    require_int_at_least("samples", samples, 1)
    require_positive("below", below)
    return (n / (k * samples * pi_B)).amin(-1) < below


def train_value_based(
    bandits: BanditBatch,
    tau: float | Tensor,
    *,
    steps: int,
    samples: int,
    step_rule: str = "sample_average",
    lr: float = 1.0,
    decay_steps: float = 50.0,
    generator: torch.Generator | None = None,
    record: Callable[[int, Tensor], None] | None = None,
    state: dict | None = None,
    on_step: Callable[[int, dict], None] | None = None,
) -> Tensor:
    """Regress q_θ on sampled rewards (eqs. 8–9) while acting with π^B_{q_θ} (eqs. 10–12); returns q ``(B, A)``.

    q₀ = 0, so the first policy is π̄. Each step samples ``samples`` actions
    from the current Boltzmann policy of q_θ and takes a gradient step on the
    squared error of eq. 8 for each arm a:

        q(a) ← q(a) − α_{k,a} Σ_{m: a_m = a} (q(a) − r_m).

    With ``step_rule="sample_average"`` the step of arm a is 1/n_a, n_a the
    number of its rewards so far, so q(a) is exactly their mean: each arm's
    estimate has variance σ²/n_a, and KL[π_k ‖ π^B] falls like
    :func:`asymptotic_kl_constant` / k. With ``"robbins_monro"`` every arm's
    step is lr / (1 + k / decay_steps) per sample; an arm sampled with
    probability π(a) then forgets its initial error only like
    k^{−lr · decay_steps · π(a)}, slower than 1/k for rare arms. Since the
    minimizer of eq. 8 over tabular q is r̄ for any fully supported sampling
    policy, q_θ → r̄ and π^B_{q_θ} → π^B_r̄ either way. ``record(k, pi)``
    receives π^B_{q_θ} after step k; ``state`` and ``on_step`` resume and
    checkpoint the run as in :func:`train_policy_based`.
    """
    check_temperature(tau)
    require_int_at_least("steps", steps, 0)
    require_int_at_least("samples", samples, 1)
    if step_rule not in ("sample_average", "robbins_monro"):
        raise ConfigError(f"step_rule must be 'sample_average' or 'robbins_monro', got {step_rule!r}")
    require_positive("lr", lr)
    require_positive("decay_steps", decay_steps)
    if state is None:
        q, n, k0 = torch.zeros_like(bandits.r_bar), torch.zeros_like(bandits.r_bar), 0
        if record is not None:
            record(0, boltzmann_policy(q, tau, log_prior=bandits.log_prior))
    else:
        q, n, k0 = state["q"].clone(), state["n"].clone(), int(state["k"])
    for k in range(k0 + 1, steps + 1):
        pi = boltzmann_policy(q, tau, log_prior=bandits.log_prior)
        actions = sample_actions(pi, samples, generator=generator)
        rewards = sample_rewards(bandits, actions, generator=generator)
        grad = value_gradient_estimate(q, actions, rewards) * samples  # Σ_{m: a_m = a} (q(a) − r_m)
        if step_rule == "sample_average":
            n = n + torch.zeros_like(q).scatter_add_(-1, actions, torch.ones_like(rewards))
            q = q - grad / n.clamp(min=1.0)
        else:
            q = q - learning_rate(k - 1, lr, decay_steps) / samples * grad
        if record is not None:
            record(k, boltzmann_policy(q, tau, log_prior=bandits.log_prior))
        if on_step is not None:
            on_step(k, {"k": k, "q": q, "n": n})
    return q


def _log_prior(pi: Tensor, log_prior: Tensor | None) -> Tensor:
    """log π̄ on the device and dtype of ``pi``; the uniform reference when ``log_prior`` is None."""
    if log_prior is None:
        return torch.full_like(pi, -math.log(pi.shape[-1]))
    return log_prior.to(dtype=pi.dtype, device=pi.device)


def _kl_from_log(p: Tensor, log_q: Tensor) -> Tensor:
    """D_KL[p ‖ q] = Σ p (log p − log q) from log q, so that a q that underflows to 0 stays exact; ``(B,)``."""
    return (torch.special.xlogy(p, p) - p * log_q).sum(-1)


def _per_bandit(tau: float | Tensor, like: Tensor) -> float | Tensor:
    """A scalar τ as is, or a ``(B,)`` tensor of per-bandit temperatures on the device and dtype of ``like``."""
    if isinstance(tau, Tensor):
        return tau.to(dtype=like.dtype, device=like.device)
    return tau

