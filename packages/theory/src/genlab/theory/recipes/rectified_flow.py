"""``theory-rectified-flow``: the theorems of rectified flow (Liu, Gong and Liu 2023, "Flow Straight
and Fast") measured on the 1-, 2- and 3-rectified flows of core's ``rectified-flow-2d`` recipe.

The flows, reflow pairs and distillation are trained by genlab.core.recipes.rectified2d (its run
lives in run_dir/rectified-flow-2d); this experiment adds the checks on the same noise draws:
Theorem 3.5 (E c(Z1 - Z0) non-increasing under reflow) for five convex costs, Theorem 3.7
(min_{k<=K} S(Z^k) <= E||X1 - X0||^2 / K) and its per-reflow form, the 1/k fall of straightness,
marginal preservation, crossings, few-step sample quality and the gap to exact optimal transport.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from genlab.core.flow.matching import sample_flow
from genlab.core.flow.rectified import crossing_rate, simulate
from genlab.core.metrics.distances import sliced_wasserstein
from genlab.core.recipe import Recipe
from genlab.core.recipes.rectified2d import RECIPE as RF_RECIPE
from genlab.core.recipes.rectified2d import (
    RectifiedFlow2DConfig,
    RectifiedFlow2DTask,
    Source,
    Target,
)
from genlab.theory.experiment import Claim, Experiment
from genlab.theory.transport import CONVEX_COSTS, coupling_costs, ot_cost, straightness_bound

# thresholds fixed before any run
COST_TOL = 0.01  # relative slack on "non-increasing" for costs of learned (approximate) flows
SW_FLOOR_FACTOR = 2.0  # marginals preserved: sliced W2 of every k-RF within 2x the data-vs-data floor
FEW_STEP_GAIN = 0.5  # "sharp" gain: 1- and 2-step sliced W2 of 2-RF at most half that of 1-RF


@dataclass
class RectifiedTheoryConfig(RectifiedFlow2DConfig):
    source: Source = "8gaussians"  # mixture -> mixture, as in the paper's figure
    density: Target = "moons"
    n_ot: int = 2000  # points of the exact OT assignment
    hidden: int = 128
    depth: int = 4
    steps: int = 4000  # 1-RF
    reflow_steps: int = 3000
    distill_steps: int = 1000
    n_train: int = 50_000
    n_pairs: int = 20_000
    batch_size: int = 512
    ckpt_every: int = 0


class RectifiedFlowExperiment(Experiment):
    title = "Rectified flow: convex costs, straightness bound and reflow (Liu, Gong & Liu 2023)"

    @property
    def setup(self) -> str:
        return (
            f"Core's rectified-flow-2d recipe trains 1-RF on the independent coupling of the source "
            f"({self.cfg.source}) and the target ({self.cfg.density}), then reflows {self.cfg.reflows} times on "
            "the ODE coupling of the previous flow (RK4) and distils one of them into one step. All numbers use one "
            "fixed set of source draws Z1 (k = 0 is the independent coupling of these draws with held-out data). "
            "Theorem 3.5: E c(Z1 - Z0) for c = |d|^2, |d|_1, |d|, |d|^3, exp(|d|/2). "
            "Theorem 3.7: min_{k<=K} S(Z^k) <= E|X1 - X0|^2 / K with S the straightness of the simulated path, "
            "and the inequality it telescopes, S(Z^{k+1}) <= E|Z^k_1 - Z^k_0|^2 - E|Z^{k+1}_1 - Z^{k+1}_0|^2. "
            "Marginals: sliced W2 of each flow's samples to held-out data, against the floor of two data draws. "
            "Crossings of the straight segments Z1 -> Z0 (400 pairs), 1- and 2-step Euler sample quality, and the "
            "quadratic cost against the exact OT assignment of the same endpoints."
        )

    def __init__(self, cfg: RectifiedTheoryConfig):
        super().__init__(cfg)
        if cfg.reflows < 1:
            raise ValueError(
                f"the theorems compare rectified flows under reflow: need reflows >= 1, got {cfg.reflows}"
            )
        self.task = RectifiedFlow2DTask(cfg)
        self.ks = list(range(1, cfg.reflows + 2))

    def ot_gap(self, x_data: torch.Tensor, x_noise: torch.Tensor) -> float:
        """Quadratic cost of the pairs over that of the exact OT assignment of the same points, minus 1."""
        x_data, x_noise = x_data[: self.cfg.n_ot], x_noise[: self.cfg.n_ot]
        return coupling_costs(x_data, x_noise, ("quadratic",))["quadratic"] / ot_cost(x_data, x_noise) - 1

    def measure(self, flow, k: int) -> dict[str, float]:
        """Costs, OT gap and few-step quality of the k-RF on the shared noise draws."""
        noise, data = self.task.eval_source, self.task.test
        z0 = simulate(flow, noise, self.cfg.sim_steps)[-1]
        out = {f"{k}rf_cost_{c}": v for c, v in coupling_costs(z0, noise).items()}
        out[f"{k}rf_ot_gap"] = self.ot_gap(z0, noise)
        out[f"{k}rf_sw_2_euler"] = sliced_wasserstein(sample_flow(flow, noise, 2, "euler"), data)
        return out

    def run(self, run_dir: Path) -> dict[str, float]:
        task, cfg = self.task, self.cfg
        self.model = task.fit(cfg, run_dir / "rectified-flow-2d")
        r = task.evaluate(self.model)  # core's diagnostics: straightness, crossings, 1/100-step quality ...
        for k in self.ks:  # the quadratic and L1 costs are measured below with the other convex costs
            del r[f"{k}rf_transport_cost_l2"], r[f"{k}rf_transport_cost_l1"]
        noise, data = task.eval_source, task.test
        r.update({f"0rf_cost_{c}": v for c, v in coupling_costs(data, noise).items()})
        r["0rf_crossing_rate"] = crossing_rate(data, noise)
        r["0rf_ot_gap"] = self.ot_gap(data, noise)
        fresh = task.density.sample(cfg.n_eval, torch.Generator().manual_seed(cfg.seed + 50_000))
        r["sw_floor_data_vs_data"] = sliced_wasserstein(fresh, data)
        for k in self.ks:
            r.update(self.measure(task.flows[k].eval(), k))
        min_s, bound = straightness_bound(
            [r[f"{k}rf_straightness"] for k in self.ks], r["0rf_cost_quadratic"]
        )
        r["thm37_min_straightness"], r["thm37_bound"] = min_s, bound
        self.plot_theorems(r, run_dir / "theorems.png")
        return r

    def claims(self, r: dict[str, float]) -> list[Claim]:
        ks, kmax = [0, *self.ks], self.ks[-1]

        def chain(name: str) -> str:
            return " -> ".join(f"{r[f'{k}rf_{name}']:.4g}" for k in ks)

        monotone = {
            c: all(r[f"{k + 1}rf_cost_{c}"] <= (1 + COST_TOL) * r[f"{k}rf_cost_{c}"] for k in ks[:-1])
            for c in CONVEX_COSTS
        }
        per_step = [
            (r[f"{k}rf_straightness"], r[f"{k - 1}rf_cost_quadratic"] - r[f"{k}rf_cost_quadratic"])
            for k in self.ks
        ]
        floor = r["sw_floor_data_vs_data"]
        return [
            Claim(
                "Theorem 3.5: reflow does not increase E c(Z1 - Z0) for any convex c (k = 0 independent, "
                f"then 1-, 2-, 3-RF; slack {COST_TOL:.0%})",
                all(monotone.values()),
                "; ".join(
                    f"{c}: {chain(f'cost_{c}')}{'' if ok else ' (fails)'}" for c, ok in monotone.items()
                ),
            ),
            Claim(
                f"Theorem 3.7: min_(k<={kmax}) S(Z^k) <= E|X1 - X0|^2 / {kmax}",
                r["thm37_min_straightness"] <= r["thm37_bound"],
                f"min S = {r['thm37_min_straightness']:.4g} <= {r['0rf_cost_quadratic']:.4g} / {kmax} = "
                f"{r['thm37_bound']:.4g}",
            ),
            Claim(
                "The inequality behind Theorem 3.7 holds for every reflow: "
                "S(Z^k) <= E|Z^(k-1)_1 - Z^(k-1)_0|^2 - E|Z^k_1 - Z^k_0|^2",
                all(s <= drop for s, drop in per_step),
                "; ".join(
                    f"k={k}: S = {s:.4g} vs cost drop {drop:.4g}" for k, (s, drop) in zip(self.ks, per_step)
                ),
            ),
            Claim(
                "Straightness falls at least like 1/k: k S(Z^k) <= S(Z^1)",
                all(k * r[f"{k}rf_straightness"] <= r["1rf_straightness"] for k in self.ks[1:]),
                f"S(Z^k) for k = 1..{kmax}: " + ", ".join(f"{r[f'{k}rf_straightness']:.4g}" for k in self.ks),
            ),
            Claim(
                f"Reflow preserves the marginal: every k-RF's samples are within {SW_FLOOR_FACTOR:g}x the "
                "data-vs-data sliced W2",
                all(r[f"{k}rf_sw_100_euler"] <= SW_FLOOR_FACTOR * floor for k in self.ks),
                "SW2 (100 Euler steps) for k = 1..: "
                + ", ".join(f"{r[f'{k}rf_sw_100_euler']:.3f}" for k in self.ks)
                + f"; floor {floor:.3f}",
            ),
            Claim(
                "Rectification removes crossings: the rate of spatial intersections of the straight segments "
                "Z1 -> Z0 falls with every rectification",
                r["0rf_crossing_rate"] > r["1rf_crossing_rate"] > r[f"{kmax}rf_crossing_rate"],
                f"crossing rate k = 0..{kmax}: {chain('crossing_rate')} (segments may still cross at different "
                "times, which the theorem allows; the time-aware measure is the straightness above)",
            ),
            Claim(
                f"1- and 2-step sampling improve sharply after reflow (2-RF at most {FEW_STEP_GAIN:g}x the 1-RF "
                "sliced W2)",
                all(r[f"2rf_sw_{n}_euler"] <= FEW_STEP_GAIN * r[f"1rf_sw_{n}_euler"] for n in (1, 2)),
                "SW2 1 step: "
                + " -> ".join(f"{r[f'{k}rf_sw_1_euler']:.3f}" for k in self.ks)
                + "; 2 steps: "
                + " -> ".join(f"{r[f'{k}rf_sw_2_euler']:.3f}" for k in self.ks)
                + f"; distilled 2-RF one step: {r.get(f'distilled{self.cfg.distill_from}rf_sw_1_step', float('nan')):.3f}",
            ),
            Claim(
                "Reflow moves the coupling towards optimal transport (quadratic cost gap to the exact OT of the "
                f"same points shrinks, {self.cfg.n_ot} points), without reaching it",
                r[f"{kmax}rf_ot_gap"] < r["1rf_ot_gap"] and r[f"{kmax}rf_ot_gap"] > 0,
                f"cost / OT - 1 for k = 0..{kmax}: {chain('ot_gap')}",
            ),
        ]

    def plot_theorems(self, r: dict[str, float], out: Path) -> Path:
        ks = [0, *self.ks]
        fig, axes = plt.subplots(1, 4, figsize=(17, 4), dpi=110)
        ax = axes[0]
        for c in CONVEX_COSTS:
            ax.plot(ks, [r[f"{k}rf_cost_{c}"] / r[f"0rf_cost_{c}"] for k in ks], "o-", label=c)
        ax.set(
            yscale="log",
            xlabel="k (0 = independent coupling)",
            ylabel="E c(Z1 - Z0) / E c(X1 - X0)",
            title="Thm 3.5: convex costs never increase",
            xticks=ks,
        )
        ax.legend(fontsize=7)
        ax = axes[1]
        s = [r[f"{k}rf_straightness"] for k in self.ks]
        ax.plot(self.ks, s, "o-", label="S(Z^k) measured")
        ax.plot(self.ks, [s[0] / k for k in self.ks], "k:", label="S(Z^1) / k")
        ax.plot(
            self.ks, [r["0rf_cost_quadratic"] / k for k in self.ks], "r--", label="E|X1 - X0|^2 / K (Thm 3.7)"
        )
        drops = [r[f"{k - 1}rf_cost_quadratic"] - r[f"{k}rf_cost_quadratic"] for k in self.ks]
        ax.plot(self.ks, drops, "gs", label="cost drop (per-reflow bound)")
        ax.set(
            yscale="log",
            xlabel="k",
            ylabel="straightness S",
            title="Thm 3.7: straightness vs bound",
            xticks=self.ks,
        )
        ax.legend(fontsize=7)
        ax = axes[2]
        ax.plot(ks, [r[f"{k}rf_crossing_rate"] for k in ks], "o-")
        ax.set(
            xlabel="k (0 = independent coupling)",
            ylabel="fraction of crossing segment pairs",
            xticks=ks,
            title="spatial crossings of straight segments",
        )
        ax.set_ylim(bottom=0)
        ax = axes[3]
        for n in (1, 2, 100):
            ax.plot(self.ks, [r[f"{k}rf_sw_{n}_euler"] for k in self.ks], "o-", label=f"{n} Euler step(s)")
        ax.axhline(r["sw_floor_data_vs_data"], color="gray", ls=":", label="data vs data")
        ax.set(
            yscale="log",
            xlabel="k",
            ylabel="sliced W2 to held-out data",
            title="few-step sampling after reflow",
            xticks=self.ks,
        )
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out)
        plt.close(fig)
        return out

    def plot(self, r: dict[str, float], out: Path) -> Path:
        noise, data = self.task.eval_source[:300], self.task.test[:300]
        fig, axes = plt.subplots(1, len(self.ks) + 1, figsize=(3.6 * (len(self.ks) + 1), 3.9), dpi=110)
        segments = torch.stack([noise, data]).numpy()
        axes[0].plot(segments[:, :, 0], segments[:, :, 1], lw=0.3, alpha=0.5, color="tab:gray")
        axes[0].set_title(
            f"independent coupling\ncost {r['0rf_cost_quadratic']:.2f}, crossings {r['0rf_crossing_rate']:.3f}"
        )
        for ax, k in zip(axes[1:], self.ks):
            path = simulate(self.task.flows[k], noise, 50).numpy()
            ax.plot(path[:, :, 0], path[:, :, 1], lw=0.3, alpha=0.6, color="tab:blue")
            ax.scatter(path[-1, :, 0], path[-1, :, 1], s=2, color="k", zorder=3)
            ax.set_title(
                f"{k}-rectified flow: cost {r[f'{k}rf_cost_quadratic']:.2f}\n"
                f"S = {r[f'{k}rf_straightness']:.3g}, crossings {r[f'{k}rf_crossing_rate']:.3f}"
            )
        for ax in axes:
            ax.set(aspect="equal", xticks=[], yticks=[], xlim=(-6, 6), ylim=(-6, 6))
        fig.suptitle("ODE trajectories from the source (t = 1) to the data (t = 0): reflow straightens them")
        fig.tight_layout(rect=(0, 0, 1, 0.93))
        fig.savefig(out)
        plt.close(fig)
        return out


RECIPE = Recipe(
    name="theory-rectified-flow",
    description="Rectified flow's theorems on 2D: convex costs under reflow, the straightness bound, crossings, "
    "marginals, few-step quality and the gap to OT",
    config=RectifiedTheoryConfig,
    build=RectifiedFlowExperiment,
    presets={
        "smoke": {
            "steps": 40,
            "reflow_steps": 30,
            "distill_steps": 20,
            "n_train": 2048,
            "n_pairs": 1024,
            "batch_size": 256,
            "hidden": 32,
            "depth": 2,
            "warmup": 5,
            "n_eval": 500,
            "n_ot": 300,
            "sim_steps": 10,
            "log_every": 10,
        },
        "paper": RF_RECIPE.presets["paper"],
    },
)
