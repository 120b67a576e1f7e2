"""Rectified flow's theorems at a small size: 1-, 2- and 3-rectified flows from 8 Gaussians to two
moons, then the convex transport costs (Theorem 3.5), the straightness bound (Theorem 3.7), crossings,
few-step sample quality and the gap to exact OT. Prints the verdicts and the figures' paths.

    uv run python packages/theory/examples/rectified_flow.py                 # the sizes below
    uv run python packages/theory/examples/rectified_flow.py --preset smoke  # the recipe's smoke preset
"""

from _example import run_example

from genlab.theory.recipes.rectified_flow import RECIPE

SIZES = {
    "steps": "1000",
    "reflow_steps": "600",
    "distill_steps": "200",
    "n_pairs": "5000",
    "n_eval": "2000",
    "n_ot": "1000",
}

if __name__ == "__main__":
    run_example(RECIPE, __doc__, SIZES, figures=("samples.png", "theorems.png"))
