"""Per-frame PSNR/SSIM of a rollout against its ground truth, and the divergence horizon.

Diffusion Forcing (Chen et al. 2024, Sec. 4.1) claims rollouts far beyond the training length that
stay stable where teacher forcing and full-sequence diffusion diverge; with the procedural videos'
exact ground truth this becomes a number: the first frame after which PSNR stays below a threshold.
PSNR and SSIM are genlab.core.metrics' (data range 1) on frames mapped from [-1, 1] to [0, 1].
PSNR asks "is the rollout still on track"; the mass ratio asks the weaker "are the objects still
intact" (neither fading nor smearing over the frame), which holds even once a rollout has drifted;
the digit identity asks whether each digit is still recognisably itself, wherever it is, and the colour
similarity the same of coloured shapes (whether each colour still covers the same area, wherever it is:
the "colour histogram drift" by which the paper's CPU-scale check defines divergence); the centroid
error says how far, in pixels, the rollout's ink has moved off the truth's path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from genlab.core.metrics import psnr, ssim
from genlab.core.metrics.digits_classifier import load_classifier
from genlab.core.tensors import check_finite


def _per_frame(metric: Callable, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if pred.shape != target.shape or pred.ndim not in (4, 5):
        raise ValueError(
            f"expected pred and target of one shape [T, C, H, W] or [B, T, C, H, W], "
            f"got {tuple(pred.shape)}, {tuple(target.shape)}"
        )
    check_finite(pred, "pred")
    check_finite(target, "target")
    if pred.ndim == 4:
        pred, target = pred[None], target[None]
    pred, target = (pred.clamp(-1, 1) + 1) / 2, (target.clamp(-1, 1) + 1) / 2
    return torch.tensor([metric(pred[:, t], target[:, t]) for t in range(pred.shape[1])])


def per_frame_psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of each frame, [T]; a batch [B, T, ...] pools the squared error over B (inf if exact)."""
    return _per_frame(psnr, pred, target)


