"""Chapter 6: maximum-entropy IRL (Ziebart et al. 2008), claims C6.1–C6.5.

* C6.1 Algorithm 1's visitation frequencies equal brute-force enumeration.
* C6.2 Fig. 2: 1/3, 1/3, 1/3 under MaxEnt, 1/2, 1/4, 1/4 under the action-based model.
* C6.3 at the optimum the feature expectations match (eq. 6 gradient ≈ 0) and
  planted weights are recovered on a gridworld.
* C6.4 Table 1 on the Helsinki road network with simulated drivers.
* C6.5 Fig. 3 (learned vs planted costs) and Fig. 5 (destination posterior
  accuracy against the fraction of the route observed).

The graphs here have at most a few hundred states, and shortest paths use
SciPy's Dijkstra, so the experiment runs on the CPU whatever ``ctx.device``
says; ``benchmarks/bench_maxent_irl.py`` runs Algorithm 1 at the paper's scale,
on CUDA where present.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
import time

import numpy as np
import torch

from maxentrl.errors import ConfigError
from maxentrl.experiments.config import ExperimentConfig, bounded
from maxentrl.experiments.harness import Experiment, RunContext, register
from maxentrl.irl.baselines import (
    action_model_log_policy,
    fit_action_model,
    fit_max_margin,
    label_bias_example,
    time_cost,
)
from maxentrl.irl.destination import destination_log_posterior_from_log_Z
from maxentrl.irl.enumerate import enumerated_visitation
from maxentrl.irl.graph import GraphMDP, grid_graph
from maxentrl.irl.maxent import (
    backward_pass,
    expected_feature_counts,
    expected_visitation,
    fit_exponentiated_gradient,
    fit_lbfgs,
    log_likelihood_and_gradient,
    make_demonstrations,
    sample_paths,
    local_action_probabilities,
)
from maxentrl.irl.roads import (
    FEATURE_NAMES,
    PLANTED_COST,
    _action_lookup,
    load_road_network,
    route_match,
    shortest_path,
    shortest_paths_from,
    simulate_trips,
)

__all__ = ["Ch06Config", "run", "random_graph"]


@dataclass(frozen=True)
class Ch06Config(ExperimentConfig):
    """Configuration of chapter 6's experiment."""

    enum_graphs: int = bounded(6, 2, 1000)
    """C6.1: number of random small graphs checked against enumeration (half acyclic, half cyclic)."""
    enum_states: int = bounded(8, 3, 12)
    """C6.1: states per random graph."""
    enum_horizon: int = bounded(7, 1, 12)
    """C6.1: maximum path length N (actions) enumerated on the cyclic graphs."""
    grid_size: int = bounded(7, 3, 100)
    """C6.3: side of the square gridworld."""
    grid_demos: int = bounded(3000, 10, 10**6)
    """C6.3: demonstrations sampled from the planted MaxEnt model."""
    grid_theta: tuple[float, ...] = bounded((-1.6, -2.2, -3.0, -4.0), -100.0, 0.0, open_high=True, min_len=4, max_len=4)
    """C6.3: planted reward weights θ* of the four terrain types."""
    road_trips: int = bounded(500, 10, 10**6)
    """C6.4: simulated trips (20% train, 80% test)."""
    sigma_weights: float = bounded(0.3, 0.0, 10.0, open_low=True)
    """C6.4: per-trip log-normal noise of each driver's cost weights."""
    sigma_segment: float = bounded(0.4, 0.0, 10.0, open_low=True)
    """C6.4: per-trip log-normal noise of each road segment's cost."""
    horizon: int = bounded(150, 10, 100_000)
    """Algorithm 1's horizon N on the road network (backups and forward steps)."""
    maxent_iterations: int = bounded(40, 1, 100_000)
    """Exponentiated-gradient iterations of MaxEnt IRL."""
    maxent_step: float = bounded(0.3, 0.0, 100.0, open_low=True)
    """Exponentiated-gradient step size of MaxEnt IRL."""
    lbfgs_iterations: int = bounded(100, 1, 100_000)
    """L-BFGS iterations that finish MaxEnt IRL's optimization after exponentiated gradient."""
    action_iterations: int = bounded(200, 1, 100_000)
    """Exponentiated-gradient iterations of the action-based model (enough for its training
    log-likelihood to level off, so that it is compared at its maximum-likelihood costs)."""
    action_step: float = bounded(0.5, 0.0, 100.0, open_low=True)
    """Its step size."""
    margin_iterations: int = bounded(25, 1, 100_000)
    """Projected-subgradient iterations of maximum-margin planning."""
    margin_step: float = bounded(0.5, 0.0, 100.0, open_low=True)
    """Its step size."""
    dest_trips: int = bounded(300, 10, 10**6)
    """C6.5: trips to one of five destinations (20% train for the prior, 80% test)."""
    dest_prior: tuple[float, ...] = bounded((0.35, 0.25, 0.2, 0.12, 0.08), 0.0, 1.0, open_low=True, min_len=5, max_len=5)
    """C6.5: the true prior over the five destinations."""
    fractions: tuple[float, ...] = bounded((0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), 0.0, 1.0, open_high=True, max_len=100, ordered=True)
    """C6.5: fractions of each test route observed."""

    cpu_threads: int = bounded(1, 0, 1024)
    """Torch threads on a CPU (0: torch's default; the harness applies it). The graphs here have
    hundreds of states, for which one thread is much faster than several competing ones."""

    def check(self) -> None:
        if abs(sum(self.dest_prior) - 1.0) > 1e-9:
            raise ConfigError(f"dest_prior must sum to 1, got {sum(self.dest_prior):g}")


