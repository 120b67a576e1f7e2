"""A small digits CNN trained in the repository: FD-digits and class accuracy without downloads.

Its penultimate features replace Inception's for a Frechet distance on 8x8 digits ("FD-digits",
never called FID); its predictions give the class accuracy of conditional samples. The weights
ship beside this file; ``python -m genlab.core.metrics.digits_classifier`` retrains them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from genlab.core.metrics.distances import frechet_distance

WEIGHTS = Path(__file__).with_name("digits_classifier.safetensors")


class DigitsClassifier(nn.Module):
    """Two 3x3 conv layers, a pool, a 64-d feature layer and a 10-way head; input [B, 1, 8, 8] in [0, 1]."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 4 * 4, 64)
        self.head = nn.Linear(64, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1:] != (1, 8, 8):
            raise ValueError(f"digits classifier expects images [B, 1, 8, 8], got {tuple(x.shape)}")
        h = F.relu(self.conv1(x * 2 - 1))
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return F.relu(self.fc(h.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def train_classifier(epochs: int = 60, seed: int = 0) -> DigitsClassifier:
    """Train on the digits train split with one-pixel shifts and pixel noise, so that it is robust to samples."""
    from genlab.core.data.digits import load_digits

    torch.manual_seed(seed)
    data = load_digits("train")
    x, y = data.images, data.labels
    model = DigitsClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        for idx in torch.randperm(len(y)).split(64):
            xb = x[idx]
            shift = torch.randint(-1, 2, (2,)).tolist()
            xb = torch.roll(xb, shifts=shift, dims=(2, 3))
            xb = (xb + 0.05 * torch.randn_like(xb)).clamp(0, 1)
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@lru_cache(maxsize=1)
def load_classifier() -> DigitsClassifier:
    """The shipped classifier, frozen, in eval mode."""
    model = DigitsClassifier()
    model.load_state_dict(load_file(WEIGHTS))
    return model.eval().requires_grad_(False)


@torch.no_grad()
def class_accuracy(images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of images the classifier assigns to their intended label."""
    logits = load_classifier()(images.float().cpu().clamp(0, 1))
    return (logits.argmax(-1) == labels.cpu()).float().mean().item()


@torch.no_grad()
def fd_digits(images: torch.Tensor, reference: torch.Tensor) -> float:
    """Frechet distance between classifier features of two image sets [N, 1, 8, 8] in [0, 1]."""
    net = load_classifier()
    return frechet_distance(
        net.features(images.float().cpu().clamp(0, 1)), net.features(reference.float().cpu())
    )


if __name__ == "__main__":
    from genlab.core.data.digits import load_digits

    trained = train_classifier()
    test = load_digits("test")
    with torch.no_grad():
        acc = (trained(test.images).argmax(-1) == test.labels).float().mean().item()
    save_file({k: v.contiguous() for k, v in trained.state_dict().items()}, WEIGHTS)
    print(f"test accuracy {acc:.4f}; saved {WEIGHTS}")
