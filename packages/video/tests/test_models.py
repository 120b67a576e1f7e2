"""Video denoisers: exact causality by autograd, the non-causal flag, per-frame t, clear errors."""

import pytest
import torch

from genlab.video.models import RecurrentDenoiser, VideoTransformer, VideoUViT, make_model


def randomized(model):
    """Zero-initialised layers (adaLN-Zero, output heads) would hide every dependency: perturb all."""
    torch.manual_seed(0)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.2)
    return model.double()


MODELS = {
    "transformer": lambda causal=True: VideoTransformer(
        1, 8, 6, patch=4, dim=16, depth=2, heads=2, causal=causal
    ),
    "uvit": lambda causal=True: VideoUViT(1, 8, 6, base=4, dim=16, depth=2, heads=2, causal=causal),
    "gru": lambda causal=True: RecurrentDenoiser(1, 8, base=8, hidden=8),
}


def input_grads(model, k, frames=6):
    x = torch.randn(2, frames, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    t = torch.rand(2, frames, dtype=torch.float64, requires_grad=True)
    model(x, t)[:, k].square().sum().backward()
    return x.grad.abs().sum(dim=(0, 2, 3, 4)), t.grad.abs().sum(0)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("k", [0, 2, 5])
def test_frame_k_has_exactly_zero_gradient_from_later_frames(name, k):
    gx, gt = input_grads(randomized(MODELS[name]()), k)
    assert (gx[k + 1 :] == 0).all() and (gt[k + 1 :] == 0).all()  # exactly, not approximately
    assert (gx[: k + 1] > 0).all() and (gt[: k + 1] > 0).all()  # while every earlier frame matters


@pytest.mark.parametrize("name", ["transformer", "uvit"])
def test_non_causal_transformer_sees_the_future(name):
    gx, gt = input_grads(randomized(MODELS[name](causal=False)), 0)
    assert (gx > 0).all() and (gt > 0).all()


@pytest.mark.parametrize("name", list(MODELS))
def test_one_level_per_clip_is_the_same_level_for_every_frame(name):
    model = randomized(MODELS[name]())
    x, t = torch.randn(3, 4, 1, 8, 8, dtype=torch.float64), torch.rand(3, dtype=torch.float64)
    assert torch.allclose(model(x, t), model(x, t[:, None].expand(3, 4)))


def test_gru_state_carries_the_past_exactly():
    model = randomized(MODELS["gru"]())
    x, t = torch.randn(2, 6, 1, 8, 8, dtype=torch.float64), torch.rand(2, 6, dtype=torch.float64)
    whole = model(x, t)
    _, state = model.scan(x[:, :4], t[:, :4])
    assert torch.allclose(model(x[:, 4:], t[:, 4:], state=state), whole[:, 4:], atol=1e-12)


def test_bad_shapes_and_lengths_are_named():
    tf, gru = MODELS["transformer"](), MODELS["gru"]()
    x = torch.randn(2, 6, 1, 8, 8)
    with pytest.raises(ValueError, match=r"\[B, T, 1, 8, 8\]"):
        tf(torch.randn(2, 6, 3, 8, 8), torch.rand(2, 6))
    with pytest.raises(ValueError, match="at most 6"):
        tf(torch.randn(2, 7, 1, 8, 8), torch.rand(2, 7))
    with pytest.raises(ValueError, match="prefix"):
        gru(x, torch.rand(2, 5))
    with pytest.raises(ValueError, match="state must have shape"):
        gru(x, torch.rand(2, 6), state=torch.zeros(2, 8, 4, 4))
    with pytest.raises(ValueError, match="NaN"):
        gru(x, torch.full((2, 6), float("nan")))
    with pytest.raises(ValueError, match="divisible"):
        VideoTransformer(1, 10, 4, patch=4)
    with pytest.raises(ValueError, match="at most 6"):
        MODELS["uvit"]()(torch.randn(2, 7, 1, 8, 8), torch.rand(2, 7))
    with pytest.raises(ValueError, match="divisible by 4"):
        VideoUViT(1, 10, 4)
    with pytest.raises(ValueError, match="did you mean 'gru'"):
        make_model("gur")
