"""Diffusion as spectral autoregression, at a small size: RAPSD power laws of scikit-image's photographs,
the noise crossover f*(sigma), and the coarse-to-fine settling of x0_hat along the sampling path of an
exact Gaussian patch model and a briefly trained U-Net. Prints the verdicts and the figures' paths.

    uv run python packages/theory/examples/spectral.py                 # the sizes below
    uv run python packages/theory/examples/spectral.py --preset smoke  # the recipe's smoke preset
"""

from _example import run_example

from genlab.theory.recipes.spectral import RECIPE

SIZES = {"size": "128", "steps": "200", "n_samples": "128"}

if __name__ == "__main__":
    run_example(RECIPE, __doc__, SIZES, figures=("samples.png", "sampling_path.png"))
