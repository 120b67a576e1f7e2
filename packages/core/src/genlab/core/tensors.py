"""Shape helpers shared by every path, schedule and sampler.

t's shape is a prefix of x's shape ([B], [B, T], [B, L], ...); it broadcasts against x by padding
on the right (k-diffusion's ``append_dims``), so one code path serves per-sample, per-frame and
per-token noise levels.
"""

from __future__ import annotations

import torch


def check_time(t: torch.Tensor, x: torch.Tensor) -> None:
    """Raise a ValueError unless ``t`` is a tensor whose shape is a prefix of ``x.shape``."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"t must be a tensor whose shape is a prefix of x.shape, got {type(t).__name__}")
    if t.ndim > x.ndim or tuple(x.shape[: t.ndim]) != tuple(t.shape):
        raise ValueError(f"t of shape {tuple(t.shape)} is not a prefix of x's shape {tuple(x.shape)}")


def append_dims(t: torch.Tensor, ndim: int) -> torch.Tensor:
    """View ``t`` with trailing singleton axes so that it has ``ndim`` dimensions."""
    if t.ndim > ndim:
        raise ValueError(f"cannot pad a tensor of {t.ndim} dims to {ndim} dims")
    return t.reshape(*t.shape, *([1] * (ndim - t.ndim)))


def check_finite(x: torch.Tensor, name: str = "x") -> None:
    """Raise a ValueError naming ``name`` if it holds NaN or inf."""
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).sum().item()
        raise ValueError(f"{name} holds {bad} non-finite values (NaN or inf)")


def model_device(model, default: torch.device) -> torch.device:
    """The device of a module's parameters; ``default`` for plain callables or parameter-free modules."""
    params = model.parameters() if isinstance(model, torch.nn.Module) else iter(())
    first = next(params, None)
    return first.device if first is not None else default
