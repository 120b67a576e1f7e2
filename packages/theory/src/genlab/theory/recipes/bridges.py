"""``theory-bridges``: Omega-bridges against continuous diffusion plus rounding on constrained domains
(Liu, Wu, Ye, Liu, "Let us Build Bridges" / "Learning Diffusion Bridges on Constrained Domains", ICLR23).

Three domains: a 2D integer grid {0..G-1}^2 (a ring-shaped pmf with empty cells), a categorical
variable as one-hot vectors (a Zipf pmf over K classes), and an interval [a, b] (a density piled at
both ends). On each, one TimeMLP learns the Omega-bridge's drift by bridge matching and another, of
the same size and training budget, a core Gaussian diffusion model (cosine schedule, v-prediction)
on the standardised data, sampled with Heun on the Karras grid at the bridge's number of network
evaluations and then rounded / argmaxed / clamped into Omega. Measured: the fraction of raw samples
in Omega, the TV distance of the projected samples to the target pmf (discrete) and the W1 and
20-bin TV distance to the target (interval); for the discrete sets also the exact drift (the
closed-form minimiser of bridge matching) run through the same sampler, and the TV of an exact
sample of the same size (the floor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from genlab.core.diffusion import Denoiser, diffusion_loss, get_schedule, sample_heun
from genlab.core.grids import karras_grid
from genlab.core.nn import TimeMLP
from genlab.core.recipe import Recipe
from genlab.core.run import train_stage
from genlab.core.trainer import TrainConfig
from genlab.theory.bridges import (
    Bridge,
    BridgeDrift,
    DiscreteDomain,
    Domain,
    Interval,
    bridge_matching_loss,
    geometric_grid,
    integer_grid,
    one_hot,
    oracle_drift,
    relative_drift_error,
    sample_bridge,
    total_variation,
)
from genlab.theory.experiment import Claim, Experiment, stage_config

# thresholds fixed before any run
IN_OMEGA_TOL = 1e-3  # a raw sample of a discrete Omega is "in Omega" within this distance of a point
ORACLE_FLOOR_FACTOR = 2.0  # the exact drift's TV may exceed the exact-sample TV by at most this factor
HIST_BINS = 20
DOMAINS = ("grid", "onehot", "interval")


@dataclass
class BridgesConfig(TrainConfig):
    grid_size: int = 8  # Omega = {0..G-1}^2
    classes: int = 10  # one-hot Omega in R^K
    low: float = 0.0  # the interval Omega = [low, high]
    high: float = 1.0  # the interval's upper end (low < high, finite)
    n_train: int = 20_000
    n_eval: int = 10_000
    hidden: int = 128
    depth: int = 3
    sample_steps: int = 200  # Euler-Maruyama steps of the bridge = network evaluations of both
    t_min: float = 1e-5  # the bridge's geometric grid ends here before its final step to t = 0
    steps: int = 3000  # training steps of each network
    batch_size: int = 512
    lr: float = 2e-3
    warmup: int = 100
    ema_decay: float = 0.999
    log_every: int = 10**9
    ckpt_every: int = 0


def ring_pmf(size: int) -> torch.Tensor:
    """A ring of radius 0.35 G around the grid's centre, cells under 1e-3 of the peak emptied."""
    dom = integer_grid(size)
    r = (dom.points - (size - 1) / 2).norm(dim=-1)
    p = torch.exp(-(r - 0.35 * size).square() / (2 * (0.08 * size) ** 2))
    p = torch.where(p < 1e-3 * p.max(), 0.0, p)
    return p / p.sum()


def zipf_pmf(k: int) -> torch.Tensor:
    p = 1 / torch.arange(1, k + 1, dtype=torch.float64)
    return p / p.sum()


