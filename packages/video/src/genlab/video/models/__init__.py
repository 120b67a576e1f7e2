"""Video denoisers with per-frame noise levels: the causal (or non-causal) spatio-temporal
transformer, its U-ViT form with convolutional outer levels, and the recurrent ConvGRU of Diffusion
Forcing (Chen et al. 2024)."""

from genlab.core.lookup import lookup
from genlab.video.models.common import check_clip, time_embedding
from genlab.video.models.convgru import ConvGRUCell, RecurrentDenoiser
from genlab.video.models.transformer import SpaceTimeBlock, VideoTransformer
from genlab.video.models.uvit import VideoUViT

MODELS = {"transformer": VideoTransformer, "uvit": VideoUViT, "gru": RecurrentDenoiser}


def make_model(name: str, **kwargs):
    """A video denoiser by name (``transformer``, ``uvit`` or ``gru``); keyword arguments go to its class."""
    return lookup("video model", name, MODELS)(**kwargs)


__all__ = [
    "MODELS",
    "ConvGRUCell",
    "RecurrentDenoiser",
    "SpaceTimeBlock",
    "VideoTransformer",
    "VideoUViT",
    "check_clip",
    "make_model",
    "time_embedding",
]
