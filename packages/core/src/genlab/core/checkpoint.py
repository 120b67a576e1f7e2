"""Checkpoints that are safe to write and safe to read.

A checkpoint is a directory ``step-XXXXXXXX/`` holding weights in safetensors, the optimizer state
(tensors and numbers only, read back with ``torch.load(weights_only=True)``) and ``meta.json``. It is
written under a temporary name, fsynced and renamed into place, then ``latest`` is replaced
atomically, so neither a crash nor a power loss leaves ``latest`` naming a half-written checkpoint.
Non-finite weights are never written, and never loaded. A full disk is reported as such, with the
partial files removed. Nothing is unpickled.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, load_model, save_model
from torch import nn

from genlab.core.errors import CheckpointError


class NonFiniteWeightsError(FloatingPointError):
    """Weights hold NaN or inf; they were not written to a checkpoint."""


FILES = ("model.safetensors", "ema.safetensors", "optimizer.pt", "meta.json")
EVAL_FILES = ("ema.safetensors", "meta.json")


@dataclass
class Checkpoint:
    path: Path
    step: int
    meta: dict[str, Any]


def _fsync(path: Path) -> None:
    """Flush a file's or a directory's entries to the disk (a rename is durable once its directory is)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    _write_bytes(tmp, text.encode())
    os.replace(tmp, path)
    _fsync(path.parent)


def disk_full(err: BaseException) -> bool:
    """Whether ``err`` says that the disk (or the quota) is full, in any of the forms libraries use."""
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return "No space left on device" in str(err) or "os error 28" in str(err)


def describe_last(root: Path | None) -> str:
    """Where a stopped run can resume from, for error messages."""
    pointer = root / "latest" if root else None
    if pointer is None or not pointer.is_file():
        return "no checkpoint was written yet"
    return f"the last good checkpoint is {root / pointer.read_text().strip()}"


def check_finite_weights(step: int, root: Path | None, **modules: nn.Module | None) -> None:
    """Raise ``NonFiniteWeightsError`` naming the step and the last good checkpoint when any floating
    tensor of ``modules`` (e.g. model=..., ema=...) holds NaN or inf."""
    bad = [
        f"{name}.{key}"
        for name, module in modules.items()
        if module is not None
        for key, value in module.state_dict().items()
        if value.is_floating_point() and not torch.isfinite(value).all()
    ]
    if bad:
        raise NonFiniteWeightsError(
            f"weights are non-finite after step {step} ({', '.join(bad[:4])}{', ...' if len(bad) > 4 else ''}); "
            f"not saved; {describe_last(root)}"
        )


def save(
    root: Path,
    step: int,
    model: nn.Module,
    ema: nn.Module | None,
    optimizer: torch.optim.Optimizer | None,
    meta: dict[str, Any] | None = None,
    keep: int = 2,
) -> Path:
    """Write checkpoint ``step`` under ``root`` atomically and durably; keep the newest ``keep``
    checkpoints (``keep`` >= 1). Checkpoints of later steps (an abandoned history) are removed."""
    if keep < 1:
        raise ValueError(f"keep_checkpoints must be >= 1 (how many checkpoints to keep), got {keep}")
    check_finite_weights(step, root, model=model, ema=ema)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".tmp-step-*"):  # left by a crash; the run directory has one writer
        shutil.rmtree(stale, ignore_errors=True)
    name = f"step-{step:08d}"
    tmp, final = root / f".tmp-{name}", root / name
    try:
        tmp.mkdir()
        save_model(model, str(tmp / "model.safetensors"))
        save_model(ema if ema is not None else model, str(tmp / "ema.safetensors"))
        state = io.BytesIO()  # torch's own writer reports a full disk without saying so
        torch.save(optimizer.state_dict() if optimizer is not None else {}, state)
        _write_bytes(tmp / "optimizer.pt", state.getvalue())
        _write_bytes(tmp / "meta.json", json.dumps({"step": step, **(meta or {})}, indent=1).encode())
        for file in ("model.safetensors", "ema.safetensors"):
            _fsync(tmp / file)
        _fsync(tmp)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
        _fsync(root)
        _write_text_atomic(root / "latest", name)
    except (OSError, SafetensorError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if disk_full(err):
            raise CheckpointError(
                f"the disk is full: checkpoint {final} was not written and its partial files were removed; "
                f"{describe_last(root)}"
            ) from err
        raise
    steps = sorted(p for p in root.glob("step-*") if p.is_dir())
    older, newer = [p for p in steps if p.name < name], [p for p in steps if p.name > name]
    for old in newer + older[: len(older) - (keep - 1)]:
        shutil.rmtree(old)
    return final


def _pointed(root: Path) -> Path:
    """The checkpoint directory that ``root/latest`` names."""
    pointer = root / "latest"
    if pointer.is_dir():
        raise CheckpointError(f"{pointer} is a directory; it must be a file naming a checkpoint")
    if not pointer.exists():
        raise CheckpointError(f"{pointer} is missing")
    name = pointer.read_text(errors="replace").strip()
    if not name.startswith("step-") or "/" in name:
        raise CheckpointError(f"{pointer} names no checkpoint (it holds {name[:40]!r})")
    if not (root / name).is_dir():
        raise CheckpointError(f"{pointer} names {name}, which does not exist")
    return root / name


def _verify(path: Path, need: tuple[str, ...]) -> Checkpoint:
    """Open ``path``'s meta.json and check that its other files are whole (headers, sizes)."""
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"checkpoint {path}: meta.json is corrupt ({err})") from err
    if not isinstance(meta, dict) or type(meta.get("step")) is not int or meta["step"] < 0:
        raise CheckpointError(f"checkpoint {path}: meta.json must be an object with a step >= 0")
    for file in need:
        if file.endswith(".safetensors"):
            try:
                with safe_open(str(path / file), "pt"):
                    pass
            except (SafetensorError, OSError) as err:
                raise CheckpointError(f"cannot read weights {path / file}: {err}") from err
        elif file.endswith(".pt") and not zipfile.is_zipfile(path / file):
            raise CheckpointError(f"cannot read optimizer state {path / file}: truncated or not a torch file")
    return Checkpoint(path, meta["step"], meta)


