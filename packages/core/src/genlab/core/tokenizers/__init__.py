"""Quantizers that turn continuous features into tokens: VQ, FSQ, LFQ, residual and multi-scale VQ.

All return ``(quantized, indices, aux_losses)`` and map indices back with ``indices_to_codes``.
"""

from genlab.core.tokenizers.base import Quantizer, straight_through
from genlab.core.tokenizers.fsq import FSQ
from genlab.core.tokenizers.lfq import LFQ
from genlab.core.tokenizers.multiscale import MultiScaleVQ
from genlab.core.tokenizers.residual import ResidualVQ
from genlab.core.tokenizers.vq import VectorQuantizer, kmeans

__all__ = [
    "FSQ",
    "LFQ",
    "MultiScaleVQ",
    "Quantizer",
    "ResidualVQ",
    "VectorQuantizer",
    "kmeans",
    "straight_through",
]
