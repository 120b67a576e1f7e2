"""gan-2d: the smoke run through the CLI, each player's gradient from the one summed loss, and the
mode-coverage metric."""

import json

import pytest
import torch

from genlab.core.cli import main
from genlab.core.gan import discriminator_loss, generator_loss, r1_penalty, r2_penalty
from genlab.core.recipes.gan_2d import GAN, mode_coverage


@pytest.mark.parametrize("loss, gamma", [("rpgan", "0.1"), ("hinge", "0")])
def test_smoke_run(tmp_path, loss, gamma):
    argv = ["train", "gan-2d", "--preset", "smoke", "--out", str(tmp_path), "--loss", loss, "--gamma", gamma]
    assert main(argv + ["--density", "grid25"]) == 0
    run_dir = (tmp_path / "gan-2d" / "latest").resolve()
    results = json.loads((run_dir / "eval.json").read_text())
    assert results["n_modes"] == 25 and 0 <= results["modes_covered"] <= 25
    assert 0 <= results["high_quality_fraction"] <= 1
    assert (run_dir / "samples.png").stat().st_size > 1000


@pytest.mark.parametrize("loss, gamma", [("rpgan", 0.5), ("nonsaturating", 0.0), ("hinge", 0.0)])
def test_one_step_gives_d_its_loss_gradient_and_g_its_loss_gradient(loss, gamma):
    torch.manual_seed(0)
    gan = GAN(latent=3, hidden=8, depth=2, loss=loss, gamma=gamma).double()
    real = torch.randn(16, 2, dtype=torch.float64)
    torch.manual_seed(1)
    gan(real)[0].backward()
    got = {n: p.grad.clone() for n, p in gan.named_parameters()}

    torch.manual_seed(1)  # the same z: each player's own objective, differentiated on its own
    fake = gan.generate(16)
    d_params, g_params = list(gan.discriminator.parameters()), list(gan.generator.parameters())
    x_real, x_fake = real.clone().requires_grad_(), fake.detach().requires_grad_()
    real_logits, fake_logits = gan.discriminate(x_real), gan.discriminate(x_fake)
    d_loss = discriminator_loss(loss, real_logits, fake_logits)
    if gamma:
        d_loss = d_loss + r1_penalty(x_real, real_logits, gamma) + r2_penalty(x_fake, fake_logits, gamma)
    g_loss = generator_loss(loss, gan.discriminate(fake), gan.discriminate(real))
    want_d = torch.autograd.grad(d_loss, d_params)
    want_g = torch.autograd.grad(g_loss, g_params)
    for (name, _), want in zip(gan.discriminator.named_parameters(), want_d):
        assert torch.allclose(got[f"discriminator.{name}"], want, atol=1e-10)
    for (name, _), want in zip(gan.generator.named_parameters(), want_g):
        assert torch.allclose(got[f"generator.{name}"], want, atol=1e-10)


def test_mode_coverage_counts_high_quality_samples_per_mode():
    means = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    at_modes = means.repeat_interleave(30, 0) + 0.1 * torch.randn(90, 2).clamp(-1, 1)
    assert mode_coverage(at_modes, means, 0.05, 20) == {
        "modes_covered": 3.0,
        "n_modes": 3.0,
        "high_quality_fraction": 1.0,
    }
    one_mode = torch.cat([means[:1].repeat(50, 1), torch.full((50, 2), 2.0)])  # half at a mode, half between
    result = mode_coverage(one_mode, means, 0.05, 20)
    assert result["modes_covered"] == 1.0 and result["high_quality_fraction"] == 0.5
    assert mode_coverage(means.repeat(10, 1), means, 0.05, 20)["modes_covered"] == 0.0  # 10 < 20 per mode
