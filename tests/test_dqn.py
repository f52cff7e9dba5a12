"""DQN's three targets (eqs. 81-83), n-step returns and the replay memory."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from maxentrl.dqn import DQNSettings, DQNVariant, ReplayMemory, dqn_targets, epsilon, n_step_dqn_targets, next_state_value, train_dqn
from maxentrl.errors import ConfigError
from maxentrl.experiments.harness import RunContext

D = torch.float64


def test_targets_and_the_constant_between_the_soft_ones() -> None:
    g = torch.Generator().manual_seed(0)
    q = 10 * torch.randn(7, 6, generator=g, dtype=D)
    r, done = torch.randn(7, generator=g, dtype=D), torch.zeros(7, dtype=torch.bool)
    std = dqn_targets(r, done, q, kind="standard", gamma=0.99)
    assert torch.allclose(std, r + 0.99 * q.max(-1).values)
    for tau in (0.01, 0.1, 1.0):
        kl = dqn_targets(r, done, q, kind="soft_kl", gamma=0.99, tau=tau)
        ent = dqn_targets(r, done, q, kind="soft_ent", gamma=0.99, tau=tau)
        assert torch.allclose(ent - kl, torch.full((7,), 0.99 * tau * math.log(6), dtype=D), atol=1e-12)
        # soft values lie between the uniform mean and the max (KL) and above the max (entropy)
        V_kl = next_state_value(q, kind="soft_kl", tau=tau)
        assert bool((V_kl <= q.max(-1).values + 1e-12).all() and (V_kl >= q.mean(-1) - 1e-12).all())
    assert torch.allclose(next_state_value(q, kind="soft_ent", tau=1e-4), q.max(-1).values, atol=1e-3)
    done[0] = True
    assert dqn_targets(r, done, q, kind="soft_ent", gamma=0.99, tau=0.1)[0] == r[0]
    with pytest.raises(ConfigError):
        next_state_value(q, kind="soft_kl", tau=0.0)
    with pytest.raises(ConfigError):
        next_state_value(q, kind="hard")


def test_n_step_targets_stop_at_the_end_of_an_episode() -> None:
    g = torch.Generator().manual_seed(1)
    r = torch.randn(4, 3, generator=g, dtype=D)
    q = torch.randn(4, 2, generator=g, dtype=D)
    done = torch.zeros(4, 3, dtype=torch.bool)
    done[1, 1] = True
    y = n_step_dqn_targets(r, done, q, kind="standard", gamma=0.9)
    assert torch.allclose(y[0], r[0, 0] + 0.9 * r[0, 1] + 0.81 * r[0, 2] + 0.729 * q[0].max())
    assert torch.allclose(y[1], r[1, 0] + 0.9 * r[1, 1])
    one = n_step_dqn_targets(r[:, :1], done[:, :1], q, kind="soft_kl", gamma=0.9, tau=0.5)
    assert torch.allclose(one, dqn_targets(r[:, 0], done[:, 0], q, kind="soft_kl", gamma=0.9, tau=0.5))


def test_replay_memory_reads_consecutive_steps_of_one_copy() -> None:
    mem = ReplayMemory(2, 3, 50, (2, 2, 3), np.dtype(np.bool_))
    rng = np.random.default_rng(0)
    frames = []
    for t in range(40):
        obs = rng.random((2, 3, 2, 2, 3)) < 0.5
        frames.append(obs)
        mem.add(obs, np.full((2, 3), t % 5), np.full((2, 3), float(t)), np.zeros((2, 3), bool))
    b = mem.sample(64, 3, rng)
    t0 = b["reward"][..., 0].astype(int)
    assert np.array_equal(b["reward"], t0[..., None] + np.arange(3))  # consecutive steps
    for e in range(2):
        for k in range(64):
            t = t0[e, k]
            match = [j for j in range(3) if np.array_equal(frames[t][e, j], b["obs"][e, k])]
            assert any(np.array_equal(frames[t + 3][e, j], b["nth_obs"][e, k]) for j in match)
            assert any(np.array_equal(frames[t + 1][e, j], b["next_obs"][e, k]) for j in match)
    mem.mark_cut()
    assert mem.cut[:, :, (mem.head - 1) % 50].all()


def test_epsilon_schedule() -> None:
    assert epsilon(0, start=1.0, end=0.05, decay_steps=100) == 1.0
    assert math.isclose(epsilon(50, start=1.0, end=0.05, decay_steps=100), 0.525)
    assert epsilon(500, start=1.0, end=0.05, decay_steps=100) == 0.05


def test_dqn_ensemble_is_reproducible() -> None:
    s = DQNSettings(env_id="CartPole-v1", steps=600, n_envs=2, memory=200, learning_starts=100, segment_steps=70,
                    log_every=200)
    variants = [DQNVariant("standard"), DQNVariant("standard", n=5), DQNVariant("soft_kl", 0.1), DQNVariant("soft_ent", 0.1)]

    def once():
        ctx = RunContext(device=torch.device("cpu"), seed=2, progress=False)
        return ctx.stage("dqn", lambda: train_dqn(s, variants, ctx=ctx, stream=1))

    a, b = once(), once()
    assert a == b and a["curve_steps"] == [200, 400, 600] and len(a["curves"]) == 4
    with pytest.raises(ConfigError):
        ctx = RunContext(device=torch.device("cpu"), seed=2, progress=False)
        ctx.stage("x", lambda: train_dqn(s, [DQNVariant("soft_kl", 0.0)], ctx=ctx, stream=1))
