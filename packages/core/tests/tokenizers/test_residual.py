import torch

from genlab.core.tokenizers import ResidualVQ


def test_error_falls_with_every_quantizer_and_codes_round_trip():
    torch.manual_seed(0)
    rvq = ResidualVQ(4, 16, num_quantizers=4)
    z = torch.randn(512, 4)
    rvq(z)  # k-means initialises each codebook on its own residual
    rvq.eval()
    q, idx, aux = rvq(z)
    assert idx.shape == (512, 4) and set(aux) == {"commitment"}
    torch.testing.assert_close(rvq.indices_to_codes(idx), q)
    errors = [((z - rvq.indices_to_codes(idx, depth)) ** 2).mean().item() for depth in range(1, 5)]
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.3 * errors[0]


def test_straight_through_gradient():
    rvq = ResidualVQ(3, 8, num_quantizers=2, kmeans_init=False).eval()
    z = torch.randn(6, 3, requires_grad=True)
    w = torch.randn(6, 3)
    (rvq(z)[0] * w).sum().backward()
    assert torch.equal(z.grad, w)
