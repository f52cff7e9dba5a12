"""Chapter 1's experiment: functional derivatives and the Boltzmann distribution.

Four claims (see the book's chapter 1):

* C1.1 finite-difference directional derivatives of the entropy-regularized
  functional J[q] = ∫ q f − τ ∫ q log q along random test functions η match the
  first variation ∫ (δJ/δq) η, with error O(ε) (forward) and O(ε²) (central);
* C1.2 mirror gradient ascent on a discretized density converges to the
  Boltzmann density exp(f/τ)/Z (KL below 1e-8) for several τ, and the maximum
  equals τ log ∫ exp(f/τ); plain gradient ascent on the logits, the contrast,
  crawls where q* is small;
* C1.3 Schulman et al. (2017), eq. 6 holds to 1e-12 in float64 for random
  π, π̄, r̄ and τ;
* C1.4 on batched entropy-regularized bandits, the policy-based learner (eq. 7)
  and the value-based learner (eqs. 8–12) both converge to π^B (eq. 2), at the
  1/k rate of a sample mean once their steps allow it (per-arm sample averages
  for the value-based learner, Polyak–Ruppert averaging for the policy-based
  one; the Robbins–Monro schedule α₀/(1 + k/k₀) as the contrast). The
  policy-based learner also runs on the exact gradient: with no noise, its
  divergence is the part of the sampled learner's that its start leaves.

Everything is float64. ``quick`` runs in seconds on a CPU; ``full`` scales
C1.2 to millions of grid points and C1.4 to tens of thousands of bandits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from maxentrl.bandit import (
    BanditBatch,
    asymptotic_kl_constant,
    boltzmann_optimum,
    make_bandits,
    s6_sides,
    train_policy_based,
    train_value_based,
    under_tried,
)
from maxentrl.boltzmann import boltzmann_policy, kl_divergence
from maxentrl.errors import ConfigError
from maxentrl.experiments.config import ExperimentConfig, bounded
from maxentrl.experiments.harness import Experiment, RunContext, register
from maxentrl.functional import (
    boltzmann_density,
    directional_derivative_exact,
    directional_derivative_fd,
    entropy_regularized_derivative,
    entropy_regularized_objective,
    functional_derivative,
    integrate,
    kl_density,
    midpoint_grid,
    mirror_ascent,
    random_fourier_functions,
    soft_maximum_integral,
    softmax_gradient_ascent,
)

DTYPE = torch.float64
MAX_BATCH_VALUES = 1 << 28
"""The most float64 values one batched tensor of the experiment may hold (2 GiB)."""


@dataclass(frozen=True)
class Ch01Config(ExperimentConfig):
    """Configuration of chapter 1's experiment (all computations in float64 on [0, 1])."""

    fd_test_functions: int = bounded(32, 1, 100_000)
    """C1.1: number of random (q, f, η) triples, i.e. of test functions η."""

    fd_grid_points: int = bounded(512, 2, 10**7)
    """C1.1: grid points of the discretization of [0, 1]."""

    fd_tau: float = bounded(0.5, 1e-3, 1e3)
    """C1.1: temperature τ of the functional J[q] = ∫ q f − τ ∫ q log q."""

    fd_eps_min: float = bounded(1e-4, 1e-12, 0.2)
    """C1.1: smallest finite-difference step ε."""

    fd_eps_max: float = bounded(1e-1, 1e-12, 0.2)
    """C1.1: largest finite-difference step ε."""

    fd_eps_count: int = bounded(13, 3, 1000)
    """C1.1: number of steps ε, log-spaced between the two above."""

    grid_taus: tuple[float, ...] = bounded((0.1, 0.3, 1.0), 1e-3, 1e3, max_len=20)
    """C1.2: temperatures τ of the objective whose maximizer gradient ascent seeks."""

    grid_points: int = bounded(4096, 2, 1 << 24)
    """C1.2: grid points of the discretized density q."""

    grid_functions: int = bounded(4, 1, 1024)
    """C1.2: random reward landscapes f per temperature (batched with the temperatures)."""

    ascent_steps: int = bounded(120, 1, 100_000)
    """C1.2: mirror-ascent steps."""

    ascent_rate: float = bounded(0.2, 0.0, 1.0, open_low=True, open_high=True)
    """C1.2: ατ, the step size times the temperature; log q − log q* contracts by 1 − ατ per step."""

    plain_steps: int = bounded(2000, 10, 10**7)
    """C1.2 contrast: steps of plain gradient ascent on the logits of q (step 1/(τ max q*), the
    largest that is safely stable), whose rate is compared with mirror ascent's."""

    s6_samples: int = bounded(20_000, 1, 10**9)
    """C1.3: random (π, π̄, r̄, τ) quadruples."""

    s6_arms: int = bounded(8, 2, 1024)
    """C1.3: actions per quadruple."""

    bandit_taus: tuple[float, ...] = bounded((0.25, 0.5, 1.0), 1e-3, 1e3, max_len=20)
    """C1.4: temperatures τ of the entropy-regularized bandits."""

    bandits: int = bounded(256, 1, 1 << 20)
    """C1.4: bandits per temperature (all temperatures run as one batch)."""

    arms: int = bounded(5, 2, 1024)
    """C1.4: arms per bandit."""

    noise_std: float = bounded(1.0, 0.0, 1e3, open_low=True)
    """C1.4: standard deviation of the Gaussian reward noise; r̄ ∼ N(0, 1) per arm."""

    bandit_steps: int = bounded(3000, 1, 10**7)
    """C1.4: learning steps of each learner."""

    samples_per_step: int = bounded(16, 2, 4096)
    """C1.4: actions sampled per bandit and step."""

    lr_policy: float = bounded(2.0, 0.0, 1e3, open_low=True)
    """C1.4: initial step size α₀ of the policy-based learner (eq. 7)."""

    policy_power: float = bounded(0.6, 0.5, 1.0)
    """C1.4: the policy-based learner's steps decay as α₀ / (1 + k / k₀)^p with this p, and the policy
    reported is that of the Polyak–Ruppert average of θ (from the last power of two but one: between the last half
    and the last three quarters of the iterates)."""

    lr_value: float = bounded(1.0, 0.0, 1e3, open_low=True)
    """C1.4: step size α₀ of the value-based learner's contrast run with the Robbins–Monro schedule
    α₀ / (1 + k / k₀) per sample (the learner itself takes per-arm sample-average steps 1/n_a)."""

    decay_steps: float = bounded(50.0, 0.0, 1e9, open_low=True)
    """C1.4: k₀ of both step schedules above."""

    log_points: int = bounded(40, 2, 10_000)
    """C1.4: number of (log-spaced) steps at which the KL to π^B is recorded."""

    cpu_threads: int = bounded(1, 0, 1024)
    """Torch threads while running on a CPU (0: leave torch's default; the harness applies it). The quick preset's tensors are
    small, and a second thread costs more than it saves, badly so on a busy machine."""

    def check(self) -> None:
        if not self.fd_eps_min < self.fd_eps_max:
            raise ConfigError(f"need fd_eps_min < fd_eps_max, got {self.fd_eps_min}, {self.fd_eps_max}")
        # the batches live in memory at once (float64): refuse sizes that cannot fit before starting
        sizes = {
            "fd_test_functions × fd_grid_points × fd_eps_count": self.fd_test_functions * self.fd_grid_points
            * self.fd_eps_count,
            "len(grid_taus) × grid_functions × grid_points": len(self.grid_taus) * self.grid_functions * self.grid_points,
            "len(bandit_taus) × bandits × arms × samples_per_step": len(self.bandit_taus) * self.bandits * self.arms
            * self.samples_per_step,
        }
        for what, n in sizes.items():
            if n > MAX_BATCH_VALUES:
                raise ConfigError(f"{what} = {n:,} values in one batch exceeds the limit of {MAX_BATCH_VALUES:,}")