def random_graph(num_states: int, *, acyclic: bool, generator: torch.Generator, num_features: int = 3) -> GraphMDP:
    """A small random graph whose last state is reachable from state 0 (features uniform in [0, 1))."""
    S = num_states
    while True:
        src, dst = [], []
        for s in range(S - 1):
            for t in range(S):
                ok = (t > s) if acyclic else (t != s)
                if ok and float(torch.rand((), generator=generator)) < (0.5 if acyclic else 0.4):
                    src.append(s)
                    dst.append(t)
        f = torch.rand(S, num_features, generator=generator, dtype=torch.float64)
        g = torch.rand(len(src), num_features, generator=generator, dtype=torch.float64)
        mdp = GraphMDP.from_edges(S, src, dst, f, g)
        # reachability of the goal S-1 from 0
        reach, frontier = {0}, [0]
        while frontier:
            s = frontier.pop()
            for a, t in zip(src, dst):
                if a == s and t not in reach:
                    reach.add(t)
                    frontier.append(t)
        if S - 1 in reach:
            return mdp


def _claim_enumeration(cfg: Ch06Config, ctx: RunContext) -> dict:
    gen = torch.Generator().manual_seed(ctx.seed * 7 + 1)
    rows = []
    for i in range(cfg.enum_graphs):
        acyclic = i % 2 == 0
        mdp = random_graph(cfg.enum_states, acyclic=acyclic, generator=gen)
        theta = -torch.rand(mdp.num_features, generator=gen, dtype=torch.float64) * 2
        S = mdp.num_states
        N = S if acyclic else cfg.enum_horizon
        D0 = torch.zeros(1, S, dtype=torch.float64)
        D0[0, 0] = 1.0
        t0 = time.perf_counter()
        Ds_e, Da_e, logZ_e = enumerated_visitation(mdp, theta, 0, S - 1, max_actions=N)
        t_enum = time.perf_counter() - t0
        t0 = time.perf_counter()
        vis = expected_visitation(mdp, theta, torch.tensor([S - 1]), D0, horizon=N, time_varying=not acyclic)
        t_alg = time.perf_counter() - t0
        err = max(float((vis.D_state[0] - Ds_e).abs().max()), float((vis.D_action[0] - Da_e).abs().max()),
                  float((vis.log_Z_state[0, 0] - logZ_e).abs()))
        from maxentrl.irl.enumerate import enumerate_paths

        rows.append({"graph": i, "acyclic": acyclic, "states": S, "actions": mdp.num_actions, "horizon": N,
                     "paths": len(enumerate_paths(mdp, 0, S - 1, max_actions=N)), "max_abs_error": err})
        ctx.timings[f"C6.1 graph {i} enumeration"] = round(t_enum, 4)
        ctx.timings[f"C6.1 graph {i} Algorithm 1"] = round(t_alg, 4)
    return {"enumeration": rows, "enumeration_max_error": max(r["max_abs_error"] for r in rows)}


