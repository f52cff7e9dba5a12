"""Chapter 6: maximum-entropy IRL (Ziebart et al. 2008), claims C6.1–C6.5.

* C6.1 Algorithm 1's visitation frequencies equal brute-force enumeration.
* C6.2 Fig. 2: 1/3, 1/3, 1/3 under MaxEnt, 1/2, 1/4, 1/4 under the action-based model.
* C6.3 at the optimum the feature expectations match (eq. 6 gradient ≈ 0) and
  planted weights are recovered on a gridworld.
* C6.4 Table 1 on the La Serena road network with simulated drivers, between
  origin-destination pairs whose routes choose between a grid district and an
  arterial, and the same comparison in synthetic grid cities with an express
  road beside districts of two to eight parallel streets (the mechanism check).
* C6.5 Fig. 3 (learned vs planted costs) and Fig. 5 (destination posterior
  accuracy against the fraction of the route observed).

The graphs here have at most a few thousand states; Algorithm 1 runs in
linear space with SciPy's sparse products and shortest paths use SciPy's
Dijkstra, so the experiment runs on the CPU whatever ``ctx.device`` says; ``benchmarks/bench_maxent_irl.py`` runs Algorithm 1 at the paper's scale,
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
from maxentrl.irl.baselines import action_model_log_policy, label_bias_example
from maxentrl.irl.destination import destination_log_posterior_from_log_Z
from maxentrl.irl.enumerate import enumerated_visitation
from maxentrl.irl.graph import GraphMDP, grid_graph
from maxentrl.irl.maxent import (
    backward_pass,
    expected_feature_counts,
    expected_visitation,
    fit_gradient,
    fit_lbfgs,
    log_likelihood_and_gradient,
    make_demonstrations,
    sample_paths,
    local_action_probabilities,
)
from maxentrl.irl.city import grid_city
from maxentrl.irl.evaluation import MODELS, compare_route_models
from maxentrl.irl.roads import (
    FEATURE_NAMES,
    PLANTED_COST,
    Trips,
    competing_od_pairs,
    load_road_network,
    network_statistics,
    simulate_trips,
)

__all__ = ["COST_CORRELATION_BOUND", "Ch06Config", "run", "random_graph"]

COST_CORRELATION_BOUND = 0.6
"""C6.5: the quick run's learned costs must correlate with the planted ones above this (over the features).
Not near 1: the drivers are not MaxEnt agents, and routes between competing pairs pin some directions of
the costs down only weakly, so the correlation levels off below 0.9 as trips grow and, at the quick run's
size, varies from one draw of trips to the next (tests/test_ch06_claims.py gives the measurements)."""


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
    grid_lbfgs_iterations: int = bounded(100, 1, 100_000)
    """C6.3: L-BFGS iterations of the maximum-likelihood fit (it stops earlier once the gradient vanishes)."""
    grid_ascent_iterations: int = bounded(40, 1, 100_000)
    """C6.3: iterations of plain gradient ascent from the same start, for the learning curve."""
    road_trips: int = bounded(500, 10, 10**6)
    """C6.4: simulated trips on the La Serena network (20% train, 80% test)."""
    od_candidates: int = bounded(1500, 1, 10**6)
    """C6.4: random origin-destination pairs screened for competing routes (on each network)."""
    od_probes: int = bounded(10, 2, 1000)
    """C6.4: simulated drivers per screened pair."""
    od_min_split: float = bounded(0.2, 0.0, 0.5)
    """C6.4: a pair is kept when between this share and one minus it of its probe drivers take
    a district route (more than half the distance on residential or unclassified streets)."""
    city_rows: tuple[int, ...] = bounded((2, 8), 2, 50, max_len=10)
    """C6.4 mechanism check: rows of intersections of the synthetic grid city's district, one city
    per entry (2: two parallel streets, few routes to choose from; more rows: a grid district in
    which many routes of nearly equal cost branch at every block)."""
    city_cols: int = bounded(16, 3, 100)
    """C6.4 mechanism check: columns of intersections of each synthetic city."""
    city_exit_every: int = bounded(6, 1, 99)
    """C6.4 mechanism check: blocks between the express road's ramps (it branches only there)."""
    city_trips: int = bounded(500, 10, 10**6)
    """C6.4 mechanism check: simulated trips per city (20% train, 80% test)."""
    sigma_weights: float = bounded(0.3, 0.0, 10.0, open_low=True)
    """C6.4: per-trip log-normal noise of each driver's cost weights."""
    sigma_segment: float = bounded(0.4, 0.0, 10.0, open_low=True)
    """C6.4: per-trip log-normal noise of each road segment's cost."""
    horizon: int = bounded(150, 10, 100_000)
    """Algorithm 1's horizon N on the road network (backups and forward steps)."""
    maxent_iterations: int = bounded(40, 1, 100_000)
    """Exponentiated-gradient iterations of MaxEnt IRL."""
    maxent_step: float = bounded(0.5, 0.0, 100.0, open_low=True)
    """Exponentiated-gradient step of MaxEnt IRL, relative to the largest mean feature count of the
    training routes (the step on the costs' logarithms is this times gradient / max_k f̃_k)."""
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
        if self.city_exit_every > self.city_cols - 1:
            raise ConfigError(f"city_exit_every must be at most city_cols - 1 = {self.city_cols - 1}, got {self.city_exit_every}")


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
    # the loop state: L-BFGS's, then (with its result) plain gradient ascent's, for the learning curve
    state = ctx.restored() or {"lbfgs": None, "fit": None, "gd": None}
    fit = state["fit"]
    if fit is None:
        fit = fit_lbfgs(mdp, demos, theta0, iterations=cfg.grid_lbfgs_iterations, horizon=2000, tol=1e-13,
                        state=state["lbfgs"], on_iteration=lambda st: _save(ctx, {"lbfgs": st, "fit": None, "gd": None}))
    gd = fit_gradient(mdp, demos, theta0, step=0.05, iterations=cfg.grid_ascent_iterations, horizon=2000, tol=1e-10,
                      state=state["gd"], on_iteration=lambda st: _save(ctx, {"lbfgs": None, "fit": fit, "gd": st}))
    L, grad = log_likelihood_and_gradient(mdp, fit.theta, demos, horizon=2000, tol=1e-13)
    goals_u, row = torch.unique(demos.goal, return_inverse=True)
    D0 = torch.zeros(goals_u.shape[0], mdp.num_states, dtype=torch.float64)
    D0.index_put_((row, demos.start), torch.ones(len(demos), dtype=torch.float64), accumulate=True)
    vis = expected_visitation(mdp, fit.theta, goals_u, D0, horizon=2000, tol=1e-13)
    model_f = expected_feature_counts(mdp, vis.D_action).sum(0) / len(demos)
    emp_f = demos.feature_counts.mean(0)
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


