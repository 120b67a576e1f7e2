"""Noise schedules across resolutions, at a small size: the logSNR shift of average pooling (2 log s) and
of input scaling (2 log b) measured on scikit-image's photographs, then small diffusion models on digits
at 8x8 and upsampled to 32x32 with and without simple diffusion's shifted schedule. Prints the verdicts
and the figures' paths.

    uv run python packages/theory/examples/resolution.py                 # the sizes below
    uv run python packages/theory/examples/resolution.py --preset smoke  # the recipe's smoke preset
"""

from _example import run_example

from genlab.theory.recipes.schedules import RECIPE

SIZES = {"image_size": "128", "n_times": "10", "steps": "800", "seeds": "1"}

if __name__ == "__main__":
    run_example(RECIPE, __doc__, SIZES, figures=("samples.png", "digits_samples.png"))
