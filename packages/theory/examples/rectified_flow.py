"""Rectified flow's theorems at a small size: 1-, 2- and 3-rectified flows from 8 Gaussians to two
moons, then the convex transport costs (Theorem 3.5), the straightness bound (Theorem 3.7), crossings,
few-step sample quality and the gap to exact OT. Prints the verdicts and the figures' paths.

    uv run python packages/theory/examples/rectified_flow.py
"""

import json
from pathlib import Path

from genlab.core.run import train
from genlab.theory.recipes.rectified_flow import RECIPE

cfg = RECIPE.make_config(
    "default",
    {
        "steps": "1000",
        "reflow_steps": "600",
        "distill_steps": "200",
        "n_pairs": "5000",
        "n_eval": "2000",
        "n_ot": "1000",
    },
)
run_dir = train(RECIPE, cfg, "default", out=Path("runs"))
for claim in json.loads((run_dir / "claims.json").read_text())["claims"]:
    print(
        "supported    " if claim["supported"] else "NOT supported", claim["statement"], "|", claim["evidence"]
    )
print("figures:", run_dir / "samples.png", run_dir / "theorems.png")