QUICK = Ch01Config()

FULL = Ch01Config(
    fd_test_functions=1024,
    fd_grid_points=4096,
    grid_points=1 << 20,
    grid_functions=8,
    s6_samples=2_000_000,
    bandits=16_384,
    bandit_steps=20_000,
    log_points=60,
    cpu_threads=0,
)


def _slope(log_x: torch.Tensor, log_y: torch.Tensor) -> torch.Tensor:
    """Least-squares slope of log_y against log_x along the first axis; ``log_y`` is ``(E, B)``, returns ``(B,)``."""
    xc = log_x - log_x.mean()
    yc = log_y - log_y.mean(0, keepdim=True)
    return (xc.unsqueeze(-1) * yc).sum(0) / (xc * xc).sum()


def finite_difference_check(config: Ch01Config, ctx: RunContext) -> dict:
    """C1.1: finite differences of J along random η against ∫ (δJ/δq) η."""
    g = ctx.generator(1)
    x, w = midpoint_grid(0.0, 1.0, config.fd_grid_points, dtype=DTYPE, device=ctx.device)
    B, tau = config.fd_test_functions, config.fd_tau
    log_q = 0.5 * random_fourier_functions(B, x, generator=g)
    q = torch.exp(log_q - torch.logsumexp(log_q + torch.log(w), -1, keepdim=True))  # a density, bounded away from 0
    f = random_fourier_functions(B, x, generator=g)
    eta = random_fourier_functions(B, x, generator=g)
    eta = eta / eta.abs().amax(-1, keepdim=True)  # max |η| = 1
    # per test function, shrink η where needed so that q ± εη ≥ q/2 > 0 for every ε used
    eta = eta * (q.amin(-1, keepdim=True) / (2 * config.fd_eps_max)).clamp_max(1.0)

    def J(p: torch.Tensor) -> torch.Tensor:
        return entropy_regularized_objective(p, f, tau, w)

    dJ = entropy_regularized_derivative(q, f, tau)
    dJ_autograd = functional_derivative(lambda p, _x: p * f - tau * torch.special.xlogy(p, p), q, x)
    exact = directional_derivative_exact(dJ, eta, w)  # (B,)
    eps = torch.logspace(
        math.log10(config.fd_eps_min), math.log10(config.fd_eps_max), config.fd_eps_count, dtype=DTYPE, device=ctx.device
    )
    forward = directional_derivative_fd(J, q, eta, eps.unsqueeze(-1), scheme="forward")  # (E, B)
    central = directional_derivative_fd(J, q, eta, eps.unsqueeze(-1), scheme="central")
    err_f = (forward - exact).abs()
    err_c = (central - exact).abs()
    slopes_f = _slope(eps.log(), err_f.log())
    slopes_c = _slope(eps.log(), err_c.log())
    med_f, med_c = err_f.median(-1).values, err_c.median(-1).values
    # Leading Taylor terms: forward error ≈ ε (1/2) ∫ F_uu η², central error ≈ ε² (1/6) ∫ F_uuu η³,
    # with F(u) = u f − τ u log u, F_uu = −τ/u, F_uuu = τ/u².
    lead_f = integrate(-0.5 * tau * eta**2 / q, w)
    lead_c = integrate(tau * eta**3 / q**2, w) / 6
    return {
        "c11_eps": eps.tolist(),
        "c11_forward_error_median": err_f.median(-1).values.tolist(),
        "c11_central_error_median": err_c.median(-1).values.tolist(),
        "c11_forward_error_examples": err_f[:, :5].T.tolist(),
        "c11_central_error_examples": err_c[:, :5].T.tolist(),
        "c11_forward_slopes": slopes_f.tolist(),
        "c11_central_slopes": slopes_c.tolist(),
        "c11_forward_median_slope": float(_slope(eps.log(), med_f.log().unsqueeze(-1))),
        "c11_central_median_slope": float(_slope(eps.log(), med_c.log().unsqueeze(-1))),
        "c11_forward_leading_coeff": lead_f.tolist(),
        "c11_central_leading_coeff": lead_c.tolist(),
        "c11_forward_ratio_smallest_eps": (forward[0] - exact).div(eps[0] * lead_f).tolist(),
        "c11_autograd_max_abs_diff": float((dJ - dJ_autograd).abs().max()),
        "c11_exact_median_abs": float(exact.abs().median()),
    }


