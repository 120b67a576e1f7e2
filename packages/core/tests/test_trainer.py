import errno
import fcntl
import json
import math
import os
import signal

import pytest
import torch
from safetensors import SafetensorError
from safetensors.torch import save_file
from torch.utils.data import TensorDataset

from genlab.core import checkpoint, distributed
from genlab.core.checkpoint import CheckpointError, NonFiniteWeightsError
from genlab.core.errors import TrainingStopped
from genlab.core.flow.matching import cfm_loss
from genlab.core.nn import TimeMLP
from genlab.core.recipes.gan_2d import GAN2DConfig, GAN2DTask
from genlab.core.trainer import (
    Batches,
    NonFiniteLossError,
    RunDirBusyError,
    SizedTensorDataset,
    TrainConfig,
    Trainer,
    lr_at,
)

CFG = dict(
    steps=20, batch_size=64, lr=1e-2, warmup=5, ckpt_every=10, log_every=5, ema_decay=0.9, device="cpu"
)


def make_trainer(run_dir, loss_fn=None, **overrides):
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(300, 2, generator=torch.Generator().manual_seed(1)))
    loss_fn = loss_fn or (lambda model, x: (cfm_loss(model, x), {}))
    return Trainer(TimeMLP(2, 32, 2), loss_fn, data, TrainConfig(**{**CFG, **overrides}), run_dir)


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_resume_reproduces_an_uninterrupted_run_exactly(tmp_path):
    full = make_trainer(tmp_path / "full")
    full.fit()
    stopped = make_trainer(tmp_path / "resumed")
    stopped.fit(until=10)
    assert stopped.step == 10 and checkpoint.latest(tmp_path / "resumed" / "checkpoints").step == 10
    resumed = make_trainer(tmp_path / "resumed")
    resumed.fit()
    assert resumed.start_step == 10 and resumed.step == 20
    assert_same_weights(full.model, resumed.model)
    assert_same_weights(full.ema.module, resumed.ema.module)
    assert int(full.ema.n_averaged) == int(resumed.ema.n_averaged) == 20
    losses = [
        json.loads(line)["loss"] for line in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()
    ]
    assert len(losses) == 4 and all(math.isfinite(v) for v in losses)


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    calls = {"n": 0}

    def loss_fn(model, x):
        calls["n"] += 1
        loss = cfm_loss(model, x)
        return (loss * float("nan") if calls["n"] == 8 else loss), {}

    trainer = make_trainer(tmp_path, loss_fn, ckpt_every=5)
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at step 7.*step-00000005"):
        trainer.fit()
    assert trainer.step == 7
    kept = checkpoint.latest(tmp_path / "checkpoints")
    assert kept.step == 5
    fresh = make_trainer(tmp_path / "other")
    checkpoint.load_weights(fresh.model, kept.path / "model.safetensors")
    assert all(torch.isfinite(p).all() for p in fresh.model.parameters())


def test_a_crash_while_writing_leaves_the_previous_checkpoint_in_place(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path)
    trainer.fit(until=10)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_model", broken)
    trainer.step = 15
    with pytest.raises(OSError, match="disk full"):
        trainer.save()
    assert checkpoint.latest(tmp_path / "checkpoints").step == 10
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*")) == ["step-00000010"]


