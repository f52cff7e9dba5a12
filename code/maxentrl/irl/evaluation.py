"""Table 1 of Ziebart et al. (2008): five route models fitted and compared on withheld trips.

:func:`compare_route_models` trains every model of the paper's Table 1 on the
training trips and scores it on the test trips, trip by trip, so that the
differences between models can be given with *paired* standard errors:

* Time-based: the fastest route at the speed limits (no learning);
* Max Margin: the cheapest route under maximum-margin-planning costs;
* Action: the most likely route of the action-based model (eq. 7);
* Action (costs): the cheapest route under the action model's costs;
* MaxEnt: the most likely route of eq. 2, the cheapest under its costs.

"Matching" is the share of the demonstrated route's distance that the
predicted route covers, "90% match" the share of trips with at least 90%
covered, and "log prob" the log probability of the whole withheld route
(the two probabilistic models only). The log-probability difference of MaxEnt
and the action model is also split by how much branching a route passes
through (:func:`maxentrl.irl.roads.route_branching`), which is where label
bias acts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from maxentrl.errors import ConfigError, require_int_at_least, require_positive
from maxentrl.irl.baselines import action_model_log_policy, fit_action_model, fit_max_margin
from maxentrl.irl.maxent import FitState, backward_pass, fit_exponentiated_gradient, fit_lbfgs
from maxentrl.irl.roads import (
    RoadNetwork,
    Trips,
    _action_lookup,
    district_share,
    route_branching,
    route_match,
    shortest_path,
    shortest_paths_from,
)

__all__ = ["MODELS", "TIE_BITS", "exact_ties", "paired_difference", "compare_route_models"]

MODELS = ("Time-based", "Max Margin", "Action", "Action (costs)", "MaxEnt")
"""The rows of Table 1, in the paper's order."""


