"""genlab's Euler and Heun against Karras et al. (2022) Algorithms 1-2 on the EDM schedule.

The reference is the one in packages/core/tests/diffusion/test_samplers.py, written from the paper
(steps in sigma, d = (x - D(x; sigma)) / sigma, Heun's correction skipped on the step to sigma = 0);
both run the exact denoiser of a 2D Gaussian mixture (core/diffusion/exact.py) on the Karras grid
(sigma_max = 80, sigma_min = 0.002, rho = 7) from the same x_1 ~ N(0, 80^2 I), in float64, at equal
network evaluations (Heun with K steps costs 2K - 1). Reported: sliced Wasserstein-2 to a large
sample of the mixture for each side, and the largest |genlab - reference| over all samples.

    OMP_NUM_THREADS=1 uv run --no-sync python benchmarks/sampler_parity.py
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from pathlib import Path

import torch

from genlab.core.data import GaussianMixture
from genlab.core.diffusion import Denoiser, MixtureDenoiser, get_schedule, sample_euler, sample_heun
from genlab.core.diffusion.registry import steps_for_nfe
from genlab.core.grids import karras_grid
from genlab.core.metrics.distances import sliced_wasserstein

TESTS = Path(__file__).resolve().parents[1] / "packages/core/tests/diffusion/test_samplers.py"


def karras_reference():
    """``_karras_reference`` from the sampler tests (one copy of the paper's algorithm)."""
    spec = importlib.util.spec_from_file_location("genlab_sampler_tests", TESTS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._karras_reference


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nfe", default="5,10,20,50")
    p.add_argument("--n", type=int, default=4000, help="samples per setting")
    args = p.parse_args(argv)
    reference = karras_reference()

    mixture = GaussianMixture(
        torch.tensor([[-1.0, 0.5], [1.0, -0.5], [0.0, 1.5]]), torch.tensor([0.3, 0.3, 0.4])
    )
    edm = get_schedule("edm")
    den = Denoiser(MixtureDenoiser(mixture, edm), edm, "x0")
    data = mixture.sample(50_000, torch.Generator().manual_seed(1)).double()
    x1 = 80 * torch.randn(args.n, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def denoise(x, sigma):
        t = edm.t_from_logsnr(torch.tensor(-2 * math.log(sigma), dtype=torch.float64))
        return den.x0(x, t.expand(x.shape[0]))

    print(
        f"{args.n} samples, SW_2 to 50k mixture samples (the mixture against itself: "
        f"{sliced_wasserstein(mixture.sample(args.n, torch.Generator().manual_seed(2)).double(), data):.4f})\n"
    )
    print("| sampler | NFE | steps | SW genlab | SW Karras reference | max abs difference |")
    print("|---|---|---|---|---|---|")
    for name, ours in (("euler", sample_euler), ("heun", sample_heun)):
        for nfe in (int(v) for v in args.nfe.split(",")):
            steps = steps_for_nfe(name, nfe)
            grid = karras_grid(steps, (args.n,), schedule=edm, dtype=torch.float64)
            x_ours = ours(den, x1, grid)
            x_ref = reference(denoise, x1, edm.alpha_sigma(grid[:, 0])[1].tolist(), name == "heun")
            diff = (x_ours - x_ref).abs().max().item()
            print(
                f"| {name} | {2 * steps - 1 if name == 'heun' else steps} | {steps} | "
                f"{sliced_wasserstein(x_ours, data):.4f} | {sliced_wasserstein(x_ref, data):.4f} | {diff:.1e} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