def test_corrupt_checkpoints_are_named_not_unpickled(tmp_path):
    make_trainer(tmp_path).fit(until=10)
    ckpt = checkpoint.latest(tmp_path / "checkpoints").path
    weights = (ckpt / "model.safetensors").read_bytes()
    (ckpt / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(CheckpointError, match="cannot read weights"):
        make_trainer(tmp_path).resume()
    (ckpt / "model.safetensors").write_bytes(weights)

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    torch.save({"state": Payload()}, ckpt / "optimizer.pt")
    with pytest.raises(CheckpointError, match="cannot read optimizer state"):
        make_trainer(tmp_path).resume()
    (ckpt / "meta.json").unlink()
    with pytest.raises(CheckpointError, match="incomplete: missing meta.json"):
        make_trainer(tmp_path).resume()


def test_weights_that_do_not_fit_the_model(tmp_path):
    make_trainer(tmp_path).fit(until=10)
    ckpt = checkpoint.latest(tmp_path / "checkpoints").path
    with pytest.raises(CheckpointError, match="do not fit"):
        checkpoint.load_weights(TimeMLP(3, 32, 2), ckpt / "model.safetensors")


def test_learning_rate_warms_up_then_decays_to_the_floor():
    cfg = TrainConfig(steps=100, lr=1.0, warmup=10, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(0.1) and lr_at(9, cfg) == pytest.approx(1.0)
    values = [lr_at(s, cfg) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert values[-1] == pytest.approx(0.1)


def test_batches_must_fit_the_data(tmp_path):
    with pytest.raises(ValueError, match="smaller than one batch"):
        make_trainer(tmp_path, batch_size=1024)


def test_ema_averages_float_tensors_and_copies_integer_buffers():
    model = torch.nn.Linear(2, 2)
    model.register_buffer("count", torch.tensor(0, dtype=torch.long))
    model.register_buffer("flag", torch.tensor(False))
    from genlab.core.trainer import ema_model

    ema = ema_model(model, decay=0.5)
    ema.update_parameters(model)  # the first update copies
    with torch.no_grad():
        model.weight.add_(1.0)
    model.count.fill_(7)
    model.flag.fill_(True)
    ema.update_parameters(model)
    assert int(ema.module.count) == 7 and bool(ema.module.flag)
    # decay min(0.5, 2/11) after one update: the average moves 1 - 2/11 of the way
    assert torch.allclose(ema.module.weight, model.weight - 2 / 11)


def test_resume_keeps_one_metrics_history_and_saves_the_end_once(tmp_path, monkeypatch):
    calls = []
    real_save = checkpoint.save
    monkeypatch.setattr(checkpoint, "save", lambda *a, **k: calls.append(a[1]) or real_save(*a, **k))
    trainer = make_trainer(tmp_path, ckpt_every=10, log_every=1)
    trainer.fit(until=14)  # checkpoint at 10, metrics logged to 14
    resumed = make_trainer(tmp_path, ckpt_every=10, log_every=1)
    resumed.fit()
    steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 21))
    assert calls == [10, 20]
    make_trainer(tmp_path, ckpt_every=10).fit()  # a finished run resumed does not write again
    assert calls == [10, 20]


def test_batches_of_a_sized_dataset_hold_items_of_similar_size_and_cover_the_epoch():
    sizes = torch.randint(3, 30, (1000,), generator=torch.Generator().manual_seed(0))
    data = SizedTensorDataset(torch.arange(1000), sizes=sizes)
    batches = Batches(data, 20, distributed.DistInfo(0, 1, torch.device("cpu")), seed=3)
    epoch = [batches(step) for step in range(batches.steps_per_epoch)]
    seen = torch.cat(epoch)
    assert len(seen) == 1000 and len(set(seen.tolist())) == 1000  # each item once per epoch
    spread = torch.stack([sizes[b].max() - sizes[b].min() for b in epoch]).float().mean()
    assert spread <= 2  # a random batch of 20 spans ~23 sizes
    again = Batches(data, 20, distributed.DistInfo(0, 1, torch.device("cpu")), seed=3)
    assert all(torch.equal(again(s), b) for s, b in enumerate(epoch))  # a pure function of (seed, step)
    assert not torch.equal(batches(batches.steps_per_epoch), epoch[0])  # a new grouping next epoch
    with pytest.raises(ValueError, match="one per item"):
        SizedTensorDataset(torch.arange(10), sizes=torch.ones(9))


class RenderedSquares(torch.utils.data.Dataset):
    """Items computed from their index, like the procedural video datasets."""

    def __len__(self):
        return 50

    def __getitem__(self, index):
        return torch.full((3,), float(index)) ** 2


def test_loader_workers_stream_the_same_batches_across_epochs():
    info = distributed.DistInfo(0, 1, torch.device("cpu"))
    batches = Batches(RenderedSquares(), 8, info, seed=2)
    steps = range(3, 3 + 2 * batches.steps_per_epoch)  # crosses two epoch boundaries
    expected = [Batches(RenderedSquares(), 8, info, seed=2)(s) for s in steps]
    streamed = list(batches.stream(steps.start, steps.stop, workers=2))
    assert len(streamed) == len(expected)
    assert all(torch.equal(a, b) for a, b in zip(streamed, expected))


def test_training_with_loader_workers_matches_training_without(tmp_path):
    def train(workers):
        torch.manual_seed(0)
        cfg = TrainConfig(**{**CFG, "steps": 8, "batch_size": 10, "loader_workers": workers})
        data = RenderedSquares()
        loss_fn = lambda model, x: (cfm_loss(model, x[:, :2] / 2500), {})  # noqa: E731
        trainer = Trainer(TimeMLP(2, 16, 2), loss_fn, data, cfg, tmp_path / f"w{workers}")
        trainer.fit()
        return trainer.model

    assert_same_weights(train(0), train(2))


# Issue 39, "lose nothing": retention, NaN guards on weights, signals, durability and fall-back, one
# writer per run, metrics on resume, a full disk, corrupt checkpoints.


def steps_logged(run_dir):
    return [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_keep_checkpoints_keeps_the_newest_and_refuses_less_than_one(tmp_path):
    t = make_trainer(tmp_path, keep_checkpoints=1, ckpt_every=5)
    t.fit()
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*")) == ["step-00000020"]
    assert checkpoint.latest(tmp_path / "checkpoints").step == 20
    for keep in (0, -1):
        with pytest.raises(ValueError, match="keep_checkpoints must be >= 1"):
            checkpoint.save(tmp_path / "checkpoints", 21, t.model, t.ema.module, t.optimizer, keep=keep)
    assert checkpoint.latest(tmp_path / "checkpoints").step == 20


@pytest.mark.parametrize("which", ["model", "ema"])
def test_non_finite_weights_are_never_saved_and_the_stop_names_step_and_checkpoint(tmp_path, which):
    t = make_trainer(tmp_path, ckpt_every=5)
    t.fit(until=5)
    module = t.model if which == "model" else t.ema.module
    with torch.no_grad():
        next(module.parameters())[0] = float("nan")
    t.step = 6
    with pytest.raises(NonFiniteWeightsError, match=rf"after step 6 \({which}\..*step-00000005"):
        t.save()
    assert (tmp_path / "checkpoints" / "latest").read_text() == "step-00000005"
    assert not (tmp_path / "checkpoints" / "step-00000006").exists()


def test_a_huge_learning_rate_stops_naming_the_step_and_a_loadable_checkpoint(tmp_path):
    t = make_trainer(tmp_path, lr=1e30, warmup=0, ckpt_every=1)
    with pytest.raises(FloatingPointError, match=r"at step 1\b.*the last good checkpoint is .*step-00000001"):
        t.fit()
    kept = checkpoint.latest(tmp_path / "checkpoints")
    for name in ("model", "ema"):
        checkpoint.load_weights(make_trainer(None).model, kept.path / f"{name}.safetensors")


def test_non_finite_weights_are_refused_on_load(tmp_path):
    model = TimeMLP(2, 8, 2)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    key = next(iter(state))
    state[key][0] = float("inf")
    save_file(state, tmp_path / "w.safetensors")
    with pytest.raises(CheckpointError, match=f"{key} holds NaN or inf"):
        checkpoint.load_weights(model, tmp_path / "w.safetensors")


def test_gan_2d_non_finite_stop_names_the_step_and_the_checkpoint(tmp_path):
    cfg = GAN2DConfig(
        steps=30, hidden=16, depth=2, n_train=512, batch_size=64, warmup=2, ckpt_every=10, device="cpu"
    )
    torch.manual_seed(0)
    task = GAN2DTask(cfg)
    t = Trainer(task.model, task.loss, task.train_set, cfg, tmp_path)
    t.fit(until=10)
    with torch.no_grad():
        task.model.generator[0].weight[0, 0] = float("nan")
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at step 10\b.*step-00000010"):
        t.fit()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_finishes_the_step_checkpoints_and_resume_is_exact(tmp_path, signum):
    full = make_trainer(tmp_path / "full")
    full.fit()
    calls = {"n": 0}

    def loss_fn(model, x):
        calls["n"] += 1
        if calls["n"] == 7:  # during step 6: it finishes, is saved as step 7, then training stops
            os.kill(os.getpid(), signum)
        return cfm_loss(model, x), {}

    before = signal.getsignal(signum)
    stopped = make_trainer(tmp_path / "run", loss_fn)
    with pytest.raises(
        TrainingStopped, match=rf"stopped by {signum.name} after step 7; saved .*step-00000007"
    ):
        stopped.fit()
    assert signal.getsignal(signum) is before
    assert checkpoint.latest(tmp_path / "run" / "checkpoints").step == 7
    resumed = make_trainer(tmp_path / "run")
    resumed.fit()
    assert resumed.start_step == 7
    assert_same_weights(full.model, resumed.model)
    assert_same_weights(full.ema.module, resumed.ema.module)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names fsynced files through /proc")
def test_files_and_directories_are_fsynced_before_the_renames(tmp_path, monkeypatch):
    t = make_trainer(tmp_path)
    events = []
    real_fsync, real_rename, real_replace = os.fsync, os.rename, os.replace

    def fsync(fd):
        events.append(("fsync", os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))))
        real_fsync(fd)

    monkeypatch.setattr(checkpoint.os, "fsync", fsync)
    monkeypatch.setattr(
        checkpoint.os, "rename", lambda a, b: events.append(("rename", b.name)) or real_rename(a, b)
    )
    monkeypatch.setattr(
        checkpoint.os, "replace", lambda a, b: events.append(("replace", b.name)) or real_replace(a, b)
    )
    t.save()
    rename = events.index(("rename", "step-00000000"))
    before, after = events[:rename], events[rename + 1 :]
    assert {("fsync", f) for f in checkpoint.FILES} <= set(before)  # every file, then its directory
    assert before[-1] == ("fsync", ".tmp-step-00000000")
    assert after == [
        ("fsync", "checkpoints"),
        ("fsync", ".latest.tmp"),
        ("replace", "latest"),
        ("fsync", "checkpoints"),
    ]