def paired_difference(a, b) -> dict:
    """Mean and standard error of the per-trip difference a − b (two equal-length sequences)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
    return {"mean": float(d.mean()), "se": se, "n": int(len(d)),
            "better": float((d > 1e-9).mean()), "worse": float((d < -1e-9).mean())}


TIE_BITS = 30
"""Route costs are rounded to multiples of 2^−TIE_BITS of their largest power of two (:func:`exact_ties`)."""


def exact_ties(edge_cost: np.ndarray) -> np.ndarray:
    """Positive edge costs rounded so that every path's cost is summed exactly; ``(E,)`` float64.

    In a grid district many routes are sums of the same costs in another
    order. Summed in floating point they differ in the last bits, and which of
    them a shortest-path search returns then depends on those bits, and so on
    the processor's arithmetic and on rounding-level noise in fitted weights.
    On multiples of q = 2^(⌈log₂ max c⌉ − TIE_BITS), every sum of fewer than
    2^(53 − TIE_BITS) of them is exact: routes of equal cost tie exactly, and the
    search (which keeps the first route it finds at a cost) breaks the tie the
    same way everywhere. No cost falls below q.
    """
    cost = np.asarray(edge_cost, dtype=np.float64)
    if cost.size == 0:
        return cost
    if not np.all(np.isfinite(cost)) or cost.min() <= 0:
        raise ConfigError("exact_ties needs finite positive edge costs")
    q = 2.0 ** (math.ceil(math.log2(float(cost.max()))) - TIE_BITS)
    return np.maximum(np.round(cost / q), 1.0) * q


def _route_cost(neg_log_pi) -> np.ndarray:
    return torch.nan_to_num(neg_log_pi, nan=1e12, posinf=1e12).clamp(min=1e-9, max=1e12).numpy()


def compare_route_models(
    net: RoadNetwork,
    trips: Trips,
    *,
    horizon: int,
    maxent_iterations: int,
    maxent_step: float,
    lbfgs_iterations: int,
    action_iterations: int,
    action_step: float,
    margin_iterations: int,
    margin_step: float,
    branching_bins: int = 3,
    state: dict | None = None,
    on_iteration: Callable[[dict], None] | None = None,
) -> dict:
    """Fit the five models of Table 1 on ``trips.train`` and score them on ``trips.test``.

    MaxEnt is fitted by exponentiated gradient from unit costs (as in the paper)
    and then L-BFGS until the gradient of eq. 6 vanishes; the action model by
    exponentiated gradient until its training likelihood levels off; maximum
    margin by projected subgradient. Returns the table rows, per-trip scores,
    paired differences of MaxEnt against each model (matching, in percentage
    points) and against the action model (log probability, in nats), that log
    probability difference per branching bin, the mean nats of choice per
    segment on district routes and on the others (how unequally the competing
    route families branch), the learned parameters and the wall times of each
    fit (``timings``, for provenance, not results).

    The four fits run one after the other; at the end of each iteration of any
    of them ``on_iteration(state)`` receives the comparison's state (which fit
    runs, the finished fits' results, the running fit's
    :data:`~maxentrl.irl.maxent.FitState`, the time spent so far). Passing it
    back as ``state`` continues the comparison exactly where it stopped.
    """
    require_int_at_least("horizon", horizon, 1)
    require_positive("maxent_step", maxent_step)
    require_int_at_least("branching_bins", branching_bins, 1)
    mdp = net.mdp
    train, test = trips.train, trips.test
    K = mdp.num_features
    lookup = _action_lookup(mdp)
    phi = (mdp.state_features[mdp.src] + mdp.action_features).double()
    N = horizon
    ones = torch.ones(K, dtype=torch.float64)
    # the exponentiated-gradient step is taken relative to the size of the feature counts, so that
    # one setting suits short and long routes: η = maxent_step / max_k f̃_k
    eta = maxent_step / float(train.feature_counts.mean(0).abs().max())
    fits: dict[str, Callable[[FitState | None, Callable[[FitState], None]], Any]] = {
        "maxent_eg": lambda st, report: fit_exponentiated_gradient(
            mdp, train, ones, step=eta, iterations=maxent_iterations, horizon=N, tol=1e-9, state=st, on_iteration=report),
        "maxent_lbfgs": lambda st, report: fit_lbfgs(
            mdp, train, done["maxent_eg"].theta, iterations=lbfgs_iterations, horizon=N, tol=1e-9, grad_tol=1e-7,
            state=st, on_iteration=report),
        "action": lambda st, report: fit_action_model(
            mdp, train, ones, step=action_step, iterations=action_iterations, horizon=N, state=st, on_iteration=report),
        "margin": lambda st, report: fit_max_margin(
            mdp, train, ones, length_m=net.length_m, step=margin_step, iterations=margin_iterations, state=st,
            on_iteration=report),
    }
    if state is not None and not (isinstance(state, dict) and {"fit", "done", "current", "timings"} <= set(state)):
        raise ConfigError("a comparison state must be a dict with the keys fit, done, current and timings")
    saved = state or {"fit": 0, "done": {}, "current": None, "timings": {}}
    done: dict[str, Any] = dict(saved["done"])
    elapsed: dict[str, float] = dict(saved["timings"])
    for index, (name, fit) in enumerate(fits.items()):
        if index < saved["fit"]:
            continue
        t0 = time.perf_counter()
        before = elapsed.get(name, 0.0)

        def report(fit_state: FitState, index: int = index, name: str = name, t0: float = t0, before: float = before) -> None:
            if on_iteration is not None:
                on_iteration({"fit": index, "done": done, "current": fit_state,
                              "timings": {**elapsed, name: before + time.perf_counter() - t0}})

        done[name] = fit(saved["current"] if index == saved["fit"] else None, report)
        elapsed[name] = before + time.perf_counter() - t0
    fit, polish = done["maxent_eg"], done["maxent_lbfgs"]
    theta_me = polish.theta
    w_act, act_trace = done["action"]
    mmp = done["margin"]
    timings = {"maxent_fit_s": elapsed["maxent_eg"] + elapsed["maxent_lbfgs"], "action_fit_s": elapsed["action"],
               "margin_fit_s": elapsed["margin"]}

    t0 = time.perf_counter()
    starts, goals = test.start.tolist(), test.goal.tolist()
    uniq = sorted(set(starts))
    where = {s: i for i, s in enumerate(uniq)}

    def cheapest_routes(edge_cost: np.ndarray) -> list[list[int]]:
        edge_cost = exact_ties(np.maximum(edge_cost, 1e-9))
        _, pred = shortest_paths_from(mdp, edge_cost, uniq)
        return [shortest_path(mdp, edge_cost, s, g, lookup=lookup, predecessors=pred[where[s]])
                for s, g in zip(starts, goals)]

    goal_u, goal_row = torch.unique(test.goal, return_inverse=True)
    log_pi_act = action_model_log_policy(mdp, w_act, goal_u, horizon=N)  # [G, E]
    src = mdp.src.cpu().numpy()
    time_cost = net.time_s[src]
    predicted = {
        "Time-based": cheapest_routes(time_cost),
        "Max Margin": cheapest_routes((phi @ mmp.cost).numpy()),
        # the action model's most likely route: the cheapest under −log P(a|s), per goal (an action of
        # probability 0, or none at all as out of the goal, gets a cost no route takes unless it must)
        "Action": [shortest_path(mdp, _route_cost(-log_pi_act[int(goal_row[m])]), s, g, lookup=lookup)
                   for m, (s, g) in enumerate(zip(starts, goals))],
        "Action (costs)": cheapest_routes((phi @ w_act).numpy()),
        "MaxEnt": cheapest_routes((phi @ -theta_me).numpy()),
    }
    match = {name: [route_match(net, demo, pred) for demo, pred in zip(test.actions, routes)]
             for name, routes in predicted.items()}
    act_logp = np.array([float(log_pi_act[int(goal_row[m]), list(a)].sum()) for m, a in enumerate(test.actions)])
    bw = backward_pass(mdp, theta_me, goal_u, horizon=N, tol=1e-9)
    me_logp = (test.feature_counts @ theta_me - bw.log_Z_state[goal_row, test.start]).numpy()
    branching = np.array([route_branching(mdp, a) for a in test.actions])
    timings["evaluate_s"] = time.perf_counter() - t0

    logp = {"Action": float(act_logp.mean()), "MaxEnt": float(me_logp.mean())}
    rows = [{"model": name, "matching_pct": float(np.mean(match[name]) * 100),
             "match90_pct": float(np.mean(np.array(match[name]) >= 0.9) * 100),
             "log_prob": logp.get(name)} for name in MODELS]
    paired = {}
    for name in MODELS[:-1]:
        p = paired_difference(match["MaxEnt"], match[name])
        paired[name] = {"mean_diff_pct": 100 * p["mean"], "se_pct": 100 * p["se"], "better": p["better"], "worse": p["worse"]}
    lp = paired_difference(me_logp, act_logp)
    # the log-probability difference by branching: equal-count bins of Σ_t log(out-degree)
    edges = np.quantile(branching, np.linspace(0, 1, branching_bins + 1))
    bins = []
    for i in range(branching_bins):
        sel = (branching >= edges[i]) & ((branching <= edges[i + 1]) if i == branching_bins - 1 else (branching < edges[i + 1]))
        if sel.sum() >= 2:
            p = paired_difference(me_logp[sel], act_logp[sel])
            bins.append({"branching_lo": float(edges[i]), "branching_hi": float(edges[i + 1]), "trips": int(sel.sum()),
                         "maxent_logp": float(me_logp[sel].mean()), "action_logp": float(act_logp[sel].mean()),
                         "diff": p["mean"], "se": p["se"]})
    district = np.array([district_share(net, a) for a in test.actions]) > 0.5
    # how unequally the competing route families branch: nats of choice per segment on each family
    per_segment = branching / np.array([len(a) for a in test.actions])
    return {
        "table1": rows,
        "paired_vs_maxent": paired,
        "logprob_maxent_minus_action": lp["mean"],
        "logprob_maxent_minus_action_se": lp["se"],
        "logprob_by_branching": bins,
        "logprob_uniform_walk": float(-branching.mean()),
        "mean_route_branching_nats": float(branching.mean()),
        "district_route_share": float(district.mean()),
        "branching_per_segment_district": float(per_segment[district].mean()) if district.any() else None,
        "branching_per_segment_other": float(per_segment[~district].mean()) if (~district).any() else None,
        "train": len(train),
        "test": len(test),
        "mean_route_segments": float(np.mean([len(a) for a in test.actions])),
        "theta_maxent": theta_me,
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
        "timings": timings,
    }
