"""``diffusion-forcing-video``: Diffusion Forcing on procedural video, with its two baselines on the
same model, data and compute (Chen et al. 2024, Fig. 2 and Sec. 4.1).

``--objective`` picks how clips are noised in training (``genlab.video.forcing``) and, to match,
how a rollout is sampled (``genlab.video.sampling``):

- diffusion-forcing: independent per-frame levels; rollouts run a scheduling matrix (pyramid by
  default) over ``chunk`` new frames per window with the history stabilised at a small level;
- teacher-forcing: next-frame diffusion on clean history; rollouts generate one frame at a time
  after clean history (the training condition);
- full-sequence: one level per clip; rollouts denoise ``chunk`` frames together with the history
  re-noised to their level (replacement).

The model is the ConvGRU (carrying its state; the default, which learns far faster per CPU second
than the transformer) or a causal space-time model over a sliding window of ``frames``: the patch
transformer or the U-ViT (``--model uvit``, convolutional frame levels around the same blocks).

Evaluation, the paper's claim made a number: on held-out sequences, roll out
``rollout_factor`` x ``frames`` frames after ``context`` ground-truth frames and compare each frame
with the exact ground truth: mean PSNR over the first N (= ``frames``) and over all generated
frames, SSIM, the divergence horizon (first frame after which PSNR stays below ``psnr_threshold``
dB), the brightness mass of the rollout over the truth's (1 while the objects stay intact, even
off track), on moving digits the digit identity (the fraction of digits the shipped digits classifier
still recognises, wherever they are; ``eval_digits 1`` makes the held-out sequences single-digit,
where identity is unambiguous and the continuation deterministic; ``digits 1`` trains on
single-digit clips too), on shapes the colour similarity (each colour's area against the truth's,
wherever the shapes are; ``metrics.per_frame_colour_similarity``) and its horizon, two reference
predictors (a blank frame; the last context frame repeated, over the first N) and throughput.
``samples.png`` shows rollouts above their ground truth, ``rollout.gif`` plays them side by side
and ``psnr.png``, ``ssim.png`` and ``identity.png`` (``colour.png``) plot PSNR, SSIM and digit identity
(colour similarity) against frame.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from genlab.core.diffusion import Denoiser, get_schedule
from genlab.core.diffusion.registry import KindName, ScheduleName
from genlab.core.recipe import Recipe
from genlab.core.trainer import TrainConfig
from genlab.video.data import PALETTE, make_dataset
from genlab.video.forcing import forcing_loss
from genlab.video.io import plot_curves, write_grid, write_side_by_side
from genlab.video.metrics import (
    divergence_horizon,
    per_frame_centroid_error,
    per_frame_colour_similarity,
    per_frame_digit_identity,
    per_frame_mass_ratio,
    per_frame_psnr,
    per_frame_ssim,
)
from genlab.video.models import make_model
from genlab.video.sampling import rollout


def _clock(device: torch.device) -> float:
    """Wall time once the device has finished its queued work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


Objective = Literal["diffusion-forcing", "teacher-forcing", "full-sequence"]


