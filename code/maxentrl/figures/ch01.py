"""Figures of chapter 1: the Boltzmann density and policy, the soft maximum, and the experiment's claims.

The experiment figures take the quick run's result and, when one is
committed, the full-preset result (``full``, drawn dotted beside it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from maxentrl.figures import new_figure

__all__ = [
    "BANDIT_LEARNERS",
    "bandit_learning",
    "bandit_rates",
    "bandit_table",
    "bandit_verdicts",
    "boltzmann_densities",
    "boltzmann_policies",
    "finite_differences",
    "full_run_note",
    "full_run_rates",
    "has_current_bandit_learners",
    "logit_ascent",
    "logit_ascent_summary",
    "mirror_ascent",
    "soft_maximum_vs_temperature",
]

BANDIT_LEARNERS = (
    ("policy", "policy-based S(7), averaged"),
    ("value", "value-based S(8)–S(12), sample averages"),
    ("value_rm", "value-based, Robbins–Monro steps"),
)
"""The learners of C1.4 (result key suffix, panel title): the two learners at their 1/k rate and the contrast."""

WIDE_RATIO = 1e3
"""C1.2's contrast: temperatures at which q* varies by more than this factor over the interval are the ones
where plain ascent on the logits crawls (the chapter speaks of them separately)."""


def boltzmann_densities(x: Any, f: Any, taus: Sequence[float], densities: Sequence[Any]) -> Figure:
    """Left: the payoff ``f`` on the grid ``x``; right: ``densities[i]`` = exp(f/τ_i)/Z for each τ_i."""
    fig, (ax0, ax1) = new_figure(1, 2, figsize=(10, 3.4))
    ax0.plot(np.asarray(x), np.asarray(f), color="black")
    ax0.set(xlabel="$x$", ylabel="$f(x)$", title="payoff $f$")
    for tau, q in zip(taus, densities):
        ax1.plot(np.asarray(x), np.asarray(q), label=f"$\\tau = {tau}$")
    ax1.set(xlabel="$x$", ylabel="$q^\\star(x)$", title="Boltzmann density $\\exp(f/\\tau)/Z$")
    ax1.legend()
    fig.tight_layout()
    return fig


def boltzmann_policies(r_bar: Any, prior: Any, taus: Sequence[float], policies: Sequence[Any]) -> Figure:
    """Bars of the reference ``prior`` and of the Boltzmann policy ``policies[i]`` at each τ_i, arm by arm."""
    r_bar, prior = np.asarray(r_bar), np.asarray(prior)
    arms = np.arange(len(r_bar))
    width = 0.8 / (len(taus) + 1)
    fig, ax = new_figure(figsize=(8, 3))
    ax.bar(arms - 2 * width, prior, width, color="0.6", label="reference $\\bar\\pi$")
    for i, (tau, pi) in enumerate(zip(taus, policies)):
        ax.bar(arms + (i - 1) * width, np.asarray(pi), width, label=f"$\\pi^{{\\mathcal{{B}}}}$, $\\tau = {tau}$")
    for a in arms:
        ax.annotate(f"$\\bar r$ = {r_bar[a]:.1f}", (a, 1.02), ha="center", fontsize=8, xycoords=("data", "axes fraction"))
    ax.set(xticks=arms, xticklabels=[f"arm {a}" for a in arms], ylabel="probability", ylim=(0, 1))
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def soft_maximum_vs_temperature(x: Any, taus: Any, plain: Any, uniform: Any) -> Figure:
    """The log-sum-exp ``plain`` and the uniform-reference soft maximum ``uniform`` of ``x`` against τ, with their bounds."""
    x, taus = np.asarray(x), np.asarray(taus)
    fig, ax = new_figure(figsize=(7, 3.6))
    ax.plot(taus, np.asarray(plain), label="$\\tau\\log\\sum_a e^{x_a/\\tau}$")
    ax.plot(taus, np.asarray(uniform), label="$\\tau\\log\\frac{1}{|\\mathcal{A}|}\\sum_a e^{x_a/\\tau}$")
    ax.plot(taus, x.max() + taus * np.log(len(x)), "k:", label="$\\max_a x_a + \\tau\\log|\\mathcal{A}|$")
    ax.axhline(float(x.max()), color="k", ls="--", lw=1, label="$\\max_a x_a$")
    ax.axhline(float(x.mean()), color="0.5", ls="-.", lw=1, label="mean of $x$")
    ax.set(xscale="log", xlabel="temperature $\\tau$", ylabel="value", ylim=(-0.2, 3.0))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _plot_fd(ax: Any, res: Any, label: str, style: str) -> None:
    eps = np.array(res["c11_eps"])
    ax.loglog(eps, res["c11_forward_error_median"], style, color="C0", label=f"forward ({label})")
    ax.loglog(eps, res["c11_central_error_median"], style, color="C1", label=f"central ({label})")


def finite_differences(result: Any, full: Any | None = None) -> Figure:
    """C1.1. Left: median error of forward and central differences against ε, with slopes 1 and 2;
    right: each test function's fitted slope against its leading Taylor coefficient (quick run)."""
    fig, (ax0, ax1) = new_figure(1, 2, figsize=(10, 3.6))
    _plot_fd(ax0, result, "quick", "o-")
    if full is not None:
        _plot_fd(ax0, full, "full", "x--")
    eps = np.array(result["c11_eps"])
    ax0.loglog(eps, 0.3 * result["c11_forward_error_median"][-1] * eps / eps[-1], "k:", lw=1, label="slope 1")
    ax0.loglog(eps, 0.3 * result["c11_central_error_median"][-1] * (eps / eps[-1]) ** 2, "k-.", lw=1, label="slope 2")
    ax0.set(xlabel="step $\\varepsilon$", ylabel="median |error|", title="error of finite differences")
    ax0.legend(fontsize=8)
    ax1.semilogx(np.abs(result["c11_forward_leading_coeff"]), result["c11_forward_slopes"], "o", color="C0",
                 label="forward vs $|\\frac{1}{2}\\int F_{uu}\\eta^2|$")
    ax1.semilogx(np.abs(result["c11_central_leading_coeff"]), result["c11_central_slopes"], "s", color="C1",
                 label="central vs $|\\frac{1}{6}\\int F_{uuu}\\eta^3|$")
    for level in (1, 2):
        ax1.axhline(level, color="k", lw=0.8, ls=":")
    ax1.set(xlabel="|leading Taylor coefficient|", ylabel="fitted log-log slope", ylim=(0, 3),
            title="one point per test function (quick)")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    return fig


