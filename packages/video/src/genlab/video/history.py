"""History guidance (Song et al. 2025, "History-Guided Video Diffusion", Sec. 4): classifier-free
guidance where the condition is the video's own history, at any noise level.

A non-causal video model trained with independent per-frame noise levels (the Diffusion Forcing
objective on a non-causal transformer: the Diffusion Forcing Transformer, DFoT) accepts any frames
as history at any level k in [0, 1], k = 1 being no history at all. History guidance combines its
predictions under several such conditions:

    s~(x) = s(x | h^1) + sum_i w_i [ s(x | h^{a_i}) - s(x | h^{b_i}) ],    h^k = the history noised to level k,

with h^1 = the empty history. The variants (the reference implementation's names):

- ``conditional``: one term (w = 1, a = 0, b = 1), i.e. plain conditioning, no guidance;
- ``vanilla`` (HG-v): (w, 0, 1), CFG between the full and the empty history;
- ``fractional`` (HG-f): (1, 0, 1) and (w - 1, k_f, 1): the extra guidance conditions on the
  history noised to k_f, which keeps its low frequencies only, so that guidance strengthens the
  motion without over-saturating detail;
- ``stabilized_<variant>``: the full history enters at the small level k_s instead of 0
  (Diffusion Forcing's stabilisation).

With w = 1 every variant is the conditional model. A model trained with binary history dropout
(``history-dropout`` in ``genlab.video.forcing``) knows the levels 0 and 1 only: ``vanilla`` is
then plain CFG on history, the DFoT paper's baseline. All conditions run as one batch (a level
whose weights cancel, as the empty history's under ``conditional``, is not run); eps, x0 and v are
affine in the score at fixed (x_t, t), so the combination is done in the model's kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from genlab.core.diffusion import Denoiser
from genlab.core.lookup import lookup

VARIANTS = ("conditional", "vanilla", "fractional")


@dataclass(frozen=True)
class Term:
    """w [s(x | h^a) - s(x | h^b)]: a weight and the history levels of the two conditions."""

    weight: float
    level: float
    against: float = 1.0

    def __post_init__(self):
        for name in ("level", "against"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"history levels lie in [0, 1], got {name} = {getattr(self, name)}")


def guidance_terms(variant: str, scale: float = 1.0, stabilization: float = 0.0, fractional: float = 0.5):
    """The terms of a named variant with guidance ``scale`` (w; 1 = no guidance), e.g.
    ``guidance_terms("stabilized_fractional", 2.0, 0.02, 0.5)``."""
    stabilized = variant.startswith("stabilized_")
    name = variant.removeprefix("stabilized_")
    lookup("history-guidance variant", name, dict.fromkeys(VARIANTS))
    full = stabilization if stabilized else 0.0
    if name == "conditional":
        return [Term(1.0, full)]
    if name == "vanilla":
        return [Term(scale, full)]
    return [Term(1.0, full), Term(scale - 1.0, fractional)]


def parse_setting(text: str) -> tuple[str, float, float]:
    """'vanilla:2' -> ('vanilla', 2.0, 0.5); 'fractional:2:0.3' -> ('fractional', 2.0, 0.3);
    'conditional' -> ('conditional', 1.0, 0.5). The third number is the fractional level k_f."""
    name, *numbers = text.strip().split(":")
    try:
        values = [float(v) for v in numbers]
    except ValueError:
        raise ValueError(f"history-guidance setting {text!r}: expected name[:scale[:level]]") from None
    if len(values) > 2:
        raise ValueError(f"history-guidance setting {text!r}: expected name[:scale[:level]]")
    scale, level = (values + [1.0, 0.5][len(values) :])[:2]
    lookup("history-guidance variant", name.removeprefix("stabilized_"), dict.fromkeys(VARIANTS))
    return name, scale, level


class HistoryGuidance(Denoiser):
    """Wraps a video denoiser for one window whose first ``history.shape[1]`` frames are the history.

    Whatever the sampler holds in those frames is replaced, in each pass, by ``history`` noised to
    that pass's level (fresh noise every call); the combined prediction is returned for every frame
    (the history frames' values are not meant to be used: samplers keep them fixed).
    """

    def __init__(
        self,
        denoiser: Denoiser,
        history: torch.Tensor,
        terms: list[Term],
        generator: torch.Generator | None = None,
    ):
        super().__init__(denoiser, denoiser.schedule, denoiser.kind)
        if history.ndim != 5 or history.shape[1] < 1:
            raise ValueError(f"history must be [B, T_h >= 1, C, H, W], got {tuple(history.shape)}")
        if not terms:
            raise ValueError("history guidance needs at least one term")
        self.history, self.terms, self.generator = history, list(terms), generator
        # s~ as one sum over history levels, sum_k c_k s(x | h^k); a level whose terms cancel is not run
        # (the conditional setting needs the full-history pass alone)
        net = {1.0: 1.0}
        for term in self.terms:
            net[term.level] = net.get(term.level, 0.0) + term.weight
            net[term.against] = net.get(term.against, 0.0) - term.weight
        self.coefficients = {k: c for k, c in sorted(net.items()) if c != 0.0}

    def _noised(self, level: float) -> torch.Tensor:
        h = self.history
        alpha, sigma = self.schedule.alpha_sigma(h.new_tensor(level))
        noise = torch.randn(h.shape, generator=self.generator, dtype=h.dtype, device=h.device)
        return alpha * h + sigma * noise

    def raw(self, x: torch.Tensor, t: torch.Tensor, **cond) -> torch.Tensor:
        b, n = x.shape[0], self.history.shape[1]
        if x.shape[0] != self.history.shape[0] or x.shape[1] <= n or x.shape[2:] != self.history.shape[2:]:
            raise ValueError(
                f"window {tuple(x.shape)} does not extend the history {tuple(self.history.shape)}"
            )
        if t.shape != x.shape[:2]:
            raise ValueError(f"history guidance needs one level per frame, t [B, T], got {tuple(t.shape)}")
        levels = list(self.coefficients)
        xs = [torch.cat([self._noised(k), x[:, n:]], 1) for k in levels]
        ts = [torch.cat([t.new_full((b, n), k), t[:, n:]], 1) for k in levels]
        batched = {k: torch.cat([v] * len(levels)) if _per_sample(v, b) else v for k, v in cond.items()}
        outs = self.model.raw(torch.cat(xs), torch.cat(ts), **batched).split(b)
        return sum(c * out for c, out in zip(self.coefficients.values(), outs))


def _per_sample(value, batch: int) -> bool:
    return isinstance(value, torch.Tensor) and value.ndim > 0 and value.shape[0] == batch


def history_guidance(
    terms: list[Term], generator: torch.Generator | None = None
) -> Callable[[Denoiser, torch.Tensor], Denoiser]:
    """A ``guide`` for ``sample_frames`` / ``rollout``: wraps the denoiser around each window's history."""
    return lambda denoiser, history: HistoryGuidance(denoiser, history, terms, generator)
