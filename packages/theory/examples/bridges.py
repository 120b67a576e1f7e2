"""Omega-bridges on a 6x6 integer grid, a 6-class one-hot set and the interval [0, 1], at a small size,
against a core diffusion model of the same size followed by rounding / argmax / clamping: how many raw
samples land in Omega, and how close each gets to the target. Prints the verdicts and the figure's path.

    uv run python packages/theory/examples/bridges.py
"""

import json
from pathlib import Path

from genlab.core.run import train
from genlab.theory.recipes.bridges import RECIPE

cfg = RECIPE.make_config("default", {"grid_size": "6", "classes": "6", "steps": "1000", "n_eval": "4000"})
run_dir = train(RECIPE, cfg, "default", out=Path("runs"))
for claim in json.loads((run_dir / "claims.json").read_text())["claims"]:
    print(
        "supported    " if claim["supported"] else "NOT supported", claim["statement"], "|", claim["evidence"]
    )
print("figure:", run_dir / "samples.png")
