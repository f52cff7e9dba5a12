"""Soft Q-learning and DDPG share one actor-critic: shapes, what each update changes, exact resumption."""

from __future__ import annotations

import pytest
import torch

from maxentrl.actor_critic import ActorCritic, AgentConfig, Trainer
from maxentrl.envs import CorridorSpec, MultiGoalSpec
from maxentrl.envs.vector import TensorVecEnv
from maxentrl.errors import ConfigError

SMALL = {"hidden": (16, 16), "svgd_fixed": 4, "svgd_updated": 4, "value_samples": 8, "policy_states": 8,
         "batch_size": 16, "min_replay": 20, "target_update_every": 25, "replay_capacity": 500}


def _trainer(method: str, seed: int = 0, task=None, E: int = 3) -> Trainer:
    g = torch.Generator().manual_seed(seed)
    task = task or MultiGoalSpec()
    agent = ActorCritic(AgentConfig(method=method, **SMALL), n_members=E, obs_dim=task.obs_dim, act_dim=task.act_dim,
                        generator=g)
    return Trainer(agent, TensorVecEnv(task, E, generator=g), generator=g)


@pytest.mark.parametrize("method", ["sql", "ddpg"])
def test_training_runs_and_actions_stay_in_the_box(method: str) -> None:
    tr = _trainer(method)
    tr.run(60)
    assert tr.steps == 60 and len(tr.replay) == 60
    a = tr.agent.actions(torch.zeros(3, 5, 2), 7, generator=torch.Generator().manual_seed(1))
    assert a.shape == (3, 5, 7, 2) and float(a.abs().max()) <= 1.0
    if method == "ddpg":  # a deterministic actor: all samples equal
        assert torch.equal(a, a[:, :, :1].expand_as(a))
    else:
        assert float(a.std(2).min()) > 0


def test_methods_differ_only_in_target_and_actor_loss() -> None:
    sql, ddpg = _trainer("sql").agent, _trainer("ddpg").agent
    assert sql.critic.weights[0].shape == ddpg.critic.weights[0].shape
    assert sql.actor.weights[0].shape[1] == ddpg.actor.weights[0].shape[1] + 2  # the sampler also reads the noise ξ


def test_a_member_does_not_see_another_members_data() -> None:
    """Changing member 1's batch leaves member 0's parameters after an update unchanged."""
    tr = _trainer("sql")
    tr.run(40)
    batch = tr.replay.sample(16, generator=torch.Generator().manual_seed(2))
    other = {k: v.clone() for k, v in batch.items()}
    other["reward"][1] += 100.0
    out = []
    for b in (batch, other):
        agent = _trainer("sql").agent
        agent.load_state_dict(tr.agent.state_dict())
        agent.update(b, generator=torch.Generator().manual_seed(3))
        out.append(agent)
    for p0, p1 in zip(out[0].critic.parameters(), out[1].critic.parameters()):
        assert torch.equal(p0[0], p1[0]) and torch.equal(p0[2], p1[2]) and not torch.equal(p0[1], p1[1])


@pytest.mark.parametrize("method", ["sql", "ddpg"])
def test_resuming_from_state_dict_continues_exactly(method: str) -> None:
    task = CorridorSpec(finish=3.0, horizon=7)
    a = _trainer(method, task=task)
    a.run(50)
    state = a.state_dict()
    g_state = a.generator.get_state()
    a.run(40)
    b = _trainer(method, seed=99, task=task)
    b.load_state_dict(state)
    b.generator.set_state(g_state)
    b.run(40)
    for pa, pb in zip(a.agent.actor.parameters(), b.agent.actor.parameters()):
        assert torch.equal(pa, pb)
    assert a.episodes == b.episodes and a.episodes and all(e["max_x"] == e["max_x"] for e in a.episodes)


def test_bad_config_is_refused() -> None:
    with pytest.raises(ConfigError):
        AgentConfig(method="ppo")
    with pytest.raises(ConfigError):
        AgentConfig(policy_states=100, batch_size=64)
    with pytest.raises(ConfigError):
        AgentConfig(gamma=1.0)
