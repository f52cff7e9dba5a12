"""Figures, tables and result sentences of chapter 6 (maximum-entropy inverse RL).

The experiment functions take ``result``, the results of a ``ch06_maxent_irl``
run (quick preset), and ``full``, the committed full-preset results or ``None``.
The sentences say what the numbers show, with the thresholds (two standard
errors) written once, here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from maxentrl.figures import new_figure

__all__ = [
    "branching",
    "cost_recovery_sentence",
    "cost_sentences",
    "destination_prediction",
    "difference_verdict",
    "enumeration_table",
    "feature_matching",
    "has_mechanism",
    "label_bias",
    "learned_costs",
    "learned_costs_table",
    "mechanism_numbers",
    "network_facts",
    "path_counts",
    "road_network",
    "scaling_sentence",
    "table1_full_lines",
    "table1_full_verdict",
    "table1_sentences",
]

# Where the nodes of the paper's Fig. 2 graph are drawn (see maxentrl.irl.baselines.label_bias_example).
_FIG2_POS = {0: (0, 0), 1: (3, 0), 2: (1, 0.6), 3: (2, 1.0), 4: (2, 0.25), 5: (1, -0.7), 6: (2, -0.7)}
_FIG2_NAMES = {0: "A", 1: "B"}


def path_counts(horizons: Sequence[int], counted: Sequence[float], enumerated_horizons: Sequence[int],
                enumerated: Sequence[int], *, side: int, actions: int) -> Figure:
    """Paths from corner to corner of a ``side × side`` grid: counted by the backward pass and enumerated."""
    fig, ax = new_figure(figsize=(6, 3.2))
    ax.semilogy(horizons, counted, "o-", label="paths counted by the backward pass")
    ax.semilogy(enumerated_horizons, enumerated, "x", ms=9, color="k", label="paths enumerated")
    ax.set_xlabel("horizon N (actions)")
    ax.set_ylabel("paths from corner to corner")
    ax.set_title(f"{side}×{side} grid: N sweeps over {actions} actions")
    ax.legend()
    fig.tight_layout()
    return fig


def label_bias(mdp: Any, p_maxent: Sequence[float], p_action: Sequence[float]) -> Figure:
    """The paper's Fig. 2: the graph with three equal-reward paths, and each path's probability under both models."""
    fig, (ax0, ax1) = new_figure(1, 2, figsize=(8, 2.8), gridspec_kw={"width_ratios": [1.1, 1]})
    for s, t in zip(mdp.src.tolist(), mdp.dst.tolist()):
        ax0.annotate("", xy=_FIG2_POS[t], xytext=_FIG2_POS[s], arrowprops=dict(arrowstyle="->", color="0.4"))
    for s, (x, y) in _FIG2_POS.items():
        name = _FIG2_NAMES.get(s, "")
        ax0.plot(x, y, "o", ms=14 if name else 7, color="tab:blue" if name else "0.6")
        ax0.text(x, y, name, ha="center", va="center", color="w", fontsize=9, weight="bold")
    for k, (x, y) in enumerate([(2.5, 0.95), (2.5, 0.3), (1.5, -0.95)]):
        ax0.text(x, y, f"path {k + 1}", fontsize=8)
    ax0.set_axis_off()
    ax0.set_title("three equal-reward paths from A to B")
    x = np.arange(len(p_maxent))
    ax1.bar(x - 0.2, p_maxent, 0.4, label="MaxEnt, Z(2)")
    ax1.bar(x + 0.2, p_action, 0.4, label="action-based, Z(7)")
    ax1.set_xticks(x, [f"path {k + 1}" for k in x])
    ax1.set_ylabel("probability")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    return fig


def road_network(net: Any, feature_names: Sequence[str]) -> Figure:
    """The road network drawn segment by segment along its polylines, coloured by road class (the first five
    features); longitude and latitude at the aspect of the network's mean latitude."""
    fig, ax = new_figure(figsize=(5.2, 6.4))
    classes = net.mdp.state_features[:, :5].argmax(1).tolist()
    for s, rc in enumerate(classes):
        pts = net.segment_points(s)
        ax.plot(pts[:, 0], pts[:, 1], color=plt.cm.viridis(rc / 4), lw=1.4)
    for rc, name in enumerate(feature_names[:5]):
        ax.plot([], [], color=plt.cm.viridis(rc / 4), label=name.split(":")[1])
    if net.geographic:
        lat = float(np.mean(net.polyline[:, 1]))
        ax.set_aspect(1 / math.cos(math.radians(lat)))
        ax.set(xlabel="longitude", ylabel="latitude")
    else:
        ax.set_aspect(1)
        ax.set(xlabel="metres east", ylabel="metres north")
    ax.grid(False)
    ax.legend(fontsize=7, loc="lower left", title="road class", title_fontsize=7)
    fig.tight_layout()
    return fig