@dataclass
class DiffusionForcingVideoConfig(TrainConfig):
    # procedural clips: bouncing sklearn digits (grey) or squares and discs (colour)
    data: Literal["moving-digits", "shapes"] = "moving-digits"
    # how training noises clips, and rollouts sample to match (see the module docstring)
    objective: Objective = "diffusion-forcing"
    # the network: patch transformer, U-ViT or ConvGRU (the ConvGRU learns far faster per CPU second)
    model: Literal["transformer", "uvit", "gru"] = "gru"
    causal: bool = True  # False: a non-causal transformer or U-ViT (what dfot-video trains)
    size: int = 32  # frame height and width in pixels
    frames: int = 16  # training clip length N, and the transformer's window
    train_clips: int = 100_000  # procedural clips, rendered on the fly
    patch: int = 4  # side in pixels of the patch transformer's patches
    dim: int = 64  # width of the transformer and U-ViT space-time blocks
    depth: int = 4  # space-time blocks of the transformer and U-ViT
    heads: int = 4  # attention heads of the space-time blocks
    base: int = 16  # ConvGRU and U-ViT frame levels
    hidden: int = 32  # channels of the ConvGRU's recurrent state
    schedule: ScheduleName = "cosine"
    kind: KindName = "v"
    weighting: Literal["own", "eps", "x0", "v", "min_snr", "sigmoid"] = "own"  # own: MSE in `kind`
    t_sampler: Literal["uniform", "stratified", "logit_normal"] = "uniform"
    # the scheduling matrix of diffusion-forcing rollouts: per-frame noise level per row
    scheduling: Literal["pyramid", "autoregressive", "trapezoid", "full_sequence"] = "pyramid"
    # pyramid and trapezoid: frame t starts floor(t * scale) rows after the first
    uncertainty_scale: float = 1.0
    sampling_steps: int = 10  # noise levels per frame (rows of the matrix per frame)
    stabilization: float = 0.02  # history noise level of diffusion forcing
    chunk: int = 8  # new frames per window (teacher forcing: 1)
    eta: float = 0.0  # DDIM eta of rollouts; 0: deterministic given the initial noise
    context: int = 8  # ground-truth frames a rollout starts from
    rollout_factor: int = 8  # rollouts of rollout_factor * frames generated frames
    n_eval: int = 16
    digits: int = 0  # digits per training clip (moving digits); 0: a mix of 1 and 2
    eval_digits: int = 0  # digits per held-out sequence (moving digits); 0: the training clips' number
    # PSNR (dB) of the divergence horizon: the truth shifted by 1 pixel scores 21, by 2 pixels 16, blank 12
    psnr_threshold: float = 18.0
    identity_threshold: float = 0.5  # digit identity horizon: the first frame it stays below this
    colour_threshold: float = 0.5  # shapes' colour horizon: the first frame the similarity stays below this
    steps: int = 1200
    batch_size: int = 8
    lr: float = 1e-3
    warmup: int = 100
    ema_decay: float = 0.995
    log_every: int = 25
    ckpt_every: int = 500