def _save(ctx: RunContext, state: dict) -> None:
    """The end of a loop iteration: checkpoint ``state`` when one is due."""
    if ctx.checkpoint_due():
        ctx.checkpoint(state)


def _compare_on_network(cfg: Ch06Config, ctx: RunContext, net, gen: torch.Generator, label: str, *, num_trips: int,
                        saved: dict | None, save) -> tuple[list[tuple[int, int]], Trips, dict]:
    """Screen origin-destination pairs, draw trips between them and compare the models of Table 1 on ``net``.

    Resumable: ``save(state)`` is called at the end of every iteration of the
    screening and of every fit, with the network's whole state (the screening's,
    or the trips and the comparison's); given such a state as ``saved`` it goes on
    from there. Returns the pairs, the trips and the comparison.
    """
    state = saved or {"screen": None, "pairs": None, "trips": None, "compare": None}
    if state["trips"] is None:
        pairs = competing_od_pairs(
            net, generator=gen, candidates=cfg.od_candidates, probes=cfg.od_probes, min_split=cfg.od_min_split,
            sigma_weights=cfg.sigma_weights, sigma_segment=cfg.sigma_segment, state=state["screen"],
            on_candidate=lambda st: save({"screen": st, "pairs": None, "trips": None, "compare": None}))
        trips = simulate_trips(net, num_trips=num_trips, generator=gen, od_pairs=pairs,
                               sigma_weights=cfg.sigma_weights, sigma_segment=cfg.sigma_segment)
    else:
        pairs, trips = state["pairs"], state["trips"]
    out = compare_route_models(net, trips, horizon=cfg.horizon, maxent_iterations=cfg.maxent_iterations,
                               maxent_step=cfg.maxent_step, lbfgs_iterations=cfg.lbfgs_iterations,
                               action_iterations=cfg.action_iterations, action_step=cfg.action_step,
                               margin_iterations=cfg.margin_iterations, margin_step=cfg.margin_step,
                               state=state["compare"],
                               on_iteration=lambda st: save({"screen": None, "pairs": pairs, "trips": trips, "compare": st}))
    for key, seconds in out.pop("timings").items():  # wall times go to provenance, not results
        ctx.timings[f"{label} {key}"] = round(seconds, 3)
    return pairs, trips, out


def _claim_roads(cfg: Ch06Config, ctx: RunContext) -> dict:
    """C6.4 on the La Serena network: trips between origin-destination pairs whose routes compete."""
    net = load_road_network()
    mdp = net.mdp
    gen = torch.Generator().manual_seed(ctx.seed * 7 + 5)
    state = ctx.restored()  # the screening's or the comparison's state (see _compare_on_network)
    pairs, trips, r = _compare_on_network(cfg, ctx, net, gen, "C6.4 La Serena", num_trips=cfg.road_trips, saved=state,
                                          save=lambda st: _save(ctx, st))
    theta_me = r["theta_maxent"]
    phi = (mdp.state_features[mdp.src] + mdp.action_features).double()
    # Fig. 3: learned vs planted costs (MaxEnt costs are in nats; one scale factor maps them to seconds)
    w_me = -theta_me
    w_star = PLANTED_COST
    scale = float((w_me @ w_star) / (w_me @ w_me))
    out = {f"road_{k}" if k in ("train", "test", "mean_route_segments", "district_route_share",
                                "mean_route_branching_nats", "branching_per_segment_district",
                                "branching_per_segment_other") else k: v for k, v in r.items()}
    out.update({
        "road_network": network_statistics(net),
        "road_states": mdp.num_states,
        "road_actions": mdp.num_actions,
        "road_od_pairs": [list(p) for p in pairs],
        "feature_names": list(FEATURE_NAMES),
        "cost_planted": w_star,
        "cost_maxent_nats": w_me,
        "cost_maxent_seconds": w_me * scale,
        "cost_scale_s_per_nat": scale,
        "cost_correlation": float(np.corrcoef(w_me.numpy(), w_star.numpy())[0, 1]),
        "road_example_routes": [list(trips.test.actions[i]) for i in range(min(5, len(trips.test)))],
    })
    return out


