"""Chapter 5's experiment: natural policy gradients are damped soft Q-learning (claims C5.1-C5.4).

C5.1  the least-squares problem of Schulman et al.'s eq. 66 returns the
      natural gradient F⁺g: compared with an explicit (pseudo-)inverse of the
      Fisher matrix, a closed form (tabular) and conjugate gradients with
      Fisher-vector products (network), with exact and with sampled rows;
C5.2  one damped soft-Q step (eqs. 74-78, regression solved) moves log π like
      one entropy-regularized NPG step up to O(ε²); one gradient step on the
      undamped loss (eqs. 72-73) differs at first order (fitted log-log slopes);
C5.3  learning curves on a gridworld with Monte-Carlo estimates of Q^π:
      NPG, damped soft-Q, vanilla policy gradient and undamped soft-Q, with a
      table of logits, a log-linear policy, and a small tanh network;
C5.4  exact entropy-regularized NPG on random MDPs stays under the bounds of
      Cen et al. (2021), Theorem 1, for several step sizes; at η = (1 − γ)/τ
      it is soft policy iteration, and damped soft Q-iteration with
      ε = ητ/(1 − γ) is NPG.

Everything is float64 and batched over MDPs (and seeds).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from maxentrl.damped_soft_q import damped_soft_q_iteration, damped_soft_q_step, soft_q_loss
from maxentrl.errors import ConfigError
from maxentrl.experiments.config import ExperimentConfig, bounded
from maxentrl.experiments.harness import Experiment, RunContext, register
from maxentrl.mdp import TabularMDP, gridworld, random_mdp
from maxentrl.natural_gradient import (
    fisher_matrix,
    min_norm_lstsq,
    natural_gradient_cg,
    natural_gradient_explicit,
    natural_gradient_lstsq,
    policy_gradient,
    score_weighted_sum,
    tabular_natural_gradient,
)
from maxentrl.npg import cen_bound, cen_constant, discounted_visitation, entropy_regularized_npg, soft_advantage
from maxentrl.rollout import horizon_for, q_returns, sample_state_actions
from maxentrl.soft_bellman import maxent_policy, soft_policy_evaluation, soft_policy_iteration, soft_value_iteration
from maxentrl.softmax_policy import LinearPolicy, MLPPolicy, log_policy, score, tabular_jacobian, tabular_logits

__all__ = ["Ch05Config", "run", "EXPERIMENT", "ALGORITHMS", "TASKS", "gridworld_task", "fitted_slopes"]

DTYPE = torch.float64
ALGORITHMS = ("npg", "damped", "pg", "undamped")
"""C5.3's learners: natural policy gradient, damped soft-Q, vanilla policy gradient, undamped soft-Q."""
TASKS = ("tabular", "linear", "mlp")
"""C5.3's policy classes on the gridworld."""