def _claim_label_bias() -> dict:
    mdp, A, B, paths = label_bias_example()
    theta = torch.zeros(1, dtype=torch.float64)
    bw = backward_pass(mdp, theta, torch.tensor([B]), horizon=5)
    r_a = mdp.action_rewards(theta)
    maxent = [float(torch.exp(r_a[p].sum() - bw.log_Z_state[0, A])) for p in paths]
    log_pi = action_model_log_policy(mdp, torch.zeros(1, dtype=torch.float64), torch.tensor([B]), horizon=5)[0]
    action = [float(torch.exp(log_pi[p].sum())) for p in paths]
    return {"fig2_maxent": maxent, "fig2_action": action}


def _claim_gridworld(cfg: Ch06Config, ctx: RunContext) -> dict:
    n = cfg.grid_size
    gen = torch.Generator().manual_seed(ctx.seed * 7 + 3)
    terrain = torch.randint(4, (n * n,), generator=gen)
    f = torch.nn.functional.one_hot(terrain, 4).double()
    mdp = grid_graph(n, n, f)
    theta_star = torch.tensor(cfg.grid_theta, dtype=torch.float64)
    goals = torch.tensor([n * n - 1, 0, n - 1, n * (n - 1)])
    M = cfg.grid_demos
    g_idx = torch.randint(len(goals), (M,), generator=gen)
    starts = torch.randint(n * n, (M,), generator=gen)
    keep = starts != goals[g_idx]
    g_idx, starts = g_idx[keep], starts[keep]
    bw = backward_pass(mdp, theta_star, goals, horizon=2000, tol=1e-13)
    pi = local_action_probabilities(mdp, bw.log_Z_action, bw.log_Z_state)
    paths = sample_paths(mdp, pi, starts, g_idx, goals[g_idx], generator=gen, max_steps=10_000)
    demos = make_demonstrations(mdp, paths)
    theta0 = torch.full((4,), -2.5, dtype=torch.float64)
    fit = fit_lbfgs(mdp, demos, theta0, iterations=100, horizon=2000, tol=1e-13)
    L, grad = log_likelihood_and_gradient(mdp, fit.theta, demos, horizon=2000, tol=1e-13)
    goals_u, row = torch.unique(demos.goal, return_inverse=True)
    D0 = torch.zeros(goals_u.shape[0], mdp.num_states, dtype=torch.float64)
    D0.index_put_((row, demos.start), torch.ones(len(demos), dtype=torch.float64), accumulate=True)
    vis = expected_visitation(mdp, fit.theta, goals_u, D0, horizon=2000, tol=1e-13)
    model_f = expected_feature_counts(mdp, vis.D_action).sum(0) / len(demos)
    emp_f = demos.feature_counts.mean(0)
    # a plain gradient-ascent run from the same start, for the learning curve
    from maxentrl.irl.maxent import fit_gradient

    gd = fit_gradient(mdp, demos, theta0, step=0.05, iterations=40, horizon=2000, tol=1e-10)
    return {
        "grid_theta_star": theta_star,
        "grid_theta_learned": fit.theta,
        "grid_theta_rel_error": float((fit.theta - theta_star).norm() / theta_star.norm()),
        "grid_grad_norm": float(grad.norm()),
        "grid_feature_expectation_demo": emp_f,
        "grid_feature_expectation_model": model_f,
        "grid_feature_gap": float((model_f - emp_f).abs().max()),
        "grid_lbfgs_loglik": fit.log_likelihood,
        "grid_gd_loglik": gd.log_likelihood,
        "grid_gd_grad_norm": gd.grad_norm,
        "grid_num_demos": len(demos),
        "grid_terrain": terrain,
    }


