"""``theory-spectral``: "Diffusion is spectral autoregression" (Dieleman 2024) measured.

(a) RAPSD of scikit-image's 20 shipped photographs: power-law fits, the flat spectrum of white noise
(an oracle for the normalisation, with Parseval), the crossover f*(sigma) and its predicted rate
sigma^(-2/alpha). (b) The sampling path of the exact denoiser of a Gaussian fitted to 32x32 patches of
those photographs (a closed-form diffusion model, genlab.theory.spectral.GaussianDenoiser), and of a
small U-Net diffusion model trained on 16x16 patches: the power of x0_hat settles at low frequencies
before high ones. (c) Controls on 1D stationary Gaussian signals: a falling spectrum gives the same
order, a rising one reverses it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from scipy.stats import spearmanr
from torch import nn
from torch.utils.data import TensorDataset

from genlab.core.data.images import SHIPPED, load_image
from genlab.core.diffusion.parameterization import Denoiser
from genlab.core.diffusion.schedules import get_schedule
from genlab.core.diffusion.training import diffusion_loss
from genlab.core.grids import logsnr_grid
from genlab.core.nn.unet import UNet
from genlab.core.recipe import Recipe
from genlab.core.trainer import TrainConfig, Trainer
from genlab.theory.experiment import Claim, Experiment, stage_config
from genlab.theory.spectral import (
    GaussianDenoiser,
    crossover,
    power_law_fit,
    rapsd,
    settle_steps,
    shell_counts,
    stationary_signals,
    x0_path,
)

# thresholds fixed before any run
R2_MIN = 0.9  # "close to a power law": median R^2 of the log-log fit over the 20 photographs
WHITE_TOL = 0.03  # white noise: mean RAPSD within 3% of sigma^2, and no shell off by more than 15%
WHITE_SHELL_TOL = 0.15
PARSEVAL_TOL = 1e-10
RATE_TOL = 0.25  # median relative deviation of the fitted f*(sigma) exponent from -2 / alpha
ORDER_MIN = 0.8  # Spearman rank correlation of settle step with frequency (coarse to fine)


@dataclass
class SpectralConfig(TrainConfig):
    size: int = 256  # photographs resized to size x size, grey, scaled to [-1, 1]
    sigma_min: float = 0.05  # smallest noise std of part (a), where the crossover f*(sigma) is found
    sigma_max: float = 1.0  # largest noise std of part (a)
    n_sigmas: int = 8  # noise stds of part (a), log-spaced in [sigma_min, sigma_max]
    fit_min: float = 1.0  # power-law fit over fit_min <= f <= size / 2
    patch: int = 32  # side of the photograph patches the exact Gaussian model of (b) is fitted to (even)
    stride: int = 8  # stride between the photograph patches of (b)
    n_samples: int = 256  # samples per sampling path whose x0_hat spectra are measured
    sample_steps: int = 100
    schedule: str = "cosine"
    settle_tol: float = 0.1  # a band has settled once its power stays within 10% of its final value
    signal_length: int = 256  # length of the 1D stationary signals of (c)
    n_signals: int = 4096  # signals each exact 1D Gaussian model of (c) is fitted to
    train_patch: int = 16  # the trained model: a small U-Net v-prediction diffusion model on 16x16 patches
    train_stride: int = 4  # stride between the trained model's patches
    base: int = 16  # U-Net channels (two levels, one block each, no attention)
    steps: int = 600
    batch_size: int = 128
    lr: float = 2e-3
    warmup: int = 50
    log_every: int = 50
    ckpt_every: int = 0


class PatchUNet(nn.Module):
    """genlab's U-Net on grey p x p patches without a channel axis: ``model(x [B, p, p], t [B])``."""

    def __init__(self, patch: int, base: int):
        super().__init__()
        self.net = UNet(1, base, (1, 2), 1, (), resolution=patch)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(x[:, None], t)[:, 0]