def mirror_ascent(result: Any, full: Any | None = None) -> Figure:
    """C1.2. One panel per temperature (q_k against exp(f/τ)/Z for the first payoff), and the largest KL against the step."""
    taus = result["c12_taus"]
    fig, axes = new_figure(1, len(taus) + 1, figsize=(13, 3.3))
    xs = np.array(result["c12_plot_x"])
    for i, tau in enumerate(taus):
        ax = axes[i]
        ax.plot(xs, result["c12_plot_q_star"][i], color="k", lw=3, alpha=0.35, label="$e^{f/\\tau}/Z$")
        ax.plot(xs, result["c12_plot_q"][i], "--", color=f"C{i}", label="ascent")
        ax.set(title=f"$\\tau = {tau}$", xlabel="$x$")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("density")
    kl = np.maximum(np.array(result["c12_kl_curve"]), 1e-18)
    for i, tau in enumerate(taus):
        axes[-1].semilogy(np.arange(1, len(kl) + 1), kl[:, i], color=f"C{i}", label=f"$\\tau = {tau}$ (quick)")
        if full is not None:
            klf = np.maximum(np.array(full["c12_kl_curve"]), 1e-18)
            axes[-1].semilogy(np.arange(1, len(klf) + 1), klf[:, i], ":", color=f"C{i}", label=f"$\\tau = {tau}$ (full)")
    axes[-1].axhline(1e-8, color="k", ls="--", lw=1)
    axes[-1].set(xlabel="step $k$", ylabel="largest KL$[q_k\\,\\|\\,q^\\star]$", title="convergence")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def logit_ascent(result: Any) -> Figure:
    """C1.2's contrast: the largest KL[q_k ‖ q*] of plain gradient ascent on the logits (solid) and of mirror
    ascent (dotted) against the step, on log-log axes, with a line falling like 1/k."""
    plain = np.maximum(np.array(result["c12_plain_kl_curve"]), 1e-18)
    plain_k = np.array(result["c12_plain_steps"], dtype=float)
    mirror = np.maximum(np.array(result["c12_kl_curve"]), 1e-18)
    fig, ax = new_figure(figsize=(6.2, 3.4))
    for i, tau in enumerate(result["c12_taus"]):
        ax.loglog(plain_k, plain[:, i], "-", color=f"C{i}", label=f"logits, $\\tau = {tau}$")
        ax.loglog(np.arange(1, len(mirror) + 1), mirror[:, i], ":", color=f"C{i}", label=f"mirror, $\\tau = {tau}$")
    mid = len(plain_k) // 2
    ax.loglog(plain_k, plain[mid, 0] * plain_k[mid] / plain_k, "k--", lw=0.8, label="$\\propto 1/k$")
    ax.set(xlabel="step $k$", ylabel="largest KL$[q_k\\,\\|\\,q^\\star]$", ylim=(1e-17, 10))
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def logit_ascent_summary(result: Any) -> dict[str, Any]:
    """The numbers C1.2's contrast quotes: at the temperatures where q* varies by more than
    :data:`WIDE_RATIO` (``wide_taus``, ``ratio``: the smallest such variation), the final largest KL of plain
    ascent on the logits (``kl_lo``, ``kl_hi``) and the fitted tail slopes (``slope_lo``, ``slope_hi``), after
    ``steps`` steps, ``times`` as many as the ``mirror_steps`` mirror ascent needed to pass 1e-8; ``narrow``: a sentence on the other temperatures (empty when there are none). A run
    without such temperatures is summarized over all of them."""
    plain = np.maximum(np.array(result["c12_plain_kl_curve"]), 1e-18)
    qmax, qmin = np.array(result["c12_q_star_max"]), np.array(result["c12_q_star_min"])
    slopes = np.array(result["c12_plain_tail_slopes"])
    taus = list(result["c12_taus"])
    wide = qmax / qmin > WIDE_RATIO
    if not wide.any():  # a run without such temperatures: speak of all of them
        wide = np.ones_like(wide)
    narrow = [t for t, w in zip(taus, wide) if not w]
    reached = float(plain[-1, ~wide].max()) if narrow else float("nan")
    # a divergence below 1e-12 is float64 rounding, whose last digits differ from process to process
    reached_text = "rounding error (below 1e-12)" if reached < 1e-12 else f"{reached:.0e}"
    narrow_text = (f"At τ = {', '.join(str(t) for t in narrow)}, where q* varies by a factor of only "
                   f"{float((qmax / qmin)[~wide].max()):.0f}, it converges geometrically too, to "
                   f"{reached_text}.") if narrow else ""
    mirror = np.array(result["c12_kl_curve"]).max(-1)
    mirror_steps = int(np.argmax(mirror < 1e-8)) + 1 if (mirror < 1e-8).any() else None
    return {
        "steps": int(result["c12_plain_steps"][-1]),
        "mirror_steps": mirror_steps,
        "times": result["c12_plain_steps"][-1] / mirror_steps if mirror_steps else float("nan"),
        "kl_lo": float(plain[-1, wide].min()),
        "kl_hi": float(plain[-1, wide].max()),
        "slope_lo": float(slopes[wide].min()),
        "slope_hi": float(slopes[wide].max()),
        "wide_taus": ", ".join(str(t) for t, w in zip(taus, wide) if w),
        "ratio": float((qmax / qmin)[wide].min()),
        "narrow": narrow_text,
    }