@dataclass(frozen=True)
class Ch05Config(ExperimentConfig):
    """Configuration of chapter 5's experiment (all computations in float64)."""

    cpu_threads: int = bounded(1, 0, 256)
    """Torch threads on the CPU (0: leave torch's default). Small batched solves run fastest on one."""

    chunk_size: int = bounded(1_000, 1, 100_000)
    """MDPs processed at once in C5.1, C5.2 and C5.4 (bounds memory)."""

    # -- C5.1 and C5.2: random MDPs with a table of logits and a small network ----------
    n_states: int = bounded(6, 2, 64)
    """S of the random MDPs of C5.1 and C5.2."""

    n_actions: int = bounded(3, 2, 16)
    """|A| of the random MDPs of C5.1 and C5.2."""

    n_features: int = bounded(4, 1, 64)
    """k, the length of the random state features the network sees (C5.1, C5.2)."""

    n_hidden: int = bounded(6, 1, 256)
    """Width of the network's tanh layer (C5.1, C5.2)."""

    tau: float = bounded(0.5, 1e-3, 1e3)
    """Temperature τ of C5.1 and C5.2."""

    gamma: float = bounded(0.9, 0.0, 0.99, open_low=True)
    """Discount of C5.1 and C5.2."""

    c51_mdps: int = bounded(200, 1, 10**7)
    """C5.1: random MDPs (each with a random policy) per parametrization."""

    c51_samples: int = bounded(32, 1, 10**6)
    """C5.1: state–action pairs in the sampled version of eq. 66."""

    c51_narrow_states: int = bounded(24, 2, 256)
    """C5.1: S of the MDPs for the under-parametrized network (fewer parameters than policy degrees of freedom)."""

    c51_narrow_hidden: int = bounded(3, 1, 64)
    """C5.1: width of the under-parametrized network."""

    c52_mdps: int = bounded(64, 1, 10**7)
    """C5.2: random MDPs, each with its own random network and features."""

    c52_eps: tuple[float, ...] = bounded((1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2, 3.16e-2, 1e-1), 1e-8, 1.0,
                                         max_len=50, ordered=True)
    """C5.2: the damping values ε at which the steps are compared (the slopes are fitted over them)."""

    # -- C5.3: learning curves on a gridworld ---------------------------------------------
    grid_size: int = bounded(5, 2, 20)
    """C5.3: side of the square gridworld (start anywhere, absorbing goal in a corner)."""

    grid_gamma: float = bounded(0.9, 0.0, 0.99, open_low=True)
    """C5.3: discount."""

    grid_tau: float = bounded(0.3, 1e-3, 1e2)
    """C5.3: temperature."""

    c53_eps: float = bounded(0.3, 1e-4, 1.0)
    """C5.3: damping ε of damped soft-Q; NPG takes the step ε/τ (Cen et al.'s η = ε(1 − γ)/τ)."""

    c53_mlp_eps: tuple[float, ...] = bounded((0.3,), 1e-4, 1.0, max_len=4)
    """C5.3: damping values for the tanh network (where the two updates agree only for small ε)."""

    c53_seeds: int = bounded(8, 2, 4096)
    """C5.3: independent runs per learner (Monte-Carlo noise; for the network also its initialization)."""

    c53_iterations: int = bounded(30, 1, 100_000)
    """C5.3: policy updates per run."""

    c53_rollouts: int = bounded(2, 1, 10_000)
    """C5.3: Monte-Carlo rollouts from every state–action pair per update (Q̂ is their mean)."""

    c53_tail: float = bounded(1e-2, 1e-12, 0.5)
    """C5.3: rollouts are cut where γ^T falls below this."""

    c53_rbf_side: int = bounded(3, 1, 10)
    """C5.3: the log-linear policy's features are Gaussian bumps on a side × side grid of centres (plus a constant)."""

    c53_rbf_width: float = bounded(0.5, 1e-2, 10.0)
    """C5.3: width of the bumps, in the coordinates scaled to [−1, 1]."""

    c53_mlp_hidden: int = bounded(8, 1, 256)
    """C5.3: width of the tanh network that sees the cell's coordinates."""

    c53_ridge: float = bounded(1e-6, 0.0, 1.0)
    """C5.3: multiple of the identity added to the Fisher matrix in the CG solve and in the Gauss–Newton steps."""

    c53_cg_iterations: int = bounded(50, 1, 10_000)
    """C5.3: conjugate-gradient iterations per natural-gradient solve (log-linear and network policies)."""

    c53_fit_iterations: int = bounded(10, 1, 1_000)
    """C5.3: Gauss–Newton iterations per soft-Q regression."""

    # -- C5.4: Cen et al.'s Theorem 1 ------------------------------------------------------
    c54_mdps: int = bounded(1_000, 1, 10**7)
    """C5.4: random MDPs (each with its own γ, τ and random start policy)."""

    c54_states: int = bounded(8, 2, 64)
    """C5.4: S."""

    c54_actions: int = bounded(4, 2, 16)
    """C5.4: |A|."""

    c54_gamma_range: tuple[float, float] = bounded((0.5, 0.95), 0.0, 0.99, open_low=True, ordered=True)
    """C5.4: each MDP's discount is drawn uniformly from this range."""

    c54_tau_range: tuple[float, float] = bounded((0.03, 3.0), 1e-3, 1e3, ordered=True)
    """C5.4: each MDP's τ is drawn log-uniformly from this range."""

    c54_eta_fractions: tuple[float, ...] = bounded((0.1, 0.3, 0.6, 1.0), 1e-3, 1.0, max_len=20, ordered=True)
    """C5.4: step sizes η as fractions of the largest one the theorem allows, (1 − γ)/τ."""

    c54_iterations: int = bounded(60, 1, 100_000)
    """C5.4: NPG iterations per run."""

    c54_identity_iterations: int = bounded(10, 1, 1_000)
    """C5.4: iterations over which NPG is compared with soft policy iteration and damped soft Q-iteration."""

    def check(self) -> None:
        if self.c51_narrow_states * (self.n_actions - 1) <= MLPPolicy(self.n_features, self.c51_narrow_hidden,
                                                                       self.n_actions).n_params:
            raise ConfigError("c51_narrow_states·(n_actions − 1) must exceed the narrow network's parameter count")
        if self.chunk_size * self.n_states**2 * self.n_actions * 64 > 2**33:
            raise ConfigError("chunk_size × n_states² × n_actions is too large for one batch")
        if self.c53_seeds * self.grid_size**2 * 4 * self.c53_rollouts > 10**8:
            raise ConfigError("c53_seeds × grid cells × 4 actions × c53_rollouts must stay below 1e8 rollouts per update")


# -- shared helpers ---------------------------------------------------------------------
def _random_policy(b: int, S: int, A: int, generator: torch.Generator) -> Tensor:
    """Dirichlet(1) rows: a random positive policy ``[b, S, A]``."""
    e = -torch.log(torch.rand((b, S, A), generator=generator, dtype=DTYPE, device=generator.device))
    return e / e.sum(-1, keepdim=True)


def _rel(a: Tensor, b: Tensor) -> Tensor:
    """‖a − b‖ / ‖b‖ per batch row."""
    return (a - b).norm(dim=-1) / b.norm(dim=-1).clamp_min(1e-300)


