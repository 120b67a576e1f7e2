"""Omega-bridges on a 6x6 integer grid, a 6-class one-hot set and the interval [0, 1], at a small size,
against a core diffusion model of the same size followed by rounding / argmax / clamping: how many raw
samples land in Omega, and how close each gets to the target. Prints the verdicts and the figure's path.

    uv run python packages/theory/examples/bridges.py                 # the sizes below
    uv run python packages/theory/examples/bridges.py --preset smoke  # the recipe's smoke preset
"""

from _example import run_example

from genlab.theory.recipes.bridges import RECIPE

SIZES = {"grid_size": "6", "classes": "6", "steps": "1000", "n_eval": "4000"}

if __name__ == "__main__":
    run_example(RECIPE, __doc__, SIZES, figures=("samples.png",))
