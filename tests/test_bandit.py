"""maxentrl.bandit: the entropy-regularized bandit of Schulman et al. (2017), section 2 (float64)."""

from __future__ import annotations

import pytest
import torch

from maxentrl.bandit import (
    BanditBatch,
    boltzmann_optimum,
    expected_policy_gradient,
    make_bandits,
    policy_gradient_estimate,
    regularized_value,
    s6_sides,
    sample_actions,
    sample_rewards,
    asymptotic_kl_constant,
    tail_average_window,
    train_policy_based,
    train_value_based,
    value_gradient_estimate,
    under_tried,
)
from maxentrl.boltzmann import kl_divergence, soft_maximum
from maxentrl.errors import ConfigError

F64 = torch.float64


def _bandits(B: int = 6, A: int = 4, seed: int = 0) -> BanditBatch:
    return make_bandits(B, A, generator=torch.Generator().manual_seed(seed))


def test_boltzmann_optimum_is_the_stationary_maximizer() -> None:
    bb = _bandits()
    tau = 0.4
    pi_B = boltzmann_optimum(bb.r_bar, tau, log_prior=bb.log_prior)
    # gradient of η(softmax θ) vanishes at θ = log π^B
    theta = pi_B.log().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(
        regularized_value(torch.softmax(theta, -1), bb.r_bar, tau, log_prior=bb.log_prior).sum(), theta
    )
    assert float(grad.abs().max()) < 1e-12
    # its value is the soft maximum (eq. 13 with q = r̄), and random policies do worse
    best = regularized_value(pi_B, bb.r_bar, tau, log_prior=bb.log_prior)
    torch.testing.assert_close(best, soft_maximum(bb.r_bar, tau, log_prior=bb.log_prior), rtol=0, atol=1e-12)
    for seed in range(5):
        pi = torch.softmax(torch.randn(6, 4, dtype=F64, generator=torch.Generator().manual_seed(seed)), -1)
        assert torch.all(regularized_value(pi, bb.r_bar, tau, log_prior=bb.log_prior) < best)


def test_s6_sides_agree_even_when_pi_B_underflows() -> None:
    bb = _bandits(B=20, A=6)
    pi = torch.softmax(torch.randn(20, 6, dtype=F64, generator=torch.Generator().manual_seed(1)), -1)
    for tau in (1e-3, 0.1, 1.0, 30.0):  # τ = 1e-3: exp(r̄/τ) spans e^±1000, π^B has exact zeros
        lhs, rhs = s6_sides(pi, 3 * bb.r_bar, tau, log_prior=bb.log_prior)
        assert torch.all(torch.isfinite(rhs))
        torch.testing.assert_close(lhs, rhs, rtol=1e-14, atol=1e-12)
    # a wrong reference breaks it (the test can fail)
    lhs, rhs = s6_sides(pi, bb.r_bar, 0.5, log_prior=bb.log_prior)
    lhs_u, _ = s6_sides(pi, bb.r_bar, 0.5)
    assert float((lhs_u - rhs).abs().max()) > 1e-3


@pytest.mark.parametrize("baseline", [None, 0.37])
def test_policy_gradient_estimator_is_unbiased(baseline: float | None) -> None:
    # exact expectation over the action (M = 1, noise-free reward r = r̄(a)) equals ∇θ η (eq. 7)
    bb = _bandits(B=3, A=5)
    tau = torch.tensor([0.2, 1.0, 3.0], dtype=F64)
    theta = torch.randn(3, 5, dtype=F64, generator=torch.Generator().manual_seed(2))
    pi = torch.softmax(theta, -1)
    expected = torch.zeros_like(theta)
    for a in range(5):
        actions = torch.full((3, 1), a)
        rewards = bb.r_bar[:, a : a + 1]
        b = None if baseline is None else torch.full((3, 1), baseline, dtype=F64)
        g = policy_gradient_estimate(theta, actions, rewards, tau, log_prior=bb.log_prior, baseline=b)
        expected += pi[:, a : a + 1] * g
    th = theta.clone().requires_grad_(True)
    (true,) = torch.autograd.grad(regularized_value(torch.softmax(th, -1), bb.r_bar, tau, log_prior=bb.log_prior).sum(), th)
    torch.testing.assert_close(expected, true, rtol=1e-12, atol=1e-13)