def _evaluate_paths(net, demos, predict) -> tuple[float, float, list[float]]:
    matches = []
    for m, acts in enumerate(demos.actions):
        pred = predict(m)
        matches.append(route_match(net, acts, pred))
    arr = np.array(matches)
    return float(arr.mean() * 100), float((arr >= 0.9).mean() * 100), matches


def _claim_roads(cfg: Ch06Config, ctx: RunContext) -> dict:
    net = load_road_network()
    mdp = net.mdp
    gen = torch.Generator().manual_seed(ctx.seed * 7 + 5)
    trips = simulate_trips(net, num_trips=cfg.road_trips, generator=gen,
                           sigma_weights=cfg.sigma_weights, sigma_segment=cfg.sigma_segment)
    train, test = trips.train, trips.test
    K = mdp.num_features
    lookup = _action_lookup(mdp)
    phi = (mdp.state_features[mdp.src] + mdp.action_features).double()
    N = cfg.horizon

    # MaxEnt IRL: exponentiated gradient on positive costs, as in the paper, then
    # L-BFGS from there until the gradient (eq. 6) vanishes, so that MaxEnt is
    # compared at its optimum
    t0 = time.perf_counter()
    fit = fit_exponentiated_gradient(mdp, train, torch.ones(K, dtype=torch.float64), step=cfg.maxent_step,
                                     iterations=cfg.maxent_iterations, horizon=N, tol=1e-9)
    polish = fit_lbfgs(mdp, train, fit.theta, iterations=cfg.lbfgs_iterations, horizon=N, tol=1e-9, grad_tol=1e-7)
    theta_me = polish.theta
    ctx.timings["C6.4 MaxEnt fit"] = round(time.perf_counter() - t0, 3)

    # action-based model (eq. 7)
    t0 = time.perf_counter()
    w_act, act_trace = fit_action_model(mdp, train, torch.ones(K, dtype=torch.float64), step=cfg.action_step,
                                        iterations=cfg.action_iterations, horizon=N)
    ctx.timings["C6.4 action model fit"] = round(time.perf_counter() - t0, 3)

    # maximum-margin planning
    t0 = time.perf_counter()
    mmp = fit_max_margin(mdp, train, torch.ones(K, dtype=torch.float64), length_m=net.length_m,
                         step=cfg.margin_step, iterations=cfg.margin_iterations)
    ctx.timings["C6.4 max-margin fit"] = round(time.perf_counter() - t0, 3)

    t0 = time.perf_counter()
    starts = test.start.tolist()
    goals = test.goal.tolist()

    def cheapest(edge_cost: np.ndarray):
        uniq = sorted(set(starts))
        _, pred = shortest_paths_from(mdp, np.maximum(edge_cost, 1e-9), uniq)
        where = {s: i for i, s in enumerate(uniq)}
        return lambda m: shortest_path(mdp, edge_cost, starts[m], goals[m], lookup=lookup, predecessors=pred[where[starts[m]]])

    rows = []
    t_cost = time_cost(mdp, net.length_m, net.speed_kmh)
    results = {}
    results["Time-based"] = _evaluate_paths(net, test, cheapest(t_cost))
    results["Max Margin"] = _evaluate_paths(net, test, cheapest((phi @ mmp.cost).numpy()))
    # the action model's most likely path: shortest path under −log P(a|s), per goal
    goal_u, goal_row = torch.unique(test.goal, return_inverse=True)
    log_pi_act = action_model_log_policy(mdp, w_act, goal_u, horizon=N)  # [G, E]

    def action_most_likely(m: int) -> list[int]:
        w = (-log_pi_act[int(goal_row[m])]).clamp(min=1e-9).numpy()
        return shortest_path(mdp, w, starts[m], goals[m], lookup=lookup)

    results["Action"] = _evaluate_paths(net, test, action_most_likely)
    results["Action (costs)"] = _evaluate_paths(net, test, cheapest((phi @ w_act).numpy()))
    results["MaxEnt"] = _evaluate_paths(net, test, cheapest((phi @ -theta_me).numpy()))

    # log probabilities of the withheld routes
    act_logp = [float(log_pi_act[int(goal_row[m]), list(a)].sum()) for m, a in enumerate(test.actions)]
    bw = backward_pass(mdp, theta_me, goal_u, horizon=N, tol=1e-9)
    me_logp = (test.feature_counts @ theta_me - bw.log_Z_state[goal_row, test.start]).tolist()
    # a uniform random walk to the goal, for scale (uniform over actions, −log out-degree per step)
    deg = mdp.out_degree().double()
    uni_logp = [float(-torch.log(deg[mdp.src[list(a)]]).sum()) for a in test.actions]
    logp = {"Time-based": None, "Max Margin": None, "Action": float(np.mean(act_logp)),
            "Action (costs)": None, "MaxEnt": float(np.mean(me_logp))}
    for name, (match, match90, per_trip) in results.items():
        rows.append({"model": name, "matching_pct": match, "match90_pct": match90, "log_prob": logp[name]})
    ctx.timings["C6.4 evaluation"] = round(time.perf_counter() - t0, 3)
    # paired comparison MaxEnt vs each baseline: fraction of test routes where MaxEnt matches better, worse
    paired = {}
    me = np.array(results["MaxEnt"][2])
    for name, (_, _, per_trip) in results.items():
        if name != "MaxEnt":
            d = me - np.array(per_trip)
            paired[name] = {"mean_diff_pct": float(d.mean() * 100), "se_pct": float(d.std(ddof=1) / math.sqrt(len(d)) * 100),
                            "better": float((d > 1e-9).mean()), "worse": float((d < -1e-9).mean())}
    lp_diff = np.array(me_logp) - np.array(act_logp)

    # Fig. 3: learned vs planted costs (MaxEnt costs are in nats; one scale factor maps them to seconds)
    w_me = -theta_me
    w_star = PLANTED_COST
    scale = float((w_me @ w_star) / (w_me @ w_me))
    return {
        "table1": rows,
        "paired_vs_maxent": paired,
        "logprob_maxent_minus_action": float(lp_diff.mean()),
        "logprob_maxent_minus_action_se": float(lp_diff.std(ddof=1) / math.sqrt(len(lp_diff))),
        "logprob_uniform_walk": float(np.mean(uni_logp)),
        "road_states": mdp.num_states,
        "road_actions": mdp.num_actions,
        "road_train": len(train),
        "road_test": len(test),
        "road_mean_route_segments": float(np.mean([len(a) for a in test.actions])),
        "feature_names": list(FEATURE_NAMES),
        "cost_planted": w_star,
        "cost_maxent_nats": w_me,
        "cost_maxent_seconds": w_me * scale,
        "cost_scale_s_per_nat": scale,
        "cost_correlation": float(np.corrcoef(w_me.numpy(), w_star.numpy())[0, 1]),
        "cost_action": w_act,
        "cost_margin": mmp.cost,
        "maxent_loglik_trace": fit.log_likelihood + polish.log_likelihood,
        "maxent_grad_norm_trace": fit.grad_norm + polish.grad_norm,
        "maxent_eg_iterations": len(fit.log_likelihood),
        "maxent_final_grad_norm": polish.grad_norm[-1],
        # Dijkstra needs positive action costs; the learned MaxEnt costs must give them
        "maxent_nonpositive_action_costs": int(((phi @ -theta_me) <= 0).sum()),
        "action_loglik_trace": act_trace,
        "margin_objective_trace": mmp.objective,
        "theta_maxent": theta_me,
        "road_example_routes": [list(test.actions[i]) for i in range(min(5, len(test)))],
    }


