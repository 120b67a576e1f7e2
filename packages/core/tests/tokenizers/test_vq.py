import pytest
import torch

from genlab.core.tokenizers import VectorQuantizer, kmeans


def _blobs(n=600, dim=3, k=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = 4 * torch.randn(k, dim, generator=g)
    return centres[torch.randint(k, (n,), generator=g)] + 0.1 * torch.randn(n, dim, generator=g)


def test_nearest_code_and_round_trip():
    torch.manual_seed(0)
    vq = VectorQuantizer(3, 16, kmeans_init=False).eval()
    z = torch.randn(5, 7, 3)
    q, idx, aux = vq(z)
    brute = ((z[..., None, :] - vq.codebook) ** 2).sum(-1).argmin(-1)
    assert torch.equal(idx, brute) and idx.shape == (5, 7)
    torch.testing.assert_close(vq.indices_to_codes(idx), q)
    torch.testing.assert_close(aux["commitment"], 0.25 * ((z - q) ** 2).mean())


def test_straight_through_gradient_and_commitment():
    vq = VectorQuantizer(4, 8, kmeans_init=False, commitment_weight=1.0).eval()
    z = torch.randn(10, 4, requires_grad=True)
    w = torch.randn(10, 4)
    q, _, aux = vq(z)
    (q * w).sum().backward()
    assert torch.equal(z.grad, w)  # identity gradient through the quantizer
    z.grad = None
    aux["commitment"].backward()
    torch.testing.assert_close(z.grad, 2 * (z - q).detach() / z.numel())
    assert not vq.codebook.requires_grad  # codes move by EMA only


def test_kmeans_init_fits_the_data():
    torch.manual_seed(0)
    z = _blobs()
    vq = VectorQuantizer(3, 6, kmeans_iters=20)
    before = ((z - VectorQuantizer(3, 6, kmeans_init=False).eval()(z)[0]) ** 2).mean()
    q, _, _ = vq(z)
    assert bool(vq.initialized) and ((z - q) ** 2).mean() < 0.1 * before
    centroids, counts = kmeans(z, 6)
    assert counts.sum() == len(z)


def test_ema_moves_codes_to_the_mean_of_their_vectors():
    torch.manual_seed(0)
    z = _blobs()
    vq = VectorQuantizer(3, 6, decay=0.0, kmeans_init=False, dead_threshold=0.0, eps=1e-12)
    _, idx, _ = vq(z)
    for k in idx.unique():
        torch.testing.assert_close(vq.codebook[k], z[idx == k].mean(0))
    assert torch.equal(vq.cluster_size, torch.bincount(idx, minlength=6).float())


def test_dead_codes_are_revived_from_the_batch():
    torch.manual_seed(0)
    z = _blobs(k=2)
    vq = VectorQuantizer(3, 8, kmeans_init=False, dead_threshold=0.5)
    vq.codebook.fill_(100.0)
    vq.codebook[0] = z.mean(0)  # the only code anyone uses
    vq.cluster_size.zero_()[0] = 10.0
    vq.embed_sum.copy_(vq.codebook * vq.cluster_size[:, None])
    vq(z)
    assert vq.cluster_size[0] > 10.0
    revived = (vq.codebook[1:, None] - z).norm(dim=-1).min(-1).values
    assert (revived == 0).all()  # every unused code is now a vector of the batch


def test_eval_mode_leaves_the_codebook_alone():
    vq = VectorQuantizer(3, 8)
    vq.eval()
    before = vq.codebook.clone()
    vq(torch.randn(20, 3))
    assert torch.equal(before, vq.codebook) and not bool(vq.initialized)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"\[\.\.\., 3\]"):
        VectorQuantizer(3, 4)(torch.randn(2, 4))
