"""``edm-qm9like``: EDM (Hoogeboom et al. 2022) on the shipped QM9-like molecules with ETKDG + MMFF
conformers, with the denoiser chosen by flag (``egnn``, EDM's; ``e3nn``, tensor products;
``transformer``, not equivariant) and ``--no_com`` for the ablation without the zero-CoM subspace.

Evaluation, as in EDM's Table 2: atom and molecule stability, validity, uniqueness and novelty of
``n_samples`` generated molecules, beside the "data" row of the same metrics on as many training
molecules, passed through the same dense -> molecule path; and the variational bound on
-log p(x, h, M) (``edm_vlb``) of held-out molecules, in nats. Validity leads with the connected
rule (``valid_connected``): EDM's largest-fragment rule (``valid_largest_fragment``, kept to
compare with the paper) gives scattered atoms, an untrained model's output, 1.0. Uniqueness comes
with the hydrogens kept in the SMILES (``uniqueness_with_h``, EDM's code and Table 2) and removed
(``uniqueness_without_h``); see ``genlab.molecules.metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from tqdm.auto import tqdm

from genlab.core.recipe import Recipe
from genlab.core.trainer import SizedTensorDataset, TrainConfig
from genlab.molecules.convert import dense_to_data_list
from genlab.molecules.dataset import qm9like_dataset
from genlab.molecules.denoisers import build_denoiser
from genlab.molecules.dense import pack
from genlab.molecules.drawing import draw_grid, scatter_3d, write_edm_sdf
from genlab.molecules.edm import N_FEATURES, AtomCounts, EquivariantDiffusion, PolynomialSchedule, encode
from genlab.molecules.edm_vlb import vlb_terms
from genlab.molecules.metrics import Geometry, edm_metrics


@dataclass
class EDMConfig(TrainConfig):
    # the network: EDM's EGNN, e3nn tensor products, or a non-equivariant transformer
    denoiser: Literal["egnn", "e3nn", "transformer"] = "egnn"
    no_com: bool = False  # ablation: diffuse x in all 3M dimensions, no zero-CoM projection
    hidden: int = 64  # width of the denoiser's node features
    layers: int = 4  # message-passing (or transformer) layers of the denoiser
    n_molecules: int = 0  # the first N shipped QM9-like molecules (0: all 21.5k)
    n_test: int = 1000  # held out at the end of the (shuffled) list: NLL
    timesteps: int = 1000  # T of the variational bound, and of sampling when sample_steps = 0
    sample_steps: int = 250  # ancestral steps per sample (EDM: 1000; 0 means T)
    schedule_power: float = 2.0  # EDM's polynomial schedule: alpha^2(t) = (1 - 2s)(1 - t^power)^2 + s
    noise_precision: float = 1e-5  # s of that schedule: alpha^2 stays in [s, 1 - s]
    n_samples: int = 1000  # molecules generated for the stability / validity / uniqueness metrics
    sample_batch: int = 250  # molecules per batch when sampling and in the NLL
    n_nll: int = 1000  # held-out molecules in the NLL (at most n_test)
    nll_repeats: int = 2  # Monte-Carlo draws of (t, eps) per molecule
    n_show: int = 24  # molecules drawn in the run's figure
    conformer_workers: int = 1  # processes embedding ETKDG + MMFF conformers (once; then cached)
    steps: int = 10000  # about 46 min on one CPU thread at 274 ms per step (docs/benchmarks.md)
    batch_size: int = 64
    lr: float = 1e-3
    warmup: int = 200
    ema_decay: float = 0.999
    log_every: int = 100
    ckpt_every: int = 1000


def pack_samples(pos: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
    """Samples as one tensor [B, N, 4]: coordinates and the type index (-1 on padding atoms)."""
    return torch.cat([pos, types[..., None].to(pos.dtype)], dim=-1)


def unpack_samples(samples: torch.Tensor) -> list[Geometry]:
    if samples.ndim != 3 or samples.shape[-1] != 4:
        raise ValueError(f"samples must be [B, N, 4] (x, y, z, type), got {list(samples.shape)}")
    mask = samples[..., 3] >= 0
    types = samples[..., 3].round().long().clamp_min(0)
    return [Geometry.of(d) for d in dense_to_data_list(samples[..., :3], types, mask)]


def _trimmed(pos: torch.Tensor, types: torch.Tensor):
    """Drop padding columns that no molecule of the batch uses; (pos, types, node_mask)."""
    mask = types >= 0
    n = int(mask.sum(1).max())
    return pos[:, :n], types[:, :n], mask[:, :n]


class EDMTask:
    def __init__(self, cfg: EDMConfig):
        self.cfg = cfg
        if cfg.n_test < 1 or cfg.n_samples < 1 or cfg.sample_batch < 1:
            raise ValueError("n_test, n_samples and sample_batch must be >= 1")
        data = qm9like_dataset(cfg.n_molecules or None, n_workers=cfg.conformer_workers).data
        if len(data) <= cfg.n_test:
            raise ValueError(f"{len(data)} molecules embedded, not more than n_test={cfg.n_test}")
        train, test = data[: -cfg.n_test], data[-cfg.n_test :]
        self.train_smiles = [d.smiles for d in train]
        pos, types = pack(train)
        self.train_set = SizedTensorDataset(pos, types, sizes=(types >= 0).sum(1))  # batches of like sizes
        self.test = pack(test)
        self.counts = AtomCounts(self.train_set.sizes)
        schedule = PolynomialSchedule(cfg.schedule_power, cfg.noise_precision)
        self.edm = EquivariantDiffusion(schedule, com=not cfg.no_com, timesteps=cfg.timesteps)
        self.model = build_denoiser(cfg.denoiser, N_FEATURES, cfg.hidden, cfg.layers, com=not cfg.no_com)
        self.n_show = cfg.n_show

    def loss(self, model, batch):
        pos, types, mask = _trimmed(*batch)
        return self.edm.loss(model, encode(pos, types, mask), mask)

    def generate(self, model, n: int, seed: int = 1) -> torch.Tensor:
        """n molecules, M ~ p(M), as a packed [n, N, 4] tensor (see ``pack_samples``).

        Batches hold molecules of similar size (sorted, then put back in draw order), which keeps
        the O(N^2) padding work low.
        """
        device = next(model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(self.cfg.seed + seed)
        sizes = self.counts.sample(n, torch.Generator().manual_seed(self.cfg.seed + seed))
        order = sizes.argsort()
        n_max = int(sizes.max())
        out = []
        with tqdm(total=n, desc="sampling molecules", unit="mol", leave=False) as bar:
            for chunk in sizes[order].split(self.cfg.sample_batch):
                pos, types, _ = self.edm.sample(model, chunk, self.cfg.sample_steps or None, gen)
                pad = n_max - pos.shape[1]
                pos = torch.nn.functional.pad(pos, (0, 0, 0, pad))
                out.append(pack_samples(pos.cpu(), torch.nn.functional.pad(types, (0, pad), value=-1).cpu()))
                bar.update(len(chunk))
        return torch.cat(out)[order.argsort()]

    def sample(self, model, n: int) -> torch.Tensor:
        return self.generate(model, n)

    @torch.no_grad()
    def nll(self, model) -> dict[str, float]:
        """Means over held-out molecules of the variational bound's terms (``edm_vlb.vlb_terms``)."""
        device = next(model.parameters()).device
        gen = torch.Generator(device=device).manual_seed(self.cfg.seed + 2)
        pos, types = (t[: self.cfg.n_nll] for t in self.test)
        sums: dict[str, float] = {}
        for _ in range(self.cfg.nll_repeats):
            for p, ty in zip(pos.split(self.cfg.sample_batch), types.split(self.cfg.sample_batch)):
                p, ty, mask = (v.to(device) for v in _trimmed(p, ty))
                for k, v in vlb_terms(self.edm, model, encode(p, ty, mask), mask, self.counts, gen).items():
                    sums[k] = sums.get(k, 0.0) + float(v.sum())
        n = len(pos) * self.cfg.nll_repeats
        return {("nll" if k == "nll" else f"nll_{k}"): v / n for k, v in sums.items()}

    def data_row(self, n: int | None = None) -> dict[str, float]:
        """EDM's metrics on the first n (default n_samples) training geometries, through the same path as samples."""
        pos, types = (t[: n or self.cfg.n_samples] for t in self.train_set.tensors)
        return edm_metrics(unpack_samples(pack_samples(pos, types)))

    def evaluate(self, model) -> dict[str, float]:
        model.eval()
        results = edm_metrics(
            unpack_samples(self.generate(model, self.cfg.n_samples)), train_smiles=self.train_smiles
        )
        results.update({f"data_{k}": v for k, v in self.data_row().items()})
        results.update(self.nll(model))
        return results

    def save_samples(self, samples: torch.Tensor, out: Path) -> Path:
        """The drawing grid at ``out``, a 3D view of six beside it (``*_3d.png``) and all of them as ``.sdf``."""
        geoms = unpack_samples(samples)
        out = Path(out)
        write_edm_sdf(geoms, out.with_suffix(".sdf"))
        scatter_3d(geoms[:6], out.with_name(out.stem + "_3d.png"))
        return draw_grid(geoms[: max(1, self.n_show)], out)


RECIPE = Recipe(
    name="edm-qm9like",
    description="EDM: E(3)-equivariant diffusion of 3D molecules (QM9-like set); stability, validity, NLL",
    config=EDMConfig,
    build=EDMTask,
    presets={
        "smoke": {
            "n_molecules": 40,
            "n_test": 8,
            "hidden": 16,
            "layers": 2,
            "steps": 20,
            "batch_size": 16,
            "warmup": 5,
            "timesteps": 50,
            "sample_steps": 10,
            "n_samples": 8,
            "sample_batch": 8,
            "n_nll": 8,
            "nll_repeats": 1,
            "n_show": 4,
            "log_every": 5,
            "ckpt_every": 10,
        },
        "paper": {  # EDM's QM9 run: 9 layers of 256, T = 1000, lr 1e-4, EMA 0.9999, 10k samples
            "hidden": 256,
            "layers": 9,
            "steps": 1_000_000,
            "batch_size": 64,
            "lr": 1e-4,
            "warmup": 0,
            "min_lr_ratio": 1.0,
            "ema_decay": 0.9999,
            "sample_steps": 1000,
            "n_samples": 10_000,
            "ckpt_every": 10_000,
            "log_every": 500,
        },
    },
)
