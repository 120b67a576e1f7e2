"""Monte-Carlo guidance over the future (Chen et al. 2024, Diffusion Forcing, Sec. 3.3): steer the
frames being generated toward a reward, shown on "bring the digit into this region".

Diffusion Forcing guides a causal rollout by the reward of futures that are still noisy: the
gradient of the reward, averaged over Monte-Carlo draws of the denoised future, is added to the
score of every frame still being generated. Here that is genlab.core's ``GradientGuidance`` with
``through='x0'`` and ``mc_samples`` > 0, i.e. the gradient of log mean_n exp f(x0_hat + r_t z_n)
taken through the denoiser (Song et al. 2023, LGD-MC), wrapped around the video denoiser and run by
``sample_frames`` with any scheduling matrix.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genlab.core.diffusion import Denoiser, GradientGuidance
from genlab.video.sampling import sample_frames


def region_reward(region: tuple[int, int, int, int], start: int = 0) -> Callable[..., torch.Tensor]:
    """f(x0) [B]: the brightness (in [0, 1] per pixel) inside rows r0:r1, columns c0:c1 of the frames
    ``start``:, summed over the region and averaged over those frames (the digit's mass there)."""
    r0, r1, c0, c1 = region
    if not (0 <= r0 < r1 and 0 <= c0 < c1):
        raise ValueError(f"region must be (r0, r1, c0, c1) with 0 <= r0 < r1 and 0 <= c0 < c1, got {region}")

    def reward(x: torch.Tensor, t: torch.Tensor, **cond) -> torch.Tensor:
        if x.ndim != 5 or r1 > x.shape[3] or c1 > x.shape[4] or start >= x.shape[1]:
            raise ValueError(
                f"region {region} from frame {start} does not fit clips of shape {tuple(x.shape)}"
            )
        inside = (x[:, start:, :, r0:r1, c0:c1] + 1) / 2
        return inside.sum(dim=(2, 3, 4)).mean(dim=1)

    return reward


def steer(
    denoiser: Denoiser,
    context: torch.Tensor,
    frames: int,
    region: tuple[int, int, int, int],
    *,
    scale: float = 1.0,
    mc_samples: int = 4,
    generator: torch.Generator | None = None,
    **options,
) -> torch.Tensor:
    """``frames`` new frames after ``context``, Monte-Carlo guided toward ``region`` with ``scale``."""
    guided = GradientGuidance(
        denoiser,
        region_reward(region, start=context.shape[1]),
        scale,
        through="x0",
        mc_samples=mc_samples,
        generator=generator,
    )
    return sample_frames(guided, context, frames, generator=generator, **options)