def network_facts(net: Any, feature_names: Sequence[str]) -> dict[str, Any]:
    """The facts about a road network that the chapter quotes, computed from it
    (:func:`maxentrl.irl.roads.network_statistics`): sizes, the out-degree histogram as counts of segments with
    one, two and three or more continuations, the shares of choices, district streets and arterials (%), the
    mean segment length, its extent (``width_km`` east to west, ``height_km`` north to south; for a
    geographic network at its mean latitude), and ``absent``, a sentence on features that never occur in it."""
    from maxentrl.irl.roads import network_statistics

    stats = network_statistics(net)
    hist = stats["out_degree_histogram"]
    used = (net.mdp.state_features.abs().sum(0) + net.mdp.action_features.abs().sum(0)).tolist()
    absent = [n.split(":")[1].replace("_", " ") for n, c in zip(feature_names, used) if c == 0]
    span = net.polyline.max(0) - net.polyline.min(0)
    if net.geographic:  # degrees to km: 111.32 km per degree of latitude, times cos(latitude) along a parallel
        span = span * 111.32 * np.array([math.cos(math.radians(float(net.polyline[:, 1].mean()))), 1.0])
    else:
        span = span / 1000.0
    return {
        "width_km": float(span[0]),
        "height_km": float(span[1]),
        "states": stats["states"],
        "actions": stats["actions"],
        "km": stats["km"],
        "mean_degree": stats["mean_out_degree"],
        "one": hist[1] if len(hist) > 1 else 0,
        "two": hist[2] if len(hist) > 2 else 0,
        "three_plus": int(sum(hist[3:])),
        "choice_pct": 100 * stats["choice_share"],
        "district_pct": 100 * stats["district_share"],
        "arterial_pct": 100 * stats["arterial_share"],
        "segment_m": stats["mean_segment_m"],
        "absent": ("No " + " and no ".join(absent) + (" turn occurs" if len(absent) == 1 else " turns occur")
                   + " in it, so " + ("that feature's weight is" if len(absent) == 1 else "those features' weights are")
                   + " not identified (the gradient there is always zero).") if absent else "Every feature occurs in it.",
    }


def enumeration_table(result: Mapping[str, Any]) -> str:
    """C6.1 as text: each random graph, its size and horizon, and the largest error against enumeration."""
    lines = [f"{'graph':>5} {'cycles':>6} {'S':>3} {'E':>3} {'N':>3} {'paths':>6} {'max |error|':>12}"]
    for r in result["enumeration"]:
        lines.append(f"{r['graph']:>5} {('no' if r['acyclic'] else 'yes'):>6} {r['states']:>3} {r['actions']:>3} "
                     f"{r['horizon']:>3} {r['paths']:>6} {r['max_abs_error']:>12.1e}")
    return "\n".join(lines)


