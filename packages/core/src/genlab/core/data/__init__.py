"""Datasets that need no download: 2D densities, sklearn digits, scikit-image photographs."""

from genlab.core.data.digits import Digits, load_digits
from genlab.core.data.images import load_image
from genlab.core.data.mixtures import GaussianMixture
from genlab.core.data.toy2d import DENSITIES, Density2D, get_density

__all__ = ["DENSITIES", "Density2D", "Digits", "GaussianMixture", "get_density", "load_digits", "load_image"]