def test_expected_policy_gradient_is_the_autograd_gradient_and_the_estimators_mean() -> None:
    bb = _bandits(B=3, A=5)
    tau = torch.tensor([0.2, 1.0, 3.0], dtype=F64)
    theta = torch.randn(3, 5, dtype=F64, generator=torch.Generator().manual_seed(7))
    th = theta.clone().requires_grad_(True)
    (true,) = torch.autograd.grad(regularized_value(torch.softmax(th, -1), bb.r_bar, tau, log_prior=bb.log_prior).sum(), th)
    exact = expected_policy_gradient(theta, bb.r_bar, tau, log_prior=bb.log_prior)
    torch.testing.assert_close(exact, true, rtol=1e-12, atol=1e-13)
    # the mean of the sampled estimate (leave-one-out baseline, noisy rewards) over many draws
    samples = 400_000
    gen = torch.Generator().manual_seed(8)
    actions = sample_actions(torch.softmax(theta, -1), samples, generator=gen)
    rewards = sample_rewards(bb, actions, generator=gen)
    loo = (rewards.sum(-1, keepdim=True) - rewards) / (samples - 1)
    estimate = policy_gradient_estimate(theta, actions, rewards, tau, log_prior=bb.log_prior, baseline=loo)
    assert float((estimate - exact).abs().max()) < 0.01 < float(exact.abs().max())


def test_the_expected_gradient_learner_draws_nothing_and_is_slower_on_rare_arms() -> None:
    bb = _bandits(B=4, A=5)
    gen = torch.Generator().manual_seed(9)
    before = gen.get_state()
    opts = dict(steps=200, samples=2, lr=2.0, decay_steps=50.0, power=0.6, averaging=True, gradient="expected")
    cold = train_policy_based(bb, 0.25, generator=gen, **opts)
    assert torch.equal(gen.get_state(), before)  # no draw
    torch.testing.assert_close(cold, train_policy_based(bb, 0.25, **opts), rtol=0, atol=0)
    warm = train_policy_based(bb, 1.0, **opts)
    kl = lambda theta, tau: kl_divergence(torch.softmax(theta, -1), boltzmann_optimum(bb.r_bar, tau, log_prior=bb.log_prior))
    # with every step scaled by π_j, the start is forgotten far more slowly at the lower temperature
    assert float(kl(cold, 0.25).mean()) > 10 * float(kl(warm, 1.0).mean())
    with pytest.raises(ConfigError, match="gradient must be 'sampled' or 'expected'"):
        train_policy_based(bb, 0.25, **{**opts, "gradient": "exact"})


def test_value_gradient_estimator_is_unbiased() -> None:
    bb = _bandits(B=3, A=5)
    q = torch.randn(3, 5, dtype=F64, generator=torch.Generator().manual_seed(3))
    pi = torch.softmax(torch.randn(3, 5, dtype=F64, generator=torch.Generator().manual_seed(4)), -1)
    expected = sum(
        pi[:, a : a + 1] * value_gradient_estimate(q, torch.full((3, 1), a), bb.r_bar[:, a : a + 1]) for a in range(5)
    )
    qq = q.clone().requires_grad_(True)
    L = 0.5 * (pi * (qq - bb.r_bar) ** 2).sum()  # eq. 8 without the constant noise variance
    (true,) = torch.autograd.grad(L, qq)
    torch.testing.assert_close(expected, true, rtol=1e-13, atol=1e-14)


def test_sampling_is_seeded_and_matches_the_policy() -> None:
    bb = _bandits(B=2, A=3)
    pi = torch.tensor([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]], dtype=F64)
    a1 = sample_actions(pi, 20000, generator=torch.Generator().manual_seed(5))
    a2 = sample_actions(pi, 20000, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a1, a2) and a1.shape == (2, 20000)
    freq = torch.nn.functional.one_hot(a1, 3).to(F64).mean(1)
    torch.testing.assert_close(freq, pi, rtol=0, atol=0.02)
    r = sample_rewards(bb, a1, generator=torch.Generator().manual_seed(6))
    mean_r = (r * (a1 == 0)).sum(1) / (a1 == 0).sum(1)
    torch.testing.assert_close(mean_r, bb.r_bar[:, 0], rtol=0, atol=0.1)


@pytest.mark.parametrize("train,options", [
    (train_policy_based, dict(lr=1.0, decay_steps=50.0)),
    (train_policy_based, dict(lr=1.0, decay_steps=50.0, power=0.6, averaging=True)),
    (train_value_based, dict(step_rule="robbins_monro", lr=1.0, decay_steps=50.0)),
    (train_value_based, dict()),
])
def test_learners_approach_pi_B(train, options) -> None:
    bb = _bandits(B=64, A=4, seed=7)
    tau = 0.5
    pi_B = boltzmann_optimum(bb.r_bar, tau, log_prior=bb.log_prior)
    kl = {}
    train(bb, tau, steps=600, samples=8, generator=torch.Generator().manual_seed(8),
          record=lambda k, pi: kl.__setitem__(k, float(kl_divergence(pi, pi_B).mean())), **options)
    assert kl[600] < kl[0] / 30, (kl[0], kl[600])


