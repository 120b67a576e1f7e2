"""Small transformers for tokens: a causal one with a KV cache, and a bidirectional one with adaLN.

- ``CausalTransformer``: a GPT in the style of nanoGPT (Radford et al., 2019; Karpathy) for the
  autoregressive factorisation p(x) = prod_l p(x_l | x_<l) (the principle of PixelRNN/PixelCNN,
  van den Oord et al., 2016). Attention is ``F.scaled_dot_product_attention``; ``generate`` keeps
  past keys and values so each new token costs one position.
- ``DiffusionTransformer``: bidirectional, conditioned on the noise level through adaLN-Zero
  (DiT, Peebles & Xie, 2023), as MDLM's denoiser (Sahoo et al., 2024). t may be per sample [B]
  or per token [B, L], so every token can carry its own noise level.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.nn.embeddings import SinusoidalEmbedding
from genlab.core.tensors import check_time


class KVCache:
    """Keys and values of past positions, one entry per layer, [B, heads, T, head_dim]."""

    def __init__(self, depth: int):
        self.layers: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * depth

    def __len__(self) -> int:
        return 0 if self.layers[0] is None else self.layers[0][0].shape[2]

    def extend(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        if self.layers[layer] is not None:
            k = torch.cat([self.layers[layer][0], k], dim=2)
            v = torch.cat([self.layers[layer][1], v], dim=2)
        self.layers[layer] = (k, v)
        return k, v


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, causal: bool, cache: KVCache | None = None, layer: int = 0):
        B, L, D = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            k, v = cache.extend(layer, k, v)
        past = k.shape[2] - L
        mask = None
        if causal and past and L > 1:  # new queries see the whole past and their own prefix
            mask = torch.ones(L, past + L, dtype=torch.bool, device=x.device).tril(past)
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            is_causal=causal and not past,
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.proj(y.transpose(1, 2).reshape(B, L, D))


def _mlp(dim: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), nn.Dropout(dropout))


class CausalBlock(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn, self.mlp = Attention(dim, heads, dropout), _mlp(dim, dropout)

    def forward(self, x, cache=None, layer=0):
        x = x + self.attn(self.ln1(x), causal=True, cache=cache, layer=layer)
        return x + self.mlp(self.ln2(x))


class CausalTransformer(nn.Module):
    """``model(idx [B, L], cache=None) -> logits [B, L, vocab]``; logits at l predict token l + 1."""

    def __init__(
        self, vocab_size: int, block_size: int, dim: int = 128, depth: int = 4, heads: int = 4, dropout=0.0
    ):
        super().__init__()
        self.vocab_size, self.block_size = vocab_size, block_size
        self.tok = nn.Embedding(vocab_size, dim)
        self.pos = nn.Embedding(block_size, dim)
        self.blocks = nn.ModuleList(CausalBlock(dim, heads, dropout) for _ in range(depth))
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab_size, bias=False)
        self.head.weight = self.tok.weight  # weight tying, as in GPT-2

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        if idx.ndim != 2:
            raise ValueError(f"expected tokens of shape [B, L], got {tuple(idx.shape)}")
        start = len(cache) if cache is not None else 0
        if start + idx.shape[1] > self.block_size:
            raise ValueError(f"{start + idx.shape[1]} positions exceed block_size {self.block_size}")
        pos = torch.arange(start, start + idx.shape[1], device=idx.device)
        x = self.tok(idx) + self.pos(pos)
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        return self.head(self.ln(x))

    @torch.no_grad()
    def generate(
        self, prompt: torch.Tensor, n: int, temperature: float = 1.0, top_k: int | None = None, generator=None
    ):
        """Append ``n`` tokens to ``prompt`` [B, P] (P >= 1); temperature 0 is greedy decoding."""
        if prompt.ndim != 2 or prompt.shape[1] < 1:
            raise ValueError(f"prompt must be [B, P] with P >= 1, got {tuple(prompt.shape)}")
        cache = KVCache(len(self.blocks))
        logits, out = self(prompt, cache)[:, -1], [prompt]
        for i in range(n):
            if temperature == 0:
                token = logits.argmax(-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, -torch.inf)
                token = torch.multinomial(logits.softmax(-1), 1, generator=generator)
            out.append(token)
            if i + 1 < n:
                logits = self(token, cache)[:, -1]
        return torch.cat(out, dim=1)


class AdaLNBlock(nn.Module):
    """A bidirectional block whose LayerNorms are shifted, scaled and gated by the condition c."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.ln2 = nn.LayerNorm(dim, elementwise_affine=False)
        self.attn, self.mlp = Attention(dim, heads, dropout), _mlp(dim, dropout)
        self.mod = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.mod.weight)  # adaLN-Zero: every block starts as the identity
        nn.init.zeros_(self.mod.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.mod(F.silu(c)).chunk(6, dim=-1)
        x = x + gate1 * self.attn(self.ln1(x) * (1 + scale1) + shift1, causal=False)
        return x + gate2 * self.mlp(self.ln2(x) * (1 + scale2) + shift2)


class DiffusionTransformer(nn.Module):
    """``model(x [B, L], t [B] or [B, L], y=None) -> logits [B, L, out_dim]``.

    ``vocab_size`` counts the input states (data tokens plus a mask, if any); ``out_dim`` defaults
    to ``vocab_size``. ``num_classes`` > 0 adds a label embedding whose last id means "no label"
    (for classifier-free guidance). ``time_conditioning=False`` ignores t, as MDLM does for masked
    diffusion (the mask count already tells the noise level), which makes its cached sampler exact.
    """

    def __init__(
        self,
        vocab_size: int,
        length: int,
        dim: int = 128,
        depth: int = 4,
        heads: int = 4,
        out_dim: int | None = None,
        num_classes: int = 0,
        time_conditioning: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.length, self.num_classes, self.time_conditioning = length, num_classes, time_conditioning
        self.tok = nn.Embedding(vocab_size, dim)
        self.pos = nn.Parameter(torch.randn(length, dim) * 0.02)
        self.time = nn.Sequential(
            SinusoidalEmbedding(dim), nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim)
        )
        self.label = nn.Embedding(num_classes + 1, dim) if num_classes else None
        self.blocks = nn.ModuleList(AdaLNBlock(dim, heads, dropout) for _ in range(depth))
        self.ln = nn.LayerNorm(dim, elementwise_affine=False)
        self.final_mod = nn.Linear(dim, 2 * dim)
        self.head = nn.Linear(dim, out_dim or vocab_size)
        for layer in (self.final_mod, self.head):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.length:
            raise ValueError(f"expected tokens of shape [B, {self.length}], got {tuple(x.shape)}")
        check_time(t, x)
        c = self.time(t) if self.time_conditioning else self.pos.new_zeros(*t.shape, self.pos.shape[1])
        c = c if c.ndim == 3 else c[:, None]  # [B, 1 or L, dim]
        if self.label is not None:
            labels = torch.full_like(x[:, 0], self.num_classes) if y is None else y
            c = c + self.label(labels)[:, None]
        h = self.tok(x) + self.pos
        for block in self.blocks:
            h = block(h, c)
        shift, scale = self.final_mod(F.silu(c)).chunk(2, dim=-1)
        return self.head(self.ln(h) * (1 + scale) + shift)
