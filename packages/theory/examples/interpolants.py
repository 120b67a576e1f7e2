"""Stochastic interpolants between two Gaussian mixtures, at a small size: the closed-form velocity is
checked, a velocity MLP is trained for the linear and trigonometric interpolants, and its error, exact
NLL and transport cost are compared with the exact ones. Prints the verdicts and the figure's path.

    uv run python packages/theory/examples/interpolants.py                 # the sizes below
    uv run python packages/theory/examples/interpolants.py --preset smoke  # the recipe's smoke preset
"""

from _example import run_example

from genlab.theory.recipes.interpolants import RECIPE

SIZES = {"steps": "1024", "checkpoints": "2", "n_nll": "200"}

if __name__ == "__main__":
    run_example(RECIPE, __doc__, SIZES, figures=("samples.png",))
