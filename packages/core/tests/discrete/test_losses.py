import math

import pytest
import torch

from genlab.core.discrete import (
    D3PMPath,
    MixturePath,
    bits_per_token,
    d3pm_loss,
    generalized_kl_loss,
    masked_path,
    mdlm_loss,
    nelbo,
    sample_time,
    subs_log_probs,
    uniform_path,
)
from genlab.core.nn.transformer import DiffusionTransformer

PATHS = {
    "mdlm": lambda: masked_path(4),
    "mdlm-cosine": lambda: masked_path(4, "cosine"),
    "uniform": lambda: uniform_path(4),
    "dfm-mask-poly2": lambda: MixturePath(4, "mask", "polynomial", n=2.0),
    "dfm-uniform-poly2": lambda: MixturePath(4, "uniform", "polynomial", n=2.0),
    "d3pm-absorbing": lambda: D3PMPath(4, "absorbing", 8),
    "d3pm-uniform": lambda: D3PMPath(4, "uniform", 8),
    "d3pm-gaussian": lambda: D3PMPath(4, "gaussian", 8),
}


def _gap(chain, path, model, n=1000):
    x0 = chain.sample(n)
    with torch.no_grad():
        gap = nelbo(model, path, x0, generator=torch.Generator().manual_seed(0)) - chain.nll(x0)
    return gap.mean().item(), gap.std().item() / math.sqrt(n)


@pytest.mark.parametrize("name", PATHS)
def test_elbo_bounds_the_exact_nll_with_the_exact_denoiser(chain, name):
    path = PATHS[name]()
    gap, se = _gap(chain, path, chain.denoiser(path))
    assert gap > -3.5 * se
    if isinstance(path, MixturePath) and path.mask_id is not None:
        # continuous-time masked diffusion with the exact denoiser is tight: E[NELBO] = NLL
        assert abs(gap) < 3.5 * se
    if isinstance(path, D3PMPath) and path.kind == "absorbing":
        assert gap > 3.5 * se  # several tokens unmask per step from factorised marginals: a real gap


@pytest.mark.parametrize("name", PATHS)
def test_elbo_bounds_the_exact_nll_for_any_model(chain, name):
    path = PATHS[name]()
    torch.manual_seed(0)
    model = DiffusionTransformer(path.num_states, chain.length, dim=16, depth=1, heads=2, out_dim=chain.vocab)
    for p in model.parameters():  # leave adaLN-Zero's uniform start: a random, confident model
        torch.nn.init.normal_(p, std=0.3)
    gap, se = _gap(chain, path, model, n=300)
    assert gap - 3.5 * se > 0


def _train_loss(path, model, x0):
    if isinstance(path, D3PMPath):
        return d3pm_loss(model, path, x0).loss.sum(-1).mean()
    loss = mdlm_loss if path.mask_id is not None else generalized_kl_loss
    return loss(model, path, x0).sum(-1).mean()


@pytest.mark.parametrize("name", ["mdlm", "d3pm-absorbing", "dfm-uniform-poly2"])
def test_a_few_training_steps_tighten_the_bound(chain, name):
    path = PATHS[name]()
    torch.manual_seed(0)
    model = DiffusionTransformer(path.num_states, chain.length, dim=32, depth=2, heads=2, out_dim=chain.vocab)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    before, _ = _gap(chain, path, model, n=400)
    for i in range(120):
        loss = _train_loss(path, model, chain.sample(128, seed=100 + i))
        opt.zero_grad()
        loss.backward()
        opt.step()
    after, se = _gap(chain, path, model, n=400)
    assert after < before - 1.0
    assert after > -3.5 * se