def per_frame_ssim(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """SSIM of each frame, [T]; a batch [B, T, ...] averages over B."""
    return _per_frame(ssim, pred, target)


def per_frame_mass_ratio(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Each frame's total brightness (frames mapped to [0, 1], pooled over a batch) over the target's, [T]:
    1 when the objects keep their size and brightness, > 1 when a rollout smears, < 1 when it fades."""
    return _per_frame(lambda p, q: float(p.sum() / q.sum().clamp_min(1e-12)), pred, target)


def _ink_centroid(frames: torch.Tensor) -> torch.Tensor:
    """Brightness-weighted mean (row, column) of frames [B, C, H, W] in [0, 1], [B, 2]."""
    ink = frames.sum(1)
    mass = ink.sum((-2, -1)).clamp_min(1e-12)
    rows = torch.arange(ink.shape[-2], dtype=ink.dtype)
    cols = torch.arange(ink.shape[-1], dtype=ink.dtype)
    return torch.stack([(ink.sum(-1) * rows).sum(-1) / mass, (ink.sum(-2) * cols).sum(-1) / mass], -1)


def per_frame_centroid_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Distance in pixels between each frame's ink centroid and its target's, averaged over a batch, [T].

    On a dark background with one object this is how far the rollout has drifted off the truth's path
    (a digit shifted by k pixels scores k); with several objects it follows their joint centre. A blank
    frame has its centroid at pixel (0, 0).
    """
    return _per_frame(
        lambda p, q: float((_ink_centroid(p) - _ink_centroid(q)).norm(dim=-1).mean()), pred, target
    )


def _colour_histogram(frames: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """Pixels of frames [B, C, H, W] in [0, 1] whose nearest colour among black and ``palette`` [K, C]
    is each palette colour, [K]."""
    colours = torch.cat([torch.zeros(1, palette.shape[1]), palette]).to(frames)
    pixels = frames.movedim(1, -1).reshape(-1, palette.shape[1])
    nearest = torch.cdist(pixels, colours).argmin(-1)
    return torch.bincount(nearest, minlength=len(colours))[1:].float()


def per_frame_colour_similarity(
    pred: torch.Tensor, target: torch.Tensor, palette: torch.Tensor
) -> torch.Tensor:
    """How much each frame's colour histogram still matches its target's, [T], pooled over a batch.

    Every pixel counts for its nearest colour among black (the background) and ``palette`` [K, C]
    (RGB in [0, 1], e.g. the shapes' ``PALETTE``); the score is the weighted Jaccard similarity of the
    two histograms, sum_k min(p_k, q_k) / sum_k max(p_k, q_k): 1 while every colour covers the same
    area as in the truth, wherever it is, falling as shapes fade, smear or change colour; 0 for a
    blank frame (and 1 when both frames are blank).
    """
    palette = torch.as_tensor(palette, dtype=torch.float32)
    channels = pred.shape[-3] if pred.ndim in (4, 5) else palette.shape[-1]  # _per_frame checks the frames
    if palette.ndim != 2 or palette.shape[1] != channels or len(palette) == 0:
        raise ValueError(
            f"palette must be [K, C] with C = {channels} channels of the frames, got {tuple(palette.shape)}"
        )

    def similarity(p: torch.Tensor, q: torch.Tensor) -> float:
        hp, hq = _colour_histogram(p, palette), _colour_histogram(q, palette)
        union = torch.maximum(hp, hq).sum()
        return 1.0 if union == 0 else float(torch.minimum(hp, hq).sum() / union)

    return _per_frame(similarity, pred, target)


def divergence_horizon(curve: torch.Tensor, threshold: float) -> int:
    """The first frame from which ``curve`` stays below ``threshold`` to the end; len(curve) if never.

    A short dip that recovers does not count: the horizon is where the rollout is lost for good.
    """
    curve = torch.as_tensor(curve)
    if curve.ndim != 1 or len(curve) == 0:
        raise ValueError(f"curve must be 1-D with one value per frame, got shape {tuple(curve.shape)}")
    if torch.isnan(curve).any():
        raise ValueError("curve holds NaN")
    above = torch.nonzero(curve >= threshold)
    return 0 if len(above) == 0 else int(above[-1]) + 1


def _inkiest_windows(frame: torch.Tensor, k: int, size: int) -> list[tuple[int, int]]:
    """Top-left corners of the ``k`` size x size windows of ``frame`` [1, H, W] with the most ink, each
    at least size / 2 from the others in row or column (greedy non-maximum suppression)."""
    ink = F.avg_pool2d(frame[None], size, stride=1)[0, 0]
    width = ink.shape[-1]
    chosen: list[tuple[int, int]] = []
    for j in ink.flatten().argsort(descending=True).tolist():
        r, c = divmod(j, width)
        if all(abs(r - r2) >= size // 2 or abs(c - c2) >= size // 2 for r2, c2 in chosen):
            chosen.append((r, c))
            if len(chosen) == k:
                break
    return chosen


@torch.no_grad()
def per_frame_digit_identity(
    frames: torch.Tensor, labels: Sequence[torch.Tensor], digit_size: int
) -> torch.Tensor:
    """The fraction of digits still recognisable as themselves in each frame, [T], pooled over the batch.

    frames [B, T, 1, H, W] in [-1, 1] (moving digits) and labels[b] the classes of video b's digits: in
    every frame the len(labels[b]) inkiest digit_size windows are cropped, shrunk to 8 x 8 and classified
    by genlab.core's digits classifier, and the predictions are matched to the labels as multisets. On
    the ground truth this is 1.0 for single-digit videos; overlapping digits lower it (one window holds
    both), so it is meant for single-digit sequences. A blank or smeared frame scores about chance.
    """
    if frames.ndim != 5 or frames.shape[2] != 1 or len(labels) != len(frames):
        raise ValueError(
            f"expected single-channel frames [B, T, 1, H, W] and one label tensor per video, got "
            f"{tuple(frames.shape)} and {len(labels)} label tensors"
        )
    if not 1 <= digit_size <= min(frames.shape[-2:]):
        raise ValueError(f"digit_size must lie in [1, {min(frames.shape[-2:])}], got {digit_size}")
    check_finite(frames, "frames")
    images = (frames.float().cpu().clamp(-1, 1) + 1) / 2
    crops, owners = [], []
    for b, video in enumerate(images):
        for t, frame in enumerate(video):
            for r, c in _inkiest_windows(frame, len(labels[b]), digit_size):
                crops.append(frame[:, r : r + digit_size, c : c + digit_size])
                owners.append((b, t))
    predicted = load_classifier()(F.interpolate(torch.stack(crops), size=(8, 8), mode="area")).argmax(-1)
    hits = torch.zeros(frames.shape[1])
    remaining = {(b, t): labels[b].tolist() for b in range(len(frames)) for t in range(frames.shape[1])}
    for (b, t), guess in zip(owners, predicted.tolist()):
        if guess in remaining[(b, t)]:
            remaining[(b, t)].remove(guess)
            hits[t] += 1
    return hits / sum(len(lab) for lab in labels)