def feature_matching(result: Mapping[str, Any]) -> Figure:
    """C6.3: the terrain map, planted against learned weights, and the log-likelihood of gradient ascent against L-BFGS's optimum."""
    ts, tl = np.array(result["grid_theta_star"]), np.array(result["grid_theta_learned"])
    fig, (ax0, ax1, ax2) = new_figure(1, 3, figsize=(10, 2.9))
    n = int(round(len(result["grid_terrain"]) ** 0.5))
    ax0.imshow(np.array(result["grid_terrain"]).reshape(n, n), cmap="YlOrBr")
    ax0.set_title("terrain (darker = costlier)")
    ax0.set_xticks([])
    ax0.set_yticks([])
    ax0.grid(False)
    x = np.arange(len(ts))
    ax1.bar(x - 0.2, ts, 0.4, label="planted θ*")
    ax1.bar(x + 0.2, tl, 0.4, label="learned θ")
    ax1.set_xticks(x, [f"terrain {k}" for k in x], fontsize=8)
    ax1.legend(fontsize=8)
    ax1.set_title("reward weights")
    ax2.plot(result["grid_gd_loglik"], label="gradient ascent")
    ax2.axhline(result["grid_lbfgs_loglik"][-1], color="k", ls="--", label="L-BFGS optimum")
    ax2.set_xlabel("iteration")
    ax2.set_ylabel("mean log-likelihood")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def difference_verdict(d: float, se: float, unit: str, better: str = "MaxEnt", worse: str = "the action model") -> str:
    """A paired difference ``d`` ± ``se`` in words: who leads, by how many standard errors, or that it is within two."""
    z = d / se if se > 0 else math.copysign(math.inf, d) if d else 0.0
    if z > 2:
        return f"{better} leads by {d:.3f} ± {se:.3f} {unit}, {z:.1f} standard errors"
    if z < -2:
        return f"{worse} leads by {-d:.3f} ± {se:.3f} {unit}, {-z:.1f} standard errors"
    return f"the difference, {d:.3f} ± {se:.3f} {unit}, is within two standard errors"


def _names(models: Sequence[str]) -> str:
    """Model names as a list in words: ``["A", "B", "C"]`` gives "A, B and C"."""
    return models[0] if len(models) == 1 else ", ".join(models[:-1]) + " and " + models[-1]


def table1_sentences(result: Mapping[str, Any]) -> dict[str, str]:
    """The sentences of C6.4 on the quick run's Table 1: ``ranks`` (MaxEnt's place per column),
    ``pair_verdict`` (which matching differences exceed two paired standard errors, either way), ``lp_verdict`` (the
    log-probability difference against the action model) and ``bins`` (that difference per branching third)."""
    t1 = {row["model"]: row for row in result["table1"]}
    pv = result["paired_vs_maxent"]
    ahead = [n for n in pv if pv[n]["mean_diff_pct"] > 2 * pv[n]["se_pct"]]
    behind = [n for n in pv if pv[n]["mean_diff_pct"] < -2 * pv[n]["se_pct"]]
    level = [n for n in pv if n not in ahead and n not in behind]
    parts = ["MaxEnt's matching is higher by more than two standard errors than "
             + (_names(ahead) + "'s" if ahead else "none of the other models'")]
    if behind:
        parts.append("lower by more than two standard errors than " + _names(behind) + "'s")
    if level:
        parts.append("against " + _names(level) + " the difference is within two standard errors, i.e. not "
                     "established by this run")
    pair = "; ".join(parts)
    lp = difference_verdict(result["logprob_maxent_minus_action"], result["logprob_maxent_minus_action_se"],
                            "nats per route")

    def rank(metric: str) -> int:
        order = sorted(t1, key=lambda n: -t1[n][metric])
        return order.index("MaxEnt") + 1

    ordinal = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}
    worst = min(t1, key=lambda n: t1[n]["matching_pct"])
    ranks = (f"MaxEnt comes {ordinal[rank('matching_pct')]} of five on matching, "
             f"{ordinal[rank('match90_pct')]} on 90% match and "
             f"{'first' if t1['MaxEnt']['log_prob'] > t1['Action']['log_prob'] else 'second'} of the two models "
             f"with a log probability; the lowest matching is the {worst} model's.")
    bins = "; ".join(f"{b['diff']:+.3f} ± {b['se']:.3f} for the third of routes with "
                     f"{b['branching_lo']:.1f}–{b['branching_hi']:.1f} nats of branching"
                     for b in result["logprob_by_branching"])
    return {"ranks": ranks, "pair_verdict": pair, "lp_verdict": lp, "bins": bins}


