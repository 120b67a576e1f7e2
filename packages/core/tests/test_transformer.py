import pytest
import torch

from genlab.core.nn.transformer import CausalTransformer, DiffusionTransformer, KVCache


def _capture_embeddings(model):
    """Keep the token embeddings of the next forward pass, with their gradient."""
    store = {}

    def hook(module, inputs, out):
        out.retain_grad()
        store["x"] = out

    model.tok.register_forward_hook(hook)
    return store


def _gpt(**kw):
    torch.manual_seed(0)
    return CausalTransformer(vocab_size=13, block_size=32, dim=32, depth=2, heads=4, **kw).eval()


def test_kv_cache_logits_equal_the_full_forward_pass():
    model = _gpt()
    x = torch.randint(13, (3, 20))
    full = model(x)
    cache = KVCache(2)
    pieces = [model(x[:, :7], cache)]  # prefill, then a chunk that sees the past, then one token at a time
    pieces.append(model(x[:, 7:12], cache))
    pieces += [model(x[:, i : i + 1], cache) for i in range(12, 20)]
    assert len(cache) == 20
    torch.testing.assert_close(torch.cat(pieces, 1), full, atol=1e-5, rtol=0)


def test_generate_with_the_cache_equals_decoding_without_it():
    model = _gpt()
    prompt = torch.randint(13, (2, 4))
    for temperature, top_k in [(0.0, None), (0.8, 5)]:
        out = model.generate(prompt, 10, temperature, top_k, generator=torch.Generator().manual_seed(3))
        g, x = torch.Generator().manual_seed(3), prompt
        with torch.no_grad():
            for _ in range(10):
                logits = model(x)[:, -1]
                if temperature == 0:
                    token = logits.argmax(-1, keepdim=True)
                else:
                    logits = logits / temperature
                    logits[logits < logits.topk(top_k).values[:, -1:]] = -torch.inf
                    token = torch.multinomial(logits.softmax(-1), 1, generator=g)
                x = torch.cat([x, token], 1)
        assert torch.equal(out, x)


def test_top_k_restricts_the_support():
    model = _gpt()
    prompt = torch.randint(13, (64, 1))
    out = model.generate(prompt, 1, temperature=5.0, top_k=2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        allowed = model(prompt)[:, -1].topk(2).indices
    assert (out[:, 1:] == allowed).any(-1).all()


def test_causal_mask_gives_exactly_zero_gradient_to_the_future():
    model = _gpt()
    x = torch.randint(13, (2, 16))
    emb = _capture_embeddings(model)
    logits = model(x)
    logits[:, 6].sum().backward()
    grad = emb["x"].grad.abs().sum(-1)
    assert (grad[:, 7:] == 0).all() and (grad[:, :7] > 0).all()


def _random_dit(**kw):
    torch.manual_seed(0)
    model = DiffusionTransformer(vocab_size=7, length=10, dim=32, depth=2, heads=4, out_dim=6, **kw)
    for p in model.parameters():  # move off adaLN-Zero's identity start
        torch.nn.init.normal_(p, std=0.2)
    return model


def test_diffusion_transformer_is_bidirectional_and_per_token():
    model = _random_dit()
    x, t = torch.randint(7, (2, 10)), torch.rand(2)
    out = model(x, t)
    assert out.shape == (2, 10, 6)
    torch.testing.assert_close(model(x, t[:, None].expand(2, 10)), out)  # per-token t, all equal
    t_tok = t[:, None].repeat(1, 10)
    t_tok[:, 9] = 0.0
    changed = (model(x, t_tok) - out).abs().sum(-1)
    assert (changed[:, :9] > 0).all()  # the last token's noise level reaches every position
    emb = _capture_embeddings(model)
    model(x, t)[:, 0].sum().backward()
    assert (emb["x"].grad.abs().sum(-1) > 0).all()


def test_adaln_zero_starts_uniform_and_time_can_be_ignored():
    torch.manual_seed(0)
    fresh = DiffusionTransformer(vocab_size=7, length=10, dim=32, depth=1, heads=4)
    assert (fresh(torch.randint(7, (2, 10)), torch.rand(2)) == 0).all()
    model = _random_dit(time_conditioning=False, num_classes=3)
    x = torch.randint(7, (2, 10))
    torch.testing.assert_close(model(x, torch.zeros(2)), model(x, torch.ones(2)))
    assert not torch.allclose(model(x, torch.zeros(2), y=torch.tensor([0, 1])), model(x, torch.zeros(2)))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="block_size"):
        _gpt().generate(torch.zeros(1, 30, dtype=torch.long), 5)
    with pytest.raises(ValueError, match="divisible"):
        CausalTransformer(5, 8, dim=30, heads=4)
    with pytest.raises(ValueError, match="prefix"):
        _random_dit()(torch.zeros(2, 10, dtype=torch.long), torch.zeros(3))
    with pytest.raises(ValueError, match=r"\[B, 10\]"):
        _random_dit()(torch.zeros(2, 9, dtype=torch.long), torch.zeros(2))
