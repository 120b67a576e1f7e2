import pytest
import torch

from genlab.core.discrete import (
    D3PMPath,
    MixturePath,
    classifier_free_guidance,
    guided_logits,
    masked_path,
    maskgit_schedule,
    sample_ancestral,
    sample_ancestral_cached,
    sample_categorical,
    sample_ctmc_euler,
    sample_maskgit,
    uniform_path,
)
from genlab.core.nn.transformer import DiffusionTransformer

N = 12000


def _tv(chain, x):
    """Total variation between the samples' histogram and the exact chain over all sequences."""
    seqs, p = chain.all_sequences()
    radix = chain.vocab ** torch.arange(chain.length - 1, -1, -1)
    emp = torch.bincount((x * radix).sum(-1), minlength=len(seqs)).double() / len(x)
    assert torch.equal((seqs * radix).sum(-1), torch.arange(len(seqs)))
    return 0.5 * (emp - p).abs().sum().item()


CASES = {
    "mdlm-ancestral": (lambda: masked_path(3), sample_ancestral, 32),
    "mdlm-cached": (lambda: masked_path(3), sample_ancestral_cached, 32),
    "uniform-ancestral": (lambda: uniform_path(3, "cosine"), sample_ancestral, 32),
    "dfm-uniform-euler": (lambda: uniform_path(3), sample_ctmc_euler, 48),
    "dfm-mask-euler": (lambda: MixturePath(3, "mask", "polynomial", n=2.0), sample_ctmc_euler, 48),
    "d3pm-absorbing": (lambda: D3PMPath(3, "absorbing", 16), sample_ancestral, 16),
    "d3pm-gaussian": (lambda: D3PMPath(3, "gaussian", 16), sample_ancestral, 16),
}


@pytest.mark.parametrize("name", CASES)
def test_samplers_with_the_exact_denoiser_reproduce_the_chain(small_chain, name):
    make, sampler, steps = CASES[name]
    path = make()
    g = torch.Generator().manual_seed(0)
    x = path.prior_sample((N, small_chain.length), generator=g)
    x = sampler(small_chain.denoiser(path), path, x, torch.linspace(1, 0, steps + 1), generator=g)
    reference = _tv(small_chain, small_chain.sample(N))  # pure sampling noise at this N
    assert x.max() < 3 and _tv(small_chain, x) < reference + 0.03


def test_few_parallel_steps_lose_the_correlations(small_chain):
    path = masked_path(3)
    g = torch.Generator().manual_seed(0)
    x = sample_ancestral(
        small_chain.denoiser(path), path, path.prior_sample((N, 4)), torch.linspace(1, 0, 2), generator=g
    )
    assert _tv(small_chain, x) > 0.05  # one step unmasks every token from its marginal: the oracle can fail


def test_cached_sampler_matches_and_saves_calls():
    torch.manual_seed(0)
    model = DiffusionTransformer(6, 12, dim=16, depth=1, heads=2, out_dim=5, time_conditioning=False)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.3)
    calls = []

    def counted(x, t):
        calls.append(len(x))
        return model(x, t)

    path, grid = masked_path(5), torch.linspace(1, 0, 101)  # far more steps than tokens
    x = path.prior_sample((8, 12))
    plain = sample_ancestral(counted, path, x, grid, generator=torch.Generator().manual_seed(1))
    n_plain = sum(calls)
    calls.clear()
    cached = sample_ancestral_cached(counted, path, x, grid, generator=torch.Generator().manual_seed(1))
    assert torch.equal(plain, cached) and (cached < 5).all()
    assert sum(calls) < n_plain / 3


def test_maskgit_schedule_is_monotone_and_ends_unmasked():
    masked = torch.tensor([64, 10, 3, 0])
    for schedule in ["cosine", "linear"]:
        counts = maskgit_schedule(12, masked, schedule)
        assert counts.shape == (12, 4)
        steps = torch.cat([masked[None], counts])
        assert (steps[1:] <= steps[:-1]).all() and (counts[-1] == 0).all()
        assert ((steps[1:] < steps[:-1]) | (steps[:-1] == 0)).all()  # a token per step while any is left
    cosine = maskgit_schedule(8, torch.tensor([64]))[:, 0]
    assert (
        cosine[:-1] >= maskgit_schedule(8, torch.tensor([64]), "linear")[:-1, 0]
    ).all()  # reveals few first


def test_maskgit_fills_masks_and_keeps_given_tokens():
    torch.manual_seed(0)
    model = DiffusionTransformer(6, 10, dim=16, depth=1, heads=2, out_dim=5)
    seen = []

    def spy(x, t):
        seen.append((x == 5).sum(-1))
        return model(x, t)

    x = torch.full((3, 10), 5)
    x[:, :3] = torch.tensor([0, 1, 2])
    out = sample_maskgit(spy, x, steps=4, mask_id=5, generator=torch.Generator().manual_seed(0))
    assert (out < 5).all() and torch.equal(out[:, :3], x[:, :3])
    expected = torch.cat([torch.tensor([7]), maskgit_schedule(4, torch.tensor([7]))[:-1, 0]])
    assert torch.equal(torch.stack(seen)[:, 0], expected)