def has_mechanism(full: Any | None) -> bool:
    """Whether a committed result comes from the version of the experiment with the mechanism check
    (older full runs compared random trips on an earlier network)."""
    return full is not None and "mechanism" in full.results


def table1_full_verdict(full: Any | None) -> str:
    """The paragraph of C6.4 on the committed full run's Table 1 and mechanism check (or that none is committed)."""
    if not has_mechanism(full):
        return ("No full-preset result of this version of the experiment is committed in this checkout, so only "
                "the quick run is reported.")
    ft = {row["model"]: row for row in full["table1"]}
    fpv = full["paired_vs_maxent"]
    fd, fse = full["logprob_maxent_minus_action"], full["logprob_maxent_minus_action_se"]
    fm = full["mechanism"]
    return (f"The full preset ({full['road_train']} training and {full['road_test']} test trips in La Serena, "
            f"{fm[0]['train'] + fm[0]['test']} trips in each of {len(fm)} cities) gives in La Serena matching of "
            f"{ft['MaxEnt']['matching_pct']:.2f}% for MaxEnt, {ft['Action']['matching_pct']:.2f}% for the action model, "
            f"{ft['Action (costs)']['matching_pct']:.2f}% for its costs, {ft['Max Margin']['matching_pct']:.2f}% for "
            f"maximum margin and {ft['Time-based']['matching_pct']:.2f}% for the time-based route (MaxEnt minus the "
            f"action model {fpv['Action']['mean_diff_pct']:.1f} ± {fpv['Action']['se_pct']:.1f} points), and on log "
            "probability " + difference_verdict(fd, fse, "nats per route") + ". In the cities, with "
            + ", ".join(str(r["district_rows"]) for r in fm) + " parallel streets, MaxEnt minus the action model is "
            + ", ".join(f"{r['logprob_diff']:.3f} ± {r['logprob_diff_se']:.3f}" for r in fm) + " nats per route and "
            + ", ".join(f"{r['maxent_minus_Action_pct']:.1f} ± {r['maxent_minus_Action_se_pct']:.1f}" for r in fm)
            + " points of matching.")


def table1_full_lines(full: Mapping[str, Any]) -> str:
    """The full preset's Table 1 as text."""
    lines = []
    for row in full["table1"]:
        lp = "   N/A" if row["log_prob"] is None else f"{row['log_prob']:6.2f}"
        lines.append(f"{row['model']:15s} matching {row['matching_pct']:6.2f}%  "
                     f"90% match {row['match90_pct']:6.2f}%  log prob {lp}")
    return "\n".join(lines)


def _city_bins(res: Mapping[str, Any], rows: int) -> list[Mapping[str, Any]]:
    return [b for b in res["mechanism_by_branching"] if b["district_rows"] == rows]


