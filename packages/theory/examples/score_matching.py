"""Dimension-free score matching and bootstrapped score matching, at a small size: DSM on OU trajectories
of a Gaussian mixture whose means live in a 2D subspace of R^d, the score error against the exact score
as n and d grow, and BSM (the paper's, reconstructed, and a Rao-Blackwellised variant) at high noise.
Prints the verdicts and the figure's path.

    uv run python packages/theory/examples/score_matching.py
"""

import json
from pathlib import Path

from genlab.core.run import train
from genlab.theory.recipes.bsm import RECIPE

cfg = RECIPE.make_config("default", {"n_grid": "100,1000,10000", "d_grid": "2,32,256", "steps": "1000"})
run_dir = train(RECIPE, cfg, "default", out=Path("runs"))
for claim in json.loads((run_dir / "claims.json").read_text())["claims"]:
    print(
        "supported    " if claim["supported"] else "NOT supported", claim["statement"], "|", claim["evidence"]
    )
print("figure:", run_dir / "samples.png")
