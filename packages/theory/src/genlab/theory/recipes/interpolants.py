"""``theory-interpolants``: stochastic interpolants between two Gaussian mixtures (Albergo and
Vanden-Eijnden 2023, "Building Normalizing Flows with Stochastic Interpolants").

The closed-form velocity b of the mixture pair (genlab.core.flow.exact.MixtureInterpolant) is first
checked (continuity equation, Monte-Carlo conditional expectation, exact likelihood), then a velocity
MLP is trained with the quadratic objective G(v) = E[|v|^2 - 2 dx_t/dt . v] for the linear and the
trigonometric interpolant, and measured along training: its error to b per t, its exact NLL against
the true log-density, and the transport cost of its ODE coupling against the independent coupling
and exact optimal transport of the same points.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import matplotlib.pyplot as plt
import torch
from torch.utils.data import TensorDataset

from genlab.core.data import heldout_generator
from genlab.core.data.mixtures import GaussianMixture
from genlab.core.data.toy2d import get_density
from genlab.core.flow.exact import MixtureInterpolant
from genlab.core.flow.interpolants import Interpolant, velocity_objective
from genlab.core.flow.rectified import simulate
from genlab.core.metrics.distances import sliced_wasserstein
from genlab.core.nn.mlp import TimeMLP
from genlab.core.recipe import Recipe
from genlab.core.trainer import TrainConfig, Trainer
from genlab.theory.experiment import Claim, Experiment, stage_config
from genlab.theory.transport import (
    continuity_residual,
    coupling_costs,
    flow_log_likelihood,
    ot_cost,
    velocity_error,
    velocity_moment_zscore,
)

KINDS = ("linear", "trig")
PATH_SCAN = (0.0, 1.0, 4.0, 16.0)  # gamma(t)^2 = a t (1 - t): the exact coupling along a family of paths

# thresholds fixed before any run
RESIDUAL_TOL = 1e-3  # continuity residual of the closed form (central differences in t, h = 1e-4)
ZSCORE_TOL = 4.5  # largest Monte-Carlo z-score over test functions and times
EXACT_NLL_TOL = 0.01  # nats: the likelihood integrator on the exact velocity
OT_GAP = 1.02  # a fixed interpolant's exact coupling costs at least 2% more than OT
SW_TOL = 0.25  # sliced W2 of the learned ODE's endpoints to held-out data: the coupling reaches rho_0


def base_mixture(name: str) -> GaussianMixture:
    """rho_1 (t = 1): a lopsided 3-component mixture, or N(0, I)."""
    if name == "gaussian":
        return GaussianMixture(torch.zeros(1, 2), 1.0)
    means = torch.tensor([[-2.5, -1.5], [2.5, -1.5], [0.0, 2.5]])
    return GaussianMixture(means, 0.7, torch.tensor([0.3, 0.3, 0.4]))


@dataclass
class InterpolantsConfig(TrainConfig):
    base: Literal["mixture", "gaussian"] = "mixture"  # rho_1; rho_0 (t = 0) is the ring of 8 Gaussians
    hidden: int = 128
    depth: int = 3
    checkpoints: int = 3  # measured after steps / 4^j training steps, j = checkpoints - 1 .. 0
    n_train: int = 100_000
    n_times: int = 25  # times t, uniform in [0.02, 0.98], at which the velocity error is measured
    n_velocity: int = 2000  # points per t for the velocity error
    n_nll: int = 500  # data points whose NLL gap (exact log density minus the ODE likelihood) is averaged
    n_cost: int = 2000  # points of the ODE coupling and the exact OT
    steps: int = 4000
    batch_size: int = 512
    lr: float = 2e-3
    warmup: int = 100
    log_every: int = 100
    ckpt_every: int = 0


class InterpolantsExperiment(Experiment):
    title = "Stochastic interpolants: learned velocity, exact likelihood and transport cost (Albergo & Vanden-Eijnden 2023)"
    setup = (
        "rho_0 (t = 0) is the ring of 8 Gaussians (radius 4, std 0.5), rho_1 (t = 1) a 3-component mixture "
        "(or N(0, I)); the exact velocity b(x, t) = E[dx_t/dt | x_t = x] and log rho_t of the mixture pair are "
        "closed form. The closed form is checked (continuity equation d_t log rho + div b + b . grad log rho = 0 "
        "by finite differences and autograd; E[(dx_t/dt - b) phi(x_t)] = 0 by Monte Carlo for 10 test functions "
        "per coordinate; the exact-divergence likelihood of b against log rho_0). A TimeMLP velocity is trained "
        "with the quadratic objective G(v) for the linear (1 - t, t) and trigonometric (cos, sin) interpolants "
        "and measured at geometric training lengths: relative velocity error E|v - b|^2 / E|b|^2 per t, NLL gap "
        "E[log rho_0 - log p_v] (exact 2D divergence, dopri5), and the quadratic cost of its ODE coupling "
        "(RK4, 100 steps) against the independent coupling and the exact OT assignment of the same points. Any "
        "deterministic interpolant alpha x0 + beta x1 is a rescaled, re-timed x0 + (beta / alpha) x1, so linear "
        "and trigonometric share one exact ODE coupling; the noise gamma^2 = a t (1 - t) changes the path, and "
        "the exact coupling of a = 1, 4, 16 shows how far the path choice moves the cost."
    )

    def __init__(self, cfg: InterpolantsConfig):
        super().__init__(cfg)
        if cfg.checkpoints < 2 or cfg.steps // 4 ** (cfg.checkpoints - 1) < 1:
            raise ValueError(
                f"need at least 2 checkpoints and steps >= 4^(checkpoints-1), got {cfg.checkpoints}"
            )
        self.data, self.base = get_density("8gaussians").mixture, base_mixture(cfg.base)
        gen = heldout_generator(cfg.seed)
        self.x_nll = self.data.sample(cfg.n_nll, gen)
        self.x_base = self.base.sample(cfg.n_cost, gen)
        self.x_indep = self.data.sample(cfg.n_cost, gen)
        self.times = torch.linspace(0.02, 0.98, cfg.n_times)
        self.curves: dict[str, torch.Tensor] = {}  # velocity error per t, per (kind, steps)
        self.paths: dict[str, torch.Tensor] = {}  # ODE trajectories of the final models, for the figure

    @property
    def lengths(self) -> list[int]:
        """The training lengths measured: steps / 4^j."""
        return [self.cfg.steps // 4**j for j in reversed(range(self.cfg.checkpoints))]

    def oracle(self, kind: str, a: float = 0.0) -> MixtureInterpolant:
        return MixtureInterpolant(self.data, self.base, Interpolant(kind, a))

    def check_oracle(self, kind: str) -> dict[str, float]:
        oracle, gen = self.oracle(kind), torch.Generator().manual_seed(self.cfg.seed + 1)
        x = 3 * torch.randn(200, 2, generator=gen, dtype=torch.float64)
        t = 0.05 + 0.9 * torch.rand(200, generator=gen, dtype=torch.float64)
        zs = [velocity_moment_zscore(oracle, s, 20_000, gen) for s in (0.1, 0.5, 0.9)]
        exact_ll = flow_log_likelihood(oracle, oracle, self.x_nll.double())
        return {
            f"{kind}_oracle_continuity_residual": continuity_residual(oracle, x, t).abs().max().item(),
            f"{kind}_oracle_moment_zscore": max(zs),
            f"{kind}_oracle_nll_gap": (self.data.log_prob(self.x_nll.double()) - exact_ll).mean().item(),
        }

    def coupling(self, velocity, tag: str) -> dict[str, float]:
        path = simulate(velocity, self.x_base, 100)
        x0 = path[-1].float()
        self.paths[tag] = path[:, :300].float()
        cost = coupling_costs(x0, self.x_base, ("quadratic",))["quadratic"]
        return {
            f"{tag}_cost": cost,
            f"{tag}_ot_cost": ot_cost(x0, self.x_base),
            f"{tag}_sw_to_data": sliced_wasserstein(x0, self.x_indep),
        }

    def measure(self, model, kind: str, steps: int) -> dict[str, float]:
        model.eval()
        oracle, tag = self.oracle(kind), f"{kind}_{steps}"
        gen = torch.Generator().manual_seed(self.cfg.seed + 2)
        self.curves[tag] = velocity_error(model, oracle, self.times, self.cfg.n_velocity, gen)
        ll = flow_log_likelihood(model, oracle, self.x_nll)
        return {
            f"{tag}_velocity_error": self.curves[tag].mean().item(),
            f"{tag}_nll_gap": (self.data.log_prob(self.x_nll) - ll).mean().item(),
            **self.coupling(model, tag),
        }

    def train(self, kind: str, run_dir: Path) -> dict[str, float]:
        cfg = self.cfg
        interpolant = Interpolant(kind)
        data = TensorDataset(self.data.sample(cfg.n_train, torch.Generator().manual_seed(cfg.seed)))

        def loss(model, x0):
            return velocity_objective(model, interpolant, x0, self.base.sample(len(x0)).to(x0)), {}

        stage = stage_config(cfg)
        torch.manual_seed(cfg.seed)
        trainer = Trainer(TimeMLP(2, cfg.hidden, cfg.depth), loss, data, stage, run_dir / "training" / kind)
        results = {}
        for steps in self.lengths:
            ema = trainer.fit(until=steps)
            results.update(self.measure(ema, kind, steps))
        return results

    def run(self, run_dir: Path) -> dict[str, float]:
        results = {"independent_cost": coupling_costs(self.x_indep, self.x_base, ("quadratic",))["quadratic"]}
        for kind in KINDS:
            results.update(self.check_oracle(kind))
            results.update(self.coupling(self.oracle(kind), f"{kind}_exact"))
            results.update(self.train(kind, run_dir))
        for a in PATH_SCAN[1:]:
            results.update(self.coupling(self.oracle("linear", a), f"linear_a{a:g}_exact"))
        results["exact_coupling_linear_vs_trig"] = (
            (self.paths["linear_exact"][-1] - self.paths["trig_exact"][-1]).norm(dim=-1).max().item()
        )
        return results

    def claims(self, r: dict[str, float]) -> list[Claim]:
        first, last = self.lengths[0], self.lengths[-1]
        residual = max(r[f"{k}_oracle_continuity_residual"] for k in KINDS)
        zscore = max(r[f"{k}_oracle_moment_zscore"] for k in KINDS)
        exact_gap = max(abs(r[f"{k}_oracle_nll_gap"]) for k in KINDS)

        def trend(name: str) -> str:
            return "; ".join(
                f"{k}: {r[f'{k}_{first}_{name}']:.4g} -> {r[f'{k}_{last}_{name}']:.4g}" for k in KINDS
            )

        def ratio(k: str) -> float:
            return r[f"{k}_exact_cost"] / r[f"{k}_exact_ot_cost"]

        return [
            Claim(
                "The closed-form mixture velocity is E[dx_t/dt | x_t] and solves the continuity equation",
                residual < RESIDUAL_TOL and zscore < ZSCORE_TOL,
                f"max |d_t log rho + div b + b.grad log rho| = {residual:.2g} (tol {RESIDUAL_TOL:g}); "
                f"max Monte-Carlo |z| = {zscore:.2f} (tol {ZSCORE_TOL:g})",
            ),
            Claim(
                "Integrating the divergence of the exact velocity gives the exact log-density",
                exact_gap < EXACT_NLL_TOL,
                f"max over interpolants |E[log rho_0 - log p_b]| = {exact_gap:.2g} nats (tol {EXACT_NLL_TOL:g})",
            ),
            Claim(
                f"The velocity error to b shrinks with training ({first} -> {last} steps)",
                all(r[f"{k}_{last}_velocity_error"] < r[f"{k}_{first}_velocity_error"] for k in KINDS),
                f"relative error E|v - b|^2 / E|b|^2 averaged over t: {trend('velocity_error')}",
            ),
            Claim(
                f"The NLL gap to the true log-density shrinks with training ({first} -> {last} steps)",
                all(r[f"{k}_{last}_nll_gap"] < r[f"{k}_{first}_nll_gap"] for k in KINDS),
                f"E[log rho_0 - log p_v] in nats: {trend('nll_gap')}",
            ),
            Claim(
                "The learned ODE coupling reaches rho_0 and transports at lower quadratic cost than the "
                f"independent coupling (endpoints within sliced W2 {SW_TOL:g} of the data)",
                all(
                    r[f"{k}_{last}_cost"] < r["independent_cost"] and r[f"{k}_{last}_sw_to_data"] < SW_TOL
                    for k in KINDS
                ),
                f"E|x0 - x1|^2: independent {r['independent_cost']:.3f}; "
                + "; ".join(
                    f"{k} ODE {r[f'{k}_{last}_cost']:.3f} (SW2 to data {r[f'{k}_{last}_sw_to_data']:.3f})"
                    for k in KINDS
                )
                + f"; exact b {r['linear_exact_cost']:.3f} (SW2 {r['linear_exact_sw_to_data']:.3f}, the sampling floor)",
            ),
            Claim(
                f"A fixed (not optimised) interpolant does not reach optimal transport: its exact ODE coupling "
                f"costs at least {OT_GAP:g} x the exact OT of the same points",
                all(ratio(k) >= OT_GAP for k in KINDS),
                "; ".join(
                    f"{k}: {r[f'{k}_exact_cost']:.3f} vs OT {r[f'{k}_exact_ot_cost']:.3f} (x{ratio(k):.3f})"
                    for k in KINDS
                )
                + f" (the two exact couplings agree to {r['exact_coupling_linear_vs_trig']:.1e} per point)"
                + "; path family gamma^2 = a t(1-t), linear, exact: "
                + ", ".join(
                    f"a={a:g} x{r[f'linear_a{a:g}_exact_cost'] / r[f'linear_a{a:g}_exact_ot_cost']:.3f}"
                    for a in PATH_SCAN[1:]
                ),
            ),
        ]

    def plot(self, r: dict[str, float], out: Path) -> Path:
        lengths, colors = self.lengths, {"linear": "tab:blue", "trig": "tab:orange"}
        fig, axes = plt.subplots(2, 3, figsize=(14, 8.5), dpi=110)
        ax = axes[0, 0]
        for k in KINDS:
            for i, n in enumerate(lengths):
                ax.plot(
                    self.times.numpy(),
                    self.curves[f"{k}_{n}"].numpy(),
                    color=colors[k],
                    alpha=0.35 + 0.65 * i / (len(lengths) - 1),
                    label=f"{k}, {n} steps",
                )
        ax.set(
            yscale="log",
            xlabel="t (0 = data, 1 = base)",
            ylabel="E|v - b|^2 / E|b|^2",
            title="velocity error per t shrinks with training",
        )
        ax.legend(fontsize=7)
        for ax, name, label in (
            (axes[0, 1], "nll_gap", "NLL gap E[log rho_0 - log p_v] (nats)"),
            (axes[0, 2], "velocity_error", "mean relative velocity error"),
        ):
            for k in KINDS:
                extra = f" (exact b: {r[f'{k}_oracle_nll_gap']:.1e})" if name == "nll_gap" else ""
                ax.plot(
                    lengths, [r[f"{k}_{n}_{name}"] for n in lengths], "o-", color=colors[k], label=k + extra
                )
            ax.set(xscale="log", yscale="log", xlabel="training steps", ylabel=label)
            ax.set_title(f"{label.split(' E')[0].split(' (')[0]} shrinks with training")
            ax.set_xticks(lengths, [str(n) for n in lengths])
            ax.minorticks_off()
            ax.legend(fontsize=7)
        ax = axes[1, 0]
        bars = {"independent": r["independent_cost"]}
        for k in KINDS:
            bars[f"{k}\nlearned"] = r[f"{k}_{lengths[-1]}_cost"]
            bars[f"{k}\nexact b"] = r[f"{k}_exact_cost"]
        for a in PATH_SCAN[1:]:
            bars[f"linear\na={a:g}"] = r[f"linear_a{a:g}_exact_cost"]
        ax.bar(range(len(bars)), list(bars.values()), color="tab:gray")
        for i, v in enumerate(bars.values()):
            ax.text(i, v, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
        ax.axhline(r["linear_exact_ot_cost"], color="tab:red", ls="--", label="exact OT (same points)")
        ax.set_xticks(range(len(bars)), list(bars.keys()), fontsize=7)
        ax.set(yscale="log", ylabel="E|x0 - x1|^2 (log scale)", title="ODE couplings vs independent and OT")
        ax.legend(fontsize=7)
        for ax, k in zip(axes[1, 1:], KINDS):
            path = self.paths[f"{k}_{lengths[-1]}"].numpy()
            ax.plot(path[:, :, 0], path[:, :, 1], lw=0.3, alpha=0.5, color=colors[k])
            ax.scatter(path[-1, :, 0], path[-1, :, 1], s=2, color="k", zorder=3)
            ax.set(title=f"learned {k} flow, base (t=1) -> data (t=0)", aspect="equal", xticks=[], yticks=[])
        fig.tight_layout()
        fig.savefig(out)
        plt.close(fig)
        return out


RECIPE = Recipe(
    name="theory-interpolants",
    description="Stochastic interpolants on a Gaussian-mixture pair: exact velocity, learned velocity error, "
    "exact NLL and transport cost vs OT",
    config=InterpolantsConfig,
    build=InterpolantsExperiment,
    presets={
        "smoke": {
            "steps": 32,
            "checkpoints": 2,
            "hidden": 32,
            "depth": 2,
            "batch_size": 128,
            "warmup": 4,
            "n_train": 1024,
            "n_times": 5,
            "n_velocity": 200,
            "n_nll": 50,
            "n_cost": 200,
            "log_every": 8,
        },
        "paper": {"steps": 20_000, "hidden": 256, "depth": 4, "batch_size": 2048, "checkpoints": 4},
    },
)
