"""How much is a noisy sample worth? Ambient diffusion at a small size, on the Gaussian mixture only:
clean-only runs of 100, 500 and 1000 samples, all-noisy, and 10% clean + 90% noisy at two noise levels,
scored by the exact excess denoising risk; then the price of a noisy sample. Prints the verdicts and
the figure's path.

    uv run python packages/theory/examples/ambient.py                 # the sizes below
    uv run python packages/theory/examples/ambient.py --preset smoke  # the recipe's smoke preset
"""

from _example import run_example

from genlab.theory.recipes.ambient import RECIPE

SIZES = {
    "digits": "false",
    "n_total": "1000",
    "steps": "1000",
    "clean_sizes": "0.1,0.5,1.0",
    "value_sigmas": "0.2,1.0",
}

if __name__ == "__main__":
    run_example(RECIPE, __doc__, SIZES, figures=("samples.png",))