class SpectralExperiment(Experiment):
    title = "Diffusion is spectral autoregression (Dieleman 2024)"

    @property
    def setup(self) -> str:
        c = self.cfg
        return (
            f"(a) The 20 photographs shipped with scikit-image, grey, resized to {c.size}x{c.size} and scaled to "
            "[-1, 1]. RAPSD R(f) = mean over the shell round(|k|) = f of |DFT(x)(k)|^2 / N, so that white noise of "
            f"variance sigma^2 has R = sigma^2; power law log R = log A - alpha log f fitted by least squares over "
            f"{c.fit_min:g} <= f <= {c.size // 2} cycles per image; crossover f*(sigma) = first f where R(f) < "
            f"sigma^2 (log-log interpolation) for {c.n_sigmas} sigmas from {c.sigma_min:g} to {c.sigma_max:g}, and "
            "the log-log slope of f* against sigma vs the prediction -2 / alpha. (b) A Gaussian fitted to all "
            f"{c.patch}x{c.patch} patches (stride {c.stride}) of the photographs is an exact diffusion model: its "
            f"denoiser is closed form. {c.n_samples} samples by deterministic DDIM ({c.schedule} schedule, "
            f"{c.sample_steps} steps uniform in log-SNR); per frequency shell, the settle step is the first step from "
            f"which the mean RAPSD of x0_hat stays within {c.settle_tol:.0%} of its final value. The same for a small "
            f"U-Net diffusion model (v-prediction, {c.steps} training steps) on {c.train_patch}x{c.train_patch} "
            f"patches (stride {c.train_stride}). (c) The same on 1D stationary Gaussian signals (length "
            f"{c.signal_length}) with a falling spectrum f^-2 and a rising spectrum f^1.5 (the exact Gaussian model "
            "of each)."
        )

    def __init__(self, cfg: SpectralConfig):
        super().__init__(cfg)
        if not 0 < cfg.sigma_min < cfg.sigma_max or cfg.n_sigmas < 2:
            raise ValueError("need 0 < sigma_min < sigma_max and n_sigmas >= 2")
        if cfg.size % 2 or cfg.patch % 2 or cfg.patch > cfg.size:
            raise ValueError(f"size and patch must be even with patch <= size, got {cfg.size}, {cfg.patch}")
        self.sigmas = torch.logspace(math.log10(cfg.sigma_min), math.log10(cfg.sigma_max), cfg.n_sigmas)
        self.images = {name: load_image(name, cfg.size, gray=True)[0] * 2 - 1 for name in SHIPPED}
        self.spectra: dict[str, torch.Tensor] = {}
        self.fstar: dict[str, list[float]] = {}
        self.settle: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}  # freqs, steps, curves
        self.paths: dict[str, torch.Tensor] = {}  # x0_hat along sampling for 4 samples
        self.samples: dict[str, torch.Tensor] = {}

    # (a) photographs
    def photographs(self) -> dict[str, float]:
        cfg, out = self.cfg, {}
        nyquist = cfg.size // 2
        for name, img in self.images.items():
            f, power = rapsd(img)
            alpha, log_a, r2 = power_law_fit(f, power, cfg.fit_min, nyquist)
            fstar = [crossover(f, power, s.item() ** 2, nyquist) for s in self.sigmas]
            inside = [(s, v) for s, v in zip(self.sigmas.tolist(), fstar) if 1 < v < nyquist]
            rate = math.nan
            if len(inside) >= 3:  # log f* = c - rate' log sigma, fitted like a power law
                sig, fs = (torch.tensor(col, dtype=torch.float64) for col in zip(*inside))
                rate = -power_law_fit(sig, fs, 0, math.inf)[0]
            self.spectra[name], self.fstar[name] = power, fstar
            out |= {
                f"{name}_alpha": alpha,
                f"{name}_r2": r2,
                f"{name}_fstar_slope": rate,
                f"{name}_fstar_predicted": -2 / alpha,
            }
        self.freqs = f
        return out

    def white_noise(self) -> dict[str, float]:
        gen = torch.Generator().manual_seed(self.cfg.seed)
        sigma = 0.3  # any sigma: the claim is that R = sigma^2
        noise = sigma * torch.randn(64, self.cfg.size, self.cfg.size, generator=gen, dtype=torch.float64)
        f, power = rapsd(noise)
        ratio = power[1 : self.cfg.size // 2 + 1] / sigma**2
        one = noise[0]
        parseval = (shell_counts(self.cfg.size) * rapsd(one)[1]).sum() / one.numel()
        clean = self.images["camera"]
        noisy = rapsd(clean + noise[:8])[1] / (rapsd(clean)[1] + sigma**2)
        return {
            "white_noise_mean_ratio": ratio.mean().item(),
            "white_noise_max_shell_dev": (ratio - 1).abs().max().item(),
            "parseval_rel_err": (parseval / one.square().mean() - 1).abs().item(),
            "noisy_camera_additivity_dev": (noisy[1:] - 1).abs().mean().item(),
        }

    # (b) and (c): settle steps along the sampling path of an exact Gaussian model
    def settle_order(
        self, name: str, denoiser: Denoiser, shape: tuple[int, ...], dtype=torch.float64
    ) -> dict[str, float]:
        """Settle step of every frequency shell along DDIM from noise of ``shape`` (1 or 2 axes)."""
        cfg, ndim = self.cfg, len(shape)
        gen = torch.Generator().manual_seed(cfg.seed + 1)
        x = torch.randn(cfg.n_samples, *shape, generator=gen, dtype=dtype)
        grid = logsnr_grid(cfg.sample_steps, (cfg.n_samples,), schedule=denoiser.schedule, dtype=dtype)
        path = x0_path(denoiser, x, grid)  # [K, B, ...]
        n = shape[-1]
        curves = torch.stack([rapsd(p, ndim)[1] for p in path])[:, 1 : n // 2 + 1]  # shells 1..Nyquist
        freqs = torch.arange(1, n // 2 + 1, dtype=torch.float64)
        steps = settle_steps(curves, cfg.settle_tol)
        self.settle[name] = (freqs, steps, curves)
        self.paths[name], self.samples[name] = path[:, :4].float(), path[-1]
        return {
            # no order at all (every band settles at one step) counts as rank correlation 0
            f"{name}_settle_spearman": 0.0
            if len(steps.unique()) == 1
            else float(spearmanr(freqs, steps).statistic),
            f"{name}_settle_first_band": steps[0].item(),
            f"{name}_settle_last_band": steps[-1].item(),
        }

    def train_model(self, run_dir: Path, schedule) -> tuple[Denoiser, torch.Tensor]:
        """A small diffusion model on p x p patches (v-prediction); returns it and its training patches."""
        cfg = self.cfg
        data = self.patches(cfg.train_patch, cfg.train_stride).float()

        def loss(model, x0):
            return diffusion_loss(Denoiser(model, schedule, "v"), x0)

        stage = stage_config(cfg)
        torch.manual_seed(cfg.seed)
        net = PatchUNet(cfg.train_patch, cfg.base)
        ema = Trainer(net, loss, TensorDataset(data), stage, run_dir / "training").fit()
        return Denoiser(ema.eval(), schedule, "v"), data

    def patches(self, p: int, s: int) -> torch.Tensor:
        """All p x p patches at stride s of the photographs: [N, p, p]."""
        stack = torch.stack(list(self.images.values()))
        return stack.unfold(1, p, s).unfold(2, p, s).reshape(-1, p, p)

    def signals(self, exponent: float) -> torch.Tensor:
        shells = torch.arange(self.cfg.signal_length // 2 + 1, dtype=torch.float64).clamp_min(1)
        gen = torch.Generator().manual_seed(self.cfg.seed + 2)
        return stationary_signals(shells.pow(exponent), self.cfg.n_signals, gen)

    def run(self, run_dir: Path) -> dict[str, float]:
        cfg, schedule = self.cfg, get_schedule(self.cfg.schedule)
        results = {**self.white_noise(), **self.photographs()}

        def exact(data: torch.Tensor) -> Denoiser:
            return Denoiser(GaussianDenoiser(data, schedule), schedule, "x0")

        patches = self.patches(cfg.patch, cfg.stride)
        results["n_patches"] = float(len(patches))
        results |= self.settle_order("patches", exact(patches), patches.shape[1:])
        results |= self.settle_order("falling_1d", exact(self.signals(-2.0)), (cfg.signal_length,))
        results |= self.settle_order("rising_1d", exact(self.signals(1.5)), (cfg.signal_length,))
        trained, data = self.train_model(run_dir, schedule)
        results |= self.settle_order("trained", trained, data.shape[1:], torch.float32)
        nyquist = cfg.train_patch // 2
        ratio = rapsd(self.samples["trained"])[1] / rapsd(data)[1]
        results["trained_spectrum_mean_abs_log_ratio"] = ratio[1 : nyquist + 1].log().abs().mean().item()
        alphas = torch.tensor([results[f"{n}_alpha"] for n in SHIPPED])
        r2 = torch.tensor([results[f"{n}_r2"] for n in SHIPPED])
        dev = torch.tensor(
            [abs(results[f"{n}_fstar_slope"] / results[f"{n}_fstar_predicted"] - 1) for n in SHIPPED]
        )
        results |= {
            "alpha_median": alphas.median().item(),
            "alpha_min": alphas.min().item(),
            "alpha_max": alphas.max().item(),
            "r2_median": r2.median().item(),
            "fstar_rate_median_rel_dev": dev.nanmedian().item(),
            "fstar_rate_images": float((~dev.isnan()).sum()),
        }
        self.plot_path(run_dir / "sampling_path.png")
        return results

    def claims(self, r: dict[str, float]) -> list[Claim]:
        return [
            Claim(
                "The RAPSD normalisation is right: white noise at sigma^2 has a flat RAPSD equal to sigma^2, and "
                "Parseval holds",
                abs(r["white_noise_mean_ratio"] - 1) < WHITE_TOL
                and r["white_noise_max_shell_dev"] < WHITE_SHELL_TOL
                and r["parseval_rel_err"] < PARSEVAL_TOL,
                f"mean R / sigma^2 = {r['white_noise_mean_ratio']:.4f}, worst shell off by "
                f"{r['white_noise_max_shell_dev']:.3f} (64 draws); Parseval relative error "
                f"{r['parseval_rel_err']:.1e}; noisy camera R vs R_clean + sigma^2: mean deviation "
                f"{r['noisy_camera_additivity_dev']:.3f}",
            ),
            Claim(
                f"Natural-image RAPSD is close to a power law (median R^2 >= {R2_MIN:g} over the 20 photographs)",
                r["r2_median"] >= R2_MIN,
                f"median R^2 = {r['r2_median']:.3f}; alpha median {r['alpha_median']:.2f}, range "
                f"{r['alpha_min']:.2f}..{r['alpha_max']:.2f}; lowest R^2: "
                + ", ".join(
                    f"{n} {r[f'{n}_r2']:.2f}" for n in sorted(SHIPPED, key=lambda n: r[f"{n}_r2"])[:3]
                ),
            ),
            Claim(
                f"The crossover falls as f* ~ sigma^(-2/alpha) (median relative deviation of the fitted exponent "
                f"<= {RATE_TOL:.0%})",
                r["fstar_rate_median_rel_dev"] <= RATE_TOL,
                f"median |slope / (-2/alpha) - 1| = {r['fstar_rate_median_rel_dev']:.3f} over "
                f"{r['fstar_rate_images']:.0f} images; camera: slope {r['camera_fstar_slope']:.3f} vs "
                f"{r['camera_fstar_predicted']:.3f}, grass: {r['grass_fstar_slope']:.3f} vs "
                f"{r['grass_fstar_predicted']:.3f}",
            ),
            Claim(
                "Sampling runs coarse to fine: along the sampling path the power of x0_hat settles later at higher "
                f"frequency (Spearman >= {ORDER_MIN:g}; exact Gaussian model of {self.cfg.patch}x{self.cfg.patch} patches)",
                r["patches_settle_spearman"] >= ORDER_MIN
                and r["patches_settle_last_band"] > r["patches_settle_first_band"],
                f"Spearman {r['patches_settle_spearman']:.3f}; settle step {r['patches_settle_first_band']:.0f} at "
                f"f = 1 -> {r['patches_settle_last_band']:.0f} at f = {self.cfg.patch // 2} of {self.cfg.sample_steps}",
            ),
            Claim(
                f"A trained diffusion model (U-Net on {self.cfg.train_patch}x{self.cfg.train_patch} patches) samples "
                "coarse to fine as well "
                f"(Spearman >= {ORDER_MIN:g})",
                r["trained_settle_spearman"] >= ORDER_MIN
                and r["trained_settle_last_band"] > r["trained_settle_first_band"],
                f"Spearman {r['trained_settle_spearman']:.3f}; settle step {r['trained_settle_first_band']:.0f} at "
                f"f = 1 -> {r['trained_settle_last_band']:.0f} at f = {self.cfg.train_patch // 2} of "
                f"{self.cfg.sample_steps}; its samples' RAPSD is off the data's by "
                f"{r['trained_spectrum_mean_abs_log_ratio']:.2f} in mean |log ratio|",
            ),
            Claim(
                "Control: the order comes from the falling spectrum. 1D signals with a falling spectrum keep it, a "
                f"rising spectrum reverses it (Spearman >= {ORDER_MIN:g} and <= -{ORDER_MIN:g})",
                r["falling_1d_settle_spearman"] >= ORDER_MIN and r["rising_1d_settle_spearman"] <= -ORDER_MIN,
                f"falling f^-2: Spearman {r['falling_1d_settle_spearman']:.3f}; rising f^1.5: Spearman "
                f"{r['rising_1d_settle_spearman']:.3f}",
            ),
        ]

    def plot_path(self, out: Path) -> Path:
        fig, axes = plt.subplots(
            1, 4, figsize=(20, 4.6), dpi=110, gridspec_kw={"width_ratios": [1.2, 1, 0.8, 0.8]}
        )
        freqs, steps, curves = self.settle["patches"]
        ax = axes[0]
        im = ax.imshow(
            (curves / curves[-1]).T.log10().numpy(),
            aspect="auto",
            origin="lower",
            cmap="RdBu_r",
            vmin=-1,
            vmax=1,
            extent=(0, len(curves), 0.5, len(freqs) + 0.5),
        )
        ax.plot(steps.numpy(), freqs.numpy(), "k.-", label=f"settle step (within {self.cfg.settle_tol:.0%})")
        ax.set(
            xlabel="sampling step (noise -> data)",
            ylabel="frequency f (cycles / patch)",
            title=f"exact model, {self.cfg.patch}x{self.cfg.patch} patches: log10 R(x0_hat) / final",
        )
        fig.colorbar(im, ax=ax)
        ax.legend(fontsize=7, loc="upper left")
        ax = axes[1]
        c = self.cfg
        for name, label in (
            ("patches", f"{c.patch}x{c.patch} patches, exact Gaussian"),
            ("trained", f"{c.train_patch}x{c.train_patch} patches, trained U-Net"),
            ("falling_1d", "1D, spectrum f^-2"),
            ("rising_1d", "1D, spectrum f^1.5 (control)"),
        ):
            f, s, _ = self.settle[name]
            ax.plot((f / f.max()).numpy(), s.numpy(), "o-", ms=3, label=label)
        ax.set(xlabel="frequency / Nyquist", ylabel="settle step", title="settle step vs frequency")
        ax.legend(fontsize=7)
        for ax, name in zip(axes[2:], ("patches", "trained")):
            path = self.paths[name]
            idx = [int(round(i)) for i in torch.linspace(0, len(path) - 1, 6).tolist()]
            rows = [torch.cat(list(path[i]), 1) for i in idx]
            ax.imshow(torch.cat(rows, 0).clamp(-1, 1).numpy(), cmap="gray", vmin=-1, vmax=1)
            size = path.shape[-1]
            ax.set_yticks([size * (j + 0.5) for j in range(len(idx))], [f"step {i}" for i in idx])
            ax.set_xticks([])
            ax.set_title(
                f"x0_hat along sampling ({'exact' if name == 'patches' else 'trained'}): coarse first"
            )
        fig.tight_layout()
        fig.savefig(out)
        plt.close(fig)
        return out

    def plot(self, r: dict[str, float], out: Path) -> Path:
        fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), dpi=110)
        f = self.freqs.numpy()
        keep = (f >= 1) & (f <= self.cfg.size // 2)
        ax = axes[0]
        sigma = self.sigmas[len(self.sigmas) // 2].item()
        noise = sigma * torch.randn(
            self.cfg.size, self.cfg.size, generator=torch.Generator().manual_seed(self.cfg.seed)
        )
        for name in ("camera", "astronaut", "grass", "moon"):
            line = ax.loglog(
                f[keep],
                self.spectra[name].numpy()[keep],
                lw=1,
                label=f"{name}: alpha {r[f'{name}_alpha']:.2f}",
            )
            noisy = rapsd(self.images[name] + noise)[1].numpy()
            ax.loglog(f[keep], noisy[keep], ":", color=line[0].get_color(), lw=1)
        ax.axhline(sigma**2, color="k", lw=0.8, ls="--", label=f"sigma^2, sigma = {sigma:.2f}")
        ax.set(
            xlabel="frequency f (cycles / image)",
            ylabel="RAPSD",
            title=f"RAPSD: power laws; dotted: + noise at sigma = {sigma:.2f}",
        )
        ax.legend(fontsize=7)
        ax = axes[1]
        for name in SHIPPED:
            ax.loglog(self.sigmas.numpy(), self.fstar[name], "-", lw=0.8, alpha=0.7)
        s = self.sigmas.numpy()
        ax.loglog(
            s,
            40 * (s / s[0]) ** (-2 / r["alpha_median"]),
            "k--",
            lw=2,
            label=f"sigma^(-2/alpha), median alpha {r['alpha_median']:.2f}",
        )
        ax.set(
            xlabel="noise sigma",
            ylabel="crossover f* (cycles / image)",
            title="f*(sigma) for the 20 photographs",
        )
        ax.legend(fontsize=7)
        ax = axes[2]
        pred = [r[f"{n}_fstar_predicted"] for n in SHIPPED]
        meas = [r[f"{n}_fstar_slope"] for n in SHIPPED]
        ax.scatter(pred, meas, s=12)
        for n, x, y in zip(SHIPPED, pred, meas):
            ax.annotate(n, (x, y), fontsize=6)
        lim = (min(pred + [m for m in meas if m == m]) - 0.1, 0)
        ax.plot(lim, lim, "k:", lw=1)
        ax.set(
            xlabel="-2 / alpha (from the power-law fit)",
            ylabel="fitted slope of log f* vs log sigma",
            title="crossover rate vs prediction",
        )
        fig.tight_layout()
        fig.savefig(out)
        plt.close(fig)
        return out


RECIPE = Recipe(
    name="theory-spectral",
    description="Diffusion as spectral autoregression: RAPSD power laws, noise crossover f*(sigma) and the "
    "coarse-to-fine settling of x0_hat along sampling",
    config=SpectralConfig,
    build=SpectralExperiment,
    presets={
        "smoke": {
            "size": 64,
            "patch": 16,
            "stride": 8,
            "n_samples": 32,
            "sample_steps": 20,
            "signal_length": 64,
            "n_signals": 512,
            "train_patch": 8,
            "base": 8,
            "steps": 10,
            "batch_size": 32,
            "warmup": 2,
            "log_every": 5,
        },
    },
)