def test_guidance_interpolates_and_batches_the_two_passes():
    torch.manual_seed(0)
    model = DiffusionTransformer(6, 7, dim=16, depth=1, heads=2, out_dim=5, num_classes=3)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x, t, y = torch.randint(6, (4, 7)), torch.rand(4), torch.tensor([0, 1, 2, 1])
    cond, uncond = model(x, t, y=y), model(x, t, y=torch.full_like(y, 3))
    rows = []
    model.register_forward_pre_hook(lambda mod, args: rows.append(len(args[0])))
    for scale, expected in [(0.0, uncond), (1.0, cond)]:
        rows.clear()
        torch.testing.assert_close(
            classifier_free_guidance(model, scale, y=3)(x, t, y=y), expected.log_softmax(-1)
        )
        assert rows == [4]  # one distribution alone: one pass of the batch
    rows.clear()
    guided = classifier_free_guidance(model, 3.0, y=3)(x, t, y=y)
    assert rows == [8]  # both passes, one batch
    torch.testing.assert_close(guided, guided_logits(cond, uncond, 3.0))
    torch.testing.assert_close(guided.exp().sum(-1), torch.ones(4, 7))
    with pytest.raises(ValueError, match="null value"):
        classifier_free_guidance(model, 2.0)(x, t, y=y)


def test_bad_grids_are_named():
    path = masked_path(4)
    x = path.prior_sample((2, 5))
    with pytest.raises(ValueError, match="from noise"):
        sample_ancestral(lambda x, t: torch.zeros(*x.shape, 4), path, x, torch.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="prefix"):
        sample_ancestral(lambda x, t: torch.zeros(*x.shape, 4), path, x, torch.zeros(5, 3))


def _one_token_at_a_time(n: int, length: int, seed: int = 0) -> torch.Tensor:
    """Per-token grid (L+1, n, L): each sequence unmasks its tokens one per step, in a random order;
    the others rest at t = 1 (still noise) or t = 0 (done)."""
    rank = torch.rand(n, length, generator=torch.Generator().manual_seed(seed)).argsort(-1).argsort(-1)
    return (rank[None] >= torch.arange(length + 1)[:, None, None]).float()


PER_TOKEN = {
    "ancestral": (lambda: masked_path(3), sample_ancestral),
    "cached": (lambda: masked_path(3), sample_ancestral_cached),
    "uniform-ancestral": (lambda: uniform_path(3, "cosine"), sample_ancestral),
    "ctmc-euler": (lambda: masked_path(3), sample_ctmc_euler),
}


@pytest.mark.parametrize("name", PER_TOKEN)
@pytest.mark.parametrize("product", [True, False])
def test_one_token_at_a_time_is_exact_with_the_exact_denoiser(small_chain, name, product):
    """Moving one token per step, the factorised exact denoiser makes every sampler exact, on a
    product distribution and on the Markov chain; tokens resting at t = s = 1 must stay noise."""
    if product:
        small_chain.trans = small_chain.init.expand(3, 3).clone()
    make, sampler = PER_TOKEN[name]
    path = make()
    g = torch.Generator().manual_seed(0)
    x = path.prior_sample((N, small_chain.length), generator=g)
    grid = _one_token_at_a_time(N, small_chain.length)
    x = sampler(small_chain.denoiser(path), path, x, grid, generator=g)
    reference = _tv(small_chain, small_chain.sample(N))
    assert x.max() < 3 and _tv(small_chain, x) < reference + 0.03


def test_sample_categorical_refuses_nan_and_empty_rows():
    with pytest.raises(ValueError, match="NaN"):
        sample_categorical(torch.tensor([[0.5, 0.5], [float("nan"), float("nan")]]))
    with pytest.raises(ValueError, match="no positive"):
        sample_categorical(torch.zeros(2, 3))


@pytest.mark.parametrize("sampler", [sample_ancestral, sample_ancestral_cached, sample_ctmc_euler])
def test_conditions_reach_the_model_as_a_dict(sampler):
    """cond is a dict, as in the Gaussian and flow samplers; the cached sampler passes the rows it reruns."""
    path, x, y = masked_path(3), torch.full((4, 5), 3), torch.tensor([0, 1, 2, 1])
    seen = []

    def model(x_t, t, y):
        seen.append((len(x_t), len(y), tuple(t.shape)))
        return torch.zeros(*x_t.shape, 3)

    out = sampler(model, path, x, torch.linspace(1, 0, 4), cond={"y": y})
    assert (out < 3).all() and seen and all(n == m == s[0] for n, m, s in seen)