def test_mdlm_equals_the_generalized_kl_of_a_subs_model():
    torch.manual_seed(0)
    path = masked_path(6)
    model = DiffusionTransformer(7, 10, dim=16, depth=1, heads=2, out_dim=6)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.3)

    def subs_model(x_t, t):
        return subs_log_probs(model(x_t, t), x_t, path.mask_id)

    x0 = torch.randint(6, (8, 10))
    t = torch.rand(8, 10)
    a = mdlm_loss(model, path, x0, t, generator=torch.Generator().manual_seed(1))
    b = generalized_kl_loss(subs_model, path, x0, t, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)
    assert a.shape == (8, 10) and (a > 0).any()


def test_subs_copies_unmasked_tokens_and_never_predicts_the_mask():
    logits = torch.randn(2, 5, 4, requires_grad=True)  # a mask column (id 3) that must be dropped
    x_t = torch.tensor([[3, 1, 3, 0, 2], [3, 3, 3, 3, 3]])
    log_p = subs_log_probs(logits, x_t, mask_id=3)
    assert log_p.shape == (2, 5, 3)
    torch.testing.assert_close(log_p.exp().sum(-1), torch.ones(2, 5))
    assert log_p[0, 1, 1] == 0 and log_p[0, 3, 0] == 0 and log_p[0, 4, 2] == 0
    log_p[..., 0].exp().sum().backward()
    assert (logits.grad[0, [1, 3, 4]] == 0).all() and (logits.grad[..., 3] == 0).all()
    assert (logits.grad[0, 0, :3] != 0).any()


def test_antithetic_time_has_one_draw_per_stratum():
    t = sample_time(64, eps=1e-3, generator=torch.Generator().manual_seed(0))
    assert t.min() >= 1e-3 and t.max() <= 1
    strata = ((t - 1e-3) / (1 - 1e-3) * 64).floor().long()
    assert torch.equal(strata.sort().values, torch.arange(64))


def test_losses_take_per_token_time_and_give_per_token_terms(chain):
    x0 = chain.sample(4)
    t = torch.rand(4, chain.length)
    for path in (masked_path(4), uniform_path(4)):
        model = DiffusionTransformer(path.num_states, chain.length, dim=16, depth=1, heads=2, out_dim=4)
        loss = mdlm_loss if path.mask_id is not None else generalized_kl_loss
        assert loss(model, path, x0, t).shape == (4, chain.length)
    d3pm = D3PMPath(4, "absorbing", 8)
    model = DiffusionTransformer(5, chain.length, dim=16, depth=1, heads=2, out_dim=4)
    terms = d3pm_loss(model, d3pm, x0, k=torch.randint(1, 9, (4, chain.length)))
    assert terms.loss.shape == terms.nelbo.shape == terms.ce.shape == (4, chain.length)
    torch.testing.assert_close(
        terms.ce, torch.full_like(terms.ce, math.log(4))
    )  # zero-initialised head: uniform


def test_d3pm_nelbo_term_is_unbiased_for_the_full_sum(chain):
    path = D3PMPath(4, "uniform", 4)
    model = chain.denoiser(path)
    x0 = chain.sample(1).expand(2000, -1)
    g = torch.Generator().manual_seed(0)
    single = d3pm_loss(model, path, x0, generator=g).nelbo.sum(-1)
    full = nelbo(model, path, x0[:500], generator=g)
    assert abs(single.mean() - full.mean()) < 4 * (
        single.std() / math.sqrt(2000) + full.std() / math.sqrt(500)
    )


def test_bits_per_token():
    assert bits_per_token(torch.tensor(8 * math.log(2)), 8) == 1


def test_bad_input_is_named(chain):
    model = DiffusionTransformer(5, chain.length, dim=16, depth=1, heads=2, out_dim=4)
    with pytest.raises(ValueError, match="masked path"):
        mdlm_loss(model, uniform_path(4), chain.sample(2))
    with pytest.raises(ValueError, match="prefix"):
        mdlm_loss(model, masked_path(4), chain.sample(2), t=torch.rand(3))
    with pytest.raises(TypeError, match="no ELBO"):
        nelbo(model, object(), chain.sample(2))
