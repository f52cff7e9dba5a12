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
    "cost_sentences",
    "destination_prediction",
    "enumeration_table",
    "feature_matching",
    "label_bias",
    "learned_costs",
    "learned_costs_table",
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


def road_network(net: Any, feature_names: Sequence[str], *, title: str = "© OpenStreetMap contributors (ODbL)") -> Figure:
    """The road network drawn segment by segment, coloured by road class (the first five features)."""
    fig, ax = new_figure(figsize=(6, 4.6))
    classes = net.mdp.state_features[:, :5].argmax(1).tolist()
    for (x0, y0), (x1, y1), rc in zip(net.start_lonlat, net.end_lonlat, classes):
        ax.plot([x0, x1], [y0, y1], color=plt.cm.viridis(rc / 4), lw=1.2)
    for rc, name in enumerate(feature_names[:5]):
        ax.plot([], [], color=plt.cm.viridis(rc / 4), label=name.split(":")[1])
    lat = float(np.mean([y for _, y in net.start_lonlat]))
    ax.set_aspect(1 / math.cos(math.radians(lat)))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.grid(False)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1), title="road class", title_fontsize=7)
    ax.set_title(title)
    fig.tight_layout()
    return fig


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


def _two_se_verdict(diff: float, se: float, better: str, worse: str) -> str:
    if diff > 2 * se:
        return better
    if diff < -2 * se:
        return worse
    return "within two standard errors"


def table1_sentences(result: Mapping[str, Any]) -> dict[str, str]:
    """The sentences of C6.4 that depend on the quick run: ``ranks``, ``pair_verdict`` and ``lp_verdict``."""
    t1 = {row["model"]: row for row in result["table1"]}
    pv = result["paired_vs_maxent"]
    clear = [n for n in pv if pv[n]["mean_diff_pct"] > 2 * pv[n]["se_pct"]]
    unclear = [n for n in pv if n not in clear]
    verdict = "MaxEnt's advantage is more than two standard errors against " + (", ".join(clear) if clear else "none of the baselines")
    if unclear:
        verdict += "; against " + ", ".join(unclear) + " it is within two standard errors, i.e. not established by this run"
    lp_d, lp_se = result["logprob_maxent_minus_action"], result["logprob_maxent_minus_action_se"]
    lp = _two_se_verdict(
        lp_d, lp_se,
        "MaxEnt assigns the withheld routes higher probability, beyond two standard errors",
        "the action model assigns them higher probability, beyond two standard errors",
    )
    if lp == "within two standard errors":
        lp = "the difference is within two standard errors, so neither model is shown to be better"

    def rank(metric: str) -> int:
        order = sorted(t1, key=lambda n: -t1[n][metric])
        return order.index("MaxEnt") + 1

    ordinal = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}
    worst = min(t1, key=lambda n: t1[n]["matching_pct"])
    ranks = (f"MaxEnt comes {ordinal[rank('matching_pct')]} of five on matching, "
             f"{ordinal[rank('match90_pct')]} on 90% match and "
             f"{'first' if t1['MaxEnt']['log_prob'] > t1['Action']['log_prob'] else 'second'} of the two models "
             f"with a log probability; the lowest matching is the {worst} model's.")
    return {"ranks": ranks, "pair_verdict": verdict, "lp_verdict": lp}


def table1_full_verdict(full: Mapping[str, Any] | None) -> str:
    """The paragraph of C6.4 on the full preset's Table 1 (or that none is committed)."""
    if full is None:
        return "No full-preset result is committed in this checkout, so only the quick run is reported."
    ft = {row["model"]: row for row in full["table1"]}
    fd, fse = full["logprob_maxent_minus_action"], full["logprob_maxent_minus_action_se"]
    fpv = full["paired_vs_maxent"]
    worst_gap = max(abs(fpv[n]["mean_diff_pct"]) / fpv[n]["se_pct"] for n in fpv if n != "Time-based")
    learned = [n for n in ft if n not in ("MaxEnt", "Time-based")]
    lp = _two_se_verdict(fd, fse, "a significant advantage for MaxEnt, as in the paper.",
                         "a significant advantage for the action model.")
    if lp == "within two standard errors":
        lp = "within two standard errors."
    return (f"The full preset ({full['road_train']} training and {full['road_test']} test trips, printed above) "
            f"gives matching of {ft['MaxEnt']['matching_pct']:.2f}% for MaxEnt against "
            f"{min(ft[n]['matching_pct'] for n in learned):.2f}%–{max(ft[n]['matching_pct'] for n in learned):.2f}% "
            f"for the learned baselines (every paired difference within {worst_gap:.1f} standard errors) and "
            f"{ft['Time-based']['matching_pct']:.2f}% for the time-based route; on log probability MaxEnt minus "
            f"the action model is {fd:.3f} ± {fse:.3f} nats per route, " + lp)


def table1_full_lines(full: Mapping[str, Any]) -> str:
    """The full preset's Table 1 as text."""
    lines = []
    for row in full["table1"]:
        lp = "   N/A" if row["log_prob"] is None else f"{row['log_prob']:6.2f}"
        lines.append(f"{row['model']:15s} matching {row['matching_pct']:6.2f}%  "
                     f"90% match {row['match90_pct']:6.2f}%  log prob {lp}")
    return "\n".join(lines)


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
