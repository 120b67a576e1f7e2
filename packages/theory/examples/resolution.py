"""Noise schedules across resolutions, at a small size: the logSNR shift of average pooling (2 log s) and
of input scaling (2 log b) measured on scikit-image's photographs, then small diffusion models on digits
at 8x8 and upsampled to 32x32 with and without simple diffusion's shifted schedule. Prints the verdicts
and the figures' paths.

    uv run python packages/theory/examples/resolution.py
"""

import json
from pathlib import Path

from genlab.core.run import train
from genlab.theory.recipes.schedules import RECIPE

cfg = RECIPE.make_config("default", {"image_size": "128", "n_times": "10", "steps": "800", "seeds": "1"})
run_dir = train(RECIPE, cfg, "default", out=Path("runs"))
for claim in json.loads((run_dir / "claims.json").read_text())["claims"]:
    print(
        "supported    " if claim["supported"] else "NOT supported", claim["statement"], "|", claim["evidence"]
    )
print("figures:", run_dir / "samples.png", run_dir / "digits_samples.png")