def has_current_bandit_learners(res: Any | None) -> bool:
    """Whether a result holds C1.4 curves of every learner in :data:`BANDIT_LEARNERS` (older full runs lack some)."""
    return res is not None and all(f"c14_kl_{name}" in res.results for name, _ in BANDIT_LEARNERS)


def _plot_bandit(ax: Any, res: Any, learner: str, style: str, label: str | None, lw: float = 1.5) -> None:
    steps = np.maximum(np.array(res["c14_steps"]), 0.8)
    curve = np.array(res[f"c14_kl_{learner}"])
    for i, tau in enumerate(res["c14_taus"]):
        ax.loglog(steps, curve[:, i], style, color=f"C{i}", lw=lw,
                  label=None if label is None else f"$\\tau = {tau}$ ({label})")


def bandit_learning(result: Any, full: Any | None = None) -> Figure:
    """C1.4. Mean KL[π_k ‖ π^B] against the step, one panel per learner of :data:`BANDIT_LEARNERS`, with the
    line c/k of a sample mean per temperature (dashed). ``full`` is drawn dotted when it has every learner. The
    policy-based panel adds, dash-dotted, the same learner on the exact gradient where the result has it."""
    full = full if has_current_bandit_learners(full) else None
    fig, axes = new_figure(1, len(BANDIT_LEARNERS), figsize=(13, 3.8), sharey=True)
    ks = np.array(result["c14_steps"][1:], dtype=float)
    for ax, (learner, title) in zip(axes, BANDIT_LEARNERS):
        _plot_bandit(ax, result, learner, "-", "quick")
        if full is not None:
            _plot_bandit(ax, full, learner, ":", "full")
        if learner == "policy" and "c14_kl_policy_expected" in getattr(result, "results", result):
            _plot_bandit(ax, result, "policy_expected", "-.", None, lw=1.0)
            ax.loglog([], [], "-.", color="0.4", lw=1.0, label="exact gradient (quick)")
        for i, c in enumerate(result["c14_kl_constant"]):
            ax.loglog(ks, c / ks, "--", color=f"C{i}", lw=0.8)
        ax.set(xlabel="step $k$ (step 0 drawn at 0.8)", title=title, ylim=(1e-6, 10))
        ax.legend(fontsize=7)
    axes[0].set_ylabel("mean KL$[\\pi_k\\,\\|\\,\\pi^{\\mathcal{B}}]$")
    fig.tight_layout()
    return fig


