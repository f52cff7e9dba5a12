"""A2C's returns and losses, and the §6.3 claim: scaled soft Q-learning has proper A2C's expected gradient."""

from __future__ import annotations

import pytest
import torch

from maxentrl.a2c import (
    A2CSettings,
    a2c_loss,
    n_step_returns,
    naive_returns,
    proper_returns,
    sample_categorical,
    scale_gradient,
    segment_seeds,
    soft_q_loss,
    soft_q_targets,
    train_a2c,
)
from maxentrl.errors import ConfigError
from maxentrl.experiments.harness import RunContext

D = torch.float64


def _brute_returns(r, done, boot, gamma):
    T = r.shape[0]
    out = torch.zeros_like(r)
    for t in range(T):
        for j in range(r.shape[1]):
            R, disc = 0.0, 1.0
            for k in range(t, T):
                R += disc * float(r[k, j])
                if done[k, j]:
                    break
                disc *= gamma
            else:
                R += disc * float(boot[j])
            out[t, j] = R
    return out


def test_n_step_returns_against_a_direct_sum() -> None:
    g = torch.Generator().manual_seed(0)
    r = torch.randn(6, 5, generator=g, dtype=D)
    done = torch.rand(6, 5, generator=g) < 0.3
    boot = torch.randn(5, generator=g, dtype=D)
    assert torch.allclose(n_step_returns(r, done, boot, 0.9), _brute_returns(r, done, boot, 0.9), atol=1e-12)
    assert torch.equal(naive_returns(r, done, boot, gamma=0.9), n_step_returns(r, done, boot, 0.9))


def test_proper_returns_put_the_bonus_of_every_visited_state_in_the_return() -> None:
    g = torch.Generator().manual_seed(1)
    r, H = torch.randn(5, 3, generator=g, dtype=D), torch.rand(5, 3, generator=g, dtype=D)
    done = torch.zeros(5, 3, dtype=torch.bool)
    boot = torch.zeros(3, dtype=D)
    R = proper_returns(r, H, done, boot, gamma=0.5, tau=0.1)
    disc = 0.5 ** torch.arange(5, dtype=D)
    assert torch.allclose(R[0], ((r + 0.1 * H) * disc.unsqueeze(1)).sum(0), atol=1e-12)
    # after an end of episode the next episode's bonus does not leak in
    done[1, 0] = True
    R = proper_returns(r, H, done, boot, gamma=0.5, tau=0.1)
    assert torch.allclose(R[0, 0], r[0, 0] + 0.1 * H[0, 0] + 0.5 * (r[1, 0] + 0.1 * H[1, 0]))


def _expected_gradients(tau: float, c: float, scaled: bool):
    """E_{a∼π}[∇ soft-Q loss] and E_{a∼π}[∇ proper A2C loss] for one state, V and logits as the parameters."""
    g = torch.Generator().manual_seed(2)
    A = 4
    logits = torch.randn(A, generator=g, dtype=D).requires_grad_(True)
    V = torch.randn((), generator=g, dtype=D).requires_grad_(True)
    R = torch.randn(A, generator=g, dtype=D)  # the (proper) return after each first action
    log_pi = torch.log_softmax(logits, -1)
    pi = log_pi.exp().detach()
    H = -(log_pi.exp() * log_pi).sum()
    soft, a2c = 0.0, 0.0
    for a in range(A):
        y = soft_q_targets(R[a], H.detach(), tau=tau)
        soft = soft + pi[a] * soft_q_loss(V, log_pi[a], y, tau=tau, c=c, scaled=scaled)
        a2c = a2c + pi[a] * a2c_loss(log_pi[a], H, V, R[a], tau=tau, c=c if scaled else 1 / tau)
    gs = torch.autograd.grad(soft, (logits, V), retain_graph=True)
    ga = torch.autograd.grad(a2c, (logits, V))
    return torch.cat([gs[0], gs[1].view(1)]), torch.cat([ga[0], ga[1].view(1)])


@pytest.mark.parametrize("tau, c", [(0.01, 0.5), (0.3, 0.5), (1.0, 2.0)])
def test_scaled_soft_q_has_the_expected_gradient_of_proper_a2c(tau: float, c: float) -> None:
    soft, a2c = _expected_gradients(tau, c, scaled=True)
    assert torch.allclose(soft, a2c, atol=1e-12)


def test_unscaled_soft_q_is_a2c_with_c_one_over_tau_times_tau() -> None:
    soft, a2c = _expected_gradients(0.2, 0.5, scaled=False)
    assert torch.allclose(soft, 0.2 * a2c, atol=1e-12)
    assert not torch.allclose(soft, a2c, atol=1e-3)


def test_scale_gradient_keeps_the_value_and_scales_the_gradient() -> None:
    x = torch.tensor([1.5, -2.0], dtype=D, requires_grad=True)
    y = scale_gradient(x, 3.0)
    assert torch.equal(y.detach(), x.detach())
    (g,) = torch.autograd.grad(y.sum(), x)
    assert torch.allclose(g, torch.full((2,), 3.0, dtype=D))


def test_sampling_and_seeds() -> None:
    g = torch.Generator().manual_seed(3)
    logits = torch.log(torch.tensor([[0.2, 0.5, 0.3]])).expand(20000, 3)
    a = sample_categorical(logits, g)
    freq = torch.bincount(a, minlength=3).double() / 20000
    assert torch.allclose(freq, torch.tensor([0.2, 0.5, 0.3], dtype=D), atol=0.015)
    s1, s2 = segment_seeds(0, 1, 2, 8), segment_seeds(0, 1, 3, 8)
    assert len(set(s1.tolist())) == 8 and not (s1 == s2).all() and (s1 == segment_seeds(0, 1, 2, 8)).all()


def test_a2c_ensemble_is_reproducible_and_members_differ() -> None:
    settings = A2CSettings(env_id="CartPole-v1", steps=400, n_envs=4, segment_updates=7, log_every=100)

    def once():
        ctx = RunContext(device=torch.device("cpu"), seed=5, progress=False)
        return ctx.stage("a2c", lambda: train_a2c(settings, ["naive", "proper", "soft_q"], ctx=ctx, stream=1))

    a, b = once(), once()
    assert a == b
    assert a["curve_steps"] == [100, 200, 300, 400] and len(a["curves"]) == 3
    with pytest.raises(ConfigError):
        ctx = RunContext(device=torch.device("cpu"), seed=5, progress=False)
        ctx.stage("x", lambda: train_a2c(settings, ["naive", "greedy"], ctx=ctx, stream=1))
