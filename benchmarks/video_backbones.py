"""How fast each video denoiser fits: the ConvGRU, the patch transformer and the U-ViT of
genlab.video.models, each trained with Adam on one fixed batch of moving-digit clips under the
Diffusion Forcing loss (independent per-frame levels, v-prediction), the same levels for all.

Fitting one batch isolates what the architecture can express per step from data and generalisation:
the DFoT of History-Guided Video Diffusion is a transformer, and on CPU budgets a plain patch
transformer (DiT3D) had not learned the digits where the ConvGRU had; this measures why.

    OMP_NUM_THREADS=1 uv run --no-sync python benchmarks/video_backbones.py --steps 300
"""

from __future__ import annotations

import argparse
import time

import torch

from genlab.video.recipes.dfot import RECIPE as DFOT
from genlab.video.recipes.diffusion_forcing import RECIPE as DF

BACKBONES = {  # the recipes' default sizes: DF's ConvGRU, the DFoT U-ViT, the patch transformer
    "gru": (DF, {}),
    "uvit": (DFOT, {"model": "uvit"}),
    "transformer": (DFOT, {"model": "transformer", "depth": "4"}),
}


def fit(name: str, steps: int, lr: float, every: int) -> list[tuple[int, float, float]]:
    recipe, overrides = BACKBONES[name]
    torch.manual_seed(0)
    task = recipe.build(recipe.make_config("default", overrides))
    model, params = task.model, sum(p.numel() for p in task.model.parameters())
    batch = next(iter(torch.utils.data.DataLoader(task.train_set, batch_size=8)))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rows, started = [], time.perf_counter()
    for step in range(steps + 1):
        torch.manual_seed(step)  # the same levels and noise for every backbone
        loss, _ = task.loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0:
            rows.append((step, loss.item(), time.perf_counter() - started))
    print(f"{name}: {params / 1e6:.2f} M parameters", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--every", type=int, default=50)
    p.add_argument("--models", default=",".join(BACKBONES))
    args = p.parse_args()
    runs = {name: fit(name, args.steps, args.lr, args.every) for name in args.models.split(",")}
    print("\n| step | " + " | ".join(f"{n} loss (s)" for n in runs) + " |")
    print("|---|" + "---|" * len(runs))
    for i, (step, *_) in enumerate(next(iter(runs.values()))):
        print(f"| {step} | " + " | ".join(f"{r[i][1]:.3f} ({r[i][2]:.0f})" for r in runs.values()) + " |")


if __name__ == "__main__":
    main()