def latest(root: Path, need: tuple[str, ...] = FILES) -> Checkpoint | None:
    """The checkpoint ``latest`` points to, or None when there is none yet. It must hold the files in
    ``need``: all of them to resume; ``EVAL_FILES`` to evaluate or sample (a run shipped without its
    training state, e.g. copied back from another machine). When ``latest`` or the files it names are
    corrupt (a power loss, a crash), the newest whole checkpoint is used instead, with a warning."""
    steps = sorted((p for p in root.glob("step-*") if p.is_dir()), reverse=True)
    if not (root / "latest").exists() and not steps:
        return None
    try:
        path = _pointed(root)
    except CheckpointError as err:
        return _fall_back(steps, need, err)
    missing = [f for f in need if not (path / f).is_file()]
    if missing:  # removed on purpose (a run shipped for evaluation): an error, not a fall-back
        raise CheckpointError(f"checkpoint {path} is incomplete: missing {', '.join(missing)}")
    try:
        return _verify(path, need)
    except CheckpointError as err:
        return _fall_back([p for p in steps if p != path], need, err)


def _fall_back(steps: list[Path], need: tuple[str, ...], err: CheckpointError) -> Checkpoint:
    for path in steps:
        if all((path / f).is_file() for f in need):
            try:
                found = _verify(path, need)
            except CheckpointError:
                continue
            warnings.warn(f"{err}; using the newest whole checkpoint, {path}", stacklevel=3)
            return found
    raise err


def load_weights(module: nn.Module, file: Path) -> None:
    """Load safetensors weights into ``module``; a mismatch of names, shapes or dtypes, corruption and
    NaN or inf values are refused with the file's name."""
    try:
        stored = load_file(str(file))
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"cannot read weights {file}: {err}") from err
    expected = module.state_dict()
    for key, value in stored.items():
        if key in expected and value.dtype != expected[key].dtype:
            raise CheckpointError(
                f"weights {file}: {key} is stored as {value.dtype}, the model holds {expected[key].dtype}"
            )
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise CheckpointError(f"weights {file}: {key} holds NaN or inf values")
    try:
        missing, unexpected = load_model(module, str(file), strict=False)
    except RuntimeError as err:  # shape mismatches
        raise CheckpointError(f"weights {file} do not fit the model: {err}") from err
    if missing or unexpected:
        raise CheckpointError(
            f"weights {file} do not fit the model: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )


def load_optimizer(optimizer: torch.optim.Optimizer, file: Path) -> None:
    """Load optimizer state with ``weights_only=True``: tensors and numbers, never arbitrary objects.
    Its tensors must have the shapes of the parameters they belong to."""
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated or hostile files
        raise CheckpointError(f"cannot read optimizer state {file}: {err}") from err
    if not isinstance(state, dict) or not isinstance(state.get("state"), dict):
        raise CheckpointError(f"optimizer state {file} is not an optimizer's state_dict")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for index, slots in state["state"].items():
        if not (isinstance(index, int) and 0 <= index < len(params) and isinstance(slots, dict)):
            raise CheckpointError(f"optimizer state {file} has an entry {index!r} for no parameter")
        for slot, value in slots.items():
            if isinstance(value, torch.Tensor) and value.ndim and value.shape != params[index].shape:
                raise CheckpointError(
                    f"optimizer state {file}: {slot} of parameter {index} has shape {list(value.shape)}, "
                    f"the parameter {list(params[index].shape)}"
                )
    try:
        optimizer.load_state_dict(state)
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        raise CheckpointError(f"optimizer state {file} does not fit the optimizer: {err}") from err
