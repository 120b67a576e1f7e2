"""Photographs that ship inside scikit-image's wheel (no pooch download)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genlab.core.lookup import unknown

SHIPPED = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)


def load_image(name: str, size: int | None = None, gray: bool = False) -> torch.Tensor:
    """A shipped image as a float tensor [C, H, W] in [0, 1], optionally resized to size x size."""
    import skimage.data

    if name not in SHIPPED:
        raise unknown("scikit-image image", name, SHIPPED)
    array = getattr(skimage.data, name)()
    img = torch.as_tensor(array).float()
    img = img / 255.0 if array.dtype.kind == "u" and array.max() > 1 else img.float()
    img = img[None] if img.ndim == 2 else img.permute(2, 0, 1)[:3]
    if gray and img.shape[0] == 3:
        img = (img * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(0, keepdim=True)
    if size is not None:
        img = F.interpolate(img[None], size=(size, size), mode="area")[0]
    return img.clamp(0, 1)
