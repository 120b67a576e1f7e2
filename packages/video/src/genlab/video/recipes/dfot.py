"""``dfot-video``: the Diffusion Forcing Transformer and history guidance (Song et al. 2025,
"History-Guided Video Diffusion") on procedural video, against the paper's baseline.

- ``--objective diffusion-forcing`` (DFoT): a non-causal video transformer trained with
  independent per-frame noise levels, so that any frames at any level can serve as history. The
  default backbone is the U-ViT (``--model uvit``: convolutional frame levels around space-time
  transformer blocks, the paper's U-ViT3D); ``--model transformer`` is the plain patch transformer
  (DiT3D), which on CPU budgets learns the frames far more slowly.
- ``--objective uniform-future``: DFoT's simplified training (the paper's App. A.5): independent
  levels on the ``frames - chunk`` history frames, one shared level on the future, the task a
  rollout poses; still any history level for guidance.
- ``--objective history-dropout`` (the baseline): the same network trained as a conventional
  conditional model: the first ``frames - chunk`` frames are clean history, dropped (level 1) with
  probability ``dropout``; the future shares one level. It supports CFG on history and nothing more.

Rollouts slide a window of ``frames`` frames: ``chunk`` new frames, denoised together (the
``scheduling`` matrix over the chunk), after the latest ``frames - chunk`` frames as history. Every
setting in ``guidance`` (comma-separated ``name[:scale[:level]]``: conditional, vanilla:2,
fractional:2:0.5, stabilized_vanilla:2, ...; see ``genlab.video.history``) is rolled out from the
same held-out contexts and scored like ``diffusion-forcing-video``, its numbers prefixed by the
setting, plus frame prediction (PSNR / SSIM over the first chunk after the context).

The clips hold one digit by default (``--digits 1``; 0: the mix of one and two): guidance pushes the
prediction away from the empty-history one, the data's mean, and if that mean holds more digits
than the held-out sequence, guided rollouts lose ink window after window (measured by
``benchmarks/history_guidance_ink.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genlab.core.recipe import Recipe
from genlab.video.forcing import forcing_loss
from genlab.video.history import guidance_terms, history_guidance, parse_setting
from genlab.video.metrics import per_frame_psnr, per_frame_ssim
from genlab.video.recipes.diffusion_forcing import RECIPE as DF_RECIPE
from genlab.video.recipes.diffusion_forcing import DiffusionForcingVideoConfig, DiffusionForcingVideoTask


@dataclass
class DFoTConfig(DiffusionForcingVideoConfig):
    # DFoT, its simplified uniform-future training, or the history-dropout baseline
    objective: Literal["diffusion-forcing", "uniform-future", "history-dropout"] = "diffusion-forcing"
    model: Literal["transformer", "uvit"] = "uvit"
    depth: int = 2
    causal: bool = False
    dropout: float = 0.1  # history-dropout: probability that the history is dropped in training
    digits: int = 1  # digits per clip; 0: a mix of 1 and 2 (see the module docstring)
    # history-guidance settings rolled out, comma-separated name[:scale[:level]]
    guidance: str = "conditional,vanilla:2,fractional:2:0.5"
    # the scheduling matrix of diffusion-forcing rollouts: per-frame noise level per row
    scheduling: Literal["pyramid", "autoregressive", "trapezoid", "full_sequence"] = "full_sequence"
    steps: int = 3000


class DFoTTask(DiffusionForcingVideoTask):
    def __init__(self, cfg: DFoTConfig):
        self.settings = {
            text.strip(): parse_setting(text) for text in cfg.guidance.split(",") if text.strip()
        }
        if not self.settings:
            raise ValueError("guidance must name at least one setting, e.g. 'conditional,vanilla:2'")
        if cfg.context != cfg.frames - cfg.chunk:
            raise ValueError(
                f"rollouts start from frames - chunk = {cfg.frames - cfg.chunk} history frames, got context = {cfg.context}"
            )
        super().__init__(cfg)

    def loss(self, model, batch):
        cfg = self.cfg
        weighting = None if cfg.weighting == "own" else cfg.weighting
        history = cfg.frames - cfg.chunk
        return forcing_loss(
            self.denoiser(model),
            batch,
            cfg.objective,
            sampler=cfg.t_sampler,
            weighting=weighting,
            history=history,
            dropout=cfg.dropout,
        )

    def sampling_plan(self) -> dict:
        """Clean history (unless a guide sets its level), ``chunk`` new frames per window."""
        cfg = self.cfg
        return dict(
            window=cfg.frames,
            chunk=cfg.chunk,
            steps=cfg.sampling_steps,
            eta=cfg.eta,
            schedule=cfg.scheduling,
            uncertainty_scale=cfg.uncertainty_scale,
            history="stabilized",
            stabilization=0.0,
        )

    def rollout_settings(self) -> dict:
        stab = self.cfg.stabilization
        return {
            text: (lambda gen, s=setting: history_guidance(guidance_terms(s[0], s[1], stab, s[2]), gen))
            for text, setting in self.settings.items()
        }

    def evaluate(self, model):
        k = self.cfg.chunk
        results = {}
        for name, guide in self.rollout_settings().items():
            generated, seconds = self.generate(model, self.cfg.n_eval, guide)
            first = (generated[:, :k], self.future[:, :k])
            numbers = self.rollout_metrics(generated) | {
                "psnr_first_chunk": float(per_frame_psnr(*first).mean()),
                "ssim_first_chunk": float(per_frame_ssim(*first).mean()),
                "sample_frames_per_s": generated.shape[0] * generated.shape[1] / seconds,
            }
            results |= {f"{name}/{key}": value for key, value in numbers.items()}
        return results | {
            "copy_last_psnr_first_n": self.copy_last_psnr(),
            "train_frames_per_s": self.train_throughput(model),
        }


RECIPE = Recipe(
    name="dfot-video",
    description="Diffusion Forcing Transformer with history guidance vs a binary-history-dropout CFG baseline",
    config=DFoTConfig,
    build=DFoTTask,
    presets={
        "smoke": DF_RECIPE.presets["smoke"]
        | {"context": 2, "chunk": 2, "guidance": "conditional,fractional:2"},
        "paper": DF_RECIPE.presets["paper"] | {"weighting": "min_snr", "scheduling": "full_sequence"},
    },
)
