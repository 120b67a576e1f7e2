"""Datasets that need no download: 2D densities, sklearn digits, scikit-image photographs, and
text from the Python standard library and its documentation; MNIST for users who have its files."""

import torch

from genlab.core.data.digits import Digits, load_digits
from genlab.core.data.images import load_image
from genlab.core.data.mixtures import GaussianMixture
from genlab.core.data.mnist import load_mnist, read_idx
from genlab.core.data.text import blocks, decode, encode, load_text, load_tokens, random_blocks
from genlab.core.data.toy2d import DENSITIES, Density2D, get_density

HELDOUT_OFFSET = 10_000


def heldout_generator(seed: int) -> torch.Generator:
    """The generator of a run's held-out evaluation draws, seeded seed + HELDOUT_OFFSET: a stream apart
    from the run's training draws (seeded ``seed``), the same in every recipe."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    return torch.Generator().manual_seed(seed + HELDOUT_OFFSET)


__all__ = [
    "DENSITIES",
    "HELDOUT_OFFSET",
    "Density2D",
    "Digits",
    "GaussianMixture",
    "blocks",
    "decode",
    "encode",
    "get_density",
    "heldout_generator",
    "load_digits",
    "load_image",
    "load_mnist",
    "load_text",
    "load_tokens",
    "random_blocks",
    "read_idx",
]
