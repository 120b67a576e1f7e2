import itertools

import pytest
import torch

from genlab.core.tokenizers import LFQ


@pytest.mark.parametrize("dim", [1, 5, 6])
def test_indices_to_codes_round_trip(dim):
    lfq = LFQ(dim)
    z = torch.randn(4, 7, dim)
    q, idx, _ = lfq(z)
    assert idx.shape == (4, 7) and idx.min() >= 0 and idx.max() < 2**dim
    assert torch.equal(q, torch.where(z > 0, 1.0, -1.0))
    assert torch.equal(lfq.indices_to_codes(idx), q)
    every = torch.arange(2**dim)
    assert torch.equal(lfq(lfq.indices_to_codes(every))[1], every)
    assert torch.equal(
        idx[0, 0], ((z[0, 0] > 0).long() * 2 ** torch.arange(dim - 1, -1, -1)).sum()
    )  # MSB first


def _brute_force_entropies(z: torch.Tensor, tau: float):
    dim = z.shape[-1]
    codes = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=dim)), dtype=torch.float64)
    probs = torch.softmax(
        -tau * torch.cdist(z.double(), codes) ** 2, dim=-1
    )  # p(c | z) ∝ exp(-tau ||z - c||^2)
    per_sample = -torch.xlogy(probs, probs).sum(-1).mean()
    avg = probs.mean(0)
    return per_sample, -torch.xlogy(avg, avg).sum()


@pytest.mark.parametrize("dim", [1, 4, 7])
@pytest.mark.parametrize("tau", [0.5, 3.0])
def test_entropies_equal_brute_force_over_all_codes(dim, tau):
    torch.manual_seed(dim)
    lfq = LFQ(dim, inv_temperature=tau)
    z = 0.5 * torch.randn(300, dim) + 0.3 * torch.randn(dim)
    per_sample, codebook = lfq.entropies(z)
    exact_ps, exact_cb = _brute_force_entropies(z, tau)
    torch.testing.assert_close(per_sample.double(), exact_ps, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(codebook.double(), exact_cb, atol=1e-5, rtol=1e-5)
    _, _, aux = LFQ(dim, entropy_weight=0.1, diversity_gamma=2.0, inv_temperature=tau)(z)
    torch.testing.assert_close(
        aux["entropy"].double(), 0.1 * (exact_ps - 2.0 * exact_cb), atol=1e-5, rtol=1e-5
    )


def test_straight_through_gradient_and_commitment():
    lfq = LFQ(4, entropy_weight=0.0, commitment_weight=1.0)
    z = torch.randn(8, 4, requires_grad=True)
    w = torch.randn(8, 4)
    q, _, aux = lfq(z)
    (q * w).sum().backward()
    assert torch.equal(z.grad, w)
    z.grad = None
    aux["commitment"].backward()
    torch.testing.assert_close(z.grad, 2 * (z - torch.where(z > 0, 1.0, -1.0)).detach() / z.numel())


def test_runs_in_float32_under_low_precision():
    lfq = LFQ(6)
    z = torch.randn(32, 6).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        q, idx, aux = lfq(z)
    assert q.dtype == torch.bfloat16 and all(v.dtype == torch.float32 for v in aux.values())
    ps, cb = lfq.entropies(z.float())
    torch.testing.assert_close(aux["entropy"], 0.1 * (ps - cb))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"\[\.\.\., 4\]"):
        LFQ(4)(torch.randn(3, 5))
    with pytest.raises(ValueError, match="non-finite"):
        LFQ(2)(torch.tensor([[float("nan"), 1.0]]))


def test_parity_with_vector_quantize_pytorch():
    vqp = pytest.importorskip("vector_quantize_pytorch")
    torch.manual_seed(0)
    dim, tau = 5, 2.0
    theirs = vqp.LFQ(
        dim=dim,
        codebook_size=2**dim,
        entropy_loss_weight=0.1,
        commitment_loss_weight=0.25,
        diversity_gamma=1.0,
    )
    theirs.train()
    ours = LFQ(dim, entropy_weight=0.1, commitment_weight=0.25, diversity_gamma=1.0, inv_temperature=tau)
    z = 0.4 * torch.randn(2, 64, dim)
    (q, idx, _), breakdown = theirs(z, inv_temperature=tau, return_loss_breakdown=True)
    q2, idx2, _ = ours(z)
    assert torch.equal(q, q2) and torch.equal(idx, idx2)
    assert torch.equal(theirs.indices_to_codes(idx), ours.indices_to_codes(idx))
    per_sample, codebook = ours.entropies(z.reshape(-1, dim))
    torch.testing.assert_close(per_sample, breakdown.per_sample_entropy, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(codebook, breakdown.batch_entropy, atol=1e-4, rtol=1e-4)