def _claim_mechanism(cfg: Ch06Config, ctx: RunContext) -> dict:
    """C6.4's mechanism check: the same drivers and models in synthetic grid cities of growing districts."""
    # the loop state: the next city, the finished cities' rows, and the running city's state
    state = ctx.restored() or {"city": 0, "rows": [], "bins": [], "network": None}
    rows, bins = list(state["rows"]), list(state["bins"])
    for i, n_rows in enumerate(cfg.city_rows):
        if i < state["city"]:
            continue
        net = grid_city(n_rows, cfg.city_cols, exit_every=cfg.city_exit_every)
        gen = torch.Generator().manual_seed(ctx.seed * 7 + 11 + 1000 * i)
        pairs, _, r = _compare_on_network(
            cfg, ctx, net, gen, f"C6.4 city {n_rows} rows", num_trips=cfg.city_trips,
            saved=state["network"] if i == state["city"] else None,
            save=lambda st, i=i: _save(ctx, {"city": i, "rows": rows, "bins": bins, "network": st}))
        stats = network_statistics(net)
        t = {row["model"]: row for row in r["table1"]}
        row = {"district_rows": n_rows, "states": stats["states"], "actions": stats["actions"],
               "mean_out_degree": stats["mean_out_degree"], "od_pairs": len(pairs), "train": r["train"],
               "test": r["test"], "district_route_share": r["district_route_share"],
               "branching_per_segment_district": r["branching_per_segment_district"],
               "branching_per_segment_other": r["branching_per_segment_other"]}
        for name in MODELS:
            row[f"matching_{name}"] = t[name]["matching_pct"]
            row[f"match90_{name}"] = t[name]["match90_pct"]
        for name, p in r["paired_vs_maxent"].items():
            row[f"maxent_minus_{name}_pct"] = p["mean_diff_pct"]
            row[f"maxent_minus_{name}_se_pct"] = p["se_pct"]
        row["logprob_maxent"] = t["MaxEnt"]["log_prob"]
        row["logprob_action"] = t["Action"]["log_prob"]
        row["logprob_diff"] = r["logprob_maxent_minus_action"]
        row["logprob_diff_se"] = r["logprob_maxent_minus_action_se"]
        row["maxent_final_grad_norm"] = r["maxent_final_grad_norm"]
        rows.append(row)
        bins.extend({"district_rows": n_rows, **b} for b in r["logprob_by_branching"])  # one row per branching bin
        _save(ctx, {"city": i + 1, "rows": rows, "bins": bins, "network": None})
    return {"mechanism": rows, "mechanism_by_branching": bins}


def _claim_destinations(cfg: Ch06Config, ctx: RunContext, theta: torch.Tensor) -> dict:
    net = load_road_network()
    mdp = net.mdp
    gen = torch.Generator().manual_seed(ctx.seed * 7 + 9)
    # five destinations spread over the map: the segments nearest five landmarks
    mid = (net.start_point + net.end_point) / 2
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
    out.update(ctx.stage("C6.4 mechanism", lambda: _claim_mechanism(config, ctx)))
    out.update(ctx.stage("C6.5", lambda: _claim_destinations(config, ctx, out["theta_maxent"])))
    return out


register(
    Experiment(
        name="ch06_maxent_irl",
        chapter=6,
        summary="MaxEnt IRL: Algorithm 1 vs enumeration, label bias, gridworld recovery, Table 1 and destinations on La Serena roads",
        config_type=Ch06Config,
        presets={
            "quick": Ch06Config(),
            "full": Ch06Config(enum_graphs=12, enum_states=8, enum_horizon=8, grid_size=10, grid_demos=20000,
                               road_trips=2000, od_candidates=3000, city_rows=(2, 4, 8), city_trips=2000,
                               maxent_iterations=100, action_iterations=300, margin_iterations=60, dest_trips=1500),
        },
        run=run,
        smoke={"enum_graphs": "2", "grid_demos": "200", "grid_lbfgs_iterations": "8", "grid_ascent_iterations": "4",
               "road_trips": "40", "od_candidates": "200", "maxent_iterations": "3",
               "lbfgs_iterations": "3", "action_iterations": "5", "margin_iterations": "3", "dest_trips": "30",
               "city_rows": "2", "city_cols": "8", "city_exit_every": "3", "city_trips": "40"},
    )
)