def bandit_rates(result: Any) -> dict[str, Any]:
    """The numbers C1.4 quotes: ``worst`` (largest final KL) and ``drop`` (smallest factor by which the KL
    fell) over the two learners; per learner of :data:`BANDIT_LEARNERS` the tail slopes and final k·KL/c at
    each temperature as text (``<learner>_slopes``, ``<learner>_ratios``); and ``taus``. (The Robbins–Monro
    contrast is a verdict: :func:`bandit_verdicts`.)"""
    table = result["c14_table"]
    rows = {(r["learner"], r["tau"]): r for r in table}
    taus = list(result["c14_taus"])
    learners = [r for r in table if r["learner"] in ("policy", "value")]
    out: dict[str, Any] = {
        "worst": max(r["final_kl"] for r in learners),
        "drop": min(r["initial_kl"] / r["final_kl"] for r in learners),
        "taus": ", ".join(str(t) for t in taus),
    }
    for name, _ in BANDIT_LEARNERS:
        out[f"{name}_slopes"], out[f"{name}_ratios"] = _learner_rates(rows, name, taus)
    return out


def _learner_rates(rows: dict, name: str, taus: list[float]) -> tuple[str, str]:
    """One learner's tail slopes and final k·KL/c at each temperature, as text."""
    return (", ".join(f"{rows[(name, t)]['tail_slope']:.2f}" for t in taus),
            ", ".join(f"{rows[(name, t)]['k_kl_over_constant']:.2f}" for t in taus))


ON_LINE_SLOPE = 0.15
"""C1.4: a learner is "on the line c/k" at a temperature when its tail slope is within this of −1 ..."""

