"""The small U-Net: shapes at 8, 16 and 32 pixels, the null label, zero-initialised output, errors."""

import pytest
import torch

from genlab.core.nn import UNet


@pytest.mark.parametrize("res, mults, ch", [(8, (1, 2), 1), (16, (1, 2, 2), 3), (32, (1, 2, 2, 2), 3)])
def test_shapes_and_zero_output_at_init(res, mults, ch):
    torch.manual_seed(0)
    net = UNet(ch, 8, mults, blocks=1, attn_resolutions=(res // 2,), num_classes=10, resolution=res)
    x, t = torch.randn(3, ch, res, res), torch.rand(3)
    out = net(x, t, torch.tensor([0, 5, 10]))
    assert out.shape == x.shape and (out == 0).all()  # zero-initialised output layer


def test_missing_label_is_the_null_class_and_labels_matter():
    torch.manual_seed(0)
    net = UNet(1, 8, (1, 2), blocks=1, num_classes=10)
    for p in net.parameters():  # leave the zero initialisation
        torch.nn.init.normal_(p, std=0.2)
    x, t = torch.randn(4, 1, 8, 8), torch.rand(4)
    assert torch.equal(net(x, t), net(x, t, torch.full((4,), 10)))
    assert not torch.allclose(net(x, t, torch.zeros(4, dtype=torch.long)), net(x, t))
    assert not torch.allclose(net(x, t), net(x, t.flip(0)))


@pytest.mark.parametrize(
    "x, t, y, message",
    [
        (torch.randn(2, 1, 16, 16), torch.rand(2), None, "expects x of shape"),
        (torch.randn(2, 1, 8, 8), torch.rand(2, 1), None, "t of shape"),
        (torch.randn(2, 1, 8, 8), torch.rand(2), torch.tensor([0, 11]), "labels y"),
    ],
)
def test_bad_input_is_named(x, t, y, message):
    net = UNet(1, 8, (1, 2), blocks=1, num_classes=10)
    with pytest.raises(ValueError, match=message):
        net(x, t, y)


def test_unconditional_net_rejects_labels_and_odd_resolutions():
    with pytest.raises(ValueError, match="no class conditioning"):
        UNet(1, 8, (1, 2), blocks=1)(torch.randn(1, 1, 8, 8), torch.rand(1), torch.tensor([1]))
    with pytest.raises(ValueError, match="cannot be halved"):
        UNet(1, 8, (1, 2, 2, 2), resolution=12)
