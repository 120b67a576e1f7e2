"""``theory-schedules``: noise schedules across resolutions (Hoogeboom et al. 2023, "simple diffusion";
Chen 2023, "On the importance of noise scheduling").

(a) On scikit-image's 20 shipped photographs: the logSNR of average-pooled noisy images, measured from
the noise actually in them, is shifted by 2 log s; input scaling by b shifts it by 2 log b; the core
schedules ``resolution_shift`` and ``input_scaling`` reproduce the measured values. (b) Small diffusion
models on sklearn digits at 8x8 and bilinearly upsampled to 32x32, with the base schedule and with
simple diffusion's shifted schedules at 32x32, compared by the Frechet distance of digit-classifier
features (samples pooled back to 8x8) and the sliced Wasserstein distance.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torchvision.utils import make_grid  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from genlab.core.data.digits import load_digits  # noqa: E402
from genlab.core.data.images import SHIPPED, load_image  # noqa: E402
from genlab.core.diffusion.parameterization import Denoiser  # noqa: E402
from genlab.core.diffusion.samplers import sample_ddim, sample_prior  # noqa: E402
from genlab.core.diffusion.schedules import (  # noqa: E402
    get_schedule,
    input_scaling,
    interpolated_shift,
    resolution_shift,
)
from genlab.core.diffusion.training import diffusion_loss  # noqa: E402
from genlab.core.grids import time_grid  # noqa: E402
from genlab.core.metrics import fd_digits, sliced_wasserstein  # noqa: E402
from genlab.core.nn.mlp import TimeMLP  # noqa: E402
from genlab.core.recipe import Recipe  # noqa: E402
from genlab.core.run import train_stage  # noqa: E402
from genlab.core.trainer import TrainConfig  # noqa: E402
from genlab.theory.experiment import Claim, Experiment  # noqa: E402
from genlab.theory.resolution import (  # noqa: E402
    expected_shift,
    noise_logsnr,
    noised,
    pool,
    pooling_shift,
    scaling_shift,
)

# thresholds fixed before any run
NOISE_TOL = 0.02  # mean measured noise-logSNR shift within 0.02 nats of 2 log s (and of 2 log b)
NOISE_T_TOL = 0.05  # ... and the mean over images within 0.05 at every t
IMAGE_REL_TOL = 0.10  # image SNR (signal power included): median image within 10% of 2 log s
CORE_TOL = 0.02  # core schedules vs measurement: |mean difference| below 0.02 nats


def parse_numbers(text: str, name: str, kind=float) -> list:
    try:
        values = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{name} must be comma-separated numbers, got {text!r}") from None
    if not values or min(values) <= 0:
        raise ValueError(f"{name} must list positive numbers, got {text!r}")
    return values


@dataclass
class SchedulesConfig(TrainConfig):
    image_size: int = 256  # photographs, grey, scaled to [-1, 1]
    pool_factors: str = "2,4,8"  # average-pooling factors s of part (a): logSNR shifts by 2 log s
    scale_factors: str = "0.25,0.5,2"  # input scalings b of part (a): logSNR shifts by 2 log b
    n_times: int = 25  # measurement times, uniform in [0.05, 0.95]
    schedule: str = "cosine"  # the base schedule, tuned for low_res
    low_res: int = 8  # the digits' native resolution of part (b) (must be 8)
    high_res: int = 32  # the upsampled resolution of part (b), a multiple of low_res
    hidden: int = 256
    depth: int = 3
    sample_steps: int = 32  # deterministic DDIM, uniform in t
    n_samples: int = 1000  # samples per arm and seed for the Frechet and sliced Wasserstein distances
    seeds: int = 2  # every arm is trained and sampled with seeds seed .. seed + seeds - 1
    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-3
    warmup: int = 100
    ckpt_every: int = 0


class SchedulesExperiment(Experiment):
    title = (
        "Noise schedules across resolutions: pooling shifts logSNR by 2 log s (simple diffusion; Chen 2023)"
    )

    def __init__(self, cfg: SchedulesConfig):
        super().__init__(cfg)
        self.pools = parse_numbers(cfg.pool_factors, "pool_factors", int)
        self.scales = parse_numbers(cfg.scale_factors, "scale_factors")
        if any(cfg.image_size % s for s in self.pools):
            raise ValueError(
                f"image_size {cfg.image_size} must be divisible by every pool factor {self.pools}"
            )
        if cfg.high_res % cfg.low_res or cfg.high_res <= cfg.low_res or cfg.low_res != 8:
            raise ValueError("low_res must be 8 (the digits) and high_res a larger multiple of it")
        self.base = get_schedule(cfg.schedule)
        self.t = torch.linspace(0.05, 0.95, cfg.n_times, dtype=torch.float64)
        factor = cfg.high_res // cfg.low_res
        self.arms = {
            f"{cfg.low_res}x{cfg.low_res} base": (cfg.low_res, self.base),
            f"{cfg.high_res}x{cfg.high_res} base": (cfg.high_res, self.base),
            f"{cfg.high_res}x{cfg.high_res} shifted": (
                cfg.high_res,
                resolution_shift(self.base, cfg.high_res, base_resolution=cfg.low_res),
            ),
            f"{cfg.high_res}x{cfg.high_res} interpolated": (
                cfg.high_res,
                interpolated_shift(self.base, cfg.high_res, low=cfg.low_res),
            ),
        }
        self.setup = (
            f"(a) The 20 photographs shipped with scikit-image, grey, {cfg.image_size}x{cfg.image_size}, scaled to "
            f"[-1, 1], noised as x_t = alpha x + sigma eps under the {cfg.schedule} schedule at {cfg.n_times} times "
            "t in [0.05, 0.95]. Noise logSNR = log(alpha^2 / mean((x_t - alpha x)^2)), image logSNR = "
            "log(mean((alpha x)^2) / mean((x_t - alpha x)^2)), measured on the image and on both average-pooled by s "
            f"in {self.pools} (the same draw); shift = pooled - full. Input scaling: alpha b x + sigma eps for b in "
            f"{self.scales} vs b = 1; core input_scaling(base, b) and resolution_shift(base, {cfg.image_size}, "
            f"{cfg.image_size} / s) are checked against the measurements. (b) sklearn digits (1500 train) in "
            f"[-1, 1] at 8x8 and bilinearly upsampled to {cfg.high_res}x{cfg.high_res} (s = {factor}); one "
            f"TimeMLP (width {cfg.hidden}, depth {cfg.depth}) v-prediction model per arm and seed ({cfg.seeds} "
            f"seeds), {cfg.steps} steps of "
            f"{cfg.batch_size}, EMA; {cfg.n_samples} samples by deterministic DDIM with {cfg.sample_steps} steps "
            f"uniform in t, average-pooled to 8x8. Arms: base {cfg.schedule} at 8 and at {cfg.high_res}; "
            f"resolution_shift (logSNR - 2 log {factor}) and interpolated_shift (0 at t = 0 to -2 log {factor} at "
            f"t = 1) at {cfg.high_res}. Metrics against the training digits treated the same way: Frechet distance "
            "of the shipped digit classifier's features (FD) and sliced Wasserstein-2 on the 64 pixels (SW). Test "
            f"stated before the run: at {cfg.high_res}x{cfg.high_res} the shifted schedule has a lower FD than "
            "the base one."
        )
        self.measured: dict[str, torch.Tensor] = {}
        self.samples: dict[str, torch.Tensor] = {}

    def photographs(self) -> torch.Tensor:
        return torch.stack([load_image(n, self.cfg.image_size, gray=True) for n in SHIPPED]).double() * 2 - 1

    def measure(self) -> dict[str, float]:
        cfg, r = self.cfg, {}
        images = self.photographs()[:, 0]
        gen = torch.Generator().manual_seed(cfg.seed)
        for s in self.pools:
            noise, image = pooling_shift(images, self.t, self.base, s, gen)
            self.measured[f"pool{s}"] = (noise, image)
            target = expected_shift(s)
            r |= {
                f"pool{s}_expected": target,
                f"pool{s}_noise_shift_mean": noise.mean().item(),
                f"pool{s}_noise_shift_worst_t": (noise.mean(1) - target).abs().max().item(),
                f"pool{s}_image_shift_median_image": image.mean(0).median().item(),
                f"pool{s}_image_shift_min_image": image.mean(0).min().item(),
            }
            # simple diffusion's correction: noise at full resolution with the schedule shifted by -2 log s,
            # pool by s, and the pooled image is back at the base schedule's logSNR
            shifted = resolution_shift(self.base, cfg.image_size, base_resolution=cfg.image_size / s)
            dev = []
            for tt in self.t:
                x_t, a = noised(images, tt.expand(len(images)), shifted, generator=gen)
                dev.append(noise_logsnr(pool(images, s), pool(x_t, s), a) - self.base.logsnr(tt))
            r[f"pool{s}_resolution_shift_dev"] = torch.stack(dev).mean().abs().item()
        for b in self.scales:
            shift = scaling_shift(images, self.t, self.base, b, gen)
            self.measured[f"scale{b:g}"] = shift
            core = input_scaling(self.base, b)
            dev = []
            for tt in self.t:
                tb = tt.expand(len(images))
                x_b, ab = noised(images, tb, self.base, b, gen)  # scaled input, base schedule
                x_c, ac = noised(images, tb, core, 1.0, gen)  # plain input, core input_scaling schedule
                dev.append(noise_logsnr(images, x_c, ac) - noise_logsnr(images, x_b, ab))
            r |= {
                f"scale{b:g}_expected": expected_shift(b),
                f"scale{b:g}_shift_mean": shift.mean().item(),
                f"scale{b:g}_shift_worst_t": (shift.mean(1) - expected_shift(b)).abs().max().item(),
                f"scale{b:g}_input_scaling_dev": torch.stack(dev).mean().abs().item(),
            }
        return r

    def digits(self, res: int) -> torch.Tensor:
        x = load_digits("train").images * 2 - 1
        return x if res == 8 else F.interpolate(x, size=(res, res), mode="bilinear", align_corners=False)

    def train_arm(self, res: int, schedule, seed: int) -> torch.Tensor:
        """Train one arm with one seed; return its samples pooled to 8x8 in [0, 1]."""
        cfg = dataclasses.replace(self.cfg, seed=seed)
        data = self.digits(res).flatten(1)
        torch.manual_seed(seed)
        denoiser = Denoiser(TimeMLP(res * res, cfg.hidden, cfg.depth), schedule, "v")

        def loss(model, x0):
            return diffusion_loss(model, x0)

        ema = train_stage("", denoiser, loss, torch.utils.data.TensorDataset(data), cfg, None)
        gen = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            x = sample_prior(schedule, (cfg.n_samples, res * res), generator=gen)
            x = sample_ddim(ema.eval(), x, time_grid(cfg.sample_steps, (cfg.n_samples,)))
        return (pool(x.reshape(-1, 1, res, res), res // 8).clamp(-1, 1) + 1) / 2

    def run(self, run_dir: Path) -> dict[str, float]:
        cfg, r = self.cfg, self.measure()
        reference = {res: (pool(self.digits(res), res // 8) + 1) / 2 for res in (cfg.low_res, cfg.high_res)}
        jobs = [(name, seed) for name in self.arms for seed in range(cfg.seed, cfg.seed + cfg.seeds)]
        for name, seed in tqdm(jobs, desc="theory-schedules arms", disable=None):
            res, schedule = self.arms[name]
            samples = self.train_arm(res, schedule, seed)
            self.samples.setdefault(name, samples)
            key = f"{name.replace(' ', '_')}_seed{seed}"
            r[f"{key}_fd"] = fd_digits(samples, reference[res])
            r[f"{key}_sw"] = sliced_wasserstein(samples.flatten(1), reference[res].flatten(1))
        for name in self.arms:
            key = name.replace(" ", "_")
            for metric in ("fd", "sw"):
                values = [r[f"{key}_seed{seed}_{metric}"] for seed in range(cfg.seed, cfg.seed + cfg.seeds)]
                r[f"{key}_{metric}"] = sum(values) / len(values)
        self.plot_samples(run_dir / "digits_samples.png")
        return r

    def claims(self, r: dict[str, float]) -> list[Claim]:
        cfg, hi = self.cfg, self.cfg.high_res
        pools = ", ".join(
            f"s={s}: {r[f'pool{s}_noise_shift_mean']:.4f} vs {r[f'pool{s}_expected']:.4f} (worst t off by "
            f"{r[f'pool{s}_noise_shift_worst_t']:.3f})"
            for s in self.pools
        )
        images = ", ".join(
            f"s={s}: median {r[f'pool{s}_image_shift_median_image']:.3f}, lowest image "
            f"{r[f'pool{s}_image_shift_min_image']:.3f} vs {r[f'pool{s}_expected']:.3f}"
            for s in self.pools
        )
        scales = ", ".join(
            f"b={b:g}: {r[f'scale{b:g}_shift_mean']:.4f} vs {r[f'scale{b:g}_expected']:.4f}"
            for b in self.scales
        )
        base, shifted, interp = (r[f"{hi}x{hi}_{k}_fd"] for k in ("base", "shifted", "interpolated"))
        seeds = range(cfg.seed, cfg.seed + cfg.seeds)
        sws = ", ".join(f"{k}: {r[k.replace(' ', '_') + '_sw']:.4f}" for k in self.arms)
        return [
            Claim(
                f"Average pooling by s shifts the logSNR of the noise by 2 log s (mean within {NOISE_TOL}, every t "
                f"within {NOISE_T_TOL}; 20 photographs x {cfg.n_times} times)",
                all(
                    abs(r[f"pool{s}_noise_shift_mean"] - r[f"pool{s}_expected"]) < NOISE_TOL
                    and r[f"pool{s}_noise_shift_worst_t"] < NOISE_T_TOL
                    for s in self.pools
                ),
                pools,
            ),
            Claim(
                "Measured against the clean pooled image (signal power included), the SNR of pooled noisy photographs "
                f"rises by about 2 log s (median image within {IMAGE_REL_TOL:.0%})",
                all(
                    abs(r[f"pool{s}_image_shift_median_image"] / r[f"pool{s}_expected"] - 1) < IMAGE_REL_TOL
                    for s in self.pools
                ),
                images + " (pooling also removes the signal power above the new Nyquist frequency)",
            ),
            Claim(
                f"Scaling the input by b shifts the logSNR by 2 log b (mean within {NOISE_TOL}, every t within "
                f"{NOISE_T_TOL}), and core input_scaling(base, b) gives the same noise level (within {CORE_TOL})",
                all(
                    abs(r[f"scale{b:g}_shift_mean"] - r[f"scale{b:g}_expected"]) < NOISE_TOL
                    and r[f"scale{b:g}_shift_worst_t"] < NOISE_T_TOL
                    and r[f"scale{b:g}_input_scaling_dev"] < CORE_TOL
                    for b in self.scales
                ),
                scales
                + "; input_scaling vs scaled input, |mean logSNR difference|: "
                + ", ".join(f"b={b:g}: {r[f'scale{b:g}_input_scaling_dev']:.4f}" for b in self.scales),
            ),
            Claim(
                "Core resolution_shift (logSNR - 2 log s) puts the pooled image back at the base schedule's logSNR "
                f"(|mean difference| < {CORE_TOL})",
                all(r[f"pool{s}_resolution_shift_dev"] < CORE_TOL for s in self.pools),
                ", ".join(f"s={s}: {r[f'pool{s}_resolution_shift_dev']:.4f}" for s in self.pools),
            ),
            Claim(
                f"At {hi}x{hi} the shifted schedule beats the unshifted one (lower FD of digit features, mean over "
                f"{cfg.seeds} seeds)",
                shifted < base,
                f"mean FD at {hi}x{hi}: base {base:.2f}, shifted {shifted:.2f}, interpolated {interp:.2f} (per seed: "
                + "; ".join(
                    f"{k}: " + ", ".join(f"{r[f'{hi}x{hi}_{k}_seed{s}_fd']:.2f}" for s in seeds)
                    for k in ("base", "shifted", "interpolated")
                )
                + f"); at {cfg.low_res}x{cfg.low_res} (base, not pooled, so not comparable): "
                f"{r[f'{cfg.low_res}x{cfg.low_res}_base_fd']:.2f}; mean SW: {sws}",
            ),
        ]

    def plot_samples(self, out: Path) -> Path:
        fig, axes = plt.subplots(1, len(self.samples), figsize=(4 * len(self.samples), 4.8), dpi=110)
        for ax, (name, x) in zip(axes, self.samples.items()):
            grid = make_grid(x[:64], nrow=8, padding=1, pad_value=0.5)[0]
            ax.imshow(grid.numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set(title=f"{name}\n(samples pooled to 8x8)", xticks=[], yticks=[])
        fig.tight_layout()
        fig.savefig(out)
        plt.close(fig)
        return out

    def plot(self, r: dict[str, float], out: Path) -> Path:
        cfg = self.cfg
        fig, axes = plt.subplots(1, 4, figsize=(21, 4.6), dpi=110)
        t = self.t.numpy()
        ax = axes[0]
        for s in self.pools:
            noise, image = self.measured[f"pool{s}"]
            line = ax.plot(t, noise.mean(1).numpy(), "o-", ms=3, label=f"noise logSNR, s={s}")
            ax.plot(
                t,
                image.median(1).values.numpy(),
                "x:",
                color=line[0].get_color(),
                label=f"image SNR (median), s={s}",
            )
            ax.axhline(expected_shift(s), color=line[0].get_color(), lw=0.8, ls="--")
        ax.set(
            xlabel="t",
            ylabel="measured logSNR shift (pooled - full)",
            title="pooling by s: shift vs 2 log s (dashed)",
        )
        ax.legend(fontsize=6)
        ax = axes[1]
        for b in self.scales:
            shift = self.measured[f"scale{b:g}"]
            line = ax.plot(t, shift.mean(1).numpy(), "o-", ms=3, label=f"b={b:g}")
            ax.axhline(expected_shift(b), color=line[0].get_color(), lw=0.8, ls="--")
        ax.set(
            xlabel="t", ylabel="measured logSNR shift", title="input scaling by b: shift vs 2 log b (dashed)"
        )
        ax.legend(fontsize=7)
        ax = axes[2]
        tt = torch.linspace(0.0, 1.0, 201, dtype=torch.float64)
        for name, (res, schedule) in self.arms.items():
            lam = schedule.logsnr(tt)
            if res != cfg.low_res:  # what the model sees through pooling to 8x8
                lam = lam + expected_shift(res // cfg.low_res)
            ax.plot(tt.numpy(), lam.numpy(), label=name)
        ax.set(
            xlabel="t",
            ylabel="logSNR of the 8x8-pooled image",
            ylim=(-15, 12),
            title="effective schedule at 8x8 resolution",
        )
        ax.legend(fontsize=7)
        ax = axes[3]
        names = list(self.arms)
        fds = [r[f"{n.replace(' ', '_')}_fd"] for n in names]
        ax.bar(range(len(names)), fds, color=["gray", "C3", "C0", "C2"][: len(names)])
        ax.set_xticks(range(len(names)), [n.replace(" ", "\n", 1) for n in names], fontsize=7)
        ax.set(ylabel="FD (digit classifier features)", title="sample quality (lower is better)")
        fig.suptitle("Noise schedules across resolutions (Hoogeboom et al. 2023; Chen 2023)")
        fig.tight_layout()
        fig.savefig(out)
        plt.close(fig)
        return out


RECIPE = Recipe(
    name="theory-schedules",
    description="Noise schedules across resolutions: measured logSNR shifts of pooling (2 log s) and input "
    "scaling (2 log b), and shifted schedules for small diffusion models on upsampled digits",
    config=SchedulesConfig,
    build=SchedulesExperiment,
    presets={
        "smoke": {
            "image_size": 64,
            "pool_factors": "2,4",
            "scale_factors": "0.5,2",
            "n_times": 5,
            "high_res": 16,
            "hidden": 32,
            "depth": 2,
            "sample_steps": 8,
            "n_samples": 128,
            "seeds": 1,
            "steps": 30,
            "batch_size": 64,
            "warmup": 5,
        },
    },
)