ON_LINE_RATIO = (0.8, 1.3)
"""... and its final k·KL/c lies in this range."""


def _taus_text(taus: Sequence[float]) -> str:
    return ", ".join(str(t) for t in taus)


def _rate_groups(result: Any) -> tuple[list[float], list[float]]:
    """C1.4's temperatures at which the value-based learner with sample averages is on the line c/k (tail slope
    within :data:`ON_LINE_SLOPE` of −1 and k·KL/c in :data:`ON_LINE_RATIO`), and those at which the averaged
    policy-based learner falls like 1/k (tail slope at most −1 + :data:`ON_LINE_SLOPE`)."""
    rows = {(r["learner"], r["tau"]): r for r in result["c14_table"]}
    lo, hi = ON_LINE_RATIO
    on = [t for t in result["c14_taus"] if abs(rows[("value", t)]["tail_slope"] + 1) <= ON_LINE_SLOPE
          and lo <= rows[("value", t)]["k_kl_over_constant"] <= hi]
    steep = [t for t in result["c14_taus"] if rows[("policy", t)]["tail_slope"] <= -1 + ON_LINE_SLOPE]
    return on, steep


def under_tried_sentence(result: Any, taus: list[float]) -> str:
    """Where the sample-average learner's excess divergence sits at the lowest of ``taus``: the bandits with an
    arm tried less than ``below`` times as often as π^B would try it (``c14_under_tried``; empty for runs that
    predate it)."""
    try:
        stored = result["c14_under_tried"]
    except KeyError:
        stored = []
    rows = {r["tau"]: r for r in stored if r.get("k_kl_over_constant_rest") is not None}
    t = min(taus)
    if t not in rows or rows[t]["k_kl_over_constant_under_tried"] is None:
        return ""
    r = rows[t]
    return (f" The excess is not spread evenly: at τ = {t}, {r['fraction']:.0%} of the bandits have an arm that was "
            f"tried less than {r['below']:g} times as often as π^B would try it, and they carry {r['kl_share']:.0%} of the "
            f"divergence (k KL/c = {r['k_kl_over_constant_under_tried']:.2f} for them, "
            f"{r['k_kl_over_constant_rest']:.2f} for the others). On-policy sampling explains it: an arm whose first "
            "rewards came out low by δ gets e^(−δ/τ) times its share under π^B, so at a low temperature it is rarely "
            "tried again and its estimate is slow to recover; the constant c assumes every arm is tried as π^B "
            "would try it.")


