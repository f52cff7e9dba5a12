"""maxentrl.functional: functionals on a grid, their derivatives and the Boltzmann maximizer (float64)."""

from __future__ import annotations

import math

import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.functional import (
    boltzmann_density,
    directional_derivative_exact,
    directional_derivative_fd,
    entropy_regularized_derivative,
    entropy_regularized_objective,
    functional_derivative,
    functional_value,
    integrate,
    kl_density,
    log_partition,
    midpoint_grid,
    mirror_ascent,
    random_fourier_functions,
    soft_maximum_integral,
    softmax_gradient_ascent,
)

F64 = torch.float64


def _setup(n: int = 256, batch: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x, w = midpoint_grid(0.0, 1.0, n)
    f = random_fourier_functions(batch, x, generator=g)
    log_q = 0.5 * random_fourier_functions(batch, x, generator=g)
    q = torch.exp(log_q - torch.logsumexp(log_q + w.log(), -1, keepdim=True))
    eta = random_fourier_functions(batch, x, generator=g)
    return x, w, f, q, eta / eta.abs().amax(-1, keepdim=True) * 0.1


def test_midpoint_rule_integrates_polynomials() -> None:
    x, w = midpoint_grid(-1.0, 2.0, 1000)
    assert x.dtype == F64 and w.shape == (1000,)
    assert abs(float(integrate(torch.ones_like(x), w)) - 3.0) < 1e-12
    assert abs(float(integrate(x, w)) - 1.5) < 1e-12  # exact for linear functions
    assert abs(float(integrate(x**2, w)) - 3.0) < 1e-5  # O(h²) otherwise


def test_functional_derivative_is_partial_derivative_of_integrand() -> None:
    # J[q] = ∫ F(q, x) dx with F(q, x) = sin(q) x + q³: δJ/δq = cos(q) x + 3q².
    x, w, _, q, _ = _setup()

    def F(p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(p) * x + p**3

    torch.testing.assert_close(functional_derivative(F, q, x), torch.cos(q) * x + 3 * q**2, rtol=1e-13, atol=1e-13)
    # and the gradient of the discretized J is the functional derivative times the weights
    qq = q.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(functional_value(F, qq, x, w).sum(), qq)
    torch.testing.assert_close(grad / w, functional_derivative(F, q, x), rtol=1e-12, atol=1e-12)


def test_entropy_regularized_derivative_matches_autograd() -> None:
    x, w, f, q, _ = _setup()
    tau = 0.7
    auto = functional_derivative(lambda p, _x: p * f - tau * p * torch.log(p), q, x)
    torch.testing.assert_close(entropy_regularized_derivative(q, f, tau), auto, rtol=1e-13, atol=1e-13)


def test_first_variation_forward_and_central_orders() -> None:
    x, w, f, q, eta = _setup(batch=4)
    tau = 0.5
    J = lambda p: entropy_regularized_objective(p, f, tau, w)  # noqa: E731
    exact = directional_derivative_exact(entropy_regularized_derivative(q, f, tau), eta, w)
    eps = torch.tensor([[1e-3], [1e-2]], dtype=F64)
    err_f = (directional_derivative_fd(J, q, eta, eps, scheme="forward") - exact).abs()
    err_c = (directional_derivative_fd(J, q, eta, eps, scheme="central") - exact).abs()
    # ten times the step: ten times the forward error, a hundred times the central error
    ratio_f = (err_f[1] / err_f[0]).log10()
    ratio_c = (err_c[1] / err_c[0]).log10()
    assert torch.all((ratio_f > 0.9) & (ratio_f < 1.1)), ratio_f
    assert torch.all((ratio_c > 1.9) & (ratio_c < 2.1)), ratio_c
    # the leading forward error is (ε/2) ∫ F''(q) η² = −(ε/2) τ ∫ η²/q
    second = -0.5 * 1e-3 * tau * integrate(eta**2 / q, w)
    fd = directional_derivative_fd(J, q, eta, 1e-3, scheme="forward")
    torch.testing.assert_close(fd - exact, second, rtol=2e-3, atol=0)


def test_boltzmann_density_is_normalized_stationary_point() -> None:
    x, w, f, _, _ = _setup()
    for tau in (0.05, 0.5, 5.0):
        q_star = boltzmann_density(f, tau, w)
        torch.testing.assert_close(integrate(q_star, w), torch.ones(3, dtype=F64), rtol=1e-13, atol=1e-13)
        # δJ/δq is constant (= the Lagrange multiplier) at q*: f − τ(log q* + 1) = τ log Z − τ
        dJ = entropy_regularized_derivative(q_star, f, tau)
        lam = tau * log_partition(f, tau, w) - tau
        torch.testing.assert_close(dJ, lam.unsqueeze(-1).expand_as(dJ), rtol=0, atol=1e-11)
        # the maximum value is τ log ∫ exp(f/τ)
        torch.testing.assert_close(
            entropy_regularized_objective(q_star, f, tau, w), soft_maximum_integral(f, tau, w), rtol=0, atol=1e-12
        )


def test_objective_gap_is_tau_times_kl() -> None:
    # continuous S(6): J[q] = τ log Z − τ D_KL[q ‖ q*] for every density q
    x, w, f, q, _ = _setup()
    tau = 0.3
    lhs = entropy_regularized_objective(q, f, tau, w)
    rhs = soft_maximum_integral(f, tau, w) - tau * kl_density(q, boltzmann_density(f, tau, w), w)
    torch.testing.assert_close(lhs, rhs, rtol=0, atol=1e-12)
    assert torch.all(lhs < soft_maximum_integral(f, tau, w))


def test_mirror_ascent_converges_for_batched_temperatures() -> None:
    x, w, f, _, _ = _setup(n=512, batch=2)
    taus = torch.tensor([0.1, 0.1, 1.0, 1.0], dtype=F64)
    ff = f.repeat(2, 1)
    kls = []
    log_q = mirror_ascent(
        ff, taus, w, steps=80, step_size=0.3 / taus,
        record=lambda k, lq: kls.append(kl_density(lq.exp(), boltzmann_density(ff, taus, w), w)),
    )
    assert len(kls) == 80
    assert float(kls[-1].max()) < 1e-12
    assert float(kls[0].min()) > 1e-4  # it did have to move
    torch.testing.assert_close(log_q.exp(), boltzmann_density(ff, taus, w), rtol=1e-6, atol=0)
    # one step with step size exactly 1/τ lands on q* (exercise of the chapter)
    one = mirror_ascent(ff, taus, w, steps=1, step_size=1.0 / taus)
    torch.testing.assert_close(one.exp(), boltzmann_density(ff, taus, w), rtol=1e-10, atol=0)


def test_log_partition_does_not_overflow() -> None:
    x, w = midpoint_grid(0.0, 1.0, 100)
    f = 1e3 * x
    tau = 1e-3
    assert math.isfinite(float(log_partition(f, tau, w)))
    q = boltzmann_density(f, tau, w)
    assert torch.all(torch.isfinite(q))


def test_random_fourier_functions_shapes_and_seed() -> None:
    x, _ = midpoint_grid(0.0, 1.0, 64)
    a = random_fourier_functions(5, x, generator=torch.Generator().manual_seed(3))
    b = random_fourier_functions(5, x, generator=torch.Generator().manual_seed(3))
    assert a.shape == (5, 64)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_bad_input_raises_config_error() -> None:
    x, w, f, q, eta = _setup()
    with pytest.raises(ConfigError):
        midpoint_grid(1.0, 0.0, 10)
    with pytest.raises(ConfigError):
        midpoint_grid(0.0, 1.0, 0)
    for bad_tau in (0.0, -0.5):
        with pytest.raises(ConfigError):
            entropy_regularized_objective(q, f, bad_tau, w)
        with pytest.raises(ConfigError):
            boltzmann_density(f, bad_tau, w)
        with pytest.raises(ConfigError):
            mirror_ascent(f, bad_tau, w, steps=1, step_size=1.0)
    with pytest.raises(ConfigError):
        directional_derivative_fd(lambda p: p.sum(-1), q, eta, 0.0)
    with pytest.raises(ConfigError):
        directional_derivative_fd(lambda p: p.sum(-1), q, eta, 1e-3, scheme="backward")  # type: ignore[arg-type]


def test_softmax_gradient_ascent_step_is_the_autograd_gradient_of_J_in_the_logits() -> None:
    """One step moves u by α (∂J/∂u)/w, the chain rule through q = e^u / ∫ e^u."""
    x, w = midpoint_grid(0.0, 1.0, 64)
    g = torch.Generator().manual_seed(3)
    f = random_fourier_functions(2, x, generator=g)
    u0 = 0.3 * random_fourier_functions(2, x, generator=g)
    tau, alpha = 0.5, 0.01
    u = u0.clone().requires_grad_(True)
    q = torch.exp(u - torch.logsumexp(u + torch.log(w), -1, keepdim=True))
    (grad,) = torch.autograd.grad(entropy_regularized_objective(q, f, tau, w).sum(), u)
    log_q0 = u0 - torch.logsumexp(u0 + torch.log(w), -1, keepdim=True)
    log_q1 = softmax_gradient_ascent(f, tau, w, steps=1, step_size=alpha, log_q0=log_q0)
    u1 = log_q0 + alpha * grad / w
    want = u1 - torch.logsumexp(u1 + torch.log(w), -1, keepdim=True)
    torch.testing.assert_close(log_q1, want, rtol=0, atol=1e-12)


def test_softmax_gradient_ascent_is_slower_than_mirror_ascent_where_q_star_is_small() -> None:
    x, w = midpoint_grid(0.0, 1.0, 512)
    f = random_fourier_functions(3, x, generator=torch.Generator().manual_seed(4))
    tau = 0.1
    q_star = boltzmann_density(f, tau, w)
    plain = softmax_gradient_ascent(f, tau, w, steps=200, step_size=1.0 / (tau * q_star.amax(-1)))
    mirror = mirror_ascent(f, tau, w, steps=200, step_size=0.2 / tau)
    kl_plain = kl_density(plain.exp(), q_star, w)
    kl_mirror = kl_density(mirror.exp(), q_star, w)
    assert bool((kl_plain > 1e-4).all()) and bool((kl_mirror < 1e-12).all())
    # yet it does climb J: the value rises monotonically over the run
    vals = []
    softmax_gradient_ascent(f, tau, w, steps=50, step_size=1.0 / (tau * q_star.amax(-1)),
                            record=lambda k, lq: vals.append(entropy_regularized_objective(lq.exp(), f, tau, w)))
    assert all(bool((b >= a - 1e-12).all()) for a, b in zip(vals, vals[1:]))
