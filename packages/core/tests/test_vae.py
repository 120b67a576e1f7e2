"""VAE bounds against an exact log p(x) by quadrature over a 1D latent; IAF posterior; free bits;
the two-layer Gaussian prior normalised by quadrature."""

import math

import pytest
import torch

from genlab.core.vae import VAE, GaussianHierarchy


def _model(iaf_steps=0, latent_dim=1):
    torch.manual_seed(0)
    return VAE.bernoulli(
        data_dim=6, latent_dim=latent_dim, hidden=16, iaf_steps=iaf_steps, iaf_hidden=8
    ).double()


def _data(n=4):
    torch.manual_seed(1)
    return torch.bernoulli(torch.full((n, 6), 0.5, dtype=torch.float64))


def _exact_log_px(model, x):
    """log p(x) = log int p(x | z) N(z; 0, 1) dz by the trapezoid rule on [-10, 10] (latent_dim = 1)."""
    z = torch.linspace(-10, 10, 8001, dtype=torch.float64)[:, None, None]  # [Z, 1, L]
    log_joint = model.decoder.log_prob(x, z) - 0.5 * z[..., 0] ** 2 - 0.5 * math.log(2 * math.pi)  # [Z, B]
    dz = 20 / 8000
    weights = torch.full((8001, 1), dz, dtype=torch.float64)
    weights[[0, -1]] = dz / 2
    return torch.logsumexp(log_joint + weights.log(), 0)


def _mean_bound(model, x, k, samples=64000):
    """E L_k per example, averaged over samples / k independent draws (rows of one batched call)."""
    repeats = samples // (k * x.shape[0])
    return model.iw_bound(x.repeat(repeats, 1), k).view(repeats, -1).mean(0)


def test_bounds_are_ordered_and_iw_approaches_log_px():
    model, x = _model(), _data()
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.mul_(3)  # a decoder that depends strongly on z, so q(z | x) is far from p(z | x)
        log_px = _exact_log_px(model, x)
        torch.manual_seed(2)
        bounds = [_mean_bound(model, x, k) for k in [1, 4, 32]]
        tight = _mean_bound(model, x, 2000, samples=400000)
    elbo = bounds[0]
    assert (elbo < bounds[1]).all() and (bounds[1] < bounds[2]).all()  # L_1 = ELBO <= L_4 <= L_32
    assert (bounds[2] <= log_px + 0.02).all()
    assert (elbo < log_px - 0.2).all()  # the bound is loose, so the ordering above is not noise
    assert torch.allclose(tight, log_px, atol=0.01)


def test_one_sample_iw_bound_is_the_elbo():
    model, x = _model(), _data()
    torch.manual_seed(3)
    elbo = model.elbo(x)
    torch.manual_seed(3)
    assert torch.allclose(model.iw_bound(x, 1), elbo)


def test_iaf_posterior_log_q_matches_the_density_of_its_samples():
    model, x = _model(iaf_steps=2, latent_dim=3), _data()
    enc = model.encoder
    with torch.no_grad():
        for p in enc.iaf.parameters():
            p.add_(0.3 * torch.randn_like(p))
    torch.manual_seed(4)
    z, log_q = enc(x, n=5)  # [5, B, L], [5, B]
    h = enc.body(x)
    mu, log_sigma = enc.head(h).chunk(2, -1)
    z0, logdet = enc.iaf(z.flatten(0, 1), h.repeat(5, 1))  # scoring direction, solved sequentially
    base = torch.distributions.Normal(mu.repeat(5, 1), log_sigma.exp().repeat(5, 1)).log_prob(z0).sum(-1)
    assert torch.allclose((base + logdet).view(5, -1), log_q, atol=1e-8)
    assert not torch.allclose(z0.view_as(z), z)  # the IAF steps really moved the samples


def test_loss_trains_both_networks():
    model, x = _model(iaf_steps=1, latent_dim=2), _data(8)
    loss, logs = model(x)  # calling the model is its training loss
    loss.backward()
    assert set(logs) == {"elbo", "rec", "kl"} and logs["elbo"] == pytest.approx(logs["rec"] - logs["kl"])
    for part in [model.encoder.head, model.decoder]:
        assert any(p.grad.abs().sum() > 0 for p in part.parameters())