def sample_interval_target(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    """Half truncated Exp(6) from the low end, half Beta(4, 1) (density 4u^3) up to the high end."""
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    r = torch.rand(n, generator=generator, dtype=torch.float64)
    expo = -torch.log1p(-u * (1 - math.exp(-6))) / 6
    beta = u ** (1 / 4)
    x = torch.where(r < 0.5, expo, beta)
    return (low + (high - low) * x)[:, None]


class BridgesExperiment(Experiment):
    title = "Diffusion bridges on constrained domains (Liu, Wu, Ye & Liu, ICLR 2023)"
    setup = (
        "Three domains: a 2D integer grid {0..G-1}^2 (a ring-shaped pmf with empty cells), a categorical variable "
        "as one-hot vectors in R^K (a Zipf pmf), and an interval [a, b] (half a truncated exponential from a, half "
        "a Beta(4, 1) up to b). On each, one TimeMLP learns the Omega-bridge's drift by bridge matching (base "
        "process: Brownian motion from the centre of Omega with variance extent^2, 200 Euler-Maruyama steps on a "
        "geometric time grid) and another, of the same size and training budget, a core Gaussian diffusion model "
        "(cosine schedule, v-prediction) on the standardised data, sampled by Heun on the Karras grid with the same "
        "number of network evaluations, then rounded / argmaxed / clamped into Omega. Measured: the fraction of raw "
        "samples in Omega; TV of the projected samples to the target pmf (discrete); W1 and 20-bin TV to the target "
        "(interval). For the discrete sets the closed-form minimiser of bridge matching (the exact drift) is run "
        "through the same sampler, and an exact sample of the same size gives the TV floor."
    )

    def __init__(self, cfg: BridgesConfig):
        super().__init__(cfg)
        if cfg.grid_size < 2 or cfg.classes < 2 or not cfg.low < cfg.high or math.isinf(cfg.high):
            raise ValueError("need grid_size >= 2, classes >= 2 and a finite interval low < high")
        self.samples: dict[str, dict[str, torch.Tensor]] = {}

    def problems(self):
        """(name, Omega, bridge, training data, target pmf or None) for each domain."""
        cfg, gen = self.cfg, torch.Generator().manual_seed(self.cfg.seed)
        grid, cats = integer_grid(cfg.grid_size), one_hot(cfg.classes)
        out = []
        for name, dom, pmf in (
            ("grid", grid, ring_pmf(cfg.grid_size)),
            ("onehot", cats, zipf_pmf(cfg.classes)),
        ):
            x = dom.points[torch.multinomial(pmf, cfg.n_train, replacement=True, generator=gen)]
            centre = (dom.points.max(0).values + dom.points.min(0).values) / 2
            extent = float((dom.points.max(0).values - dom.points.min(0).values).max())
            out.append((name, dom, Bridge(centre, extent**2), x, pmf))
        x = sample_interval_target(cfg.n_train, cfg.low, cfg.high, gen)
        bridge = Bridge(torch.tensor([(cfg.low + cfg.high) / 2]), (cfg.high - cfg.low) ** 2)
        out.append(("interval", Interval(cfg.low, cfg.high), bridge, x, None))
        return out

    def fit_bridge(self, dom: Domain, bridge: Bridge, x: torch.Tensor) -> BridgeDrift:
        c = self.cfg
        drift = BridgeDrift(TimeMLP(dom.dim, c.hidden, c.depth), bridge)
        data = torch.utils.data.TensorDataset(x.float())

        def loss(model, xb):
            return bridge_matching_loss(model, xb.double(), dom, t_min=c.t_min)

        return train_stage("", drift, loss, data, stage_config(self.cfg, device="cpu"), None).eval()

    def fit_diffusion(self, x: torch.Tensor) -> tuple[Denoiser, torch.Tensor, torch.Tensor]:
        """A core diffusion model on the standardised data; returns (denoiser, mean, std)."""
        c = self.cfg
        mean, std = x.mean(0), x.std(0)
        den = Denoiser(TimeMLP(x.shape[1], c.hidden, c.depth), get_schedule("cosine"), "v")
        data = torch.utils.data.TensorDataset(((x - mean) / std).float())
        model = train_stage(
            "", den, lambda m, xb: diffusion_loss(m, xb), data, stage_config(self.cfg, device="cpu"), None
        )
        return model.eval(), mean, std

    @torch.no_grad()
    def sample_diffusion(self, den: Denoiser, mean, std, n: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.cfg.seed + 2)
        steps = (self.cfg.sample_steps + 1) // 2  # Heun: 2 K - 1 evaluations
        x = torch.randn(n, len(mean), generator=gen) * den.schedule.alpha_sigma(torch.ones(()))[1]
        z = sample_heun(den, x, karras_grid(steps, (n,), schedule=den.schedule))
        return z.double() * std + mean

    def run(self, run_dir: Path) -> dict[str, float]:
        cfg, r = self.cfg, {}
        grid = geometric_grid(cfg.sample_steps, cfg.t_min)
        for name, dom, bridge, x, pmf in self.problems():
            gen = torch.Generator().manual_seed(cfg.seed + 1)
            drift = self.fit_bridge(dom, bridge, x)
            den, mean, std = self.fit_diffusion(x)
            raw = {
                "bridge": sample_bridge(bridge, dom, cfg.n_eval, grid, drift, generator=gen).float(),
                "diffusion": self.sample_diffusion(den, mean, std, cfg.n_eval).float(),
            }
            tol = IN_OMEGA_TOL if isinstance(dom, DiscreteDomain) else 0.0
            for method, z in raw.items():
                r[f"{name}/{method}_in_domain"] = dom.contains(z.double(), tol).double().mean().item()
                r[f"{name}/{method}_mean_distance"] = (
                    (z.double() - dom.project(z.double())).norm(dim=-1).mean().item()
                )
            if pmf is not None:
                ref = dom.points[torch.multinomial(pmf, cfg.n_eval, replacement=True, generator=gen)]
                oracle = oracle_drift(bridge, dom, pmf)
                exact = sample_bridge(bridge, dom, cfg.n_eval, grid, oracle, generator=gen)
                x_eval = x[: cfg.n_eval]
                r[f"{name}/drift_relative_error"] = relative_drift_error(
                    drift, oracle, bridge, x_eval, cfg.t_min
                )
                raw["oracle"] = exact.float()
                for method, z in raw.items():
                    r[f"{name}/{method}_tv"] = total_variation(dom.pmf(z.double()), pmf)
                r[f"{name}/tv_floor"] = total_variation(dom.pmf(ref), pmf)
                if name == "grid":
                    empty = pmf == 0
                    for method in ("bridge", "diffusion"):
                        r[f"grid/{method}_mass_on_empty_cells"] = (
                            dom.pmf(raw[method].double())[empty].sum().item()
                        )
            else:
                ref = sample_interval_target(
                    200_000, cfg.low, cfg.high, torch.Generator().manual_seed(cfg.seed + 3)
                )
                edges = torch.linspace(cfg.low, cfg.high, HIST_BINS + 1, dtype=torch.float64)
                target_hist = torch.histogram(ref[:, 0], edges).hist / len(ref)
                for method, z in raw.items():
                    proj = dom.project(z.double())[:, 0]
                    r[f"interval/{method}_w1"] = wasserstein_1d(proj, ref[:, 0])
                    r[f"interval/{method}_hist_tv"] = total_variation(
                        torch.histogram(proj, edges).hist / len(proj), target_hist
                    )
                fresh = ref[: cfg.n_eval, 0]
                r["interval/hist_tv_floor"] = total_variation(
                    torch.histogram(fresh, edges).hist / len(fresh), target_hist
                )
                r["interval/w1_floor"] = wasserstein_1d(fresh, ref[cfg.n_eval :, 0])
                raw["target"] = ref[: cfg.n_eval].float()
            self.samples[name] = raw
            if pmf is not None:
                self.samples[name]["pmf"] = pmf
        return r

    def claims(self, r: dict[str, float]) -> list[Claim]:
        discrete = ("grid", "onehot")

        def listing(key: str) -> str:
            return ", ".join(f"{d} {r[f'{d}/{key}']:.4g}" for d in DOMAINS if f"{d}/{key}" in r)

        return [
            Claim(
                "Every Omega-bridge sample lands in Omega (raw sampler output; within "
                f"{IN_OMEGA_TOL:g} of a point for the discrete sets, inside [a, b] exactly for the interval)",
                all(r[f"{d}/bridge_in_domain"] == 1.0 for d in DOMAINS),
                f"fraction in Omega: {listing('bridge_in_domain')}",
            ),
            Claim(
                "Continuous diffusion does not keep to Omega by itself: some raw samples fall outside "
                "and need rounding / argmax / clamping",
                all(r[f"{d}/diffusion_in_domain"] < 1.0 for d in DOMAINS),
                f"fraction in Omega: {listing('diffusion_in_domain')}; mean distance to Omega: "
                f"{listing('diffusion_mean_distance')}",
            ),
            Claim(
                "On discrete domains the Omega-bridge is at least as close to the target pmf as continuous "
                "diffusion + rounding (TV)",
                all(r[f"{d}/bridge_tv"] <= r[f"{d}/diffusion_tv"] for d in discrete),
                "; ".join(
                    f"{d}: bridge {r[f'{d}/bridge_tv']:.4f} vs diffusion {r[f'{d}/diffusion_tv']:.4f} "
                    f"(exact-sample floor {r[f'{d}/tv_floor']:.4f}; learned drift's relative error "
                    f"{r[f'{d}/drift_relative_error']:.3g})"
                    for d in discrete
                ),
            ),
            Claim(
                "On an interval the Omega-bridge is at least as close to the target as clamped diffusion (W1)",
                r["interval/bridge_w1"] <= r["interval/diffusion_w1"],
                f"W1 bridge {r['interval/bridge_w1']:.4f} vs diffusion {r['interval/diffusion_w1']:.4f} "
                f"(floor {r['interval/w1_floor']:.4f}); 20-bin TV {r['interval/bridge_hist_tv']:.4f} vs "
                f"{r['interval/diffusion_hist_tv']:.4f}",
            ),
            Claim(
                "Bridge matching's exact minimiser (the closed-form drift) transports to the target pmf: "
                f"TV within {ORACLE_FLOOR_FACTOR:g}x that of an exact sample of the same size",
                all(r[f"{d}/oracle_tv"] <= ORACLE_FLOOR_FACTOR * r[f"{d}/tv_floor"] for d in discrete),
                "; ".join(
                    f"{d}: {r[f'{d}/oracle_tv']:.4f} vs floor {r[f'{d}/tv_floor']:.4f}" for d in discrete
                ),
            ),
        ]

    def plot(self, results: dict[str, float], out: Path) -> Path:
        s, g = self.samples, self.cfg.grid_size
        fig, axes = plt.subplots(2, 4, figsize=(16, 7.6), dpi=110)
        grid_dom = integer_grid(g)
        panels = (
            ("target", s["grid"]["pmf"]),
            ("Omega-bridge", grid_dom.pmf(s["grid"]["bridge"].double())),
            ("diffusion + rounding", grid_dom.pmf(s["grid"]["diffusion"].double())),
        )
        vmax = max(float(p.max()) for _, p in panels)
        for ax, (title, p) in zip(axes[0], panels):
            ax.imshow(p.reshape(g, g).T.numpy(), origin="lower", cmap="magma", vmin=0, vmax=vmax)
            tv = "" if title == "target" else f"\nTV {total_variation(p, s['grid']['pmf']):.3f}"
            ax.set(title=f"grid {g}x{g}: {title}{tv}", xlabel="x1", ylabel="x2")
        ax = axes[0, 3]
        z = s["grid"]["diffusion"][:3000]
        ax.scatter(z[:, 0], z[:, 1], s=2, alpha=0.4, label="diffusion (raw)")
        zb = s["grid"]["bridge"][:3000]
        ax.scatter(zb[:, 0], zb[:, 1], s=6, c="k", marker="x", label="Omega-bridge (raw)")
        ax.set(title="raw samples: off the lattice vs on it", xlabel="x1", ylabel="x2")
        ax.legend(loc="upper right", fontsize=8)
        ax = axes[1, 0]
        k = len(s["onehot"]["pmf"])
        dom = one_hot(k)
        width = 0.27
        for i, (label, p) in enumerate(
            (
                ("target", s["onehot"]["pmf"]),
                ("Omega-bridge", dom.pmf(s["onehot"]["bridge"].double())),
                ("diffusion + argmax", dom.pmf(s["onehot"]["diffusion"].double())),
            )
        ):
            ax.bar(torch.arange(k) + (i - 1) * width, p.numpy(), width, label=label)
        ax.set(title=f"one-hot, K = {k}: class pmf", xlabel="class", ylabel="probability")
        ax.legend(fontsize=8)
        ax = axes[1, 1]
        d = s["onehot"]["diffusion"].double()
        ax.hist(d.max(-1).values.numpy(), bins=60, alpha=0.6, label="diffusion: largest coordinate")
        ax.hist(
            s["onehot"]["bridge"].double().max(-1).values.numpy(), bins=60, alpha=0.6, label="Omega-bridge"
        )
        ax.set(
            title="one-hot: raw largest coordinate (1 in Omega)", xlabel="value", ylabel="count", yscale="log"
        )
        ax.legend(fontsize=8)
        ax = axes[1, 2]
        lo, hi = self.cfg.low, self.cfg.high
        pad = 0.15 * (hi - lo)
        bins = torch.linspace(lo - pad, hi + pad, 61).numpy()
        for label, key in (
            ("target", "target"),
            ("Omega-bridge (raw)", "bridge"),
            ("diffusion (raw)", "diffusion"),
        ):
            ax.hist(
                s["interval"][key][:, 0].numpy(),
                bins=bins,
                density=True,
                histtype="step",
                lw=1.5,
                label=label,
            )
        ax.axvspan(lo - pad, lo, color="0.85")
        ax.axvspan(hi, hi + pad, color="0.85")
        ax.set(title=f"interval [{lo:g}, {hi:g}]: raw samples (grey: outside)", xlabel="x", ylabel="density")
        ax.legend(fontsize=8)
        ax = axes[1, 3]
        xs = torch.arange(len(DOMAINS))
        for i, method in enumerate(("bridge", "diffusion")):
            vals = [results[f"{d}/{method}_in_domain"] for d in DOMAINS]
            ax.bar(
                xs + (i - 0.5) * 0.38, vals, 0.38, label="Omega-bridge" if method == "bridge" else "diffusion"
            )
        ax.set_xticks(xs.tolist(), DOMAINS)
        ax.set(title="fraction of raw samples in Omega", ylabel="fraction", ylim=(0, 1.05))
        ax.legend(fontsize=8, loc="lower right")
        fig.suptitle("Omega-bridges land in Omega by construction; diffusion needs rounding")
        fig.tight_layout()
        fig.savefig(out)
        plt.close(fig)
        return out


def wasserstein_1d(a: torch.Tensor, b: torch.Tensor) -> float:
    """W1 between two 1D samples, through their quantile functions on a common grid."""
    q = (torch.arange(2000, dtype=torch.float64) + 0.5) / 2000
    return float((torch.quantile(a.double(), q) - torch.quantile(b.double(), q)).abs().mean())


RECIPE = Recipe(
    name="theory-bridges",
    description="Omega-bridges vs diffusion + rounding on a grid, a categorical set and an interval: in-Omega rate, TV",
    config=BridgesConfig,
    build=BridgesExperiment,
    presets={
        "smoke": {
            "steps": 60,
            "n_train": 2000,
            "n_eval": 1000,
            "hidden": 32,
            "depth": 2,
            "sample_steps": 40,
            "grid_size": 4,
            "classes": 4,
            "batch_size": 256,
            "warmup": 5,
        },
        "paper": {
            "steps": 20_000,
            "hidden": 256,
            "depth": 4,
            "n_train": 200_000,
            "n_eval": 50_000,
            "sample_steps": 1000,
        },
    },
)