def bandit_verdicts(result: Any) -> dict[str, str]:
    """The sentences of C1.4 that judge the rates, computed from the run: ``value`` (where the value-based
    learner with sample averages is on the line c/k and where it is not yet), ``policy`` (where the averaged
    policy-based learner falls like 1/k, and the range of its k·KL/c) and ``rm`` (the Robbins–Monro contrast
    at the lowest temperature)."""
    rows = {(r["learner"], r["tau"]): r for r in result["c14_table"]}
    taus = list(result["c14_taus"])
    lo, hi = ON_LINE_RATIO
    on, steep = _rate_groups(result)
    off = [t for t in taus if t not in on]
    if on:
        value = (f"The value-based learner with sample averages lies on the predicted line at τ = {_taus_text(on)} "
                 f"(slope within {ON_LINE_SLOPE} of −1, k KL/c between {lo} and {hi})")
    else:
        value = "The value-based learner with sample averages is not yet on the predicted line at any temperature"
    if off:
        value += f"; at τ = {_taus_text(off)} it is not yet there." + under_tried_sentence(result, off)
    else:
        value += "."
    ratios = [rows[("policy", t)]["k_kl_over_constant"] for t in taus]
    policy = ("The averaged policy-based learner falls like 1/k at τ = " + _taus_text(steep)
              if steep else "The averaged policy-based learner falls more slowly than 1/k at every temperature")
    slower = [t for t in taus if t not in steep]
    if steep and slower:
        policy += f" and more slowly at τ = {_taus_text(slower)}"
    policy += f", with k KL/c from {min(ratios):.1f} to {max(ratios):.1f}."
    if all(("policy_expected", t) in rows for t in taus):
        exact, sampled = rows[("policy_expected", min(taus))], rows[("policy", min(taus))]
        policy += (" Run on the exact gradient instead (dash-dotted), the same learner has no noise, so its divergence "
                   "is what its start leaves after k steps: at the last step it is "
                   + _twin_shares(rows, taus) + f" of the sampled learner's at τ = {_taus_text(taus)}, "
                   f"and at τ = {min(taus)} it falls with a tail slope of {exact['tail_slope']:.2f} (the sampled learner: "
                   f"{sampled['tail_slope']:.2f}). Each component of the gradient carries its arm's probability, so an "
                   "arm that π^B makes rare moves slowly, the more so the lower the temperature, and the average of "
                   "the last half to three quarters of the iterates still holds part of the start.")
    policy += (" What noise adds to k KL/c has two sources: that window of averaged iterates, which alone multiplies "
               "k KL by 4/3 to 2, and the gradient estimate, which carries the spread of the rewards around the "
               "baseline as well as their noise.")
    low = min(taus)
    rm, sa = rows[("value_rm", low)], rows[("value", low)]
    if rm["final_kl"] > sa["final_kl"]:
        rm_text = (f"The Robbins–Monro schedule is what held the value-based learner back: at τ = {low} it ends at "
                   f"{rm['final_kl']:.1e}, against {sa['final_kl']:.1e} with sample averages from the same start, "
                   f"with a tail slope of {rm['tail_slope']:.2f} against {sa['tail_slope']:.2f}.")
    else:
        rm_text = (f"At τ = {low} the Robbins–Monro schedule ends at {rm['final_kl']:.1e}, no worse than sample "
                   f"averages ({sa['final_kl']:.1e}) in this run.")
    return {"value": value, "policy": policy, "rm": rm_text}


def _twin_shares(rows: dict, taus: list[float]) -> str:
    """The exact-gradient learner's final KL as a share of the sampled policy-based learner's, per temperature
    (to one decimal below 1%, so that a small share does not read as none)."""
    shares = [rows[("policy_expected", t)]["final_kl"] / rows[("policy", t)]["final_kl"] for t in taus]
    return ", ".join(f"{x:.0%}" if x >= 0.01 else f"{x:.1%}" for x in shares)


def full_run_note(full: Any | None) -> str:
    """The sentence on the committed full run of chapter 1 (batch size and divergence of C1.2, bandits of C1.4)."""
    if full is None:
        return "No full-preset result is committed in this checkout, so only the quick run is shown."
    shown = (" (dotted curves below)." if has_current_bandit_learners(full) else
             ", with the learners' earlier step schedules, so its bandit curves are not shown beside the learners below.")
    return (f"The full preset ran {full['c12_batch_points']:,} grid values in one batch and reached a largest divergence "
            f"of {max(full['c12_final_kl']):.1e}; its bandit run used {full['c14_bandits']:,} bandits per temperature"
            + shown)


