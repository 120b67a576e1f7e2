"""Video denoisers with per-frame noise levels: the causal (or non-causal) spatio-temporal
transformer and the recurrent ConvGRU of Diffusion Forcing (Chen et al. 2024)."""

from genlab.core.lookup import lookup
from genlab.video.models.common import check_clip, time_embedding
from genlab.video.models.convgru import ConvGRUCell, RecurrentDenoiser
from genlab.video.models.transformer import SpaceTimeBlock, VideoTransformer

MODELS = {"transformer": VideoTransformer, "gru": RecurrentDenoiser}


def make_model(name: str, **kwargs):
    """A video denoiser by name (``transformer`` or ``gru``); keyword arguments go to its class."""
    return lookup("video model", name, MODELS)(**kwargs)


__all__ = [
    "MODELS",
    "ConvGRUCell",
    "RecurrentDenoiser",
    "SpaceTimeBlock",
    "VideoTransformer",
    "check_clip",
    "make_model",
    "time_embedding",
]
