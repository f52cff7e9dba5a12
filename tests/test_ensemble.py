"""An ensemble of MLPs is E independent MLPs: same outputs, independent gradients."""

from __future__ import annotations

import pytest
import torch

from maxentrl.ensemble import EnsembleMLP, ornstein_uhlenbeck_step
from maxentrl.errors import ConfigError


def test_members_are_plain_mlps_with_independent_gradients() -> None:
    g = torch.Generator().manual_seed(0)
    net = EnsembleMLP(3, 4, (8, 8), 2, generator=g, dtype=torch.float64)
    x = torch.randn(3, 5, 4, generator=g, dtype=torch.float64)
    out = net(x)
    for m in range(3):
        h = x[m]
        layers = net.member(m)
        for k, (w, b) in enumerate(layers):
            h = h @ w + b
            if k < len(layers) - 1:
                h = torch.relu(h)
        torch.testing.assert_close(out[m], h)
    out[1].sum().backward()
    assert all(float(p.grad[0].abs().max()) == 0 and float(p.grad[2].abs().max()) == 0 for p in net.parameters())
    assert all(float(p.grad[1].abs().max()) > 0 for p in net.parameters())


def test_bad_shapes_are_refused() -> None:
    net = EnsembleMLP(2, 3, (4,), 1)
    with pytest.raises(ConfigError):
        net(torch.zeros(3, 5, 3))
    with pytest.raises(ConfigError):
        EnsembleMLP(0, 3, (4,), 1)


def test_ou_noise_reverts_to_zero_with_the_stationary_spread() -> None:
    g = torch.Generator().manual_seed(1)
    n = torch.zeros(20_000, dtype=torch.float64)
    for _ in range(200):
        n = ornstein_uhlenbeck_step(n, theta=0.15, sigma=0.3, generator=g)
    # stationary variance of n <- (1 - θ) n + σ ε: σ² / (1 - (1 - θ)²)
    assert abs(float(n.var()) - 0.09 / (1 - 0.85**2)) < 0.01 and abs(float(n.mean())) < 0.02
