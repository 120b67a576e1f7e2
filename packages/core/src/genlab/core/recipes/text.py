"""``text-ar``, ``text-mdlm``, ``text-d3pm`` and ``text-dfm``: byte-level models of Python source at one
transformer size and one training budget, compared by bits per byte on held-out code.

The comparison of Discrete Flow Matching (Gat et al., 2024, Table 1) at CPU scale:

- ``text-ar``: a causal transformer, p(x) = prod_l p(x_l | x_<l) after a fixed start byte,
  so its bits per byte are the exact NLL of the whole block (nanoGPT / GPT-2, Radford et al., 2019).
- ``text-mdlm``: masked diffusion with SUBS and the continuous-time NELBO (Sahoo et al., 2024),
  a denoiser without time input, sampled with the cached ancestral sampler.
- ``text-d3pm``: D3PM with uniform or absorbing transition matrices and the hybrid loss
  L_vb + lambda CE (Austin et al., 2021); its bound sums the T discrete steps.
- ``text-dfm``: discrete flow matching with a mixture path, the polynomial scheduler and the
  generalized-KL loss, sampled by CTMC Euler steps (Gat et al., 2024; Lipman et al., 2024).

Every model sees blocks of ``length`` bytes and is scored on the same held-out blocks; the
diffusion models report their ELBO (an upper bound on the NLL) in bits per byte. Generation speed
is tokens per second of the model's own sampler.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from genlab.core.data.text import VOCAB_SIZE, blocks, decode, load_tokens
from genlab.core.discrete import (
    D3PMPath,
    MixturePath,
    d3pm_loss,
    generalized_kl_loss,
    masked_path,
    mdlm_loss,
    nelbo,
    sample_ancestral,
    sample_ancestral_cached,
    sample_ctmc_euler,
)
from genlab.core.grids import time_grid
from genlab.core.nn.transformer import CausalTransformer, DiffusionTransformer
from genlab.core.recipe import Recipe
from genlab.core.trainer import TrainConfig

SHOWN = 4  # samples rendered in samples.png
START = ord("\n")  # the byte every autoregressive block is conditioned on (a BOS that needs no new token)


@dataclass
class TextConfig(TrainConfig):
    """What the four text recipes share: data, transformer size, budget and evaluation."""

    corpus: Literal["python", "prose"] = "python"
    length: int = 64  # bytes per block
    dim: int = 96
    depth: int = 3
    heads: int = 4
    n_eval: int = 256  # held-out blocks
    eval_samples: int = 32  # Monte-Carlo draws of t per block for the mixture-path bounds
    eval_batch: int = 128
    sample_steps: int = 64  # denoising steps of the mixture-path samplers
    n_samples: int = 16  # sequences generated for the speed measurement
    steps: int = 1500
    batch_size: int = 32
    lr: float = 1e-3
    warmup: int = 100
    ema_decay: float = 0.995
    log_every: int = 50
    ckpt_every: int = 500


@dataclass
class D3PMConfig(TextConfig):
    # Q_k: jump to a uniform byte, or to the mask token (Austin et al. App. A.2)
    transition: Literal["uniform", "absorbing"] = "absorbing"
    d3pm_steps: int = 64  # T: the bound and the sampler take every step
    ce_weight: float = 0.01  # lambda of the hybrid loss


@dataclass
class DFMConfig(TextConfig):
    # what a corrupted byte becomes at t = 1: the mask token, or a uniform byte
    source: Literal["mask", "uniform"] = "mask"
    schedule_power: float = 2.0  # kappa(t) = 1 - (1 - t)^n, Gat et al.'s polynomial scheduler


WRAP = 120  # characters per rendered line
MAX_LINES = 12  # rendered lines per sample (samples.txt has all of it)


def _show(text: str) -> list[str]:
    """The lines to render for one sample: printable ASCII (other bytes as a middle dot), tabs as
    spaces, every newline drawn as a return arrow so that a sample of blank lines still leaves ink
    (an untrained AR model emits mostly newlines), long lines wrapped, at most MAX_LINES lines."""
    text = "".join(c if 32 <= ord(c) < 127 or c == "\n" else "\u00b7" for c in text.replace("\t", "    "))
    lines = [piece + "\u21b5" for piece in text.split("\n")]
    lines[-1] = lines[-1][:-1]  # the last line has no newline after it
    wrapped = [line[i : i + WRAP] for line in lines for i in range(0, max(len(line), 1), WRAP)]
    return wrapped[:MAX_LINES] if len(wrapped) <= MAX_LINES else [*wrapped[: MAX_LINES - 1], "..."]


class TextTask:
    """Data, evaluation and sample output shared by the four methods; subclasses supply the model,
    ``loss_per_token``, ``nll`` (nats per block, exact or a bound) and ``generate``."""

    n_show = 8  # samples decoded into samples.txt; the first SHOWN are rendered in samples.png

    def __init__(self, cfg: TextConfig):
        self.cfg = cfg
        train = blocks(load_tokens(cfg.corpus, "train"), cfg.length)
        self.train_set = TensorDataset(train.to(torch.uint8))
        test = blocks(load_tokens(cfg.corpus, "test"), cfg.length)
        if cfg.n_eval > len(test):
            raise ValueError(
                f"n_eval={cfg.n_eval} held-out blocks asked, but the {cfg.corpus!r} test split holds "
                f"{len(test)} blocks of {cfg.length} bytes"
            )
        pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(cfg.seed))[: cfg.n_eval]
        self.test = test[pick.sort().values]
        self.model = self.build_model()

    def build_model(self) -> torch.nn.Module:
        raise NotImplementedError

    def loss_per_token(self, model, x0: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def nll(self, model, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def generate(self, model, n: int, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def diffusion_model(self, num_states: int, time_conditioning: bool = True) -> DiffusionTransformer:
        cfg = self.cfg
        return DiffusionTransformer(
            num_states,
            cfg.length,
            cfg.dim,
            cfg.depth,
            cfg.heads,
            out_dim=VOCAB_SIZE,
            time_conditioning=time_conditioning,
        )

    def loss(self, model, batch):
        return self.loss_per_token(model, batch.long()).mean(), {}

    @torch.no_grad()
    def evaluate(self, model) -> dict[str, float]:
        device = next(model.parameters()).device
        gen = torch.Generator(device).manual_seed(self.cfg.seed + 1)
        nats = torch.cat(
            [self.nll(model, x.to(device), gen).double() for x in self.test.split(self.cfg.eval_batch)]
        )
        bpb = nats.cpu() / (self.cfg.length * math.log(2))
        started = time.perf_counter()
        samples = self.sample(model, self.cfg.n_samples)
        seconds = time.perf_counter() - started
        return {
            "bits_per_byte": bpb.mean().item(),
            "bits_per_byte_stderr": (bpb.std() / math.sqrt(len(bpb))).item(),
            "tokens_per_s": samples.numel() / seconds,
            "params": float(sum(p.numel() for p in model.parameters())),
            "eval_bytes": float(self.test.numel()),
        }

    @torch.no_grad()
    def sample(self, model, n: int) -> torch.Tensor:
        device = next(model.parameters()).device
        gen = torch.Generator(device).manual_seed(self.cfg.seed + 2)
        return self.generate(model, n, gen).cpu()

    def save_samples(self, samples: torch.Tensor, out: Path) -> Path:
        """All samples as text in samples.txt next to ``out``, the first few rendered in ``out``."""
        import matplotlib.pyplot as plt

        texts = [decode(s) for s in samples]
        out.with_name("samples.txt").write_text(
            "".join(f"=== sample {i} ===\n{text}\n" for i, text in enumerate(texts))
        )
        shown = [_show(text) for text in texts[:SHOWN]]
        title, line, gap = 0.2, 0.115, 0.12  # inches: each sample's title, one text line, the space after
        height = sum(title + line * len(lines) + gap for lines in shown) + 0.1
        fig = plt.figure(figsize=(7.5, height), dpi=120)
        y = height - 0.1  # inches from the bottom, going down
        for i, lines in enumerate(shown):
            fig.text(0.02, y / height, f"sample {i}", fontsize=8, va="top")
            y -= title
            fig.text(
                0.02,
                y / height,
                "\n".join(lines),
                family="monospace",
                fontsize=6.5,
                va="top",
                parse_math=False,
            )
            y -= line * len(lines) + gap
        fig.savefig(out)
        plt.close(fig)
        return out


class AutoregressiveTask(TextTask):
    """p(x_1..x_L) = prod_l p(x_l | s, x_<l) after a fixed start byte s: a proper distribution over
    blocks, so its bits per byte are an exact NLL; generated with the KV cache."""

    def build_model(self):
        cfg = self.cfg
        return CausalTransformer(VOCAB_SIZE, cfg.length + 1, cfg.dim, cfg.depth, cfg.heads)

    def loss_per_token(self, model, x0):
        logits = model(F.pad(x0, (1, 0), value=START)[:, :-1]).float()
        return F.cross_entropy(logits.transpose(1, 2), x0, reduction="none")

    def nll(self, model, x0, generator):
        return self.loss_per_token(model, x0).sum(-1)

    def generate(self, model, n, generator):
        device = next(model.parameters()).device
        start = torch.full((n, 1), START, dtype=torch.long, device=device)
        return model.generate(start, self.cfg.length, generator=generator)[:, 1:]


class MaskedDiffusionTask(TextTask):
    """MDLM: SUBS denoiser without time input on the log-linear masked path (kappa(t) = t)."""

    def build_model(self):
        self.path = masked_path(VOCAB_SIZE)
        return self.diffusion_model(self.path.num_states, time_conditioning=False)

    def loss_per_token(self, model, x0):
        return mdlm_loss(model, self.path, x0)

    def nll(self, model, x0, generator):
        return nelbo(model, self.path, x0, self.cfg.eval_samples, generator)

    def generate(self, model, n, generator):
        device = next(model.parameters()).device
        x = self.path.prior_sample((n, self.cfg.length), device)
        grid = time_grid(self.cfg.sample_steps, (n,), device=device)
        return sample_ancestral_cached(model, self.path, x, grid, generator)


class D3PMTask(TextTask):
    """D3PM with T discrete steps: hybrid loss for training, the full T-step bound for evaluation."""

    def build_model(self):
        self.path = D3PMPath(VOCAB_SIZE, self.cfg.transition, self.cfg.d3pm_steps)
        return self.diffusion_model(self.path.num_states)

    def loss(self, model, batch):
        """The hybrid loss to train on; its unbiased T-step bound is logged."""
        out = d3pm_loss(model, self.path, batch.long(), ce_weight=self.cfg.ce_weight)
        return out.loss.mean(), {"bits_per_byte": out.nelbo.mean().item() / math.log(2)}

    def nll(self, model, x0, generator):
        return nelbo(model, self.path, x0, generator=generator)

    def generate(self, model, n, generator):
        device = next(model.parameters()).device
        x = self.path.prior_sample((n, self.cfg.length), device, generator)
        grid = time_grid(self.path.steps, (n,), device=device)
        return sample_ancestral(model, self.path, x, grid, generator)


class FlowMatchingTask(TextTask):
    """Discrete flow matching: generalized-KL loss on a mixture path, CTMC Euler sampling."""

    def build_model(self):
        cfg = self.cfg
        self.path = MixturePath(VOCAB_SIZE, cfg.source, "polynomial", n=cfg.schedule_power)
        return self.diffusion_model(self.path.num_states)

    def loss_per_token(self, model, x0):
        return generalized_kl_loss(model, self.path, x0)

    def nll(self, model, x0, generator):
        return nelbo(model, self.path, x0, self.cfg.eval_samples, generator)

    def generate(self, model, n, generator):
        device = next(model.parameters()).device
        x = self.path.prior_sample((n, self.cfg.length), device, generator)
        grid = time_grid(self.cfg.sample_steps, (n,), device=device)
        return sample_ctmc_euler(model, self.path, x, grid, generator)


SMOKE = {
    "steps": 4,
    "batch_size": 4,
    "length": 16,
    "dim": 32,
    "depth": 1,
    "heads": 2,
    "warmup": 2,
    "n_eval": 8,
    "eval_samples": 1,
    "sample_steps": 4,
    "n_samples": 2,
    "log_every": 2,
    "ckpt_every": 4,
}
# MDLM's small model on OpenWebText (Sahoo et al., 2024): 12 layers of width 768, 1024 tokens, batch 512,
# which MDLM spread over 8 GPUs: run it with torchrun (the global batch is split over ranks, 64 blocks
# each; bf16 autocast). The Python corpus holds 1140 held-out blocks of 1024 bytes, hence n_eval 1024,
# and only ~10.7k training blocks: 1M steps are ~48k epochs, so watch the held-out curve
# (eval_every) for overfitting, and pick the budget from benchmarks/text_learning_curve.py --preset paper.
PAPER = {
    "length": 1024,
    "dim": 768,
    "depth": 12,
    "heads": 12,
    "batch_size": 512,
    "steps": 1_000_000,
    "lr": 3e-4,
    "warmup": 2500,
    "ema_decay": 0.9999,
    "n_eval": 1024,
    "sample_steps": 1000,
    "ckpt_every": 10_000,
    "eval_every": 10_000,
}


def _recipe(name: str, description: str, config: type[TextConfig], task: type[TextTask], **smoke):
    return Recipe(
        name=name,
        description=description,
        config=config,
        build=task,
        presets={"smoke": {**SMOKE, **smoke}, "paper": PAPER},
    )


AR_RECIPE = _recipe(
    "text-ar",
    "Autoregressive byte-level transformer on Python source (exact bits per byte)",
    TextConfig,
    AutoregressiveTask,
)
MDLM_RECIPE = _recipe(
    "text-mdlm",
    "MDLM masked diffusion on Python source bytes (ELBO in bits per byte)",
    TextConfig,
    MaskedDiffusionTask,
)
D3PM_RECIPE = _recipe(
    "text-d3pm",
    "D3PM (uniform or absorbing transitions) on Python source bytes (ELBO in bits per byte)",
    D3PMConfig,
    D3PMTask,
    d3pm_steps=4,
)
DFM_RECIPE = _recipe(
    "text-dfm",
    "Discrete flow matching (mixture path, generalized KL) on Python source bytes (ELBO in bits per byte)",
    DFMConfig,
    FlowMatchingTask,
)
