"""Normalizing flows: invertible layers, their composition over a base distribution, and 2D targets.

Every layer is a ``Bijection`` with ``forward(x, context=None) -> (z, logdet)`` in the normalising
direction (data -> base) and ``inverse(z, context=None) -> (x, logdet)`` in the generative direction;
log-dets have shape [B] and a round trip's two log-dets sum to zero.  ``Flow(layers, base)`` gives
``log_prob``, ``sample``, ``rsample_and_log_prob``, ``forward_kl`` and ``reverse_kl``.
"""

from genlab.core.nflows.actnorm import ActNorm
from genlab.core.nflows.autoregressive import IAF, MAF
from genlab.core.nflows.base import Bijection, Chain, Inverse
from genlab.core.nflows.coupling import Coupling, glow_net, image_coupling, mlp, vector_coupling
from genlab.core.nflows.energies import ENERGIES, log_target
from genlab.core.nflows.flow import Flow, StandardNormal
from genlab.core.nflows.iresnet import ResidualBlock
from genlab.core.nflows.linear import Invertible1x1Conv, Permute
from genlab.core.nflows.made import MADE
from genlab.core.nflows.multiscale import Split, Squeeze, glow, glow_step
from genlab.core.nflows.planar import Planar, Radial
from genlab.core.nflows.spline import NSF, rational_quadratic

__all__ = [
    "ENERGIES",
    "IAF",
    "MADE",
    "MAF",
    "NSF",
    "ActNorm",
    "Bijection",
    "Chain",
    "Coupling",
    "Flow",
    "Invertible1x1Conv",
    "Inverse",
    "Permute",
    "Planar",
    "Radial",
    "ResidualBlock",
    "Split",
    "Squeeze",
    "StandardNormal",
    "glow",
    "glow_net",
    "glow_step",
    "image_coupling",
    "log_target",
    "mlp",
    "rational_quadratic",
    "vector_coupling",
]
