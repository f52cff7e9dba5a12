"""Algorithm 1, the likelihood and its gradient (maxentrl.irl.maxent), in float64."""

from __future__ import annotations

import copy
import io
import math

import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.experiments.ch06_maxent_irl import random_graph
from maxentrl.irl.baselines import label_bias_example
from maxentrl.irl.enumerate import enumerate_paths, enumerated_visitation
from maxentrl.irl.graph import GraphMDP, grid_graph
from maxentrl.irl.maxent import (
    Demonstrations,
    backward_pass,
    cost_to_goal,
    expected_feature_counts,
    expected_visitation,
    fit_exponentiated_gradient,
    fit_gradient,
    fit_lbfgs,
    forward_pass,
    linear_visitation,
    local_action_probabilities,
    log_likelihood_and_gradient,
    make_demonstrations,
    sample_paths,
    segment_logsumexp,
    shaped_visitation,
)


def dense_segment_lse(x: torch.Tensor, index: torch.Tensor, S: int) -> torch.Tensor:
    out = torch.full((x.shape[0], S), -torch.inf, dtype=x.dtype)
    for s in range(S):
        sel = index == s
        if bool(sel.any()):
            out[:, s] = torch.logsumexp(x[:, sel], dim=1)
    return out


@pytest.mark.parametrize("sorted_index", [True, False])
def test_segment_logsumexp_matches_dense(sorted_index: bool) -> None:
    g = torch.Generator().manual_seed(0)
    index = torch.randint(0, 6, (30,), generator=g)
    if sorted_index:
        index = index.sort().values
    x = 50 * torch.randn(3, 30, generator=g, dtype=torch.float64)
    x[0, :5] = -torch.inf
    lengths = torch.bincount(index, minlength=7) if sorted_index else None
    got = segment_logsumexp(x, index, 7, lengths=lengths)
    want = dense_segment_lse(x, index, 7)
    assert torch.equal(torch.isinf(got), torch.isinf(want))
    fin = torch.isfinite(want)
    assert torch.allclose(got[fin], want[fin], atol=1e-12, rtol=0)


def _one_hot_start(S: int, s: int = 0) -> torch.Tensor:
    D0 = torch.zeros(1, S, dtype=torch.float64)
    D0[0, s] = 1.0
    return D0