def full_run_rates(full: Any | None) -> dict[str, str]:
    """Sentences on the rates of the committed full run, for the text after the quick run's: ``c12`` (plain
    ascent on the logits against mirror ascent) and ``c14`` (each learner's tail slopes and final k·KL/c). A
    run made before this page's learners (or none) gets a sentence saying so instead."""
    if full is None:
        missing = "No full-preset result is committed in this checkout."
        return {"c12": missing, "c14": missing}
    out: dict[str, str] = {}
    if "c12_plain_kl_curve" in full.results:
        plain = logit_ascent_summary(full)
        below = plain["mirror_steps"]
        out["c12"] = (f"The full preset ({full['c12_grid_points']:,} grid points per density) repeats this: mirror "
                      + (f"ascent passes 1e-8 after {below} steps, while " if below else "ascent, while ")
                      + f"after {plain['steps']:,} steps plain ascent on the logits is at {plain['kl_lo']:.1e} to "
                      f"{plain['kl_hi']:.1e} at τ = {plain['wide_taus']}, with tail slopes {plain['slope_lo']:.2f} "
                      f"to {plain['slope_hi']:.2f}.")
    else:
        out["c12"] = "The committed full run predates this contrast, so it has no curves of plain ascent."
    if has_current_bandit_learners(full):
        rates = bandit_rates(full)
        parts = [f"{_LEARNER_NAMES[name]}: slopes {rates[f'{name}_slopes']}, k KL/c = {rates[f'{name}_ratios']}"
                 for name, _ in BANDIT_LEARNERS]
        on, steep = _rate_groups(full)
        out["c14"] = (f"The full preset runs {full['c14_bandits']:,} bandits per temperature for "
                      f"{full['c14_steps'][-1]:,} steps (dotted in the figure); at τ = {rates['taus']} its last "
                      "decade gives " + "; ".join(parts) + _twin_rates(full) + ". By the same tests, the value-based "
                      "learner with "
                      "sample averages is on the line c/k at "
                      + (f"τ = {_taus_text(on)}" if on else "no temperature")
                      + ", and the averaged policy-based learner falls like 1/k at "
                      + (f"τ = {_taus_text(steep)}" if steep else "no temperature") + "."
                      + _ratio_trend(full, [t for t in full["c14_taus"] if t not in on])
                      + ("" if "c14_kl_policy_expected" in full.results else
                         " That run predates the policy-based learner on the exact gradient."))
    else:
        out["c14"] = ("The committed full run used the learners' earlier step schedules, so its rates are not "
                      "those of this page's learners.")
    return out


def _twin_rates(res: Any) -> str:
    """The exact-gradient policy-based learner's slopes, k·KL/c and final share of the sampled learner's KL, as a
    clause of the full run's C1.4 sentence ("" for a run without it)."""
    rows = {(r["learner"], r["tau"]): r for r in res["c14_table"]}
    taus = list(res["c14_taus"])
    if not all(("policy_expected", t) in rows for t in taus):
        return ""
    slopes, ratios = _learner_rates(rows, "policy_expected", taus)
    return (f"; {_LEARNER_NAMES['policy_expected']}: slopes {slopes}, k KL/c = {ratios}, a final divergence "
            f"{_twin_shares(rows, taus)} of the sampled learner's")


def _ratio_trend(res: Any, taus: list[float]) -> str:
    """How k·KL/c of the sample-average learner moved over the last decade of steps at the lowest of ``taus``."""
    if not taus:
        return ""
    steps = np.array(res["c14_steps"], dtype=float)
    curve = np.array(res["c14_kl_value"])
    i = list(res["c14_taus"]).index(min(taus))
    c = res["c14_kl_constant"][i]
    a = int(np.searchsorted(steps, steps[-1] / 10))
    first, last = steps[a] * curve[a, i] / c, steps[-1] * curve[-1, i] / c
    trend = "still rises" if last > first else "falls"
    return (f" At τ = {min(taus)} the value-based learner's k KL/c {trend} over that decade, from {first:.2f} at "
            f"k = {steps[a]:,.0f} to {last:.2f} at k = {steps[-1]:,.0f}.")


_LEARNER_NAMES = {"policy": "policy-based, averaged", "value": "value-based, sample averages",
                  "value_rm": "value-based, Robbins-Monro", "policy_expected": "policy-based, exact gradient"}


def bandit_table(result: Any) -> str:
    """C1.4 as text: the divergence at the start and at the end, its tail slope and the final k·KL/c, per
    learner and temperature (older results without the slopes give the first two only)."""
    lines = []
    for row in result["c14_table"]:
        line = (f"{_LEARNER_NAMES.get(row['learner'], row['learner']):>30}, tau = {row['tau']:<4}: "
                f"KL {row['initial_kl']:.3f} -> {row['final_kl']:.2e}")
        if "tail_slope" in row:
            line += f", tail slope {row['tail_slope']:+.2f}, k KL / c = {row['k_kl_over_constant']:.2f}"
        lines.append(line)
    return "\n".join(lines)
