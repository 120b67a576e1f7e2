import math

import pytest
import torch

from genlab.core.data import load_digits
from genlab.core.metrics import (
    bits_per_dim,
    class_accuracy,
    dequantize,
    fd_digits,
    frechet_distance,
    mmd,
    psnr,
    sliced_wasserstein,
    ssim,
)


def test_sliced_wasserstein_of_a_shift_is_its_norm_over_sqrt_d():
    x = torch.randn(4000, 3, generator=torch.Generator().manual_seed(0))
    shift = torch.tensor([3.0, 0.0, 4.0])
    assert sliced_wasserstein(x, x) == 0.0
    # every projection moves by <shift, theta>, and E <shift, theta>^2 = |shift|^2 / d
    assert sliced_wasserstein(x, x + shift, n_projections=4000) == pytest.approx(5 / math.sqrt(3), rel=0.03)


def test_sliced_wasserstein_handles_unequal_sizes():
    g = torch.Generator().manual_seed(1)
    assert sliced_wasserstein(torch.randn(3000, 2, generator=g), torch.randn(1000, 2, generator=g)) < 0.1


def test_mmd_separates_distributions():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(500, 2, generator=g), torch.randn(500, 2, generator=g)
    assert abs(mmd(a, b)) < 0.01
    assert mmd(a, b + 1.0) > 0.1


def test_frechet_distance_of_gaussians():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 4, generator=g, dtype=torch.float64)
    b = torch.randn(20000, 4, generator=g, dtype=torch.float64) * 2 + 1
    # ||mu||^2 + tr(I + 4I - 2 * 2I) = 4 + 4
    assert frechet_distance(a, b) == pytest.approx(8.0, rel=0.03)


def test_bad_sample_sets_are_named():
    with pytest.raises(ValueError, match="NaN"):
        sliced_wasserstein(torch.full((3, 2), float("nan")), torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        mmd(torch.zeros(3, 2), torch.zeros(3, 3))


def test_bits_per_dim_of_the_uniform_density_is_log2_bins():
    levels = torch.randint(0, 17, (10, 64))
    y = dequantize(levels, 17)
    assert ((y >= 0) & (y < 1)).all() and torch.equal((y * 17).floor().long(), levels)
    log_p_uniform = torch.zeros(10)  # density 1 on [0, 1)^64
    assert torch.allclose(bits_per_dim(log_p_uniform, 64, 17), torch.full((10,), math.log2(17)))
    # the same density seen on [-1, 1] (x = 2y - 1) has log p_x = -D log 2
    assert torch.allclose(
        bits_per_dim(torch.full((10,), -64 * math.log(2)), 64, 17, scale=2.0),
        torch.full((10,), math.log2(17)),
    )
    with pytest.raises(ValueError, match="levels"):
        dequantize(torch.tensor([17]), 17)


def test_psnr_and_ssim():
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    noisy = (x + 0.1).clamp(0, 1)
    mse = (noisy - x).square().mean().item()
    assert psnr(noisy, x) == pytest.approx(10 * math.log10(1 / mse), rel=1e-4)
    assert ssim(x, x) == pytest.approx(1.0)
    assert ssim(noisy, x) < 1.0
    with pytest.raises(ValueError, match="shape"):
        psnr(x, x[:1])


def test_shipped_digits_classifier_is_accurate_and_fd_digits_ranks():
    test, train = load_digits("test"), load_digits("train")
    assert class_accuracy(test.images, test.labels) >= 0.97
    real = fd_digits(test.images, train.images)
    noise = fd_digits(torch.rand(297, 1, 8, 8, generator=torch.Generator().manual_seed(0)), train.images)
    assert real < 0.1 * noise
