import json
import math

import pytest
import torch
from torch.utils.data import TensorDataset

from genlab.core import checkpoint, distributed
from genlab.core.checkpoint import CheckpointError
from genlab.core.flow.matching import cfm_loss
from genlab.core.nn import TimeMLP
from genlab.core.trainer import Batches, NonFiniteLossError, SizedTensorDataset, TrainConfig, Trainer, lr_at

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
