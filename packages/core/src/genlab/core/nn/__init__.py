"""Network building blocks shared by the recipes."""

from genlab.core.nn.embeddings import SinusoidalEmbedding
from genlab.core.nn.mlp import TimeMLP
from genlab.core.nn.transformer import CausalTransformer, DiffusionTransformer, KVCache
from genlab.core.nn.unet import UNet

__all__ = ["CausalTransformer", "DiffusionTransformer", "KVCache", "SinusoidalEmbedding", "TimeMLP", "UNet"]
