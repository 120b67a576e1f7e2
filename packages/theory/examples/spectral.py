"""Diffusion as spectral autoregression, at a small size: RAPSD power laws of scikit-image's photographs,
the noise crossover f*(sigma), and the coarse-to-fine settling of x0_hat along the sampling path of an
exact Gaussian patch model and a briefly trained U-Net. Prints the verdicts and the figures' paths.

    uv run python packages/theory/examples/spectral.py                 # the sizes below
    uv run python packages/theory/examples/spectral.py --preset smoke  # the recipe's smoke preset

At the sizes below it took 167 s with every claim supported, at smoke 29 s (wall clock with imports,
one thread of a 2-core CPU shared with other jobs, 2026-12-04); 150 U-Net steps of 64 patches leave the
trained model's coarse-to-fine claim unsupported.
"""

from _example import run_example

from genlab.theory.recipes.spectral import RECIPE

SIZES = {"size": "128", "steps": "400", "batch_size": "64", "n_samples": "64", "sample_steps": "50"}

if __name__ == "__main__":
    run_example(RECIPE, __doc__, SIZES, figures=("samples.png", "sampling_path.png"))
