"""Procedural videos with exact ground truth: moving digits and bouncing shapes (see ``base``)."""

from genlab.core.lookup import lookup
from genlab.video.data.base import SPLITS, ProceduralVideo
from genlab.video.data.digits import MovingDigits
from genlab.video.data.physics import bounce, fold
from genlab.video.data.scene import Scene
from genlab.video.data.shapes import PALETTE, SHAPES, BouncingShapes

DATASETS = {"moving-digits": MovingDigits, "shapes": BouncingShapes}


def make_dataset(name: str, split: str = "train", **kwargs) -> ProceduralVideo:
    """A dataset by name (``moving-digits`` or ``shapes``); keyword arguments go to its class."""
    return lookup("video dataset", name, DATASETS)(split=split, **kwargs)


__all__ = [
    "DATASETS",
    "PALETTE",
    "SHAPES",
    "SPLITS",
    "BouncingShapes",
    "MovingDigits",
    "ProceduralVideo",
    "Scene",
    "bounce",
    "fold",
    "make_dataset",
]
