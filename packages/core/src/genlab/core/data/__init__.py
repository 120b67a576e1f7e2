"""Datasets that need no download: 2D densities, sklearn digits, scikit-image photographs, and
text from the Python standard library and its documentation; MNIST for users who have its files."""

from genlab.core.data.digits import Digits, load_digits
from genlab.core.data.images import load_image
from genlab.core.data.mixtures import GaussianMixture
from genlab.core.data.mnist import load_mnist, read_idx
from genlab.core.data.text import blocks, decode, encode, load_text, load_tokens, random_blocks
from genlab.core.data.toy2d import DENSITIES, Density2D, get_density

__all__ = [
    "DENSITIES",
    "Density2D",
    "Digits",
    "GaussianMixture",
    "blocks",
    "decode",
    "encode",
    "get_density",
    "load_digits",
    "load_image",
    "load_mnist",
    "load_text",
    "load_tokens",
    "random_blocks",
    "read_idx",
]
