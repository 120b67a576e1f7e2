"""How much is a noisy sample worth? Ambient diffusion at a small size, on the Gaussian mixture only:
clean-only runs of 100, 500 and 1000 samples, all-noisy, and 10% clean + 90% noisy at two noise levels,
scored by the exact excess denoising risk; then the price of a noisy sample. Prints the verdicts and
the figure's path.

    uv run python packages/theory/examples/ambient.py
"""

import json
from pathlib import Path

from genlab.core.run import train
from genlab.theory.recipes.ambient import RECIPE

overrides = {
    "digits": "false",
    "n_total": "1000",
    "steps": "1000",
    "clean_sizes": "0.1,0.5,1.0",
    "value_sigmas": "0.2,1.0",
}
cfg = RECIPE.make_config("default", overrides)
run_dir = train(RECIPE, cfg, "default", out=Path("runs"))
for claim in json.loads((run_dir / "claims.json").read_text())["claims"]:
    print(
        "supported    " if claim["supported"] else "NOT supported", claim["statement"], "|", claim["evidence"]
    )
print("figure:", run_dir / "samples.png")
