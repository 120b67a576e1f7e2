"""The recurrent denoiser of Diffusion Forcing: a convolutional GRU carrying a latent state across
frames (Chen et al. 2024, Sec. 3 and the paper's RNN code; ConvGRU after Shi et al. 2015 and
Ballas et al. 2016).

Chen et al. write the causal model as z_k = RNN(z_{k-1}, x_k^{t_k}, t_k) with the prediction of
frame k read from z_k: the state summarises the (noisy) past, so frame k depends on frames 0..k
only, a rollout carries z instead of a window of frames, and the sequence may be any length. Here
each frame is encoded on its own to 1/4 resolution (genlab.video.models.codec), the GRU runs over
frames on that map, and the frame's decoder reads the prediction from [z_k, e_k].
Interface: ``model(x [B, T, C, H, W], t [B, T], state=None) -> [B, T, C, H, W]``; ``scan`` also
returns the final state, ``initial_state`` the zero state.
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.core.nn.unet import ResBlock
from genlab.video.models.codec import FrameCodec
from genlab.video.models.common import check_clip, time_embedding


class ConvGRUCell(nn.Module):
    """u, r = sigmoid(conv[x, h]); n = tanh(conv[x, r * h]); h' = (1 - u) h + u n (Cho et al. 2014)."""

    def __init__(self, cin: int, hidden: int):
        super().__init__()
        self.gates = nn.Conv2d(cin + hidden, 2 * hidden, 3, padding=1)
        self.candidate = nn.Conv2d(cin + hidden, hidden, 3, padding=1)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        u, r = torch.sigmoid(self.gates(torch.cat([x, h], 1))).chunk(2, dim=1)
        n = torch.tanh(self.candidate(torch.cat([x, r * h], 1)))
        return (1 - u) * h + u * n


class RecurrentDenoiser(nn.Module):
    """A per-frame conv encoder/decoder around a ConvGRU at 1/4 resolution; causal by construction."""

    recurrent = True

    def __init__(self, channels: int = 1, size: int = 32, base: int = 32, hidden: int = 64):
        super().__init__()
        self.channels, self.size, self.hidden = channels, size, hidden
        emb, wide = 4 * base, 2 * base
        self.time = time_embedding(emb)
        self.codec = FrameCodec(channels, size, base, wide, emb)
        self.cell = ConvGRUCell(wide, hidden)
        self.mid = ResBlock(hidden + wide, wide, emb)

    def initial_state(self, batch: int, device=None, dtype=None) -> torch.Tensor:
        """The zero state [B, hidden, size / 4, size / 4]: no past."""
        s = self.size // 4
        return torch.zeros(batch, self.hidden, s, s, device=device, dtype=dtype)

    def _check_state(self, state: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        if state is None:
            return self.initial_state(x.shape[0], x.device, x.dtype)
        expected = (x.shape[0], self.hidden, self.size // 4, self.size // 4)
        if tuple(state.shape) != expected:
            raise ValueError(f"state must have shape {list(expected)}, got {tuple(state.shape)}")
        return state

    def scan(
        self, x: torch.Tensor, t: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(prediction [B, T, C, H, W], state after the last frame), starting from ``state``."""
        t = check_clip(x, t, self.channels, self.size)
        b, n = x.shape[:2]
        h = self._check_state(state, x)
        emb = self.time(t).flatten(0, 1)
        e1, e2, e3 = self.codec.encode(x.flatten(0, 1), emb)
        frames = e3.unflatten(0, (b, n))
        states = []
        for k in range(n):  # the only sequential part: z_k = GRU(z_{k-1}, e_k)
            h = self.cell(frames[:, k], h)
            states.append(h)
        m = self.mid(torch.cat([torch.stack(states, 1).flatten(0, 1), e3], 1), emb)
        out = self.codec.decode(m, (e1, e2), emb)
        return out.unflatten(0, (b, n)), h

    def forward(self, x: torch.Tensor, t: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        return self.scan(x, t, state)[0]