def branching(result: Any, full: Any | None = None) -> Figure:
    """C6.4's mechanism: MaxEnt minus the action model in log probability per branching third (bars: two paired
    standard errors), in La Serena and in each synthetic city; quick run solid, the committed full run dashed."""
    fig, ax = new_figure(figsize=(6.4, 3.4))
    series = [("La Serena", result["logprob_by_branching"], "k", "o-", 1.0)] + [
        (f"city, {row['district_rows']} rows", _city_bins(result, row["district_rows"]), f"C{i}", "o-", 1.0)
        for i, row in enumerate(result["mechanism"])]
    if has_mechanism(full):
        series += [("La Serena (full)", full["logprob_by_branching"], "k", "s--", 0.6)] + [
            (f"city, {row['district_rows']} rows (full)", _city_bins(full, row["district_rows"]),
             f"C{i + len(result['mechanism'])}", "s--", 0.6) for i, row in enumerate(full["mechanism"])]
    for label, bins, color, style, alpha in series:
        x = [(b["branching_lo"] + b["branching_hi"]) / 2 for b in bins]
        ax.errorbar(x, [b["diff"] for b in bins], yerr=[2 * b["se"] for b in bins], fmt=style, color=color,
                    capsize=3, label=label, alpha=alpha)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel("branching along the route, Σ log(out-degree) (nats; thirds of the test routes)")
    ax.set_ylabel("log P(route): MaxEnt − action")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def mechanism_numbers(result: Mapping[str, Any], full: Any | None = None) -> dict[str, Any]:
    """The numbers and sentences of C6.4's mechanism check: per city ``city<i>_<key>`` (rows, states, mean
    out-degree, log-probability difference and its error overall and in the least- and most-branching thirds,
    matching differences against the action model and its costs, nats of choice per segment on district and
    other routes), the road network's thirds (``road_low``, ``road_high`` and errors) and choice per segment
    (``road_bdist``, ``road_bother``), ``mech_verdict`` and ``road_rise`` (how the difference grows with
    branching, in standard errors) and ``match_note`` (the matching difference in La Serena, quick and full)."""
    mech = result["mechanism"]
    out: dict[str, Any] = {}
    rises = []
    for i, row in enumerate(mech):
        bins = _city_bins(result, row["district_rows"])
        out.update({f"city{i}_rows": row["district_rows"], f"city{i}_states": row["states"],
                    f"city{i}_degree": row["mean_out_degree"], f"city{i}_lp": row["logprob_diff"],
                    f"city{i}_lp_se": row["logprob_diff_se"], f"city{i}_low": bins[0]["diff"],
                    f"city{i}_low_se": bins[0]["se"], f"city{i}_high": bins[-1]["diff"],
                    f"city{i}_high_se": bins[-1]["se"], f"city{i}_match": row["maxent_minus_Action_pct"],
                    f"city{i}_match_se": row["maxent_minus_Action_se_pct"],
                    f"city{i}_matchc": row["maxent_minus_Action (costs)_pct"],
                    f"city{i}_matchc_se": row["maxent_minus_Action (costs)_se_pct"],
                    f"city{i}_bdist": row["branching_per_segment_district"],
                    f"city{i}_bother": row["branching_per_segment_other"]})
        rises.append((bins[-1]["diff"] - bins[0]["diff"]) / math.hypot(bins[0]["se"], bins[-1]["se"]))
    hb = result["logprob_by_branching"]
    out.update(road_low=hb[0]["diff"], road_low_se=hb[0]["se"], road_high=hb[-1]["diff"],
               road_high_se=hb[-1]["se"], road_bdist=result["road_branching_per_segment_district"],
               road_bother=result["road_branching_per_segment_other"])
    z_city = [row["logprob_diff"] / row["logprob_diff_se"] for row in mech]
    if all(z > 2 for z in z_city):
        out["mech_verdict"] = (
            f"In {'both' if len(mech) == 2 else 'all'} cities MaxEnt assigns the withheld routes more probability "
            f"than the action model, by {min(z_city):.0f} to {max(z_city):.0f} standard errors, and the advantage in "
            f"the most-branching third exceeds that in the least-branching third by {min(rises):.1f} to "
            f"{max(rises):.1f} standard errors of the difference")
    else:
        out["mech_verdict"] = ("In the cities MaxEnt's advantage in log probability is not established by this run "
                               f"(MaxEnt minus the action model at {', '.join(f'{z:.1f}' for z in z_city)} standard "
                               "errors)")
    z_h = (hb[-1]["diff"] - hb[0]["diff"]) / math.hypot(hb[0]["se"], hb[-1]["se"])
    out["road_rise"] = (f"in La Serena the rise from the least- to the most-branching third is {z_h:.1f} standard "
                        "errors of the difference")
    qa = result["paired_vs_maxent"]["Action"]
    note = (f"in the quick run MaxEnt's matching minus the action model's is {qa['mean_diff_pct']:.1f} ± "
            f"{qa['se_pct']:.1f} points in La Serena")
    if has_mechanism(full):
        fa = full["paired_vs_maxent"]["Action"]
        paper = PAPER_MATCHING_PCT["MaxEnt"] - PAPER_MATCHING_PCT["Action"]
        note += (f", in the full run {fa['mean_diff_pct']:.1f} ± {fa['se_pct']:.1f}; the paper's lead of {paper:.2f} "
                 "points over the action model on matching is " + ("not established on this network." if fa["mean_diff_pct"] < 2 * fa["se_pct"]
                                                         else "matched in sign on this network."))
    else:
        note += "."
    out["match_note"] = note
    return out


