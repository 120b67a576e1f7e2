"""Network building blocks shared by the recipes."""

from genlab.core.nn.embeddings import SinusoidalEmbedding
from genlab.core.nn.mlp import TimeMLP

__all__ = ["SinusoidalEmbedding", "TimeMLP"]