@pytest.mark.parametrize("seed", range(5))
def test_time_varying_algorithm1_equals_enumeration_on_cyclic_graphs(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    mdp = random_graph(7, acyclic=False, generator=g)
    theta = -2 * torch.rand(3, generator=g, dtype=torch.float64)
    N = 6
    D_s, D_a, log_Z = enumerated_visitation(mdp, theta, 0, 6, max_actions=N)
    vis = expected_visitation(mdp, theta, torch.tensor([6]), _one_hot_start(7), horizon=N, time_varying=True)
    assert torch.allclose(vis.D_state[0], D_s, atol=1e-12, rtol=0)
    assert torch.allclose(vis.D_action[0], D_a, atol=1e-12, rtol=0)
    assert float(vis.log_Z_state[0, 0]) == pytest.approx(float(log_Z), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_stationary_algorithm1_equals_enumeration_on_dags(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    mdp = random_graph(8, acyclic=True, generator=g)
    theta = torch.randn(3, generator=g, dtype=torch.float64)  # any sign: a DAG has finitely many paths
    D_s, D_a, _ = enumerated_visitation(mdp, theta, 0, 7, max_actions=8)
    vis = expected_visitation(mdp, theta, torch.tensor([7]), _one_hot_start(8), horizon=8)
    assert torch.allclose(vis.D_state[0], D_s, atol=1e-12, rtol=0)
    assert torch.allclose(vis.D_action[0], D_a, atol=1e-12, rtol=0)


def test_a_wrong_horizon_is_detected() -> None:
    """The check above can fail: a horizon too short for the DAG misses paths."""
    g = torch.Generator().manual_seed(1)
    mdp = random_graph(8, acyclic=True, generator=g)
    longest = max(len(p) for p in enumerate_paths(mdp, 0, 7, max_actions=8))
    theta = torch.zeros(3, dtype=torch.float64)
    D_s, _, _ = enumerated_visitation(mdp, theta, 0, 7, max_actions=8)
    vis = expected_visitation(mdp, theta, torch.tensor([7]), _one_hot_start(8), horizon=longest - 1)
    assert float((vis.D_state[0] - D_s).abs().max()) > 1e-3


def test_gradient_is_eq6_and_matches_autograd() -> None:
    """∇L = f̃ − E[f] (eq. 6) equals autograd of the enumerated log-likelihood."""
    g = torch.Generator().manual_seed(3)
    mdp = random_graph(7, acyclic=True, generator=g)
    paths = enumerate_paths(mdp, 0, 6, max_actions=7)
    demos = make_demonstrations(mdp, [paths[0], paths[-1], paths[len(paths) // 2]])
    theta = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    r_a = mdp.action_rewards(theta)
    path_r = torch.stack([r_a[torch.tensor(p)].sum() for p in paths])
    log_Z = torch.logsumexp(path_r, 0)
    L_enum = (demos.feature_counts @ theta - log_Z).mean()
    (grad_auto,) = torch.autograd.grad(L_enum, theta)
    L, grad = log_likelihood_and_gradient(mdp, theta.detach(), demos, horizon=7)
    assert float(L) == pytest.approx(float(L_enum.detach()), abs=1e-12)
    assert torch.allclose(grad, grad_auto, atol=1e-12, rtol=0)


def test_log_likelihood_is_concave() -> None:
    g = torch.Generator().manual_seed(4)
    mdp = random_graph(7, acyclic=True, generator=g)
    paths = enumerate_paths(mdp, 0, 6, max_actions=7)
    demos = make_demonstrations(mdp, paths[:2])
    for _ in range(10):
        theta = torch.randn(3, generator=g, dtype=torch.float64)
        d = torch.randn(3, generator=g, dtype=torch.float64)
        eps = 1e-2
        Lp, _ = log_likelihood_and_gradient(mdp, theta + eps * d, demos, horizon=7)
        Lm, _ = log_likelihood_and_gradient(mdp, theta - eps * d, demos, horizon=7)
        L0, _ = log_likelihood_and_gradient(mdp, theta, demos, horizon=7)
        assert float(Lp + Lm - 2 * L0) <= 1e-12


def test_batched_goals_equal_separate_runs_and_mass_is_conserved() -> None:
    mdp = grid_graph(4, 4, torch.rand(16, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    theta = torch.tensor([-2.0, -1.5], dtype=torch.float64)
    goals = torch.tensor([15, 0, 5])
    D0 = torch.zeros(3, 16, dtype=torch.float64)
    D0[0, 0] = D0[1, 15] = D0[2, 10] = 1.0
    vis = expected_visitation(mdp, theta, goals, D0, horizon=400, tol=1e-14)
    for b in range(3):
        one = expected_visitation(mdp, theta, goals[b : b + 1], D0[b : b + 1], horizon=400, tol=1e-14)
        assert torch.allclose(vis.D_state[b], one.D_state[0], atol=1e-12)
        # every unit of start mass arrives at the goal exactly once
        assert float(vis.D_state[b, goals[b]]) == pytest.approx(1.0, abs=1e-10)
    assert vis.backward_iterations < 400


def test_local_action_probabilities_sum_to_one() -> None:
    mdp = grid_graph(3, 3, torch.ones(9, 1, dtype=torch.float64))
    bw = backward_pass(mdp, torch.tensor([-2.0], dtype=torch.float64), torch.tensor([8]), horizon=200, tol=1e-13)
    pi = local_action_probabilities(mdp, bw.log_Z_action, bw.log_Z_state)
    sums = torch.zeros(1, 9, dtype=torch.float64).index_add_(1, mdp.src, pi)
    assert torch.allclose(sums[0, :8], torch.ones(8, dtype=torch.float64), atol=1e-12)
    assert float(sums[0, 8]) == 0.0  # no action leaves the absorbing goal


def test_sampled_paths_follow_the_maxent_distribution() -> None:
    mdp, A, B, paths = label_bias_example()
    theta = torch.zeros(1, dtype=torch.float64)
    bw = backward_pass(mdp, theta, torch.tensor([B]), horizon=5)
    pi = local_action_probabilities(mdp, bw.log_Z_action, bw.log_Z_state)
    n = 6000
    got = sample_paths(mdp, pi, torch.full((n,), A), torch.zeros(n, dtype=torch.long), torch.full((n,), B),
                       generator=torch.Generator().manual_seed(0), max_steps=10)
    freq = [sum(p == q for p in got) / n for q in paths]
    assert all(abs(f - 1 / 3) < 0.03 for f in freq)


def test_learners_recover_planted_weights_on_a_gridworld() -> None:
    gen = torch.Generator().manual_seed(0)
    terrain = torch.randint(3, (25,), generator=gen)
    mdp = grid_graph(5, 5, torch.nn.functional.one_hot(terrain, 3).double())
    theta_star = torch.tensor([-1.6, -2.4, -3.5], dtype=torch.float64)
    bw = backward_pass(mdp, theta_star, torch.tensor([24]), horizon=1000, tol=1e-13)
    pi = local_action_probabilities(mdp, bw.log_Z_action, bw.log_Z_state)
    starts = torch.randint(24, (3000,), generator=gen)
    paths = sample_paths(mdp, pi, starts, torch.zeros(3000, dtype=torch.long), torch.full((3000,), 24), generator=gen, max_steps=1000)
    demos = make_demonstrations(mdp, paths)
    fit = fit_lbfgs(mdp, demos, torch.full((3,), -2.5, dtype=torch.float64), iterations=100, horizon=1000, tol=1e-13)
    _, grad = log_likelihood_and_gradient(mdp, fit.theta, demos, horizon=1000, tol=1e-13)
    assert float(grad.norm()) < 1e-6  # feature expectations matched (eq. 6)
    assert float((fit.theta - theta_star).norm() / theta_star.norm()) < 0.05
    eg = fit_exponentiated_gradient(mdp, demos, torch.full((3,), 2.5, dtype=torch.float64), step=0.1, iterations=30, horizon=1000, tol=1e-10)
    assert bool((eg.theta < 0).all())  # costs stay positive
    assert eg.log_likelihood[-1] > eg.log_likelihood[0]
    gd = fit_gradient(mdp, demos, torch.full((3,), -2.5, dtype=torch.float64), step=0.1, iterations=10, horizon=1000, tol=1e-10)
    assert gd.log_likelihood[-1] > gd.log_likelihood[0]


def _gridworld_demos(num: int = 400):
    gen = torch.Generator().manual_seed(1)
    terrain = torch.randint(3, (25,), generator=gen)
    mdp = grid_graph(5, 5, torch.nn.functional.one_hot(terrain, 3).double())
    theta_star = torch.tensor([-1.6, -2.4, -3.5], dtype=torch.float64)
    bw = backward_pass(mdp, theta_star, torch.tensor([24]), horizon=1000, tol=1e-13)
    pi = local_action_probabilities(mdp, bw.log_Z_action, bw.log_Z_state)
    starts = torch.randint(24, (num,), generator=gen)
    paths = sample_paths(mdp, pi, starts, torch.zeros(num, dtype=torch.long), torch.full((num,), 24), generator=gen,
                         max_steps=1000)
    return mdp, make_demonstrations(mdp, paths)


def _stop_after(k: int):
    """An ``on_iteration`` that keeps the state after iteration ``k``, sent through torch.save as a checkpoint is,
    and then stops the fit (as a killed run stops)."""
    kept = {}

    class Stop(Exception):
        pass

    def on_iteration(state):
        if state["iteration"] == k:
            buf = io.BytesIO()
            torch.save(state, buf)
            buf.seek(0)
            kept["state"] = torch.load(buf, weights_only=False)
            raise Stop

    return kept, on_iteration, Stop


@pytest.mark.parametrize("stop", [1, 3, 7])
def test_every_fit_resumes_exactly_from_its_state(stop: int) -> None:
    mdp, demos = _gridworld_demos()
    theta0 = torch.full((3,), -2.5, dtype=torch.float64)
    runs = {
        "lbfgs": lambda **kw: fit_lbfgs(mdp, demos, theta0, iterations=12, horizon=200, tol=1e-12, **kw),
        "eg": lambda **kw: fit_exponentiated_gradient(mdp, demos, -theta0, step=0.1, iterations=12, horizon=200, tol=1e-12, **kw),
        "gd": lambda **kw: fit_gradient(mdp, demos, theta0, step=0.1, iterations=12, horizon=200, tol=1e-12, **kw),
    }
    for name, run in runs.items():
        whole = run()
        kept, on_iteration, Stop = _stop_after(stop)
        with pytest.raises(Stop):
            run(on_iteration=on_iteration)
        resumed = run(state=kept["state"])
        assert torch.equal(resumed.theta, whole.theta), name
        assert resumed.log_likelihood == whole.log_likelihood and resumed.grad_norm == whole.grad_norm, name


def test_lbfgs_one_iteration_per_call_matches_one_call_for_all_iterations() -> None:
    mdp, demos = _gridworld_demos()
    theta0 = torch.full((3,), -2.5, dtype=torch.float64)
    fit = fit_lbfgs(mdp, demos, theta0, iterations=6, horizon=200, tol=1e-12)
    theta = theta0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=6, max_eval=10**6, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-10, tolerance_change=1e-14, history_size=20)

    def closure():
        with torch.no_grad():
            L, g = log_likelihood_and_gradient(mdp, theta.detach().clone(), demos, horizon=200, tol=1e-12)
        theta.grad = -g
        return -L

    opt.step(closure)
    assert torch.allclose(fit.theta, theta.detach(), rtol=0, atol=1e-12)


def test_a_converged_lbfgs_state_stays_converged() -> None:
    mdp, demos = _gridworld_demos()
    states = []
    fit = fit_lbfgs(mdp, demos, torch.full((3,), -2.5, dtype=torch.float64), iterations=100, horizon=200, tol=1e-12,
                    on_iteration=lambda st: states.append(copy.deepcopy(st)))
    assert states[-1]["converged"] and states[-1]["iteration"] < 100
    again = fit_lbfgs(mdp, demos, torch.zeros(3, dtype=torch.float64), iterations=100, horizon=200, state=states[-1])
    assert torch.equal(again.theta, fit.theta) and again.log_likelihood == fit.log_likelihood
    with pytest.raises(ConfigError):
        fit_lbfgs(mdp, demos, fit.theta, iterations=2, horizon=200, state={"iteration": 1})


def test_expected_feature_counts_of_one_path() -> None:
    mdp, A, B, paths = label_bias_example()
    D_action = torch.zeros(1, mdp.num_actions, dtype=torch.float64)
    D_action[0, paths[2]] = 1.0
    assert torch.allclose(expected_feature_counts(mdp, D_action), torch.zeros(1, 1, dtype=torch.float64))


def test_bad_arguments_raise() -> None:
    mdp, A, B, paths = label_bias_example()
    theta = torch.zeros(1, dtype=torch.float64)
    with pytest.raises(ConfigError):
        backward_pass(mdp, theta, torch.tensor([B]), horizon=0)
    with pytest.raises(ConfigError):
        backward_pass(mdp, theta, torch.tensor([B]), horizon=3, tol=-1.0)
    with pytest.raises(ConfigError):
        backward_pass(mdp, theta, torch.tensor([B]), horizon=3, gamma=0.0)
    with pytest.raises(ConfigError):
        forward_pass(mdp, torch.zeros(3, 1, mdp.num_actions), torch.zeros(1, 7), horizon=5)
    with pytest.raises(ConfigError):
        make_demonstrations(mdp, [[0, 5]])  # not connected
    with pytest.raises(ConfigError):
        make_demonstrations(mdp, [])
    demos = make_demonstrations(mdp, paths)
    with pytest.raises(ConfigError):
        fit_exponentiated_gradient(mdp, demos, torch.zeros(1, dtype=torch.float64), step=0.1, iterations=2, horizon=4)
    with pytest.raises(ConfigError):
        fit_gradient(mdp, demos, theta, step=-1.0, iterations=2, horizon=4)


def test_float32_and_unsorted_edges_agree_with_float64() -> None:
    g = torch.Generator().manual_seed(5)
    mdp = grid_graph(4, 4, torch.rand(16, 2, generator=g, dtype=torch.float64))
    perm = torch.randperm(mdp.num_actions, generator=g)
    shuffled = GraphMDP(16, mdp.src[perm], mdp.dst[perm], mdp.state_features, mdp.action_features[perm])
    theta = torch.tensor([-2.0, -1.0], dtype=torch.float64)
    D0 = _one_hot_start(16)
    a = expected_visitation(mdp, theta, torch.tensor([15]), D0, horizon=300, tol=1e-13)
    b = expected_visitation(shuffled, theta, torch.tensor([15]), D0, horizon=300, tol=1e-13)
    assert torch.allclose(a.D_state, b.D_state, atol=1e-12)
    c = expected_visitation(mdp.to(dtype=torch.float32), theta.float(), torch.tensor([15]), D0.float(), horizon=300, tol=1e-6)
    assert torch.allclose(c.D_state.double(), a.D_state, atol=1e-4)


# --- the potential-shaped linear passes -------------------------------------------------------

def _road_grid(seed: int = 0) -> tuple[GraphMDP, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mdp = grid_graph(6, 6, torch.rand(36, 3, generator=g, dtype=torch.float64))
    return mdp, -0.5 - torch.rand(3, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("tol", [0.0, 1e-13])
def test_shaped_passes_equal_log_space(tol: float) -> None:
    mdp, theta = _road_grid()
    goals = torch.tensor([35, 0])
    D0 = torch.full((2, 36), 1 / 36, dtype=torch.float64)
    a = expected_visitation(mdp, theta, goals, D0, horizon=60, tol=tol, method="log")
    b = expected_visitation(mdp, theta, goals, D0, horizon=60, tol=tol, method="shaped")
    assert a.method == "log" and b.method == "shaped"
    for x, y in ((b.D_state, a.D_state), (b.D_action, a.D_action), (b.pi, a.pi)):
        assert torch.allclose(x, y, rtol=1e-11, atol=0)
    fin = torch.isfinite(a.log_Z_state)
    assert torch.equal(fin, torch.isfinite(b.log_Z_state))
    assert torch.allclose(b.log_Z_state[fin], a.log_Z_state[fin], atol=1e-11, rtol=0)


@pytest.mark.parametrize("horizon,tol", [(25, 0.0), (3000, 0.0), (3000, 1e-9)])
def test_shaped_backups_skip_only_rows_that_cannot_change(monkeypatch, horizon: int, tol: float) -> None:
    """Recomputing only the blocks whose successors moved gives, bit for bit, the plain repeated product."""
    import numpy as np

    import maxentrl.irl.maxent as maxent

    monkeypatch.setattr(maxent, "SHAPED_BLOCK_ROWS", 7)  # many small blocks on a small graph
    monkeypatch.setattr(maxent, "SHAPED_THREAD_NNZ", 50)  # and the two-thread split in play
    g = torch.Generator().manual_seed(3)
    mdp = grid_graph(12, 12, torch.rand(144, 3, generator=g, dtype=torch.float64))
    r = mdp.action_rewards(-1.0 - torch.rand(3, generator=g, dtype=torch.float64)).numpy()
    goal = 77
    d = maxent.cost_to_goal(mdp, -r, goal)
    src, dst = mdp.src.numpy(), mdp.dst.numpy()
    W = mdp.sparse_plan.matrix(np.where(src != goal, np.exp(r - d[dst] + d[src]), 0.0))
    z = np.zeros(144)
    z[goal] = 1.0
    n = 0
    for n in range(1, horizon + 1):  # the plain backups
        z_new = W @ z
        z_new[goal] = 1.0
        stop = tol > 0 and bool(np.all(np.abs(z_new - z) <= tol * z_new)) and np.array_equal(z_new > 0, z > 0)
        if np.array_equal(z_new, z):  # n backups computed, the last of them changing nothing
            break
        z = z_new
        if stop:
            break
    for threads in (1, 2):
        got, m = maxent.shaped_backups(W, goal, np.argsort(d, kind="stable"), horizon=horizon, tol=tol, threads=threads)
        assert np.array_equal(got, z) and m == n
    if horizon == 3000:
        assert n < horizon  # a fixed point (tol = 0) or the tolerance (tol > 0) ended the backups early
    # any order of the states gives the same bits; only the work skipped depends on it
    shuffled, _ = maxent.shaped_backups(W, goal, np.random.default_rng(0).permutation(144), horizon=horizon, tol=tol)
    assert np.array_equal(shuffled, z)
    monkeypatch.setattr(maxent, "SHAPED_BLOCK_ROWS", 1 << 62)  # one block: every row in every backup
    assert np.array_equal(maxent.shaped_backups(W, goal, np.arange(144), horizon=horizon, tol=tol)[0], z)


def test_shaping_leaves_every_path_probability_unchanged() -> None:
    """Shaped rewards r'_a = r_a + φ(s') − φ(s) change each path's reward by −φ(s_0) only (enumeration)."""
    g = torch.Generator().manual_seed(2)
    mdp = random_graph(7, acyclic=False, generator=g)
    theta = -1 - torch.rand(3, generator=g, dtype=torch.float64)
    r = mdp.action_rewards(theta)
    d = torch.as_tensor(cost_to_goal(mdp, (-r).numpy(), 6))
    shaped = r - d[mdp.dst] + d[mdp.src]  # φ = −d
    assert float(shaped.max()) <= 1e-12  # every shaped reward is ≤ 0 ...
    paths = enumerate_paths(mdp, 0, 6, max_actions=6)
    R = torch.stack([r[torch.tensor(p)].sum() for p in paths])
    R_shaped = torch.stack([shaped[torch.tensor(p)].sum() for p in paths])
    assert torch.allclose(R_shaped - R, torch.full_like(R, float(d[0])), atol=1e-12)  # ... by the start's constant
    assert float(R_shaped.max()) == pytest.approx(0.0, abs=1e-12)  # and the cheapest path weighs exactly 1
    assert torch.allclose(torch.softmax(R_shaped, 0), torch.softmax(R, 0), atol=1e-15)


def test_shaped_pass_falls_back_to_log_space_where_it_cannot_hold_the_numbers() -> None:
    mdp, _ = _road_grid()
    D0 = _one_hot_start(36)
    goal = torch.tensor([35])
    # θ = 0 with a long horizon: Z'_s counts the paths, about 2.6^N of them, beyond 1e308
    theta = torch.zeros(3, dtype=torch.float64)
    assert shaped_visitation(mdp, theta, goal, D0, horizon=800) is None
    vis = expected_visitation(mdp, theta, goal, D0, horizon=800, method="shaped")
    assert vis.method == "log" and bool(torch.isfinite(vis.log_Z_state).all())
    # positive rewards: no Dijkstra potential exists
    assert shaped_visitation(mdp, torch.full((3,), 0.1, dtype=torch.float64), goal, D0, horizon=20) is None
    # within range the shaped pass is used
    assert expected_visitation(mdp, -torch.ones(3, dtype=torch.float64), goal, D0, horizon=800, method="shaped").method == "shaped"


def test_auto_method_takes_the_batched_linear_pass_on_small_graphs() -> None:
    mdp, theta = _road_grid()
    assert expected_visitation(mdp, theta, torch.tensor([35]), _one_hot_start(36), horizon=10).method == "linear"


@pytest.mark.parametrize("tol", [0.0, 1e-9])
@pytest.mark.parametrize("acyclic", [False, True])
def test_linear_passes_for_all_goals_at_once_equal_log_space(tol: float, acyclic: bool) -> None:
    """Several goals in one call, starts on a goal and on states that cannot reach theirs."""
    g = torch.Generator().manual_seed(11)
    mdp = random_graph(9, acyclic=acyclic, generator=g)
    theta = -0.3 - torch.rand(3, generator=g, dtype=torch.float64)
    goals = torch.tensor([8, 4, 0])
    D0 = torch.rand(3, 9, generator=g, dtype=torch.float64)
    a = expected_visitation(mdp, theta, goals, D0, horizon=40, tol=tol, method="log")
    b = expected_visitation(mdp, theta, goals, D0, horizon=40, tol=tol, method="linear")
    assert a.method == "log" and b.method == "linear"
    for x, y in ((b.D_state, a.D_state), (b.D_action, a.D_action), (b.pi, a.pi)):
        assert torch.allclose(x, y, rtol=1e-12, atol=1e-15)
    fin = torch.isfinite(a.log_Z_state)
    assert not bool(fin.all())  # some state cannot reach some goal
    assert torch.equal(fin, torch.isfinite(b.log_Z_state))
    assert torch.allclose(b.log_Z_state[fin], a.log_Z_state[fin], atol=1e-12, rtol=0)
    assert (b.backward_iterations, b.forward_steps) == (a.backward_iterations, a.forward_steps)


def test_linear_pass_falls_back_to_log_space_where_float64_cannot_hold_the_numbers() -> None:
    mdp, _ = _road_grid()
    D0 = _one_hot_start(36)
    goal = torch.tensor([35])
    # θ = 0, long horizon: Z counts about 2.6^N paths, beyond 1e308
    assert linear_visitation(mdp, torch.zeros(3, dtype=torch.float64), goal, D0, horizon=800) is None
    # a positive reward
    assert linear_visitation(mdp, torch.full((3,), 0.1, dtype=torch.float64), goal, D0, horizon=20) is None
    # a chain 0 → 1 → 2 whose actions cost 800 nats each: e^−800 rounds to 0 in float64
    chain = GraphMDP.from_edges(3, [0, 1], [1, 2], torch.zeros(3, 1, dtype=torch.float64),
                                torch.ones(2, 1, dtype=torch.float64))
    theta = torch.tensor([-800.0], dtype=torch.float64)
    start = _one_hot_start(3)
    assert linear_visitation(chain, theta, torch.tensor([2]), start, horizon=5) is None
    vis = expected_visitation(chain, theta, torch.tensor([2]), start, horizon=5, method="linear")
    assert vis.method == "log"
    assert vis.log_Z_state[0].tolist() == [-1600.0, -800.0, 0.0]
    assert vis.D_state[0].tolist() == pytest.approx([1.0, 1.0, 1.0])


# --- bad input is refused before any compute ---------------------------------------------------

def _small() -> tuple[GraphMDP, int, int, list[list[int]], torch.Tensor]:
    mdp, A, B, paths = label_bias_example()
    return mdp, A, B, paths, torch.zeros(1, dtype=torch.float64)


@pytest.mark.parametrize("method", ["log", "shaped"])
def test_start_distribution_of_the_wrong_width_is_refused(method: str) -> None:
    mdp, A, B, _, theta = _small()
    with pytest.raises(ConfigError, match="D0"):
        expected_visitation(mdp, theta - 1, torch.tensor([B]), torch.ones(1, 6, dtype=torch.float64), horizon=4, method=method)
    with pytest.raises(ConfigError, match="D0"):
        expected_visitation(mdp, theta - 1, torch.tensor([B]), torch.ones(2, 7, dtype=torch.float64), horizon=4, method=method)
    with pytest.raises(ConfigError, match="D0"):
        forward_pass(mdp, torch.zeros(1, mdp.num_actions, dtype=torch.float64), torch.ones(1, 8, dtype=torch.float64), horizon=3)


@pytest.mark.parametrize("goal", [-1, 7, 100])
def test_out_of_range_goals_and_states_are_refused(goal: int) -> None:
    mdp, A, B, paths, theta = _small()
    D0 = _one_hot_start(7)
    with pytest.raises(ConfigError, match="goal"):
        backward_pass(mdp, theta, torch.tensor([goal]), horizon=3)
    with pytest.raises(ConfigError, match="goal"):
        expected_visitation(mdp, theta, torch.tensor([goal]), D0, horizon=3)
    with pytest.raises(ConfigError, match="goal"):
        sample_paths(mdp, torch.zeros(1, mdp.num_actions), torch.tensor([0]), torch.tensor([0]), torch.tensor([goal]),
                     generator=torch.Generator(), max_steps=3)
    with pytest.raises(ConfigError, match="start"):
        sample_paths(mdp, torch.zeros(1, mdp.num_actions), torch.tensor([goal]), torch.tensor([0]), torch.tensor([B]),
                     generator=torch.Generator(), max_steps=3)
    with pytest.raises(ConfigError):
        make_demonstrations(mdp, [[0, goal]])  # an action index out of range


def test_demonstrations_that_cannot_reach_their_goal_within_the_horizon_are_refused() -> None:
    mdp, A, B, paths, theta = _small()
    demos = make_demonstrations(mdp, paths)
    with pytest.raises(ConfigError, match="horizon"):
        log_likelihood_and_gradient(mdp, theta, demos, horizon=2)  # every path takes three actions
    # only feature counts given (no actions): the start cannot reach the goal in 2 actions
    bare = Demonstrations(demos.start, demos.goal, demos.feature_counts)
    with pytest.raises(ConfigError, match="cannot reach its goal"):
        log_likelihood_and_gradient(mdp, theta, bare, horizon=2)
    L, _ = log_likelihood_and_gradient(mdp, theta, demos, horizon=3)
    assert math.isfinite(float(L))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused(bad: float) -> None:
    mdp, A, B, paths, _ = _small()
    theta = torch.tensor([bad], dtype=torch.float64)
    demos = make_demonstrations(mdp, paths)
    with pytest.raises(ConfigError, match="finite"):
        backward_pass(mdp, theta, torch.tensor([B]), horizon=4)
    with pytest.raises(ConfigError, match="finite"):
        log_likelihood_and_gradient(mdp, theta, demos, horizon=4)
    with pytest.raises(ConfigError, match="finite"):
        fit_lbfgs(mdp, demos, theta, iterations=2, horizon=4)
    with pytest.raises(ConfigError, match="finite"):
        expected_visitation(mdp, theta, torch.tensor([B]), _one_hot_start(7), horizon=4, method="shaped")


def test_bad_shapes_and_values_are_refused() -> None:
    mdp, A, B, paths, theta = _small()
    D0 = _one_hot_start(7)
    with pytest.raises(ConfigError, match="theta"):
        backward_pass(mdp, torch.zeros(2, dtype=torch.float64), torch.tensor([B]), horizon=3)
    with pytest.raises(ConfigError, match="D0"):
        expected_visitation(mdp, theta, torch.tensor([B]), -D0, horizon=3)
    with pytest.raises(ConfigError, match="D0"):
        expected_visitation(mdp, theta, torch.tensor([B]), D0 * float("nan"), horizon=3)
    with pytest.raises(ConfigError, match="method"):
        expected_visitation(mdp, theta, torch.tensor([B]), D0, horizon=3, method="fast")
    with pytest.raises(ConfigError, match="pi"):
        forward_pass(mdp, torch.zeros(1, 3, dtype=torch.float64), D0, horizon=3)
    with pytest.raises(ConfigError, match="pi"):
        forward_pass(mdp, torch.full((1, mdp.num_actions), float("nan")), D0, horizon=3)
    with pytest.raises(ConfigError, match="log_Z"):
        local_action_probabilities(mdp, torch.zeros(1, 3), torch.zeros(1, 7))
    with pytest.raises(ConfigError, match="D_action"):
        expected_feature_counts(mdp, torch.zeros(1, 3, dtype=torch.float64))
    with pytest.raises(ConfigError, match="index"):
        segment_logsumexp(torch.zeros(1, 4), torch.tensor([0, 1, 2, 9]), 3)
    with pytest.raises(ConfigError, match="goal"):
        goal_float = torch.tensor([1.5])
        backward_pass(mdp, theta, goal_float, horizon=3)
    with pytest.raises(ConfigError, match="cost"):
        cost_to_goal(mdp, -torch.ones(mdp.num_actions).numpy(), B)
    with pytest.raises(ConfigError, match="tol"):
        expected_visitation(mdp, theta, torch.tensor([B]), D0, horizon=3, tol=float("nan"))
