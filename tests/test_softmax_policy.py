"""Tests of maxentrl.softmax_policy: logits, Jacobians and scores of softmax policies (float64, autograd)."""

from __future__ import annotations

import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.softmax_policy import LinearPolicy, MLPPolicy, log_policy, score, tabular_jacobian, tabular_logits

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def autograd_jacobian(fn, theta: torch.Tensor) -> torch.Tensor:
    """∂z[b, s, a]/∂θ[b, i] by torch.autograd.functional, one batch row at a time."""
    rows = []
    for i in range(theta.shape[0]):
        J = torch.autograd.functional.jacobian(lambda t: fn(t.unsqueeze(0)).squeeze(0), theta[i])
        rows.append(J)
    return torch.stack(rows)


def test_mlp_jacobian_matches_autograd() -> None:
    net = MLPPolicy(n_features=3, n_hidden=5, n_actions=4)
    x = torch.randn(2, 7, 3, generator=gen(1), dtype=F64)
    theta = net.init(2, generator=gen(2))
    theta = theta + 0.1 * torch.randn(theta.shape, generator=gen(3), dtype=F64)  # non-zero biases too
    J = net.jacobian(theta, x)
    assert J.shape == (2, 7, 4, net.n_params)
    ref = torch.stack([autograd_jacobian(lambda t: net.logits(t, x[i:i + 1]), theta[i:i + 1])[0] for i in range(2)])
    assert torch.allclose(J, ref, atol=1e-13)
    assert bool((J[:, :, -1] == 0).all())  # the last action's logit is fixed at zero


def test_mlp_parameter_count_and_shapes() -> None:
    net = MLPPolicy(n_features=4, n_hidden=6, n_actions=3)
    assert net.n_params == 6 * 4 + 6 + 2 * 6 + 2
    theta = net.init(5, generator=gen())
    W1, b1, W2, b2 = net.unflatten(theta)
    assert W1.shape == (5, 6, 4) and b1.shape == (5, 6) and W2.shape == (5, 2, 6) and b2.shape == (5, 2)
    z = net.logits(theta, torch.randn(9, 4, generator=gen(1), dtype=F64))  # shared features broadcast
    assert z.shape == (5, 9, 3)


def test_linear_policy_jacobian_and_curvature() -> None:
    lin = LinearPolicy(n_features=4, n_actions=3)
    x = torch.randn(2, 5, 4, generator=gen(4), dtype=F64)
    theta = lin.init(2, generator=gen(5), scale=0.7)
    J = lin.jacobian(theta, x)
    ref = torch.stack([autograd_jacobian(lambda t: lin.logits(t, x[i:i + 1]), theta[i:i + 1])[0] for i in range(2)])
    assert torch.allclose(J, ref, atol=1e-14)
    # d²/dt² log π_{θ+tw}(a|s) = −Var_π(J w): the second derivative of log π is the Fisher form of its state
    w = torch.randn(theta.shape, generator=gen(6), dtype=F64)
    pi = torch.softmax(lin.logits(theta, x), -1)

    def along(t):
        return log_policy(lin.logits(theta + t * w, x))

    second = torch.autograd.functional.hessian(lambda t: along(t).sum(), torch.zeros((), dtype=F64))
    Jw = (J * w.view(2, 1, 1, -1)).sum(-1)
    var = (pi * Jw**2).sum(-1) - (pi * Jw).sum(-1) ** 2
    assert torch.allclose(second, -(var.unsqueeze(-1).expand_as(pi)).sum(), atol=1e-12)


def test_score_is_gradient_of_log_policy_and_centred() -> None:
    net = MLPPolicy(n_features=2, n_hidden=4, n_actions=3)
    x = torch.randn(1, 6, 2, generator=gen(7), dtype=F64)
    theta = net.init(1, generator=gen(8))
    pi = torch.softmax(net.logits(theta, x), -1)
    psi = score(net.jacobian(theta, x), pi)
    ref = autograd_jacobian(lambda t: log_policy(net.logits(t, x)), theta)
    assert torch.allclose(psi, ref, atol=1e-13)
    assert torch.allclose((pi.unsqueeze(-1) * psi).sum(2), torch.zeros(1, 6, net.n_params, dtype=F64), atol=1e-14)


def test_tabular_parametrization() -> None:
    theta = torch.randn(3, 4 * 2, generator=gen(9), dtype=F64)
    z = tabular_logits(theta, 4, 2)
    assert torch.equal(z[1, 2], theta[1, 4:6])
    J = tabular_jacobian(3, 4, 2)
    assert torch.equal(J[0].reshape(8, 8), torch.eye(8, dtype=F64))
    assert torch.allclose(log_policy(z).exp().sum(-1), torch.ones(3, 4, dtype=F64))


@pytest.mark.parametrize(
    "bad",
    [
        lambda: tabular_logits(torch.zeros(2, 7, dtype=F64), 2, 4),
        lambda: MLPPolicy(n_features=0, n_hidden=3, n_actions=2),
        lambda: MLPPolicy(n_features=2, n_hidden=3, n_actions=1),
        lambda: MLPPolicy(2, 3, 2).logits(torch.zeros(2, 5, dtype=F64), torch.zeros(2, 4, 2, dtype=F64)),
        lambda: MLPPolicy(2, 3, 2).logits(torch.zeros(2, MLPPolicy(2, 3, 2).n_params, dtype=F64),
                                          torch.zeros(3, 4, 2, dtype=F64)),
        lambda: LinearPolicy(3, 2).init(2, generator=gen(), scale=-1.0),
        lambda: log_policy(torch.tensor([[0.0, float("nan")]], dtype=F64)),
        lambda: score(torch.zeros(1, 2, 3, 4, dtype=F64), torch.zeros(1, 2, 2, dtype=F64)),
    ],
)
def test_bad_input_is_a_config_error(bad) -> None:
    with pytest.raises(ConfigError):
        bad()
