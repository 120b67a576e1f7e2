"""Quantizers under the trainer's EMA: every buffer must be a float tensor that weight averaging can take."""

import pytest
import torch

from genlab.core.tokenizers import FSQ, LFQ, MultiScaleVQ, ResidualVQ, VectorQuantizer
from genlab.core.trainer import ema_model

QUANTIZERS = {
    "vq": lambda: VectorQuantizer(4, 8),
    "rvq": lambda: ResidualVQ(4, 8, 2),
    "msvq": lambda: MultiScaleVQ(4, 8, scales=(1, 2, 4)),
    "fsq": lambda: FSQ([5, 4, 3, 2]),
    "lfq": lambda: LFQ(4),
}


@pytest.mark.parametrize("name", list(QUANTIZERS))
def test_quantizers_are_averaged_by_the_trainers_ema(name):
    torch.manual_seed(0)
    quantizer = QUANTIZERS[name]()
    assert all(b.is_floating_point() for b in quantizer.buffers())
    ema = ema_model(quantizer, 0.9)
    z = torch.randn(2, 4, 4, 4) if name == "msvq" else torch.randn(64, 4)
    for _ in range(2):
        quantizer(z)
        ema.update_parameters(quantizer)
    ema.module.eval()
    quantized, indices, _ = ema.module(z)
    if name in ("fsq", "lfq"):  # no learned state: the copy quantizes exactly like the original
        assert torch.equal(quantized, quantizer(z)[0]) and torch.equal(
            ema.module.indices_to_codes(indices), quantized
        )
    if name == "vq":
        assert ema.module.initialized.item() == 1.0  # the copy's codebook came from the k-means init