def test_load_falls_back_to_the_newest_whole_checkpoint_with_a_warning(tmp_path):
    make_trainer(tmp_path, keep_checkpoints=3, ckpt_every=5).fit(until=15)
    root = tmp_path / "checkpoints"
    (root / "step-00000015" / "model.safetensors").write_bytes(b"")  # what a power loss leaves
    with pytest.warns(UserWarning, match=r"cannot read weights .*step-00000015.*using .*step-00000010"):
        assert checkpoint.latest(root).step == 10
    (root / "step-00000010" / "optimizer.pt").write_bytes(b"PK\x03\x04 cut short")
    (root / "latest").write_text("")
    with pytest.warns(UserWarning, match=r"names no checkpoint.*step-00000005"):
        resumed = make_trainer(tmp_path, keep_checkpoints=3, ckpt_every=5)
        assert resumed.resume() and resumed.step == 5


def test_metrics_are_truncated_to_the_resumed_step_even_without_a_checkpoint(tmp_path):
    make_trainer(tmp_path, log_every=1).fit(until=7)  # killed before its first checkpoint (step 10)
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 8, "lo')  # a record cut short by the kill
    make_trainer(tmp_path, log_every=1).fit(until=13)
    assert steps_logged(tmp_path) == list(range(1, 14))
    make_trainer(tmp_path, log_every=1).fit()
    assert steps_logged(tmp_path) == list(range(1, 21))