class DiffusionForcingVideoTask:
    n_show = 4

    def __init__(self, cfg: DiffusionForcingVideoConfig):
        if cfg.frames < 2 or cfg.context < 1 or cfg.rollout_factor < 1 or cfg.n_eval < 1:
            raise ValueError(
                "need frames >= 2, context >= 1, rollout_factor >= 1 and n_eval >= 1, got "
                f"{cfg.frames}, {cfg.context}, {cfg.rollout_factor}, {cfg.n_eval}"
            )
        if not 1 <= cfg.chunk < cfg.frames:
            raise ValueError(f"chunk must lie in [1, frames) = [1, {cfg.frames}), got {cfg.chunk}")
        if cfg.context >= cfg.frames:
            raise ValueError(f"context ({cfg.context}) must be shorter than the window frames ({cfg.frames})")
        if cfg.model == "gru" and not cfg.causal:
            raise ValueError(
                "the ConvGRU is causal by construction; causal=false needs model=transformer or uvit"
            )
        self.cfg = cfg
        for name, value in (("digits", cfg.digits), ("eval_digits", cfg.eval_digits)):
            if value < 0 or (value and cfg.data != "moving-digits"):
                raise ValueError(
                    f"{name} >= 1 needs --data moving-digits, got {value} (pass --{name} 0 with --data {cfg.data})"
                )
        extra = {"digit_size": cfg.size // 2} if cfg.data == "moving-digits" else {}
        if cfg.digits:
            extra["digits"] = (cfg.digits, cfg.digits)
        self.train_set = make_dataset(
            cfg.data,
            "train",
            frames=cfg.frames,
            size=cfg.size,
            length=cfg.train_clips,
            seed=cfg.seed,
            **extra,
        )
        if cfg.eval_digits:
            extra["digits"] = (cfg.eval_digits, cfg.eval_digits)
        test = make_dataset(
            cfg.data, "test", frames=cfg.frames, size=cfg.size, length=cfg.n_eval, seed=cfg.seed, **extra
        )
        self.test_labels = (
            [test.labels(i) for i in range(cfg.n_eval)] if cfg.data == "moving-digits" else None
        )
        self.rollout_frames = cfg.rollout_factor * cfg.frames
        self.truth = torch.stack(
            [test.sequence(i, cfg.context + self.rollout_frames) for i in range(cfg.n_eval)]
        )
        channels = self.truth.shape[2]
        if cfg.model != "gru":
            width = dict(patch=cfg.patch) if cfg.model == "transformer" else dict(base=cfg.base)
            sizes = dict(frames=cfg.frames, dim=cfg.dim, depth=cfg.depth, heads=cfg.heads, **width)
            self.model = make_model(cfg.model, channels=channels, size=cfg.size, causal=cfg.causal, **sizes)
        else:
            self.model = make_model("gru", channels=channels, size=cfg.size, base=cfg.base, hidden=cfg.hidden)
        self.schedule = get_schedule(cfg.schedule)

    def denoiser(self, model) -> Denoiser:
        return Denoiser(model, self.schedule, self.cfg.kind)

    def loss(self, model, batch):
        cfg = self.cfg
        weighting = None if cfg.weighting == "own" else cfg.weighting
        return forcing_loss(
            self.denoiser(model), batch, cfg.objective, sampler=cfg.t_sampler, weighting=weighting
        )

    def sampling_plan(self) -> dict:
        """How the objective's model is rolled out: the setting it was trained for."""
        cfg = self.cfg
        plan = dict(window=cfg.frames, steps=cfg.sampling_steps, eta=cfg.eta)
        if cfg.objective == "diffusion-forcing":
            return plan | dict(
                chunk=cfg.chunk,
                schedule=cfg.scheduling,
                uncertainty_scale=cfg.uncertainty_scale,
                history="stabilized",
                stabilization=cfg.stabilization,
            )
        if cfg.objective == "teacher-forcing":
            return plan | dict(chunk=1, schedule="full_sequence", history="stabilized", stabilization=0.0)
        return plan | dict(chunk=cfg.chunk, schedule="full_sequence", history="replaced")

    def generate(self, model, n: int, guide=None) -> tuple[torch.Tensor, float]:
        """(rollouts [n, rollout_frames, ...] of the first n held-out sequences, seconds taken);
        ``guide`` makes a guide for ``rollout`` from a generator (history guidance)."""
        if not 1 <= n <= self.cfg.n_eval:
            raise ValueError(f"can roll out 1..n_eval = {self.cfg.n_eval} held-out sequences, got {n}")
        device = next(model.parameters()).device
        context = self.truth[:n, : self.cfg.context].to(device)
        generator = torch.Generator(device).manual_seed(self.cfg.seed + 1)
        plan = self.sampling_plan() | ({"guide": guide(generator)} if guide else {})
        started = _clock(device)
        out = rollout(self.denoiser(model), context, self.rollout_frames, generator=generator, **plan)
        return out.cpu(), _clock(device) - started

    def train_throughput(self, model, repeats: int = 5) -> float:
        """Training frames per second: loss, backward and an AdamW step on a copy of the model."""
        net = copy.deepcopy(model).train().requires_grad_(True)
        optimizer = torch.optim.AdamW(net.parameters(), lr=0.0)
        batch = torch.stack([self.train_set[i] for i in range(self.cfg.batch_size)])
        device = next(net.parameters()).device
        batch = batch.to(device)
        for i in range(repeats + 1):
            if i == 1:  # the first step warms up
                started = _clock(device)
            optimizer.zero_grad()
            self.loss(net, batch)[0].backward()
            optimizer.step()
        return repeats * batch.shape[0] * batch.shape[1] / (_clock(device) - started)

    def evaluate(self, model):
        generated, seconds = self.generate(model, self.cfg.n_eval)
        return self.rollout_metrics(generated) | {
            "blank_frame_psnr_all": float(
                per_frame_psnr(torch.full_like(generated, -1.0), self.future).mean()
            ),
            "copy_last_psnr_first_n": self.copy_last_psnr(),
            "sample_frames_per_s": generated.shape[0] * generated.shape[1] / seconds,
            "train_frames_per_s": self.train_throughput(model),
        }

    @property
    def future(self) -> torch.Tensor:
        """The ground truth after the context, [n_eval, rollout_frames, C, H, W]."""
        return self.truth[:, self.cfg.context :]

    def copy_last_psnr(self) -> float:
        """PSNR of repeating the last context frame, over the first N frames (the dynamics are
        periodic, so a copy is exact now and then, PSNR inf, further on)."""
        n, c = self.cfg.frames, self.cfg.context
        return float(
            per_frame_psnr(self.truth[:, c - 1 : c].expand_as(self.future[:, :n]), self.future[:, :n]).mean()
        )

    def rollout_metrics(self, generated: torch.Tensor) -> dict[str, float]:
        """PSNR / SSIM against the truth (first N frames, all, last N), horizon, mass ratio, centroid error
        (pixels off the truth's path, first N and last N) and, on moving digits, the digit identity (first
        N, last N, horizon)."""
        cfg, n = self.cfg, self.cfg.frames
        truth = self.truth[: len(generated), cfg.context :]
        curve = per_frame_psnr(generated, truth)
        ssim = per_frame_ssim(generated, truth)
        horizon = divergence_horizon(curve, cfg.psnr_threshold)
        mass = per_frame_mass_ratio(generated, truth)
        drift = per_frame_centroid_error(generated, truth)
        return {
            "psnr_first_n": float(curve[:n].mean()),
            "psnr_all": float(curve.mean()),
            "psnr_last_n": float(curve[-n:].mean()),
            "ssim_first_n": float(ssim[:n].mean()),
            "ssim_all": float(ssim.mean()),
            "divergence_horizon": float(horizon),
            "divergence_horizon_over_n": horizon / n,
            "psnr_threshold": cfg.psnr_threshold,
            "mass_ratio_first_n": float(mass[:n].mean()),
            "mass_ratio_last_n": float(mass[-n:].mean()),
            "centroid_error_first_n": float(drift[:n].mean()),
            "centroid_error_last_n": float(drift[-n:].mean()),
            "rollout_frames": float(self.rollout_frames),
        } | self.object_metrics(generated)

    def objects_kept(self, generated: torch.Tensor) -> tuple[str, torch.Tensor, float]:
        """Whether the objects are still themselves, wherever they are, per frame: (name, curve [T],
        threshold); the digit identity on moving digits, the colour similarity on shapes."""
        truth = self.truth[: len(generated), self.cfg.context :]
        if self.test_labels is None:
            return "colour", per_frame_colour_similarity(generated, truth, PALETTE), self.cfg.colour_threshold
        labels = self.test_labels[: len(generated)]
        curve = per_frame_digit_identity(generated, labels, self.cfg.size // 2)
        return "identity", curve, self.cfg.identity_threshold

    def object_metrics(self, generated: torch.Tensor) -> dict[str, float]:
        """``objects_kept`` over the first N and last N frames and its horizon."""
        n = self.cfg.frames
        name, curve, threshold = self.objects_kept(generated)
        horizon = divergence_horizon(curve, threshold)
        return {
            f"{name}_first_n": float(curve[:n].mean()),
            f"{name}_last_n": float(curve[-n:].mean()),
            f"{name}_horizon": float(horizon),
            f"{name}_horizon_over_n": horizon / n,
        }

    def rollout_settings(self) -> dict:
        """Named ways to roll out: name -> a guide maker for ``generate`` (None: unguided)."""
        return {self.cfg.objective: None}

    def sample(self, model, n):
        """[n, R + 1, context + rollout_frames, C, H, W]: a rollout per setting (after the context
        frames), then the truth."""
        n, c = min(n, self.cfg.n_eval), self.cfg.context
        truth = self.truth[:n]
        rows = [
            torch.cat([truth[:, :c], self.generate(model, n, guide)[0]], 1)
            for guide in self.rollout_settings().values()
        ]
        return torch.stack([*rows, truth], 1)

    def save_samples(self, samples, out: Path) -> Path:
        """samples.png (rollouts above their truth, at most 16 frames across), rollout.gif, psnr.png, ssim.png
        and, on moving digits, identity.png."""
        cfg, out, c = self.cfg, Path(out), self.cfg.context
        names = [*self.rollout_settings(), "truth"]
        videos = [v for group in samples for v in group]
        labels = [f"{name} {i}" for i in range(len(samples)) for name in names]
        title = f"{cfg.objective}, {cfg.model}: {c} context frames, trained on {cfg.frames}"
        write_grid(videos, out, labels=labels, title=title)
        write_side_by_side(videos[: max(4, len(names))], out.with_name("rollout.gif"), fps=8, scale=4)
        truth = samples[:, -1, c:]
        last = samples[:, -1, c - 1 : c].expand_as(truth)  # the reference that copies the last context frame
        plots = {
            "psnr.png": (per_frame_psnr, "PSNR (dB)", cfg.psnr_threshold),
            "ssim.png": (per_frame_ssim, "SSIM", None),
        }
        for filename, (metric, ylabel, threshold) in plots.items():
            curves = {
                f"{name} ({len(samples)} sequences)": metric(samples[:, r, c:], truth)
                for r, name in enumerate(names[:-1])
            }
            curves["last context frame"] = metric(last, truth)
            plot_curves(curves, out.with_name(filename), ylabel=ylabel, threshold=threshold, title=title)
        kept = {name: self.objects_kept(samples[:, r, c:]) for r, name in enumerate(names[:-1])}
        kind, _, threshold = next(iter(kept.values()))  # identity.png or colour.png
        plot_curves(
            {f"{name} ({len(samples)} sequences)": curve for name, (_, curve, _) in kept.items()},
            out.with_name(f"{kind}.png"),
            ylabel={"identity": "digits recognised", "colour": "colour histogram similarity"}[kind],
            threshold=threshold,
            title=title,
        )
        return out


RECIPE = Recipe(
    name="diffusion-forcing-video",
    description="Diffusion Forcing (and teacher-forcing / full-sequence baselines) on procedural video",
    config=DiffusionForcingVideoConfig,
    build=DiffusionForcingVideoTask,
    presets={
        "smoke": {
            "size": 16,
            "frames": 4,
            "train_clips": 64,
            "dim": 16,
            "depth": 1,
            "heads": 2,
            "base": 8,
            "hidden": 8,
            "sampling_steps": 2,
            "chunk": 2,
            "context": 2,
            "rollout_factor": 2,
            "n_eval": 2,
            "steps": 3,
            "batch_size": 4,
            "warmup": 1,
            "log_every": 1,
            "ckpt_every": 3,
        },
        "paper": {
            "size": 64,
            "frames": 32,
            "patch": 4,
            "dim": 384,
            "depth": 12,
            "heads": 6,
            "base": 64,
            "hidden": 256,
            "weighting": "min_snr",
            "sampling_steps": 50,
            "stabilization": 0.015,
            "chunk": 16,
            "context": 16,
            "n_eval": 64,
            "steps": 100_000,
            "batch_size": 64,
            "lr": 2e-4,
            "warmup": 2000,
            "ema_decay": 0.9999,
            "log_every": 100,
            "ckpt_every": 5000,
        },
    },
)
