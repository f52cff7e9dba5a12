"""SVGD: kernel, bandwidth, the Stein direction of eq. 13 and the amortized surrogate of eq. 14 (float64, autograd)."""

from __future__ import annotations

import math

import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.svgd import amortized_svgd_loss, median_bandwidth, pairwise_sq_distances, rbf_kernel, svgd_direction, svgd_step

D = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_kernel_gradient_matches_autograd() -> None:
    x = torch.randn(3, 5, 2, dtype=D, generator=_gen(), requires_grad=True)
    y = torch.randn(3, 4, 2, dtype=D, generator=_gen(1))
    h = torch.tensor([0.5, 1.0, 2.0], dtype=D)
    K, dK = rbf_kernel(x, y, h)
    for j in range(4):
        (g,) = torch.autograd.grad(K[..., j].sum(), x, retain_graph=True)
        torch.testing.assert_close(dK[..., j, :], g, rtol=1e-12, atol=1e-12)
    assert torch.allclose(K, torch.exp(-pairwise_sq_distances(x, y) / h.view(3, 1, 1)))


def test_direction_is_the_written_out_sum() -> None:
    g = _gen(2)
    x, s, y = (torch.randn(2, 6, 3, dtype=D, generator=g) for _ in range(3))
    h = 0.7
    phi = svgd_direction(x, s, y=y, bandwidth=h)
    for b in range(2):
        for k in range(6):
            total = torch.zeros(3, dtype=D)
            for i in range(6):
                kern = math.exp(-float((x[b, i] - y[b, k]).square().sum()) / h)
                total += kern * s[b, i] - 2.0 * (x[b, i] - y[b, k]) / h * kern
            torch.testing.assert_close(phi[b, k], total / 6, rtol=1e-12, atol=1e-12)
    no_rep = svgd_direction(x, s, y=y, bandwidth=h, repulsive=False)
    K, _ = rbf_kernel(x, y, h)
    torch.testing.assert_close(no_rep, K.transpose(-1, -2) @ s / 6)


def test_stein_identity_direction_vanishes_at_the_target() -> None:
    """E_{x∼p}[κ(x, y)∇log p(x) + ∇_x κ(x, y)] = 0: with many exact samples the direction is ~0 (Monte-Carlo error)."""
    n = 200_000
    x = torch.randn(1, n, 2, dtype=D, generator=_gen(3)) * 1.5 + 1.0  # N(1, 1.5² I)
    score = -(x - 1.0) / 1.5**2
    y = torch.tensor([[[0.0, 0.0], [1.0, 2.0], [3.0, -1.0]]], dtype=D)
    phi = svgd_direction(x, score, y=y, bandwidth=2.0)
    assert float(phi.abs().max()) < 5e-3
    # and it does not vanish when the particles are not distributed as p
    shifted = x + 1.0  # samples of N(2, 1.5² I), scored under p = N(1, 1.5² I)
    phi_off = svgd_direction(shifted, -(shifted - 1.0) / 1.5**2, y=y, bandwidth=2.0)
    assert float(phi_off.abs().max()) > 0.05


def test_single_particle_is_the_plain_gradient() -> None:
    """The DDPG limit: one particle, κ(a, a) = 1 and ∇κ(a, a) = 0, so the direction is the score itself."""
    x = torch.randn(4, 1, 2, dtype=D, generator=_gen(4))
    s = torch.randn(4, 1, 2, dtype=D, generator=_gen(5))
    torch.testing.assert_close(svgd_direction(x, s, bandwidth=1.3), s)


def test_median_bandwidth_is_app_d1_and_scales_with_squared_distance() -> None:
    x = torch.randn(3, 9, 2, dtype=D, generator=_gen(6))
    h = median_bandwidth(x)
    for b in range(3):
        d2 = sorted(float((x[b, i] - x[b, j]).square().sum()) for i in range(9) for j in range(i + 1, 9))
        assert math.isclose(float(h[b]), d2[(len(d2) - 1) // 2] / (2 * math.log(10)), rel_tol=1e-12)
    torch.testing.assert_close(median_bandwidth(3.0 * x), 9.0 * h)
    y = torch.randn(3, 4, 2, dtype=D, generator=_gen(7))
    d2 = pairwise_sq_distances(x, y).flatten(-2).median(-1).values
    torch.testing.assert_close(median_bandwidth(x, y), d2 / (2 * math.log(10)))
    assert float(median_bandwidth(torch.zeros(1, 5, 2, dtype=D)).min()) == pytest.approx(1e-3)


def test_svgd_moves_particles_towards_a_gaussian() -> None:
    x = torch.randn(1, 100, 1, dtype=D, generator=_gen(8)) - 6.0
    for _ in range(1500):
        x = svgd_step(x, -(x - 2.0), 0.1)
    assert abs(float(x.mean()) - 2.0) < 0.05 and abs(float(x.std()) - 1.0) < 0.1


def test_amortized_loss_gradient_is_minus_direction() -> None:
    p = torch.randn(2, 5, 3, dtype=D, generator=_gen(9), requires_grad=True)
    d = torch.randn(2, 5, 3, dtype=D, generator=_gen(10))
    (g,) = torch.autograd.grad(amortized_svgd_loss(p, d).sum(), p)
    torch.testing.assert_close(g, -d / 5)


def test_bad_input_is_refused() -> None:
    x = torch.zeros(2, 3, 2)
    with pytest.raises(ConfigError):
        svgd_direction(x, torch.zeros(2, 3, 1))
    with pytest.raises(ConfigError):
        rbf_kernel(x, x, -1.0)
    with pytest.raises(ConfigError):
        median_bandwidth(torch.zeros(2, 1, 2))
    with pytest.raises(ConfigError):
        amortized_svgd_loss(x, torch.zeros(2, 3, 1))