def _claim_destinations(cfg: Ch06Config, ctx: RunContext, theta: torch.Tensor) -> dict:
    net = load_road_network()
    mdp = net.mdp
    gen = torch.Generator().manual_seed(ctx.seed * 7 + 9)
    # five destinations spread over the map: the segments nearest five landmarks
    mid = (net.start_lonlat + net.end_lonlat) / 2
    lo, hi = mid.min(0), mid.max(0)
    marks = lo + (hi - lo) * np.array([[0.1, 0.1], [0.9, 0.15], [0.5, 0.5], [0.15, 0.9], [0.85, 0.85]])
    dests = [int(np.argmin(((mid - m) ** 2).sum(1))) for m in marks]
    trips = simulate_trips(net, num_trips=cfg.dest_trips, generator=gen, destinations=dests,
                           destination_prior=list(cfg.dest_prior), sigma_weights=cfg.sigma_weights,
                           sigma_segment=cfg.sigma_segment)
    dest_t = torch.tensor(dests)
    counts = torch.tensor([float((trips.train.goal == d).sum()) for d in dests], dtype=torch.float64) + 1.0
    log_prior = torch.log(counts / counts.sum())
    bw = backward_pass(mdp, theta, dest_t, horizon=cfg.horizon, tol=1e-9)
    true = torch.tensor([dests.index(int(g)) for g in trips.test.goal])
    acc, acc_prior = [], []
    for frac in cfg.fractions:
        A, B = [], []
        for acts in trips.test.actions:
            k = int(math.floor(frac * len(acts)))
            A.append(int(mdp.src[acts[0]]))
            B.append(int(mdp.src[acts[0]]) if k == 0 else int(mdp.dst[acts[k - 1]]))
        post = destination_log_posterior_from_log_Z(bw.log_Z_state, torch.tensor(A), torch.tensor(B), log_prior)
        acc.append(float((post.argmax(1) == true).double().mean()))
        acc_prior.append(float((log_prior.argmax() == true).double().mean()))
    return {"dest_states": dests, "dest_fractions": list(cfg.fractions), "dest_accuracy": acc,
            "dest_accuracy_prior_only": acc_prior, "dest_test": len(trips.test), "dest_log_prior": log_prior}


