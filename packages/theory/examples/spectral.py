"""Diffusion as spectral autoregression, at a small size: RAPSD power laws of scikit-image's photographs,
the noise crossover f*(sigma), and the coarse-to-fine settling of x0_hat along the sampling path of an
exact Gaussian patch model and a briefly trained U-Net. Prints the verdicts and the figures' paths.

    uv run python packages/theory/examples/spectral.py
"""

import json
from pathlib import Path

from genlab.core.run import train
from genlab.theory.recipes.spectral import RECIPE

cfg = RECIPE.make_config("default", {"size": "128", "steps": "200", "n_samples": "128"})
run_dir = train(RECIPE, cfg, "default", out=Path("runs"))
for claim in json.loads((run_dir / "claims.json").read_text())["claims"]:
    print(
        "supported    " if claim["supported"] else "NOT supported", claim["statement"], "|", claim["evidence"]
    )
print("figures:", run_dir / "samples.png", run_dir / "sampling_path.png")