def _exact_rows(mdp: TabularMDP, pi: Tensor, tau: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Q^π, V^π, the soft advantage and the weights W = d^π π of exact expectations."""
    Q, V = soft_policy_evaluation(mdp, pi, tau)
    d = discounted_visitation(mdp, pi)
    return Q, V, soft_advantage(Q, pi, tau), d.unsqueeze(-1) * pi


def fitted_slopes(eps: Tensor, err: Tensor) -> Tensor:
    """Least-squares slopes of log err against log ε; ``err[len(eps), b]`` → ``[b]``."""
    x = eps.log().to(err)
    y = err.clamp_min(1e-300).log()
    xc = x - x.mean()
    return (xc.unsqueeze(-1) * (y - y.mean(0))).sum(0) / (xc**2).sum()


def _quantiles(x: Tensor) -> dict[str, float]:
    q = torch.quantile(x.to(DTYPE), torch.tensor([0.1, 0.5, 0.9], dtype=DTYPE, device=x.device))
    return {"q10": float(q[0]), "median": float(q[1]), "q90": float(q[2]), "min": float(x.min()), "max": float(x.max())}


# -- C5.1 -----------------------------------------------------------------------------
def _c51(config: Ch05Config, ctx: RunContext) -> dict:
    gen = ctx.generator(1)
    S, A, tau = config.n_states, config.n_actions, config.tau
    st = ctx.restored() or {"done": 0, "tab_lstsq": 0.0, "tab_closed": 0.0, "net_lstsq": 0.0, "net_cg": 0.0,
                            "sampled": 0.0, "narrow": [], "cg_iterations": 0}
    net = MLPPolicy(config.n_features, config.n_hidden, A)
    narrow = MLPPolicy(config.n_features, config.c51_narrow_hidden, A)
    while st["done"] < config.c51_mdps:
        b = min(config.chunk_size, config.c51_mdps - st["done"])
        # (a) a table of logits: F is singular (one null direction per state)
        mdp = random_mdp(b, S, A, generator=gen, gamma=config.gamma, dtype=DTYPE)
        pi = _random_policy(b, S, A, gen)
        _, _, adv, W = _exact_rows(mdp, pi, tau)
        psi = score(tabular_jacobian(b, S, A, dtype=DTYPE, device=gen.device), pi)
        w_ls = natural_gradient_lstsq(psi, adv, W)
        w_pinv = natural_gradient_explicit(fisher_matrix(psi, W), policy_gradient(psi, adv, W), pseudo_inverse=True)
        w_closed = tabular_natural_gradient(adv, W.sum(-1)).reshape(b, -1)
        st["tab_lstsq"] = max(st["tab_lstsq"], float(_rel(w_ls, w_pinv).max()))
        st["tab_closed"] = max(st["tab_closed"], float(_rel(w_closed, w_pinv).max()))
        # (b) a network with more parameters than the policy has degrees of freedom: F singular, F⁺g
        mdp = random_mdp(b, S, A, generator=gen, gamma=config.gamma, dtype=DTYPE)
        x = torch.randn((b, S, config.n_features), generator=gen, dtype=DTYPE, device=gen.device)
        theta = net.init(b, generator=gen)
        fn = _bind(net, x)
        pi = torch.softmax(fn(theta), -1)
        _, _, adv, W = _exact_rows(mdp, pi, tau)
        psi = score(net.jacobian(theta, x), pi)
        w_ls = natural_gradient_lstsq(psi, adv, W)
        w_pinv = natural_gradient_explicit(fisher_matrix(psi, W), policy_gradient(psi, adv, W), pseudo_inverse=True)
        w_cg, info = natural_gradient_cg(fn, theta, adv, W, tol=1e-14, max_iter=20 * net.n_params)
        st["net_lstsq"] = max(st["net_lstsq"], float(_rel(w_ls, w_pinv).max()))
        st["net_cg"] = max(st["net_cg"], float(_rel(w_cg, w_pinv).max()))
        st["cg_iterations"] = max(st["cg_iterations"], int(info["iterations"]))
        # (c) the sampled form of eq. 66: N rows (s_t, a_t), F̂ = ΨᵀΨ/N, ĝ = ΨᵀΔ/N
        s, a = sample_state_actions(W.sum(-1), pi, config.c51_samples, generator=gen)
        rows = torch.arange(b, device=gen.device).unsqueeze(-1).expand_as(s)
        Psi = psi[rows, s, a]  # [b, N, p]
        delta = adv[rows, s, a] + torch.randn(s.shape, generator=gen, dtype=DTYPE, device=gen.device)  # noisy Δ_t
        w_rows = min_norm_lstsq(Psi, delta)  # eq. 66 on the rows, as printed
        F_hat = Psi.transpose(1, 2) @ Psi / config.c51_samples
        g_hat = (Psi * delta.unsqueeze(-1)).sum(1) / config.c51_samples
        w_hat = natural_gradient_explicit(F_hat, g_hat, pseudo_inverse=True)
        st["sampled"] = max(st["sampled"], float(_rel(w_rows, w_hat).max()))
        # (d) an under-parametrized network: F invertible, often badly conditioned
        Sn = config.c51_narrow_states
        mdp = random_mdp(b, Sn, A, generator=gen, gamma=config.gamma, dtype=DTYPE)
        x = torch.randn((b, Sn, config.n_features), generator=gen, dtype=DTYPE, device=gen.device)
        theta = narrow.init(b, generator=gen)
        fn = _bind(narrow, x)
        pi = torch.softmax(fn(theta), -1)
        _, _, adv, W = _exact_rows(mdp, pi, tau)
        psi = score(narrow.jacobian(theta, x), pi)
        F = fisher_matrix(psi, W)
        w_ls = natural_gradient_lstsq(psi, adv, W)
        w_inv = natural_gradient_explicit(F, policy_gradient(psi, adv, W))
        w_cg, _ = natural_gradient_cg(fn, theta, adv, W, tol=1e-15, max_iter=20 * narrow.n_params)
        cond = torch.linalg.cond(F)
        if len(st["narrow"]) < 2000:
            st["narrow"] += [{"cond": float(c), "explicit": float(e), "cg": float(r)}
                             for c, e, r in zip(cond, _rel(w_ls, w_inv), _rel(w_ls, w_cg))][:2000 - len(st["narrow"])]
        st["done"] += b
        if ctx.checkpoint_due():
            ctx.checkpoint(st)
    narrow_rows = st["narrow"]
    eps64 = torch.finfo(DTYPE).eps
    well = [r for r in narrow_rows if r["cond"] <= 1e5]
    return {
        "c51_mdps": st["done"],
        "c51_tab_lstsq_vs_pinv": st["tab_lstsq"],
        "c51_tab_closed_vs_pinv": st["tab_closed"],
        "c51_net_lstsq_vs_pinv": st["net_lstsq"],
        "c51_net_cg_vs_pinv": st["net_cg"],
        "c51_net_cg_iterations": st["cg_iterations"],
        "c51_sampled_lstsq_vs_pinv": st["sampled"],
        "c51_net_params": net.n_params,
        "c51_policy_dof": S * (A - 1),
        "c51_narrow_params": narrow.n_params,
        "c51_narrow_dof": config.c51_narrow_states * (A - 1),
        "c51_narrow": narrow_rows,
        "c51_narrow_max_err_over_cond_eps": max(r["explicit"] / (r["cond"] * eps64) for r in narrow_rows),
        "c51_narrow_max_err_well_conditioned": max((r["explicit"] for r in well), default=0.0),
        "c51_narrow_fraction_well_conditioned": len(well) / len(narrow_rows),
        "c51_narrow_max_cg": max(r["cg"] for r in narrow_rows),
        "c51_narrow_max_cond": max(r["cond"] for r in narrow_rows),
    }


def _bind(policy: MLPPolicy | LinearPolicy, x: Tensor) -> Callable[[Tensor], Tensor]:
    """θ ↦ logits of ``policy`` on the features ``x`` (a pure function for torch.func)."""
    def logits(theta: Tensor) -> Tensor:
        return policy.logits(theta, x)
    return logits


def _bind_jacobian(policy: MLPPolicy | LinearPolicy, x: Tensor) -> Callable[[Tensor], Tensor]:
    def jacobian(theta: Tensor) -> Tensor:
        return policy.jacobian(theta, x)
    return jacobian


# -- C5.2 -----------------------------------------------------------------------------
def _step_differences(fn, jf, theta, mdp: TabularMDP, tau: float, eps_grid: list[float]) -> tuple[Tensor, Tensor, Tensor]:
    """For each ε: max_{s,a} |Δlog π| between damped soft-Q and NPG, and between an undamped gradient step and NPG.

    Returns ``(damped[len(eps), b], undamped[len(eps), b], npg_size[len(eps), b])``.
    """
    lp0 = log_policy(fn(theta))
    pi = lp0.exp()
    Q, V, adv, W = _exact_rows(mdp, pi, tau)
    psi = score(jf(theta), pi)
    # the gradient of the undamped loss, by autograd: eq. 72's regression towards Q̂ = Q^π with V held fixed
    th = theta.detach().clone().requires_grad_(True)
    loss = soft_q_loss(log_policy(fn(th)), V, Q, W, tau).sum()
    (grad,) = torch.autograd.grad(loss, th)
    damped, undamped, size = [], [], []
    for eps in eps_grid:
        w = natural_gradient_lstsq(psi, adv, W, step=eps / tau)  # eq. 66 with Δ the entropy-regularized advantage
        d_npg = log_policy(fn(theta + w)) - lp0
        theta_q, _ = damped_soft_q_step(fn, jf, theta, V, Q, W, tau, eps, max_iter=100, tol=1e-15)
        d_q = log_policy(fn(theta_q)) - lp0
        d_u = log_policy(fn(theta - eps / tau**2 * grad)) - lp0  # one gradient step, learning rate ε/τ²
        damped.append((d_q - d_npg).abs().amax(dim=(1, 2)))
        undamped.append((d_u - d_npg).abs().amax(dim=(1, 2)))
        size.append(d_npg.abs().amax(dim=(1, 2)))
    return torch.stack(damped), torch.stack(undamped), torch.stack(size)


def _c52(config: Ch05Config, ctx: RunContext) -> dict:
    gen = ctx.generator(2)
    S, A, tau = config.n_states, config.n_actions, config.tau
    eps_grid = list(config.c52_eps)
    net = MLPPolicy(config.n_features, config.n_hidden, A)
    st = ctx.restored() or {"done": 0, "parts": {k: [] for k in ("tab_damped", "tab_undamped", "tab_size",
                                                                    "net_damped", "net_undamped", "net_size")}}
    bar = ctx.bar(total=config.c52_mdps, desc="C5.2 steps", initial=st["done"])
    while st["done"] < config.c52_mdps:
        b = min(config.chunk_size, config.c52_mdps - st["done"])
        mdp = random_mdp(b, S, A, generator=gen, gamma=config.gamma, dtype=DTYPE)
        theta = 0.5 * torch.randn((b, S * A), generator=gen, dtype=DTYPE, device=gen.device)
        jac = tabular_jacobian(b, S, A, dtype=DTYPE, device=gen.device)
        parts = _step_differences(lambda t: tabular_logits(t, S, A), lambda t: jac, theta, mdp, tau, eps_grid)
        for key, value in zip(("tab_damped", "tab_undamped", "tab_size"), parts):
            st["parts"][key].append(value)
        x = torch.randn((b, S, config.n_features), generator=gen, dtype=DTYPE, device=gen.device)
        theta = net.init(b, generator=gen)
        parts = _step_differences(_bind(net, x), _bind_jacobian(net, x), theta, mdp, tau, eps_grid)
        for key, value in zip(("net_damped", "net_undamped", "net_size"), parts):
            st["parts"][key].append(value)
        st["done"] += b
        bar.update(b)
        if ctx.checkpoint_due():
            ctx.checkpoint(st)
    bar.close()
    eps = torch.tensor(eps_grid, dtype=DTYPE)
    out: dict = {"c52_mdps": st["done"], "c52_eps": eps_grid, "c52_net_params": net.n_params}
    for key, chunks in st["parts"].items():
        err = torch.cat(chunks, dim=1)  # [len(eps), b]
        out[f"c52_{key}_median"] = err.median(dim=1).values.tolist()
        out[f"c52_{key}_q10"] = torch.quantile(err, 0.1, dim=1).tolist()
        out[f"c52_{key}_q90"] = torch.quantile(err, 0.9, dim=1).tolist()
        if not key.endswith("size"):
            out[f"c52_{key}_slope"] = _quantiles(fitted_slopes(eps, err))
    return out


# -- C5.3 -----------------------------------------------------------------------------
def gridworld_task(size: int, gamma: float) -> TabularMDP:
    """Chapter 2's gridworld (absorbing goal in the bottom-right corner, −1 per move) started from a uniformly random non-goal cell."""
    grid = gridworld(size, size, gamma=gamma, dtype=DTYPE)
    mu0 = torch.ones(1, size * size, dtype=DTYPE)
    mu0[0, -1] = 0.0
    return TabularMDP(P=grid.P, r=grid.r, gamma=gamma, mu0=mu0 / mu0.sum())


def _coordinates(size: int) -> Tensor:
    """Each cell's (row, column), scaled to [−1, 1]; ``[size², 2]``."""
    idx = torch.arange(size, dtype=DTYPE)
    rc = torch.stack(torch.meshgrid(idx, idx, indexing="ij"), dim=-1).reshape(-1, 2)
    return rc / max(size - 1, 1) * 2 - 1


def _rbf_features(coords: Tensor, side: int, width: float) -> Tensor:
    """Gaussian bumps exp(−‖c − μ‖²/2w²) on a side × side grid of centres μ, plus a constant 1; ``[S, side² + 1]``."""
    c = torch.linspace(-1, 1, side, dtype=DTYPE) if side > 1 else torch.zeros(1, dtype=DTYPE)
    centres = torch.stack(torch.meshgrid(c, c, indexing="ij"), dim=-1).reshape(-1, 2)
    bumps = torch.exp(-((coords.unsqueeze(1) - centres) ** 2).sum(-1) / (2 * width**2))
    return torch.cat([bumps, torch.ones(coords.shape[0], 1, dtype=DTYPE)], dim=1)


def _replicate(mdp: TabularMDP, b: int) -> TabularMDP:
    return TabularMDP(P=mdp.P.expand(b, -1, -1, -1), r=mdp.r.expand(b, -1, -1), gamma=mdp.gamma,
                      mu0=mdp.mu0.expand(b, -1))


def _policy_class(task: str, config: Ch05Config, S: int, A: int, gen: torch.Generator, b: int):
    """(logits θ ↦ z, Jacobian θ ↦ J, initial θ [b, p], whether the NPG is solved by CG) of a C5.3 task."""
    if task == "tabular":
        jac = tabular_jacobian(b, S, A, dtype=DTYPE, device=gen.device)
        return (lambda t: tabular_logits(t, S, A)), (lambda t: jac), torch.zeros((b, S * A), dtype=DTYPE,
                                                                                 device=gen.device), False
    coords = _coordinates(config.grid_size).to(gen.device)
    if task == "linear":
        x = _rbf_features(coords, config.c53_rbf_side, config.c53_rbf_width).to(gen.device)
        policy = LinearPolicy(x.shape[1], A)
        return _bind(policy, x), _bind_jacobian(policy, x), policy.init(b, generator=gen), True
    policy = MLPPolicy(2, config.c53_mlp_hidden, A)
    return _bind(policy, coords), _bind_jacobian(policy, coords), policy.init(b, generator=gen), True


def _learning_curves(config: Ch05Config, ctx: RunContext, task: str, eps: float, stream: int) -> dict:
    """Suboptimality μ₀·(V* − V^{π_k}) of the four learners over ``c53_iterations`` updates, ``c53_seeds`` runs each."""
    gen = ctx.generator(stream)
    base = gridworld_task(config.grid_size, config.grid_gamma)
    tau, n = config.grid_tau, config.c53_seeds
    S, A = base.n_states, base.n_actions
    mdp = _replicate(base, n)
    _, V_star, _ = soft_value_iteration(base, tau, tol=1e-13)
    optimum = float((base.mu0 * V_star).sum())
    horizon = horizon_for(config.grid_gamma, config.c53_tail)
    fn, jf, theta0, by_cg = _policy_class(task, config, S, A, gen, n)
    # vanilla PG's learning rate: the natural step's ε/τ divided by the largest Fisher eigenvalue at the start,
    # so that no direction moves further than under the natural step there
    pi0 = torch.softmax(fn(theta0), -1)
    W0 = discounted_visitation(mdp, pi0).unsqueeze(-1) * pi0
    lam_max = torch.linalg.eigvalsh(fisher_matrix(score(jf(theta0), pi0), W0))[:, -1]
    alpha = (eps / tau) / lam_max
    pairs_s = torch.arange(S, device=gen.device).repeat_interleave(A).repeat(config.c53_rollouts).expand(n, -1)
    pairs_a = torch.arange(A, device=gen.device).repeat(S).repeat(config.c53_rollouts).expand(n, -1)
    st = ctx.restored() or {"k": 0, "theta": {alg: theta0.clone() for alg in ALGORITHMS},
                            "gap": {alg: [] for alg in ALGORITHMS}}
    bar = ctx.bar(total=config.c53_iterations, desc=f"C5.3 {task} eps={eps:g}", initial=st["k"])
    while st["k"] <= config.c53_iterations:
        for alg in ALGORITHMS:
            theta = st["theta"][alg]
            lp = log_policy(fn(theta))
            pi = lp.exp()
            _, V_true = soft_policy_evaluation(mdp, pi, tau)
            st["gap"][alg].append((optimum - (mdp.mu0 * V_true).sum(-1)).tolist())
            if st["k"] == config.c53_iterations:
                continue
            # Monte-Carlo estimates of Q^π(s, a) for every pair (a generative model); V̂ and Â from them
            G = q_returns(mdp, pi, tau, pairs_s, pairs_a, horizon=horizon, generator=gen)
            Q_hat = G.reshape(n, config.c53_rollouts, S, A).mean(1)
            V_hat = (pi * (Q_hat - tau * lp)).sum(-1)
            adv = Q_hat - tau * lp - V_hat.unsqueeze(-1)
            W = discounted_visitation(mdp, pi).unsqueeze(-1) * pi
            if alg == "npg":
                if by_cg:
                    w, _ = natural_gradient_cg(fn, theta, adv, W, step=eps / tau, ridge=config.c53_ridge,
                                               max_iter=config.c53_cg_iterations)
                else:
                    w = natural_gradient_lstsq(score(jf(theta), pi), adv, W, step=eps / tau)
                theta = theta + w
            elif alg == "pg":
                theta = theta + alpha.unsqueeze(-1) * score_weighted_sum(fn, theta, pi, W * adv)
            else:
                damping = eps if alg == "damped" else 1.0
                # the regression fits V(s) along with θ, as a soft Q-learner's Q-function carries its own value
                theta, _ = damped_soft_q_step(fn, jf, theta, V_hat, Q_hat, W, tau, damping, fit_value=True,
                                              max_iter=config.c53_fit_iterations, ridge=config.c53_ridge)
            st["theta"][alg] = theta
        st["k"] += 1
        bar.update(1)
        if ctx.checkpoint_due():
            ctx.checkpoint(st)
    bar.close()
    curves = {}
    for alg in ALGORITHMS:
        gap = torch.tensor(st["gap"][alg], dtype=DTYPE)  # [iterations + 1, seeds]
        curves[alg] = {
            "median": gap.median(dim=1).values.tolist(),
            "q10": torch.quantile(gap, 0.1, dim=1).tolist(),
            "q90": torch.quantile(gap, 0.9, dim=1).tolist(),
        }
    return {"task": task, "eps": eps, "eta": eps * (1 - config.grid_gamma) / tau, "initial_gap": st["gap"]["npg"][0][0],
            "curves": curves, "vanilla_learning_rate": _quantiles(alpha)}


def _band_agreement(a: dict, b: dict) -> dict[str, float]:
    """How two learners' curves compare, over iterations: do their 10–90% bands overlap, is each median inside the other's band."""
    k = range(len(a["median"]))
    overlap = [max(a["q10"][i], b["q10"][i]) <= min(a["q90"][i], b["q90"][i]) for i in k]
    inside_ab = [b["q10"][i] <= a["median"][i] <= b["q90"][i] for i in k]
    inside_ba = [a["q10"][i] <= b["median"][i] <= a["q90"][i] for i in k]
    ratio = [max(x, y) / max(min(x, y), 1e-300) for x, y in zip(a["median"], b["median"])]
    n = len(overlap)
    return {"overlap": sum(overlap) / n, "a_in_b": sum(inside_ab) / n, "b_in_a": sum(inside_ba) / n,
            "max_median_ratio": max(ratio)}


def _c53(config: Ch05Config, ctx: RunContext, task: str, eps: float, stream: int) -> dict:
    out = _learning_curves(config, ctx, task, eps, stream)
    c = out["curves"]
    out["npg_vs_damped"] = _band_agreement(c["npg"], c["damped"])
    out["npg_vs_pg"] = _band_agreement(c["npg"], c["pg"])
    out["npg_vs_undamped"] = _band_agreement(c["npg"], c["undamped"])
    out["final"] = {alg: c[alg]["median"][-1] for alg in ALGORITHMS}
    return out


# -- C5.4 -----------------------------------------------------------------------------
N_BINS = 40


def _c54(config: Ch05Config, ctx: RunContext) -> dict:
    gen = ctx.generator(4)
    S, A, T = config.c54_states, config.c54_actions, config.c54_iterations
    fractions = list(config.c54_eta_fractions)
    u_max = 12.0  # normalized time −t·log(1 − ητ) covered by the binned summary (the bound falls to e^−12)
    st = ctx.restored() or {
        "done": 0,
        "q_ratio": [0.0] * len(fractions), "lp_ratio": [0.0] * len(fractions),
        "q_excess": [-math.inf] * len(fractions),
        "bins_q": [[-math.inf] * N_BINS for _ in fractions], "bins_lp": [[-math.inf] * N_BINS for _ in fractions],
        "spi": 0.0, "damped": [0.0] * len(fractions),
        "examples": None,
    }
    bar = ctx.bar(total=config.c54_mdps, desc="C5.4 Theorem 1", initial=st["done"])
    while st["done"] < config.c54_mdps:
        b = min(config.chunk_size, config.c54_mdps - st["done"])
        mdp = random_mdp(b, S, A, generator=gen, gamma=config.c54_gamma_range, dtype=DTYPE)
        lo, hi = (math.log10(v) for v in config.c54_tau_range)
        tau = 10.0 ** (lo + (hi - lo) * torch.rand(b, generator=gen, dtype=DTYPE, device=gen.device))
        pi0 = _random_policy(b, S, A, gen)
        gamma = mdp.gamma_tensor()
        Q_star, _, _ = soft_value_iteration(mdp, tau, tol=1e-14)
        log_pi_star = torch.log(maxent_policy(Q_star, tau))
        Q0, _ = soft_policy_evaluation(mdp, pi0, tau)
        scale = Q_star.abs().amax(dim=(1, 2)).clamp_min(1.0)
        t = torch.arange(T, dtype=DTYPE, device=gen.device)
        for i, f in enumerate(fractions):
            eta = f * (1 - gamma) / tau
            _, _, hist = entropy_regularized_npg(mdp, tau, eta, iterations=T, pi0=pi0, reference=(Q_star, log_pi_star),
                                                 keep_history=(f == 1.0))
            C1 = cen_constant(Q_star, Q0, log_pi_star, torch.log(pi0), tau, eta, gamma)
            q_bound, lp_bound = cen_bound(C1, tau, eta, gamma, t)  # bounds on iterates 1 … T
            q_err, lp_err = hist["q_error"][1:], hist["log_pi_error"][1:]
            # compare where the bound is above what float64 can resolve in Q* (and in log π*)
            q_ok, lp_ok = q_bound > 1e-10 * scale, lp_bound > 1e-10
            st["q_ratio"][i] = max(st["q_ratio"][i], float((q_err / q_bound)[q_ok].max()))
            st["lp_ratio"][i] = max(st["lp_ratio"][i], float((lp_err / lp_bound)[lp_ok].max()))
            st["q_excess"][i] = max(st["q_excess"][i], float((q_err - q_bound).max()))
            # normalized picture: log(err/(C₁γ)) against u = −t log(1 − ητ), where the bound is the line e^{−u}
            u = -t.unsqueeze(-1) * torch.log1p(-eta * tau).unsqueeze(0)
            k = (u / u_max * N_BINS).long()
            for name, err, norm, ok in (("bins_q", q_err, C1 * gamma, q_ok), ("bins_lp", lp_err, 2 * C1 / tau, lp_ok)):
                y = torch.log(err / norm)
                keep = ok & (k < N_BINS)
                best = torch.full((N_BINS,), -math.inf, dtype=DTYPE, device=gen.device)
                best = best.scatter_reduce(0, k[keep], y[keep], reduce="amax")
                st[name][i] = [max(a, float(v)) for a, v in zip(st[name][i], best.tolist())]
            n_id = config.c54_identity_iterations
            if f == 1.0:
                _, _, spi = soft_policy_iteration(mdp, tau, pi0=pi0, tol=0.0, max_iter=n_id)
                diff = max(float((hist["log_pi"][j].exp() - spi["pi"][j]).abs().max())
                           for j in range(1, min(n_id, len(spi["pi"]) - 1) + 1))
                st["spi"] = max(st["spi"], diff)
            _, damped = damped_soft_q_iteration(mdp, tau, f, iterations=n_id, Q0=tau.view(-1, 1, 1) * torch.log(pi0),
                                                keep_history=True)
            _, _, npg_short = entropy_regularized_npg(mdp, tau, eta, iterations=n_id, pi0=pi0, keep_history=True)
            diff = max(float((damped["pi"][j] - npg_short["log_pi"][j].exp()).abs().max()) for j in range(n_id + 1))
            st["damped"][i] = max(st["damped"][i], diff)
        if st["examples"] is None:  # three MDPs' error curves for every η, for the chapter's left panel
            st["examples"] = _examples(mdp.select([0, 1, 2]), tau[:3], pi0[:3], fractions, T)
        st["done"] += b
        bar.update(b)
        if ctx.checkpoint_due():
            ctx.checkpoint(st)
    bar.close()
    edges = [u_max * (j + 0.5) / N_BINS for j in range(N_BINS)]
    return {
        "c54_mdps": st["done"],
        "c54_eta_fractions": fractions,
        "c54_max_q_ratio": st["q_ratio"],
        "c54_max_log_pi_ratio": st["lp_ratio"],
        "c54_max_q_excess": st["q_excess"],
        "c54_bin_centres": edges,
        "c54_bins_q": st["bins_q"],
        "c54_bins_log_pi": st["bins_lp"],
        "c54_spi_max_diff": st["spi"],
        "c54_damped_max_diff": st["damped"],
        "c54_examples": st["examples"],
    }


def _examples(mdp: TabularMDP, tau: Tensor, pi0: Tensor, fractions: list[float], T: int) -> list[dict]:
    """Error curves and bounds of a few MDPs, one entry per (MDP, η fraction)."""
    Q_star, _, _ = soft_value_iteration(mdp, tau, tol=1e-14)
    log_pi_star = torch.log(maxent_policy(Q_star, tau))
    Q0, _ = soft_policy_evaluation(mdp, pi0, tau)
    gamma = mdp.gamma_tensor()
    t = torch.arange(T, dtype=DTYPE, device=mdp.device)
    rows = []
    for f in fractions:
        eta = f * (1 - gamma) / tau
        _, _, hist = entropy_regularized_npg(mdp, tau, eta, iterations=T, pi0=pi0, reference=(Q_star, log_pi_star))
        C1 = cen_constant(Q_star, Q0, log_pi_star, torch.log(pi0), tau, eta, gamma)
        q_bound, _ = cen_bound(C1, tau, eta, gamma, t)
        for j in range(mdp.batch_size):
            rows.append({"mdp": j, "fraction": f, "gamma": float(gamma[j]), "tau": float(tau[j]),
                         "q_error": hist["q_error"][1:, j].tolist(), "q_bound": q_bound[:, j].tolist()})
    return rows


STAGES = ("C5.1", "C5.2", "C5.3", "C5.4")


def run(config: Ch05Config, ctx: RunContext) -> dict:
    """All four claims; every random number comes from ``ctx.generator(stream)``."""
    results: dict = {}
    results.update(ctx.stage("C5.1", lambda: _c51(config, ctx)))
    results.update(ctx.stage("C5.2", lambda: _c52(config, ctx)))
    c53 = {}
    for j, task in enumerate(("tabular", "linear")):
        c53[task] = ctx.stage(f"C5.3 {task}", lambda task=task, j=j: _c53(config, ctx, task, config.c53_eps, 10 + j))
    for j, eps in enumerate(config.c53_mlp_eps):
        c53[f"mlp_{j}"] = ctx.stage(f"C5.3 mlp {j}", lambda eps=eps, j=j: _c53(config, ctx, "mlp", eps, 20 + j))
    results["c53"] = c53
    results.update(ctx.stage("C5.4", lambda: _c54(config, ctx)))
    return results


EXPERIMENT = register(
    Experiment(
        name="ch05_natural_gradients",
        chapter=5,
        summary="Fisher matrix and NPG by least squares; damped soft-Q = NPG to O(eps^2); learning curves; Cen et al. Thm 1",
        config_type=Ch05Config,
        presets={
            "quick": Ch05Config(),
            "full": dataclasses.replace(
                Ch05Config(),
                chunk_size=2_000,
                c51_mdps=10_000,
                c52_mdps=10_000,
                c52_eps=(1e-4, 1.78e-4, 3.16e-4, 5.62e-4, 1e-3, 1.78e-3, 3.16e-3, 5.62e-3, 1e-2, 1.78e-2, 3.16e-2,
                         5.62e-2, 1e-1),
                c53_seeds=32,
                c53_mlp_eps=(0.3, 0.01),
                c53_iterations=60,
                c54_mdps=20_000,
                c54_iterations=100,
            ),
        },
        run=run,
        smoke={"c51_mdps": "20", "c52_mdps": "6", "chunk_size": "3", "c52_eps": "1e-3,1e-2,1e-1", "c53_seeds": "2",
               "c53_iterations": "3", "c53_rollouts": "1", "c54_mdps": "8", "c54_iterations": "8",
               "c54_identity_iterations": "3", "c51_narrow_states": "16", "c53_mlp_eps": "0.3"},
    )
)
