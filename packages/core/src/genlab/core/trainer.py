"""A generic trainer over ``loss_fn(model, batch) -> (loss, logs)``.

AdamW with linear warm-up then cosine decay, gradient clipping, an EMA of the weights through
``torch.optim.swa_utils.AveragedModel``, bf16 autocast on GPU, DDP when launched by torchrun.
Everything random is a pure function of (seed, rank, step): the data order comes from a seeded
DistributedSampler per epoch and the global RNG is reseeded every step, so a resumed run
reproduces an uninterrupted one exactly and no RNG state needs saving.

Nothing is lost: a config is validated when it is made, one process writes a run directory at a
time (``run_dir_lock``), SIGTERM or SIGINT ends the current step with a checkpoint
(``stop_signals``), and NaN or inf stops the run naming the step and the last good checkpoint.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, TensorDataset, default_collate
from tqdm.auto import tqdm

from genlab.core import checkpoint, distributed
from genlab.core.errors import GenlabError, TrainingStopped

LossFn = Callable[[nn.Module, Any], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class TrainConfig:
    """Optimisation settings shared by every recipe (recipes subclass this)."""

    steps: int = 1000  # optimisation steps of the run
    batch_size: int = 256  # global: split evenly over ranks
    lr: float = 1e-3  # peak learning rate of AdamW (after warm-up)
    min_lr_ratio: float = 0.1  # the cosine decay ends at lr * min_lr_ratio
    warmup: int = 100  # steps of linear learning-rate warm-up
    weight_decay: float = 0.0  # AdamW's decoupled weight decay
    beta1: float = 0.9  # Adam's momentum; GANs use 0 (R3GAN) or 0.5
    beta2: float = 0.999  # Adam's second-moment decay
    grad_clip: float = 1.0  # 0 disables clipping
    loader_workers: int = 0  # processes that render upcoming batches of a non-tensor dataset (0: in the loop)
    mixed_precision: bool = True  # bf16 autocast on GPU (no effect on CPU)
    ema_decay: float = 0.999  # decay of the weights' moving average (sampled and evaluated)
    seed: int = 0  # seeds data, initialisation and every step's noise
    log_every: int = 50  # steps between records in metrics.jsonl
    eval_every: int = 0  # 0: evaluate only at the end of the run
    ckpt_every: int = 500  # steps between checkpoints (0: only at the end)
    keep_checkpoints: int = 2  # newest checkpoints kept on disk (at least 1)
    device: str = "auto"  # auto, cpu, cuda, cuda:N or mps

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Refuse values out of range when the config is made, before anything is written. Recipe
        configs extend this (calling ``super().validate()``) for their own fields."""
        self.require("steps", 1)
        self.require("batch_size", 1)
        self.require("lr", 0, torch.finfo(torch.float32).max, above=True)  # the optimizer works in float32
        self.require("min_lr_ratio", 0, 1)
        self.require("warmup", 0)
        self.require("weight_decay", 0)
        self.require("beta1", 0, 1, below=True)
        self.require("beta2", 0, 1, below=True)
        self.require("grad_clip", 0)
        self.require("loader_workers", 0)
        self.require("ema_decay", 0, 1)
        self.require("log_every", 1)
        self.require("eval_every", 0)
        self.require("ckpt_every", 0)
        self.require("keep_checkpoints", 1)
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", str(self.device)):
            raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}")

    def require(
        self, name: str, low: float, high: float = math.inf, above: bool = False, below: bool = False
    ) -> None:
        """Field ``name`` must be a finite number in [low, high] (``above``: > low; ``below``: < high)."""
        value = getattr(self, name)
        ok = (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and (value > low if above else value >= low)
            and (value < high if below else value <= high)
        )
        if not ok:
            if high == math.inf:
                allowed = f"{'>' if above else '>='} {low:g}"
            else:
                allowed = f"in {'(' if above else '['}{low:g}, {high:g}{')' if below else ']'}"
            raise ValueError(f"{name} must be {allowed}, got {value!r}")


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or inf; the run stopped before applying that step."""


class RunDirBusyError(GenlabError):
    """Another process is writing the run directory."""


_locked: dict[Path, int] = {}  # run directories this process holds, with their nesting depth


@contextmanager
def run_dir_lock(run_dir: Path | None):
    """One writer per run directory: an exclusive ``flock`` on ``run_dir/.lock``, released when the block
    ends or the process dies. Re-entrant in one process (a recipe's last stage trains in the run's own
    directory); None locks nothing (ranks other than 0, runs without a directory)."""
    if run_dir is None:
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    key = run_dir.resolve()
    if key not in _locked:
        handle = open(key / ".lock", "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunDirBusyError(
                f"{run_dir} is being written by another genlab process (pid {holder}); "
                "a run has one writer: wait for it to end or stop it"
            ) from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
    _locked[key] = _locked.get(key, 0) + 1
    try:
        yield
    finally:
        _locked[key] -= 1
        if not _locked[key]:
            del _locked[key]
            handle.close()  # releases the lock


@contextmanager
def stop_signals():
    """Turn SIGTERM (pre-emption, a dying launcher) and SIGINT (Ctrl-C) into a request to stop, seen as
    the list of signals received: the trainer finishes its step, checkpoints and stops. A second
    signal stops at once (KeyboardInterrupt). Signals can be caught in the main thread only."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def ask_to_stop(signum, _frame):
        if received:
            raise KeyboardInterrupt
        received.append(signum)

    previous = {s: signal.signal(s, ask_to_stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to ``lr``, then cosine decay to ``lr * min_lr_ratio`` at the last step."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (
        cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    )


def ema_model(model: nn.Module, decay: float) -> AveragedModel:
    """EMA with warm-up: the decay is min(decay, (1 + n) / (10 + n)) after n updates."""

    def update(averaged, current, n_averaged):
        n = float(n_averaged)
        floats = [(a, c) for a, c in zip(averaged, current) if a.is_floating_point()]
        if floats:
            torch._foreach_lerp_(
                [a for a, _ in floats], [c for _, c in floats], 1 - min(decay, (1 + n) / (10 + n))
            )
        for a, c in zip(averaged, current):  # integer and bool buffers (counters, masks, flags) are copied
            if not a.is_floating_point():
                a.copy_(c)

    return AveragedModel(model, multi_avg_fn=update, use_buffers=True)


class SizedTensorDataset(TensorDataset):
    """A ``TensorDataset`` whose items have a size (atoms in a molecule, tokens in a sequence).

    The trainer batches it by size (``group_by_size``), so that a batch padded to its largest item
    wastes little work on padding: about half of an O(N^2) model's step on molecules of 3-29 atoms.
    """

    def __init__(self, *tensors: torch.Tensor, sizes: torch.Tensor):
        super().__init__(*tensors)
        sizes = torch.as_tensor(sizes)
        if sizes.shape != (len(self),):
            raise ValueError(f"sizes must have shape [{len(self)}] (one per item), got {list(sizes.shape)}")
        self.sizes = sizes


def group_by_size(
    order: torch.Tensor, sizes: torch.Tensor, batch: int, generator: torch.Generator, group: int = 50
) -> torch.Tensor:
    """Reorder an epoch's item order into batches of similar size, in random batch order.

    The order is cut into chunks of ``group`` batches, each chunk sorted by size and split into
    batches, and the batches shuffled: every item still comes once per epoch, and which items meet
    in a batch stays random among items of about the same size. Items past the last full batch are
    dropped, as the trainer never reaches them.
    """
    order = order[: len(order) // batch * batch]
    batches = [
        part
        for chunk in order.split(batch * group)
        for part in chunk[sizes[chunk].argsort(stable=True)].split(batch)
    ]
    return torch.cat([batches[i] for i in torch.randperm(len(batches), generator=generator)])


class Batches:
    """Batch ``step`` of this rank: a slice of a seeded DistributedSampler's epoch order (grouped by
    size when the dataset is a ``SizedTensorDataset``)."""

    def __init__(self, dataset: Dataset, global_batch: int, info: distributed.DistInfo, seed: int):
        if global_batch % info.world_size:
            raise ValueError(f"batch_size {global_batch} does not split evenly over {info.world_size} ranks")
        self.dataset, self.per_rank = dataset, global_batch // info.world_size
        self.sampler = DistributedSampler(
            dataset, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=seed, drop_last=True
        )
        self.steps_per_epoch = len(self.sampler) // self.per_rank
        if self.steps_per_epoch == 0:
            raise ValueError(f"dataset of {len(dataset)} items is smaller than one batch of {global_batch}")
        self.seed, self.rank = seed, info.rank
        self._epoch, self._order = -1, []

    def indices(self, step: int) -> torch.Tensor:
        """The dataset indices of this rank's batch ``step``."""
        epoch, i = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self.sampler.set_epoch(epoch)
            self._epoch, self._order = epoch, torch.tensor(list(self.sampler))
            if isinstance(self.dataset, SizedTensorDataset):
                gen = torch.Generator().manual_seed(hash((self.seed, epoch, self.rank)) % 2**63)
                self._order = group_by_size(self._order, self.dataset.sizes, self.per_rank, gen)
        return self._order[i * self.per_rank : (i + 1) * self.per_rank]

    def __call__(self, step: int):
        idx = self.indices(step)
        if isinstance(self.dataset, TensorDataset):
            parts = [t[idx] for t in self.dataset.tensors]
            return parts[0] if len(parts) == 1 else tuple(parts)
        return default_collate([self.dataset[j] for j in idx.tolist()])

    def stream(self, start: int, end: int, workers: int = 0, pin_memory: bool = False) -> Iterator:
        """Batches ``start .. end - 1`` in order. With ``workers`` > 0 a dataset that renders its items
        (procedural video) is rendered by that many processes ahead of the training step; the batches
        are the same, since each item is a function of its index."""
        if not workers or isinstance(self.dataset, TensorDataset):
            return (self(step) for step in range(start, end))
        steps = (self.indices(step).tolist() for step in range(start, end))
        loader = DataLoader(self.dataset, batch_sampler=steps, num_workers=workers, pin_memory=pin_memory)
        return iter(loader)


def to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


class Trainer:
    """Train ``model`` on ``dataset`` with ``loss_fn``; checkpoints and metrics go to ``run_dir``.

    ``fit()`` resumes from the latest checkpoint in ``run_dir`` when there is one.
    ``evaluate(ema_model, step) -> dict`` runs on rank 0 every ``eval_every`` steps.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        dataset: Dataset,
        cfg: TrainConfig,
        run_dir: Path | None = None,
        evaluate: Callable[[nn.Module, int], dict[str, float]] | None = None,
    ):
        self.cfg, self.loss_fn, self.evaluate = cfg, loss_fn, evaluate
        self.info = distributed.setup(cfg.device)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        if self.run_dir and self.info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.model = model.to(self.info.device)
        self.ema = ema_model(self.model, cfg.ema_decay)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay
        )
        self.batches = Batches(dataset, cfg.batch_size, self.info, cfg.seed)
        self.step = self.start_step = 0
        self.saved_step: int | None = None  # the step of the last checkpoint this trainer wrote
        self.history: list[dict[str, float]] = []

    @property
    def stage_name(self) -> str:
        """What the progress bar calls this training: a multi-stage recipe's stage, or plain training."""
        staged = self.run_dir is not None and self.run_dir.parent.name == "stages"
        return f"train stage {self.run_dir.name}" if staged else "train"

    @property
    def ckpt_root(self) -> Path | None:
        return self.run_dir / "checkpoints" if self.run_dir else None

    def resume(self) -> bool:
        """Load the latest checkpoint of ``run_dir`` if there is one; metrics.jsonl keeps the records up
        to its step (none when there is no checkpoint)."""
        found = checkpoint.latest(self.ckpt_root) if self.ckpt_root else None
        if found is not None:
            updates = found.meta.get("ema_updates")
            if type(updates) is not int or updates < 0:
                raise checkpoint.CheckpointError(f"checkpoint {found.path}: meta.json lacks ema_updates >= 0")
            checkpoint.load_weights(self.model, found.path / "model.safetensors")
            checkpoint.load_weights(self.ema.module, found.path / "ema.safetensors")
            self.ema.n_averaged.fill_(updates)
            checkpoint.load_optimizer(self.optimizer, found.path / "optimizer.pt")
            self.step = self.saved_step = found.step
        self._forget_metrics_after(self.step)
        return found is not None

    def _forget_metrics_after(self, step: int) -> None:
        """Drop records of steps the resumed run will train again (and a line cut short by a kill), so
        metrics.jsonl stays one history."""
        log = self.run_dir / "metrics.jsonl" if self.run_dir else None
        if log is None or not log.exists() or not self.info.is_main:
            return

        def kept(line: str) -> bool:
            try:
                return json.loads(line)["step"] <= step
            except (json.JSONDecodeError, KeyError, TypeError):
                return False

        tmp = log.with_name(".metrics.jsonl.tmp")
        tmp.write_text("".join(line + "\n" for line in log.read_text().splitlines() if kept(line)))
        tmp.replace(log)

    def save(self) -> Path | None:
        """Checkpoint the current step (rank 0 writes). Every rank checks the weights first, so that
        non-finite weights stop all ranks together and are never written."""
        checkpoint.check_finite_weights(self.step, self.ckpt_root, model=self.model, ema=self.ema.module)
        self.saved_step = self.step
        if not (self.ckpt_root and self.info.is_main):
            return None
        return checkpoint.save(
            self.ckpt_root,
            self.step,
            self.model,
            self.ema.module,
            self.optimizer,
            meta={"ema_updates": int(self.ema.n_averaged), "config": asdict(self.cfg)},
            keep=self.cfg.keep_checkpoints,
        )

    def _log(self, record: dict[str, float]) -> None:
        self.history.append(record)
        if self.run_dir and self.info.is_main:
            with open(self.run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    def _stop(self, signals: list[int]) -> None:
        """After SIGTERM or SIGINT: checkpoint the finished step, then stop every rank together."""
        if self.saved_step != self.step:
            self.save()
        distributed.barrier()
        signum = signals[0] if signals else signal.SIGTERM
        by = signal.Signals(signum).name if signals else "a signal to another rank"
        saved = f"saved {self.ckpt_root / f'step-{self.step:08d}'}" if self.ckpt_root else "nothing saved"
        resume = f"; continue with --resume {self.run_dir}" if self.run_dir else ""
        raise TrainingStopped(f"stopped by {by} after step {self.step}; {saved}{resume}", signum)

    def fit(self, until: int | None = None) -> nn.Module:
        """Train to ``cfg.steps`` (or stop early at ``until``); return the EMA model."""
        with run_dir_lock(self.run_dir if self.info.is_main else None), stop_signals() as signals:
            return self._fit(until, signals)

    def _fit(self, until: int | None, signals: list[int]) -> nn.Module:
        cfg, info = self.cfg, self.info
        if self.step == 0:
            self.resume()
        self.start_step = self.step
        end = min(cfg.steps, until) if until is not None else cfg.steps
        net = DistributedDataParallel(self.model) if distributed.active() else self.model
        cuda = info.device.type == "cuda"
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cfg.mixed_precision and cuda)
        bar = tqdm(
            desc=self.stage_name,
            total=cfg.steps,
            initial=self.step,
            disable=not info.is_main,
            dynamic_ncols=True,
            leave=False,
            mininterval=1.0,
        )
        started = time.perf_counter()
        batches = self.batches.stream(self.step, end, cfg.loader_workers, pin_memory=cuda)
        while self.step < end:
            step = self.step
            lr = lr_at(step, cfg)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            torch.manual_seed(cfg.seed + 1_000_003 * (step + 1) + 7919 * info.rank)
            batch = to_device(next(batches), info.device)
            self.model.train()
            with autocast:
                loss, logs = self.loss_fn(net, batch)
            stop = torch.tensor(float(bool(signals)), device=loss.device)  # travels with the loss
            global_loss, stopping = distributed.mean_over_ranks(
                torch.stack([loss.detach().float(), stop])
            ).tolist()
            if not math.isfinite(global_loss):
                raise NonFiniteLossError(
                    f"loss is {global_loss} at step {step}; stopped before applying it; "
                    f"{checkpoint.describe_last(self.ckpt_root)}"
                )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip or math.inf)
            self.optimizer.step()
            self.ema.update_parameters(self.model)
            self.step = step + 1
            bar.update(1)
            if self.step % cfg.log_every == 0 or self.step == end:
                record = {
                    "step": self.step,
                    "loss": global_loss,
                    "lr": lr,
                    "grad_norm": float(grad_norm),
                    "elapsed_s": time.perf_counter() - started,
                    **{k: float(v) for k, v in logs.items()},
                }
                bar.set_postfix(loss=f"{global_loss:.4f}")
                self._log(record)
            if cfg.ckpt_every and self.step % cfg.ckpt_every == 0:
                self.save()
            if self.evaluate and cfg.eval_every and self.step % cfg.eval_every == 0 and info.is_main:
                self._log(
                    {
                        "step": self.step,
                        **{f"eval/{k}": v for k, v in self.evaluate(self.ema.module, self.step).items()},
                    }
                )
            if stopping:
                bar.close()
                self._stop(signals)
        bar.close()
        if self.step == cfg.steps and self.step > self.start_step and self.saved_step != self.step:
            self.save()
        distributed.barrier()
        return self.ema.module