def learned_costs(result: Mapping[str, Any], full: Mapping[str, Any] | None = None) -> Figure:
    """The paper's Fig. 3: planted costs against MaxEnt's learned ones (rescaled to seconds), per feature."""
    w_star = np.array(result["cost_planted"])
    w_me = np.array(result["cost_maxent_seconds"])
    fig, ax = new_figure(figsize=(9, 3.2))
    x = np.arange(len(w_star))
    ax.bar(x - 0.2, w_star, 0.4, label="planted w* (before the drivers' noise)")
    ax.bar(x + 0.2, w_me, 0.4, label="learned by MaxEnt, rescaled (quick)")
    if full is not None:
        ax.plot(x + 0.2, np.array(full["cost_maxent_seconds"]), "k_", ms=12, mew=2, label="learned, full preset")
    ax.set_xticks(x, [n.replace(":", "\n") for n in result["feature_names"]], fontsize=7)
    ax.set_ylabel("seconds per 100 m / per turn")
    ax.axhline(0, color="k", lw=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def learned_costs_table(result: Mapping[str, Any]) -> str:
    """Planted and learned cost of every feature, as text."""
    return "\n".join(f"{name:18s} planted {a:6.1f}  learned {b:6.1f}"
                     for name, a, b in zip(result["feature_names"], result["cost_planted"], result["cost_maxent_seconds"]))


def cost_sentences(result: Mapping[str, Any], road_state_features: np.ndarray) -> dict[str, Any]:
    """The sentences of C6.5 on the learned costs: ``order_turns``, ``order_roads``, ``negative_costs``
    and the number ``lane_ref_share`` (% of the distance on roads with three or more lanes)."""
    w_star = np.array(result["cost_planted"])
    w_me = np.array(result["cost_maxent_seconds"])

    def order_text(idx: list[int], what: str) -> str:
        names = [result["feature_names"][i].split(":")[1] for i in idx]
        planted = [names[i] for i in np.argsort(w_star[idx])]
        learned = [names[i] for i in np.argsort(w_me[idx])]
        if planted == learned:
            return f"the {what} come out in the planted order of cost ({', '.join(planted)})"
        return (f"the {what} do not all come out in the planted order ({', '.join(planted)}); "
                f"the learned order is {', '.join(learned)}")

    f_road = np.asarray(road_state_features)
    negative = [n for n, c in zip(result["feature_names"], w_me) if c < 0]
    if negative:
        negative_text = (f"Here the learned costs of {' and '.join(negative)} even come out negative, which no driver's are; "
                         f"what the model needs is that the cost of every action, the sum of its features' costs, is positive, "
                         f"and {'it is' if result['maxent_nonpositive_action_costs'] == 0 else 'it is not everywhere'}.")
    else:
        negative_text = "Here every learned cost comes out positive."
    return {
        "order_turns": order_text(list(range(8, 13)), "turn types"),
        "order_roads": order_text(list(range(0, 5)), "road classes"),
        # distance on roads with three or more lanes (the lane features' reference level)
        "lane_ref_share": float(100 * (1 - f_road[:, 6:8].sum() / f_road[:, :5].sum())),
        "negative_costs": negative_text,
    }


def cost_recovery_sentence(result: Mapping[str, Any], full: Any | None = None) -> str:
    """How closely the learned costs follow the planted ones, in the quick run and (if committed) the full one."""
    text = (f"With {result['road_train']} training trips the learned costs correlate with the planted ones at "
            f"{result['cost_correlation']:.3f}")
    if has_mechanism(full):
        text += (f"; the committed full run, with {full['road_train']} training trips, reaches "
                 f"{full['cost_correlation']:.3f}")
    return text + f" (one nat is worth {result['cost_scale_s_per_nat']:.1f} s of the drivers' time)"


def destination_prediction(result: Mapping[str, Any], full: Mapping[str, Any] | None = None) -> Figure:
    """The paper's Fig. 5: destination prediction accuracy against the fraction of the route observed."""
    fr = np.array(result["dest_fractions"]) * 100
    fig, ax = new_figure(figsize=(5.5, 3.2))
    ax.plot(fr, np.array(result["dest_accuracy"]) * 100, "o-", label="MaxEnt posterior (quick)")
    if full is not None:
        ax.plot(np.array(full["dest_fractions"]) * 100, np.array(full["dest_accuracy"]) * 100, "s--",
                label="MaxEnt posterior (full)")
    ax.plot(fr, np.array(result["dest_accuracy_prior_only"]) * 100, "k:", label="prior only (quick)")
    ax.set_xlabel("% of route observed")
    ax.set_ylabel("% destinations predicted")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def scaling_sentence(slope: float) -> str:
    """What a fitted log-log slope of time per sweep against the number of states says about linear growth."""
    if 0.8 <= slope <= 1.25:
        return "consistent with the linear growth of the work per sweep"
    return ("further from 1 than the linear growth of the work per sweep would give: on a shared machine the "
            "timings scatter, and caches favour the smaller graphs")


PAPER_MATCHING_PCT = {"Time-based": 72.38, "Max Margin": 75.29, "Action": 77.30, "Action (costs)": 77.74,
                      "MaxEnt": 78.79}
"""Average percentage of distance matching of withheld routes in the paper's Table 1."""

PAPER_LOGPROB = {"Action": -7.91, "MaxEnt": -6.85}
"""Average log probability of the withheld routes under each probabilistic model in the paper's Table 1 (nats)."""

PAPER_LOGPROB_GAP = PAPER_LOGPROB["MaxEnt"] - PAPER_LOGPROB["Action"]
"""MaxEnt minus the action model in average log probability of withheld routes in the paper's Table 1 (nats)."""


def road_gap_sentences(result: Mapping[str, Any]) -> dict[str, str]:
    """Sentences of C6.4 on the size of MaxEnt's log-probability lead on the road network: ``paper_gap``
    (against the paper's gap of about one nat per route), ``road_vs_cities`` (against the synthetic cities
    of the mechanism check, with the mean out-degrees of all of them) and ``branching_contrast`` (the nats of
    choice per segment on district routes against the other routes, on the network and in each city)."""
    d, se = result["logprob_maxent_minus_action"], result["logprob_maxent_minus_action_se"]
    if d > 2 * se:
        paper = (f"the paper's gap, {PAPER_LOGPROB_GAP:.2f} nats per route, is {PAPER_LOGPROB_GAP / d:.0f} times "
                 f"the {d:.3f} nats measured here")
    else:
        paper = (f"the paper's gap, {PAPER_LOGPROB_GAP:.2f} nats per route, is not matched here, where the "
                 f"difference is {d:.3f} ± {se:.3f} nats")
    mech = result["mechanism"]
    city = ", ".join(f"{r['logprob_diff']:.3f} nats ({r['district_rows']} parallel streets, mean out-degree "
                     f"{r['mean_out_degree']:.2f})" for r in mech)
    net = result["road_network"]
    road = (f"In La Serena (mean out-degree {net['mean_out_degree']:.2f}) MaxEnt's lead is {d:.3f} ± {se:.3f} nats "
            f"per route, against {city} in the cities")
    ratio = [(result["road_branching_per_segment_district"], result["road_branching_per_segment_other"])] + [
        (r["branching_per_segment_district"], r["branching_per_segment_other"]) for r in mech]
    contrast = (f"a district route passes through {ratio[0][0]:.2f} nats of choice per segment in La Serena and "
                f"the other routes {ratio[0][1]:.2f}, a ratio of {ratio[0][0] / ratio[0][1]:.2f}; in the cities the "
                "ratios are " + _names([f"{d_ / o:.2f}" for d_, o in ratio[1:]]))
    # the city whose families differ by about as much as La Serena's: does its lead match La Serena's?
    r0 = ratio[0][0] / ratio[0][1]
    k = min(range(len(mech)), key=lambda i: abs(ratio[i + 1][0] / ratio[i + 1][1] - r0))
    near = mech[k]
    gap = near["logprob_diff"] - d
    if gap > 2 * math.hypot(se, near["logprob_diff_se"]):
        contrast += (f". The city with the nearest ratio ({near['district_rows']} parallel streets) still shows a lead "
                     f"{near['logprob_diff']:.3f} ± {near['logprob_diff_se']:.3f} nats per route, larger than La "
                     "Serena's by more than two standard errors, so choice per segment does not account for the "
                     "whole difference between them")
    return {"paper_gap": paper, "road_vs_cities": road, "branching_contrast": contrast,
            "paper_spread": paper_spread_sentence(result)}


def paper_spread_sentence(result: Mapping[str, Any]) -> str:
    """How the withheld routes' log probabilities here compare in size with the paper's −7.91 and −6.85: whether
    its routes carry more uncertainty under both models than the simulated drivers' routes, or not."""
    rows = {row["model"]: row for row in result["table1"]}
    ours = {name: rows[name]["log_prob"] for name in PAPER_LOGPROB}
    paper = f"The paper's values, {PAPER_LOGPROB['Action']:.2f} and {PAPER_LOGPROB['MaxEnt']:.2f}"
    if all(ours[name] > PAPER_LOGPROB[name] for name in PAPER_LOGPROB):
        return (f"{paper}, are larger in size: its withheld routes carry more uncertainty under either model than "
                "the simulated drivers' routes here")
    if all(ours[name] < PAPER_LOGPROB[name] for name in PAPER_LOGPROB):
        return (f"{paper}, are smaller in size: the simulated drivers' routes here carry more uncertainty under "
                "either model than the paper's withheld routes")
    return f"{paper}, bracket those measured here, one model above the paper's value and one below"


def summary_time_sentence(result: Mapping[str, Any], full: Any | None = None) -> str:
    """The chapter summary's clause on the learned models against the time-based route: how many points of
    matching each learned model gains over it (the committed full run where it has the mechanism check, else
    the quick run)."""
    run, name = (full, "full") if has_mechanism(full) else (result, "quick")
    rows = {row["model"]: row["matching_pct"] for row in run["table1"]}
    gains = [pct - rows["Time-based"] for model, pct in rows.items() if model != "Time-based"]
    if min(gains) > 0:
        return (f"the learned models all predict withheld routes better than the fastest route does, by "
                f"{min(gains):.1f} to {max(gains):.1f} points of matching (the {name} run)")
    return (f"not every learned model predicts withheld routes better than the fastest route does: the gains in "
            f"matching range from {min(gains):.1f} to {max(gains):.1f} points (the {name} run)")


def summary_sentence(result: Mapping[str, Any], full: Any | None = None) -> str:
    """The chapter summary's clause on MaxEnt's log-probability lead in La Serena against the cities (the
    committed full run's numbers where it has the mechanism check, else the quick run's)."""
    run, name = (full, "full") if has_mechanism(full) else (result, "quick")
    lead = [r["logprob_diff"] for r in run["mechanism"]]
    return (f"smaller on the {run['road_network']['states']} segments of central La Serena, "
            f"{run['logprob_maxent_minus_action']:.2f} nats per route against {min(lead):.2f} to {max(lead):.2f} "
            f"in the cities (the {name} run)")
