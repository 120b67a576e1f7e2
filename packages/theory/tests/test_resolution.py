"""logSNR measurements of pooled and scaled noisy images (genlab.theory.resolution) and the recipe."""

import json
import math

import pytest
import torch
import torch.nn.functional as F

from genlab.core.diffusion.schedules import Cosine, input_scaling, resolution_shift
from genlab.theory.resolution import (
    expected_shift,
    image_logsnr,
    noise_logsnr,
    noised,
    pool,
    pooling_shift,
    scaling_shift,
)


def _images(n=4, size=64):
    """Smooth random images (a low-passed random field): pooling keeps most of their power."""
    gen = torch.Generator().manual_seed(0)
    field = torch.randn(n, 1, size // 8, size // 8, generator=gen, dtype=torch.float64)
    return F.interpolate(field, size=(size, size), mode="bilinear", align_corners=False)[:, 0]


def test_pool_averages_blocks():
    x = torch.arange(16.0).reshape(1, 4, 4)
    torch.testing.assert_close(pool(x, 2), torch.tensor([[[2.5, 4.5], [10.5, 12.5]]]))
    assert pool(torch.zeros(2, 3, 8, 8), 4).shape == (2, 3, 2, 2)
    with pytest.raises(ValueError, match="pool"):
        pool(torch.zeros(1, 6, 6), 4)


def test_noise_logsnr_recovers_the_schedule():
    sch = Cosine()
    images = _images()
    gen = torch.Generator().manual_seed(1)
    for t in (0.1, 0.5, 0.9):
        tt = torch.full((len(images),), t, dtype=torch.float64)
        x_t, a = noised(images, tt, sch, generator=gen)
        torch.testing.assert_close(noise_logsnr(images, x_t, a), sch.logsnr(tt), atol=0.05, rtol=0)


def test_image_logsnr_adds_the_log_power_of_the_image():
    sch = Cosine()
    images = torch.full((3, 32, 32), 0.5, dtype=torch.float64)
    tt = torch.full((3,), 0.4, dtype=torch.float64)
    x_t, a = noised(images, tt, sch, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(image_logsnr(images, x_t, a), noise_logsnr(images, x_t, a) + math.log(0.25))


@pytest.mark.parametrize("s", [2, 4])
def test_pooling_shifts_the_noise_logsnr_by_2_log_s(s):
    t = torch.tensor([0.2, 0.6], dtype=torch.float64)
    noise, image = pooling_shift(_images(), t, Cosine(), s, torch.Generator().manual_seed(2))
    assert noise.shape == image.shape == (2, 4)
    assert abs(noise.mean().item() - expected_shift(s)) < 0.05
    assert (image <= noise + 1e-9).all()  # pooling can only lose signal power
    assert abs(image.mean().item() - expected_shift(s)) < 0.2 * expected_shift(s)


def test_scaling_shifts_by_2_log_b_and_matches_core_input_scaling():
    sch, b = Cosine(), 0.5
    t = torch.tensor([0.3, 0.7], dtype=torch.float64)
    images = _images()
    shift = scaling_shift(images, t, sch, b, torch.Generator().manual_seed(3))
    assert abs(shift.mean().item() - expected_shift(b)) < 0.03
    assert expected_shift(b) == pytest.approx(-2 * math.log(2))
    tt = torch.full((len(images),), 0.3, dtype=torch.float64)
    x_t, a = noised(images, tt, input_scaling(sch, b), generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(
        noise_logsnr(images, x_t, a), sch.logsnr(tt) + expected_shift(b), atol=0.05, rtol=0
    )


def test_resolution_shift_undoes_pooling():
    sch, s = Cosine(), 4
    images = _images(size=128)
    shifted = resolution_shift(sch, 128, base_resolution=128 / s)
    tt = torch.full((len(images),), 0.5, dtype=torch.float64)
    x_t, a = noised(images, tt, shifted, generator=torch.Generator().manual_seed(5))
    measured = noise_logsnr(pool(images, s), pool(x_t, s), a)  # 32x32 pixels each: about 0.04 of noise
    assert abs((measured - sch.logsnr(tt)).mean().item()) < 0.05
    assert abs(measured.mean().item() - shifted.logsnr(tt[0]).item()) > 2.5  # without pooling it is shifted


def test_recipe_smoke(tmp_path):
    from genlab.core.run import train
    from genlab.theory.recipes.schedules import RECIPE

    run = train(RECIPE, RECIPE.make_config("smoke"), "smoke", out=tmp_path)
    results = json.loads((run / "eval.json").read_text())
    claims = json.loads((run / "claims.json").read_text())
    assert {
        "pool2_noise_shift_mean",
        "scale2_shift_mean",
        "16x16_shifted_fd",
        "8x8_base_sw",
    } <= results.keys()
    assert all(math.isfinite(v) for v in results.values())
    assert abs(results["pool4_noise_shift_mean"] - 2 * math.log(4)) < 0.05
    assert len(claims["claims"]) == results["claims"] == 5
    assert (run / "samples.png").stat().st_size > 10_000 and (run / "digits_samples.png").is_file()
    with pytest.raises(ValueError, match="divisible"):
        RECIPE.build(RECIPE.make_config("smoke", {"pool_factors": "3"}))
