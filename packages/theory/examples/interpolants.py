"""Stochastic interpolants between two Gaussian mixtures, at a small size: the closed-form velocity is
checked, a velocity MLP is trained for the linear and trigonometric interpolants, and its error, exact
NLL and transport cost are compared with the exact ones. Prints the verdicts and the figure's path.

    uv run python packages/theory/examples/interpolants.py
"""

import json
from pathlib import Path

from genlab.core.run import train
from genlab.theory.recipes.interpolants import RECIPE

cfg = RECIPE.make_config("default", {"steps": "1024", "checkpoints": "2", "n_nll": "200"})
run_dir = train(RECIPE, cfg, "default", out=Path("runs"))
for claim in json.loads((run_dir / "claims.json").read_text())["claims"]:
    print(
        "supported    " if claim["supported"] else "NOT supported", claim["statement"], "|", claim["evidence"]
    )
print("figure:", run_dir / "samples.png")