def test_free_bits_stop_the_kl_gradient_below_the_floor():
    model, x = _model(latent_dim=2), _data(8)
    torch.manual_seed(5)
    loss, logs = model.loss(x, free_bits=100.0)  # the floor 200 nats is far above the KL
    loss.backward()
    clamped = [p.grad.clone() for p in model.encoder.parameters()]
    assert loss.item() == pytest.approx(-logs["rec"] + 200.0)
    model.zero_grad()
    torch.manual_seed(5)
    rec, _ = model.terms(x)
    (-rec.mean()).backward()
    assert all(torch.allclose(a, p.grad) for a, p in zip(clamped, model.encoder.parameters()))


def test_samples_and_bad_inputs():
    model = _model()
    samples = model.sample(5)
    assert samples.shape == (5, 6) and ((samples >= 0) & (samples <= 1)).all()
    with pytest.raises(ValueError, match=r"x in \[0, 1\]"):
        model.elbo(torch.full((2, 6), 2.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="6 entries"):
        model.elbo(torch.zeros(2, 5, dtype=torch.float64))


def _hierarchy_2d():
    torch.manual_seed(6)
    prior = GaussianHierarchy(latent_dim=2, top_dim=1, hidden=8).double()
    with torch.no_grad():
        for p in prior.parameters():
            p.add_(0.5 * torch.randn_like(p))  # a non-trivial conditional mean and scale
    return prior


def test_gaussian_hierarchy_is_a_normalised_density_matching_its_samples():
    prior = _hierarchy_2d()
    grid = torch.linspace(-12, 12, 1201, dtype=torch.float64)
    z = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), -1)  # [Z1, Z2, 2]
    with torch.no_grad():
        density = prior.log_prob(z).exp()
        assert (density.sum() * (grid[1] - grid[0]) ** 2).item() == pytest.approx(1.0, abs=1e-4)
        draws = prior.sample(200_000, grid, torch.Generator().manual_seed(7))
    mean_z1 = (density * z[..., 0]).sum() / density.sum()  # E[z_1] by quadrature vs by sampling
    assert draws[:, 0].mean().item() == pytest.approx(mean_z1.item(), abs=0.02)
    assert draws[:, 1].std().item() == pytest.approx(1.0, abs=0.01)  # the top layer is N(0, 1)


def test_hierarchical_vae_bounds_and_errors():
    torch.manual_seed(8)
    model, x = (
        VAE.bernoulli(6, latent_dim=3, hidden=16, iaf_steps=1, iaf_hidden=8, top_dim=1).double(),
        _data(),
    )
    assert model.decoder.net[0].in_features == 2  # the decoder reads z_1 only
    with torch.no_grad():
        torch.manual_seed(9)
        bounds = [_mean_bound(model, x, k, samples=16000) for k in [1, 32]]
    assert (bounds[0] < bounds[1]).all()
    assert model.sample(4).shape == (4, 6)
    with pytest.raises(ValueError, match="0 < top_dim < latent_dim"):
        GaussianHierarchy(latent_dim=3, top_dim=3)


def test_convolutional_vae_reads_images_and_its_decoder_batches_k_samples():
    torch.manual_seed(10)
    model = VAE.bernoulli(64, latent_dim=3, hidden=16, iaf_steps=1, iaf_hidden=8, image_size=8).double()
    x = torch.bernoulli(torch.full((5, 64), 0.3, dtype=torch.float64))
    z, _ = model.encoder(x, 4)
    one_by_one = torch.stack([model.decoder.log_prob(x, zi) for zi in z])
    assert torch.allclose(model.decoder.log_prob(x, z), one_by_one)  # [k, B, L] == k calls on [B, L]
    with torch.no_grad():
        torch.manual_seed(11)
        bounds = [model.iw_bound(x.repeat(200, 1), k).view(200, -1).mean(0) for k in [1, 16]]
    assert (bounds[0] < bounds[1]).all()
    assert model.sample(3).shape == (3, 64)
    with pytest.raises(ValueError, match="side divisible by 4"):
        VAE.bernoulli(36, latent_dim=2, image_size=6)
    with pytest.raises(ValueError, match="square images"):
        VAE.bernoulli(60, latent_dim=2, image_size=8)
