"""Dimension-free score matching and bootstrapped score matching, at a small size: DSM on OU trajectories
of a Gaussian mixture whose means live in a 2D subspace of R^d, the score error against the exact score
as n and d grow, and BSM (the paper's, reconstructed, and a Rao-Blackwellised variant) at high noise.
Prints the verdicts and the figure's path.

    uv run python packages/theory/examples/score_matching.py                 # the sizes below
    uv run python packages/theory/examples/score_matching.py --preset smoke  # the recipe's smoke preset
"""

from _example import run_example

from genlab.theory.recipes.bsm import RECIPE

SIZES = {"n_grid": "100,1000,10000", "d_grid": "2,32,256", "steps": "1000"}

if __name__ == "__main__":
    run_example(RECIPE, __doc__, SIZES, figures=("samples.png",))