def test_averaged_policy_is_the_mean_of_at_least_the_last_half_of_the_iterates() -> None:
    bb = _bandits(B=3, A=4, seed=2)
    thetas, bars = {}, {}

    def on_step(k: int, state: dict) -> None:
        thetas[k], bars[k] = state["theta"].clone(), state["theta_bar"].clone()

    out = train_policy_based(bb, 0.5, steps=70, samples=4, lr=1.0, decay_steps=10.0, power=0.6, averaging=True,
                             generator=torch.Generator().manual_seed(3), on_step=on_step)
    for k in range(1, 71):
        first, last = tail_average_window(k)
        assert last == k and 2 * (k - first + 1) >= k and 4 * (k - first + 1) <= 3 * k + 4
        mean = torch.stack([thetas[i] for i in range(first, k + 1)]).mean(0)
        torch.testing.assert_close(bars[k], mean, rtol=0, atol=1e-12)
    assert [tail_average_window(k)[0] for k in (1, 2, 3, 4, 7, 8, 64, 70)] == [1, 1, 1, 2, 2, 4, 32, 32]
    torch.testing.assert_close(out, bars[70], rtol=0, atol=0)


def test_sample_average_steps_give_the_sample_mean() -> None:
    """With steps 1/n_a the value-based learner's q(a) is exactly the mean of arm a's rewards so far."""
    bb = _bandits(B=3, A=4, seed=9)
    seen = []

    def record(k, pi):
        seen.append(pi)

    g = torch.Generator().manual_seed(10)
    q = train_value_based(bb, 1.0, steps=50, samples=6, generator=g, record=record)
    # replay the same draws to collect every reward
    g = torch.Generator().manual_seed(10)
    sums, counts = torch.zeros_like(q), torch.zeros_like(q)
    for k in range(50):
        a = sample_actions(seen[k], 6, generator=g)
        r = sample_rewards(bb, a, generator=g)
        sums.scatter_add_(-1, a, r)
        counts.scatter_add_(-1, a, torch.ones_like(r))
    torch.testing.assert_close(q, torch.where(counts > 0, sums / counts.clamp(min=1), 0.0), rtol=0, atol=1e-12)


def test_value_learner_reaches_the_predicted_one_over_k_constant() -> None:
    """E KL ≈ (A − 1)σ²/(2τ²Mk) for sample-mean estimates (asymptotic_kl_constant), here at τ = 1."""
    bb = make_bandits(2000, 4, noise_std=1.0, generator=torch.Generator().manual_seed(11))
    pi_B = boltzmann_optimum(bb.r_bar, 1.0, log_prior=bb.log_prior)
    kl = {}
    train_value_based(bb, 1.0, steps=400, samples=8, generator=torch.Generator().manual_seed(12),
                      record=lambda k, pi: kl.__setitem__(k, float(kl_divergence(pi, pi_B).mean())))
    ratio = kl[400] * 400 / asymptotic_kl_constant(4, 1.0, 1.0, 8)
    assert 0.8 < ratio < 1.25, ratio


def test_bad_input_raises_config_error() -> None:
    bb = _bandits()
    with pytest.raises(ConfigError):
        make_bandits(4, 1)
    with pytest.raises(ConfigError):
        boltzmann_optimum(bb.r_bar, -1.0)
    with pytest.raises(ConfigError):
        s6_sides(torch.softmax(bb.r_bar, -1), bb.r_bar, 0.0)
    with pytest.raises(ConfigError):
        train_policy_based(bb, 0.0, steps=1, samples=2, lr=1.0, decay_steps=1.0)
    with pytest.raises(ConfigError):
        train_value_based(bb, torch.tensor([1.0, -1.0, 1, 1, 1, 1]), steps=1, samples=2, lr=1.0, decay_steps=1.0)
    with pytest.raises(ConfigError):
        train_value_based(bb, 1.0, steps=1, samples=2, step_rule="adam")
    with pytest.raises(ConfigError):
        train_policy_based(bb, 1.0, steps=1, samples=2, lr=1.0, decay_steps=1.0, power=0.0)
    with pytest.raises(ConfigError):
        asymptotic_kl_constant(1, 1.0, 1.0, 4)


def test_under_tried_compares_each_arm_with_what_pi_B_would_give_it() -> None:
    pi_B = torch.tensor([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]], dtype=torch.float64)
    k, M = 100, 4  # π^B would give the arms 200, 120 and 80 rewards
    n = torch.tensor([[200.0, 120.0, 80.0], [390.0, 3.0, 7.0]], dtype=torch.float64)
    assert under_tried(n, pi_B, k, M).tolist() == [False, True]  # 3 < 0.1 · 120
    assert under_tried(n, pi_B, k, M, below=0.01).tolist() == [False, False]
    with pytest.raises(ConfigError, match="below"):
        under_tried(n, pi_B, k, M, below=0.0)