def test_a_second_writer_is_refused_and_the_lock_is_released(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    other = open(tmp_path / ".lock", "a+")  # another process's lock: flock conflicts across open files
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    other.write("4242\n")
    other.flush()
    with pytest.raises(RunDirBusyError, match=r"another genlab process \(pid 4242\)"):
        make_trainer(tmp_path).fit()
    assert not (tmp_path / "metrics.jsonl").exists()
    other.close()
    make_trainer(tmp_path).fit()
    with open(tmp_path / ".lock") as mine:
        fcntl.flock(mine, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released after fit


@pytest.mark.parametrize(
    "where, error",
    [
        (
            "save_model",
            SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)"),
        ),
        ("_write_bytes", OSError(errno.ENOSPC, "No space left on device")),
    ],
)
def test_a_full_disk_is_named_and_leaves_latest_and_no_temporary_files(tmp_path, monkeypatch, where, error):
    t = make_trainer(tmp_path)
    t.fit(until=10)
    real = getattr(checkpoint, where)
    calls = {"n": 0}

    def full(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the first file is written, the second finds the disk full
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(checkpoint, where, full)
    t.step = 15
    with pytest.raises(CheckpointError, match=r"the disk is full.*step-00000015.*last good .*step-00000010"):
        t.save()
    root = tmp_path / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == ["latest", "step-00000010"]
    assert checkpoint.latest(root).step == 10


@pytest.fixture
def one_checkpoint(tmp_path):
    make_trainer(tmp_path, keep_checkpoints=1).fit(until=10)
    return tmp_path / "checkpoints", tmp_path / "checkpoints" / "step-00000010"


@pytest.mark.parametrize(
    "meta, message", [({"ema_updates": 10}, "with a step >= 0"), ([10], "with a step >= 0")]
)
def test_meta_without_a_step_is_named(one_checkpoint, meta, message):
    root, ckpt = one_checkpoint
    (ckpt / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=message):
        checkpoint.latest(root)


def test_latest_that_is_a_directory_is_named_and_passed_over(one_checkpoint):
    root, _ = one_checkpoint
    (root / "latest").unlink()
    (root / "latest").mkdir()
    with pytest.warns(UserWarning, match="latest is a directory; .* using the newest whole checkpoint"):
        assert checkpoint.latest(root).step == 10
    (root / "step-00000010" / "meta.json").write_text("")
    with pytest.raises(CheckpointError, match="latest is a directory"):
        checkpoint.latest(root)


def test_optimizer_state_of_the_wrong_shapes_is_refused_at_load(one_checkpoint, tmp_path):
    _, ckpt = one_checkpoint
    other = Trainer(
        TimeMLP(2, 16, 2),
        lambda m, x: (cfm_loss(m, x), {}),
        make_trainer(None).batches.dataset,
        TrainConfig(**CFG),
        tmp_path / "other",
    )
    other.fit(until=3)
    torch.save(other.optimizer.state_dict(), ckpt / "optimizer.pt")
    with pytest.raises(
        CheckpointError, match=r"exp_avg.* of parameter 0 has shape \[16, 16\], the parameter \[32, 32\]"
    ):
        make_trainer(tmp_path).resume()


def test_ema_weights_of_another_dtype_are_refused(one_checkpoint, tmp_path):
    _, ckpt = one_checkpoint
    ints = {k: v.to(torch.int32) for k, v in make_trainer(None).ema.module.state_dict().items()}
    save_file(ints, ckpt / "ema.safetensors")
    with pytest.raises(CheckpointError, match="stored as torch.int32, the model holds torch.float32"):
        make_trainer(tmp_path).resume()