PLAIN_CHUNK = 50
"""C1.2: plain gradient ascent runs in chunks of this many steps, with a checkpoint opportunity after each."""


def gradient_ascent_check(config: Ch01Config, ctx: RunContext) -> dict:
    """C1.2: mirror ascent on a discretized density reaches exp(f/τ)/Z and the value τ log ∫ exp(f/τ)."""
    g = ctx.generator(2)
    x, w = midpoint_grid(0.0, 1.0, config.grid_points, dtype=DTYPE, device=ctx.device)
    T, F = len(config.grid_taus), config.grid_functions
    f = random_fourier_functions(F, x, generator=g).repeat(T, 1)  # (T·F, n): the same landscapes for every τ
    tau = torch.tensor(config.grid_taus, dtype=DTYPE, device=ctx.device).repeat_interleave(F)  # (T·F,)
    q_star = boltzmann_density(f, tau, w)
    kl_curve: list[list[float]] = []

    def record(k: int, log_q: torch.Tensor) -> None:
        kl = kl_density(log_q.exp(), q_star, w).view(T, F).amax(-1)
        kl_curve.append(kl.tolist())

    log_q = mirror_ascent(f, tau, w, steps=config.ascent_steps, step_size=config.ascent_rate / tau, record=record)
    # the contrast: plain gradient ascent on the logits, at the largest safely stable step 1/(τ max q*)
    plain_curve: list[list[float]] = []
    log_steps = set(torch.logspace(0, math.log10(config.plain_steps), 60).round().long().tolist())

    def record_plain(k: int, log_q: torch.Tensor) -> None:
        if k in log_steps:
            plain_curve.append([k, *kl_density(log_q.exp(), q_star, w).view(T, F).amax(-1).tolist()])

    # in chunks that restart from log q, so that a resumed run repeats an uninterrupted one exactly
    state = ctx.restored() or {"done": 0, "log_q": None, "plain_curve": []}
    plain_curve.extend(state["plain_curve"])
    done, plain_log_q = state["done"], state["log_q"]
    bar = ctx.bar(total=config.plain_steps, desc="C1.2 plain ascent", initial=done)
    while done < config.plain_steps:
        n = min(PLAIN_CHUNK, config.plain_steps - done)
        plain_log_q = softmax_gradient_ascent(f, tau, w, steps=n, step_size=1.0 / (tau * q_star.amax(-1)),
                                              log_q0=plain_log_q, record=lambda k, lq, d=done: record_plain(d + k, lq))
        done += n
        bar.update(n)
        if done < config.plain_steps and ctx.checkpoint_due():
            ctx.checkpoint({"done": done, "log_q": plain_log_q, "plain_curve": plain_curve})
    bar.close()
    pc = torch.tensor(plain_curve, dtype=DTYPE)
    tail = pc[:, 0] >= config.plain_steps / 10
    plain_slopes = [float(_slope(pc[tail, 0].log(), pc[tail, 1 + i].clamp_min(1e-300).log().unsqueeze(-1)))
                    for i in range(T)]
    q = log_q.exp()
    kl_final = kl_density(q, q_star, w).view(T, F)
    value = entropy_regularized_objective(q, f, tau, w)
    soft_max = soft_maximum_integral(f, tau, w)
    gap = (value - soft_max).abs().view(T, F)
    stride = max(1, config.grid_points // 400)
    return {
        "c12_taus": list(config.grid_taus),
        "c12_grid_points": config.grid_points,
        "c12_batch_points": int(f.numel()),
        "c12_kl_curve": kl_curve,  # [step][tau]: max over the landscapes
        "c12_final_kl": kl_final.amax(-1).tolist(),
        "c12_plain_steps": pc[:, 0].long().tolist(),
        "c12_plain_kl_curve": pc[:, 1:].tolist(),  # [logged step][tau]: max over the landscapes
        "c12_plain_tail_slopes": plain_slopes,
        "c12_q_star_max": q_star.amax(-1).view(T, F).amax(-1).tolist(),
        "c12_q_star_min": q_star.amin(-1).view(T, F).amin(-1).tolist(),
        "c12_value_gap": gap.amax(-1).tolist(),
        "c12_soft_max": soft_max.view(T, F)[:, 0].tolist(),
        "c12_plot_x": x[::stride].tolist(),
        "c12_plot_f": f[0, ::stride].tolist(),
        "c12_plot_q": q.view(T, F, -1)[:, 0, ::stride].tolist(),
        "c12_plot_q_star": q_star.view(T, F, -1)[:, 0, ::stride].tolist(),
    }


S6_TAUS = (0.03, 30.0)
"""C1.3: temperatures are drawn log-uniformly from this range."""

S6_REWARD_SCALES = (0.1, 10.0)
"""C1.3: each r̄ is a standard normal vector times a scale drawn log-uniformly from this range."""


def _log_uniform(u: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    """Map uniform samples ``u`` in [0, 1) to log-uniform samples in ``bounds``."""
    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    return torch.exp(lo + (hi - lo) * u)


def s6_check(config: Ch01Config, ctx: RunContext) -> dict:
    """C1.3: both sides of Schulman et al. (2017), eq. 6 for random π, π̄, r̄, τ (in chunks)."""
    g = ctx.generator(3)
    A = config.s6_arms
    max_gap = max_lhs = max_s13 = 0.0
    done, chunk = 0, 100_000
    while done < config.s6_samples:
        n = min(chunk, config.s6_samples - done)
        rnd = lambda *shape: torch.rand(*shape, dtype=DTYPE, device=ctx.device, generator=g)  # noqa: E731
        pi = torch.softmax(2 * torch.randn(n, A, dtype=DTYPE, device=ctx.device, generator=g), -1)
        log_prior = torch.log_softmax(2 * torch.randn(n, A, dtype=DTYPE, device=ctx.device, generator=g), -1)
        scale = _log_uniform(rnd(n, 1), S6_REWARD_SCALES)
        r_bar = scale * torch.randn(n, A, dtype=DTYPE, device=ctx.device, generator=g)
        tau = _log_uniform(rnd(n), S6_TAUS)
        lhs, rhs = s6_sides(pi, r_bar, tau, log_prior=log_prior)
        max_gap = max(max_gap, float((lhs - rhs).abs().max()))
        max_lhs = max(max_lhs, float(lhs.abs().max()))
        # S(13): at π = π^B the KL term vanishes and η(π^B) is the soft maximum.
        lhs_b, rhs_b = s6_sides(boltzmann_optimum(r_bar, tau, log_prior=log_prior), r_bar, tau, log_prior=log_prior)
        max_s13 = max(max_s13, float((lhs_b - rhs_b).abs().max()))
        done += n
    return {
        "c13_samples": config.s6_samples,
        "c13_arms": A,
        "c13_tau_range": list(S6_TAUS),
        "c13_reward_scale_range": list(S6_REWARD_SCALES),
        "c13_max_abs_gap": max_gap,
        "c13_max_abs_value": max_lhs,
        "c13_s13_max_abs_gap": max_s13,
    }


def bandit_check(config: Ch01Config, ctx: RunContext) -> dict:
    """C1.4: the learners on one batch of bandits (all temperatures at once); KL(π_k ‖ π^B) over steps.

    Learners: ``policy`` (sampled gradient, averaged iterates), ``value`` (sample averages), ``value_rm``
    (Robbins–Monro steps) and ``policy_expected`` (``policy`` on the exact gradient, drawing nothing)."""
    T, B = len(config.bandit_taus), config.bandits
    bandits = make_bandits(
        T * B, config.arms, noise_std=config.noise_std, dtype=DTYPE, device=ctx.device, generator=ctx.generator(4)
    )
    tau = torch.tensor(config.bandit_taus, dtype=DTYPE, device=ctx.device).repeat_interleave(B)
    pi_B = boltzmann_optimum(bandits.r_bar, tau, log_prior=bandits.log_prior)
    log_steps = sorted({0, *torch.logspace(0, math.log10(config.bandit_steps), config.log_points).round().long().tolist()})
    log_set = set(log_steps)
    out: dict = {"c14_taus": list(config.bandit_taus), "c14_steps": log_steps, "c14_bandits": B}
    constants = [asymptotic_kl_constant(config.arms, config.noise_std, t, config.samples_per_step)
                 for t in config.bandit_taus]  # c of the line c/k, per temperature
    table = []
    learners = (
        ("policy", train_policy_based, 5, dict(lr=config.lr_policy, decay_steps=config.decay_steps,
                                                 power=config.policy_power, averaging=True)),
        ("value", train_value_based, 6, dict(step_rule="sample_average")),
        ("value_rm", train_value_based, 7, dict(step_rule="robbins_monro", lr=config.lr_value,
                                                  decay_steps=config.decay_steps)),
        # the policy-based learner on the exact gradient: no noise, so what is left is the memory of its start
        ("policy_expected", train_policy_based, 8, dict(lr=config.lr_policy, decay_steps=config.decay_steps,
                                                          power=config.policy_power, averaging=True,
                                                          gradient="expected")),
    )
    generators = [ctx.generator(stream) for _, _, stream, _ in learners]
    # the loop state: which learner runs, the finished learners' curves and the running learner's state
    saved = ctx.restored() or {"learner": 0, "curves": {}, "curve": [], "state": None, "under_tried": []}
    for index, ((name, train, _, options), gen) in enumerate(zip(learners, generators)):
        if index < saved["learner"]:
            continue
        resumed = index == saved["learner"] and saved["state"] is not None
        curve: list[list[float]] = list(saved["curve"]) if resumed else []
        done_steps = int(saved["state"]["k"]) if resumed else 0
        bar = ctx.bar(total=config.bandit_steps, desc=f"C1.4 {name}-based", initial=done_steps)

        def record(k: int, pi: torch.Tensor) -> None:
            if k in log_set:
                curve.append(kl_divergence(pi, pi_B).view(T, B).mean(-1).tolist())
            if k > 0:
                bar.update(1)

        final: dict = {}

        def on_step(k: int, state: dict, index: int = index) -> None:
            if k == config.bandit_steps:
                final.update(state)
            if k < config.bandit_steps and ctx.checkpoint_due():
                ctx.checkpoint({"learner": index, "curves": saved["curves"], "curve": curve, "state": state,
                                "under_tried": saved["under_tried"]})

        train(bandits, tau, steps=config.bandit_steps, samples=config.samples_per_step, generator=gen,
              record=record, state=saved["state"] if resumed else None, on_step=on_step, **options)
        bar.close()
        under = saved.get("under_tried", [])
        if name == "value" and config.bandit_steps > 0:  # where the sample-average learner's divergence sits
            under = _under_tried_rows(config, bandits, tau, pi_B, final, constants)
        saved = {"learner": index + 1, "curves": {**saved["curves"], name: curve}, "curve": [], "state": None,
                 "under_tried": under}
    for name, *_ in learners:
        curve = saved["curves"][name]
        out[f"c14_kl_{name}"] = curve  # [logged step][tau]: mean over bandits
        c = torch.tensor(curve, dtype=DTYPE)
        k = torch.tensor(log_steps, dtype=DTYPE)
        tail = k >= config.bandit_steps / 10
        for i, (t, const) in enumerate(zip(config.bandit_taus, constants)):
            table.append({"learner": name, "tau": t, "initial_kl": curve[0][i], "final_kl": curve[-1][i],
                          "tail_slope": float(_slope(k[tail].log(), c[tail, i].log().unsqueeze(-1))),
                          "k_kl_over_constant": curve[-1][i] * config.bandit_steps / const})
    out["c14_table"] = table
    out["c14_under_tried"] = saved["under_tried"]
    out["c14_kl_constant"] = constants
    return out


UNDER_TRIED_BELOW = 0.1
"""C1.4's diagnostic: an arm is under-tried when it has fewer than this fraction of the rewards π^B would give it."""


def _under_tried_rows(config: Ch01Config, bandits: BanditBatch, tau: torch.Tensor, pi_B: torch.Tensor, final: dict,
                      constants: list[float]) -> list[dict]:
    """Per temperature, after the last step of the sample-average learner: the fraction of bandits with an
    under-tried arm (:func:`maxentrl.bandit.under_tried` with ``below`` = :data:`UNDER_TRIED_BELOW`), their
    share of the summed divergence, and k·KL/c (``constants``: c per temperature) for them and for the other
    bandits."""
    T, B, K = len(config.bandit_taus), config.bandits, config.bandit_steps
    pi = boltzmann_policy(final["q"], tau, log_prior=bandits.log_prior)
    kl = kl_divergence(pi, pi_B).view(T, B)
    mask = under_tried(final["n"], pi_B, K, config.samples_per_step, below=UNDER_TRIED_BELOW).view(T, B)
    rows = []
    for i, (t, const) in enumerate(zip(config.bandit_taus, constants)):
        m, kl_t = mask[i], kl[i]
        rows.append({"tau": t, "below": UNDER_TRIED_BELOW, "fraction": float(m.double().mean()),
                     "kl_share": float(kl_t[m].sum() / kl_t.sum()),
                     "k_kl_over_constant_under_tried": float(kl_t[m].mean() * K / const) if m.any() else None,
                     "k_kl_over_constant_rest": float(kl_t[~m].mean() * K / const) if (~m).any() else None})
    return rows


STAGES = (
    ("C1.1", finite_difference_check),
    ("C1.2", gradient_ascent_check),
    ("C1.3", s6_check),
    ("C1.4", bandit_check),
)
"""The experiment's resumable stages, one per claim."""


def run(config: Ch01Config, ctx: RunContext) -> dict:
    """All four claims; returns the numbers and curves the chapter plots and the tests assert."""
    results: dict = {}
    for name, part in STAGES:
        results.update(ctx.stage(name, lambda part=part: part(config, ctx)))
    return results


EXPERIMENT = register(
    Experiment(
        name="ch01_boltzmann",
        chapter=1,
        summary="functional derivatives, the Boltzmann maximizer, identity S(6) and the entropy-regularized bandit",
        config_type=Ch01Config,
        presets={"quick": QUICK, "full": FULL},
        run=run,
        smoke={"fd_test_functions": "4", "fd_grid_points": "64", "grid_points": "256", "ascent_steps": "30",
               "s6_samples": "2000", "bandits": "8", "bandit_steps": "2000", "plain_steps": "120"},
        stage_names=tuple(name for name, _ in STAGES),  # independent: each claim draws from its own generators
    )
)
