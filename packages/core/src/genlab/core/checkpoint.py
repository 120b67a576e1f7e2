"""Checkpoints that are safe to write and safe to read.

A checkpoint is a directory ``step-XXXXXXXX/`` holding weights in safetensors, the optimizer state
(tensors and numbers only, read back with ``torch.load(weights_only=True)``) and ``meta.json``. It is
written under a temporary name and renamed into place, then ``latest`` is replaced atomically, so a
crash never leaves a half-written checkpoint behind the ``latest`` pointer. Nothing is unpickled.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model
from torch import nn

from genlab.core.errors import CheckpointError

FILES = ("model.safetensors", "ema.safetensors", "optimizer.pt", "meta.json")
EVAL_FILES = ("ema.safetensors", "meta.json")


@dataclass
class Checkpoint:
    path: Path
    step: int
    meta: dict[str, Any]


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save(
    root: Path,
    step: int,
    model: nn.Module,
    ema: nn.Module | None,
    optimizer: torch.optim.Optimizer | None,
    meta: dict[str, Any] | None = None,
    keep: int = 2,
) -> Path:
    """Write checkpoint ``step`` under ``root`` atomically; keep the newest ``keep`` checkpoints."""
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    tmp = root / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model(model, str(tmp / "model.safetensors"))
    save_model(ema if ema is not None else model, str(tmp / "ema.safetensors"))
    torch.save(optimizer.state_dict() if optimizer is not None else {}, tmp / "optimizer.pt")
    (tmp / "meta.json").write_text(json.dumps({"step": step, **(meta or {})}, indent=1))
    final = root / name
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    _write_text_atomic(root / "latest", name)
    for old in sorted(p for p in root.glob("step-*") if p.is_dir())[:-keep]:
        shutil.rmtree(old)
    return final


def latest(root: Path, need: tuple[str, ...] = FILES) -> Checkpoint | None:
    """The checkpoint ``latest`` points to, or None when there is none yet. It must hold the files in
    ``need``: all of them to resume; ``EVAL_FILES`` to evaluate or sample (a run shipped without its
    training state, e.g. copied back from another machine)."""
    pointer = root / "latest"
    if not pointer.exists():
        return None
    path = root / pointer.read_text().strip()
    missing = [f for f in need if not (path / f).is_file()]
    if missing:
        raise CheckpointError(f"checkpoint {path} is incomplete: missing {', '.join(missing)}")
    try:
        meta = json.loads((path / "meta.json").read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"checkpoint {path}: meta.json is corrupt ({err})") from err
    return Checkpoint(path, int(meta["step"]), meta)


def load_weights(module: nn.Module, file: Path) -> None:
    """Load safetensors weights into ``module``; any mismatch or corruption names the file."""
    try:
        missing, unexpected = load_model(module, str(file), strict=False)
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"cannot read weights {file}: {err}") from err
    except RuntimeError as err:  # shape mismatches
        raise CheckpointError(f"weights {file} do not fit the model: {err}") from err
    if missing or unexpected:
        raise CheckpointError(
            f"weights {file} do not fit the model: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )


def load_optimizer(optimizer: torch.optim.Optimizer, file: Path) -> None:
    """Load optimizer state with ``weights_only=True``: tensors and numbers, never arbitrary objects."""
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated or hostile files
        raise CheckpointError(f"cannot read optimizer state {file}: {err}") from err
    optimizer.load_state_dict(state)