def run(config: Ch06Config, ctx: RunContext) -> dict:
    """All of chapter 6's claims, as resumable stages; the heavy part is the road network (C6.4–C6.5)."""
    out: dict = {}
    out.update(ctx.stage("C6.1", lambda: _claim_enumeration(config, ctx)))
    out.update(ctx.stage("C6.2", _claim_label_bias))
    out.update(ctx.stage("C6.3", lambda: _claim_gridworld(config, ctx)))
    out.update(ctx.stage("C6.4", lambda: _claim_roads(config, ctx)))
    out.update(ctx.stage("C6.5", lambda: _claim_destinations(config, ctx, out["theta_maxent"])))
    return out


register(
    Experiment(
        name="ch06_maxent_irl",
        chapter=6,
        summary="MaxEnt IRL: Algorithm 1 vs enumeration, label bias, gridworld recovery, Table 1 and destinations on Helsinki roads",
        config_type=Ch06Config,
        presets={
            "quick": Ch06Config(),
            "full": Ch06Config(enum_graphs=12, enum_states=8, enum_horizon=8, grid_size=10, grid_demos=20000,
                               road_trips=2000, maxent_iterations=100, action_iterations=300,
                               margin_iterations=60, dest_trips=1500),
        },
        run=run,
        smoke={"enum_graphs": "2", "grid_demos": "200", "road_trips": "40", "maxent_iterations": "3",
               "lbfgs_iterations": "3", "action_iterations": "5", "margin_iterations": "3", "dest_trips": "30"},
    )
)
