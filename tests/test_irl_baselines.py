"""Time-based routing, maximum-margin planning and the action-based model (maxentrl.irl.baselines)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.irl.baselines import (
    fit_action_model,
    action_model_log_likelihood_and_gradient,
    action_model_log_policy,
    fit_max_margin,
    label_bias_example,
    optimal_cost_to_go,
    time_cost,
)
from maxentrl.irl.graph import grid_graph
from maxentrl.irl.maxent import backward_pass, make_demonstrations
from maxentrl.irl.roads import shortest_path, shortest_paths_from


def test_fig2_label_bias_exact() -> None:
    """C6.2: 1/3 each under MaxEnt; 1/4, 1/4, 1/2 under the action-based model (eq. 7)."""
    mdp, A, B, paths = label_bias_example()
    zero = torch.zeros(1, dtype=torch.float64)
    bw = backward_pass(mdp, zero, torch.tensor([B]), horizon=5)
    maxent = [float(torch.exp(-bw.log_Z_state[0, A])) for _ in paths]  # each path has reward 0
    assert maxent == pytest.approx([1 / 3] * 3, abs=1e-15)
    log_pi = action_model_log_policy(mdp, zero, torch.tensor([B]), horizon=5)[0]
    action = [float(torch.exp(log_pi[p].sum())) for p in paths]
    assert action == pytest.approx([0.25, 0.25, 0.5], abs=1e-15)


def test_optimal_cost_to_go_matches_dijkstra() -> None:
    g = torch.Generator().manual_seed(0)
    mdp = grid_graph(5, 6, torch.rand(30, 3, generator=g, dtype=torch.float64))
    w = torch.rand(3, generator=g, dtype=torch.float64) + 0.1
    V, Q, best = optimal_cost_to_go(mdp, w, torch.tensor([29, 0]), horizon=200)
    edge = mdp.action_rewards(w).numpy()
    dist, _ = shortest_paths_from(mdp, edge, list(range(30)))
    assert np.allclose(V[0].numpy(), dist[:, 29], atol=1e-12)
    assert np.allclose(V[1].numpy(), dist[:, 0], atol=1e-12)
    # following the best actions from 0 reaches goal 29 at the optimal cost
    s, total = 0, 0.0
    while s != 29:
        a = int(best[0, s])
        total += float(edge[a])
        s = int(mdp.dst[a])
    assert total == pytest.approx(float(dist[0, 29]))
    assert len(shortest_path(mdp, edge, 0, 29)) == 9  # 4 down + 5 right on a 5x6 grid
    # a horizon shorter than the optimal route: the hop-limited iteration, which cannot reach 29 from 0
    V8, _, best8 = optimal_cost_to_go(mdp, w, torch.tensor([29, 0]), horizon=8)
    assert math.isinf(float(V8[0, 0])) and int(best8[0, 0]) == -1
    assert float(V8[0, 28]) == pytest.approx(float(V[0, 28]), abs=1e-12)  # one action away: unchanged


def test_action_model_gradient_matches_finite_differences() -> None:
    g = torch.Generator().manual_seed(1)
    mdp = grid_graph(4, 4, torch.rand(16, 3, generator=g, dtype=torch.float64))
    other = mdp.action_rewards(torch.tensor([1.0, 0.1, 2.0], dtype=torch.float64)).numpy()
    demos = make_demonstrations(mdp, [shortest_path(mdp, other, 0, 15), shortest_path(mdp, other, 3, 12)])
    w = torch.rand(3, generator=g, dtype=torch.float64) + 0.5
    L, grad = action_model_log_likelihood_and_gradient(mdp, w, demos, horizon=100)
    eps = 1e-6
    for k in range(3):
        e = torch.zeros(3, dtype=torch.float64)
        e[k] = eps
        Lp, _ = action_model_log_likelihood_and_gradient(mdp, w + e, demos, horizon=100)
        Lm, _ = action_model_log_likelihood_and_gradient(mdp, w - e, demos, horizon=100)
        assert float(grad[k]) == pytest.approx(float((Lp - Lm) / (2 * eps)), abs=1e-5)
    assert float(L) < 0


def test_max_margin_lowers_its_objective_and_time_cost() -> None:
    g = torch.Generator().manual_seed(2)
    mdp = grid_graph(5, 5, torch.rand(25, 3, generator=g, dtype=torch.float64))
    w_true = torch.tensor([1.0, 3.0, 0.2], dtype=torch.float64)
    edge = mdp.action_rewards(w_true).numpy()
    paths = [shortest_path(mdp, edge, s, 24) for s in (0, 3, 10, 15)]
    demos = make_demonstrations(mdp, paths)
    fit = fit_max_margin(mdp, demos, torch.ones(3, dtype=torch.float64), length_m=np.full(25, 100.0), step=0.2, iterations=30)
    assert min(fit.objective[-5:]) < fit.objective[0]
    assert bool((fit.cost > 0).all())
    tc = time_cost(mdp, np.full(25, 1000.0), np.full(25, 36.0))
    assert np.allclose(tc, 100.0)  # 1 km at 36 km/h takes 100 s


def test_bad_arguments_are_refused() -> None:
    mdp, A, B, paths = label_bias_example()
    zero = torch.zeros(1, dtype=torch.float64)
    demos = make_demonstrations(mdp, paths)
    with pytest.raises(ConfigError, match="goal"):
        optimal_cost_to_go(mdp, zero, torch.tensor([-1]), horizon=3)
    with pytest.raises(ConfigError, match="cost"):
        action_model_log_policy(mdp, torch.tensor([float("nan")], dtype=torch.float64), torch.tensor([B]), horizon=3)
    with pytest.raises(ConfigError, match="cost"):
        optimal_cost_to_go(mdp, torch.zeros(2, dtype=torch.float64), torch.tensor([B]), horizon=3)
    with pytest.raises(ConfigError, match="horizon"):
        action_model_log_likelihood_and_gradient(mdp, zero + 1, demos, horizon=2)
    with pytest.raises(ConfigError, match="positive"):
        fit_action_model(mdp, demos, zero, step=0.1, iterations=2, horizon=4)
    with pytest.raises(ConfigError, match="length_m"):
        fit_max_margin(mdp, demos, zero + 1, length_m=np.ones(3), step=0.1, iterations=2)
    with pytest.raises(ConfigError, match="speed_kmh"):
        time_cost(mdp, np.ones(7), np.zeros(7))


def _checkpointed(state):
    """``state`` after a round trip through torch.save, as a checkpoint stores it."""
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=False)


class _Stop(Exception):
    pass


def test_action_model_and_max_margin_fits_resume_exactly() -> None:
    gen = torch.Generator().manual_seed(4)
    f = torch.rand(25, 3, generator=gen, dtype=torch.float64)
    mdp = grid_graph(5, 5, f)
    costs = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    paths = []
    for s in range(0, 24, 3):
        edge_cost = (mdp.state_features[mdp.src] @ costs).numpy() * (1 + 0.3 * torch.rand(mdp.num_actions, generator=gen).numpy())
        paths.append(shortest_path(mdp, edge_cost, s, 24))
    demos = make_demonstrations(mdp, paths)
    ones = torch.ones(3, dtype=torch.float64)
    runs = {
        "action": lambda **kw: fit_action_model(mdp, demos, ones, step=0.3, iterations=9, horizon=60, **kw),
        "margin": lambda **kw: fit_max_margin(mdp, demos, ones, length_m=np.full(25, 100.0), step=0.2, iterations=9, **kw),
    }
    for name, run in runs.items():
        whole = run()
        for stop in (1, 4):
            kept = {}

            def on_iteration(state, stop=stop):
                if state["iteration"] == stop:
                    kept["state"] = _checkpointed(state)
                    raise _Stop

            with pytest.raises(_Stop):
                run(on_iteration=on_iteration)
            resumed = run(state=kept["state"])
            if name == "action":
                assert torch.equal(resumed[0], whole[0]) and resumed[1] == whole[1]
            else:
                assert torch.equal(resumed.cost, whole.cost) and resumed.objective == whole.objective
    with pytest.raises(ConfigError):
        runs["margin"](state={"iteration": 2})
