"""2-process gloo jobs under torchrun: identical replicas that match one process on the global batch, and a
signal to one rank that stops every rank after the same step."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import torch
    from safetensors.torch import save_file
    from torch.utils.data import TensorDataset
    from genlab.core.trainer import Trainer, TrainConfig

    out = sys.argv[1]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(256, generator=g)
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)

    def loss_fn(model, batch):
        xb, yb = batch
        return (model(xb).squeeze(-1) - yb).square().mean(), {}

    cfg = TrainConfig(steps=12, batch_size=64, lr=0.3, warmup=2, log_every=1, ckpt_every=0, device="cpu")
    trainer = Trainer(model, loss_fn, TensorDataset(x, y), cfg)
    trainer.fit()
    rank = int(os.environ.get("RANK", "0"))
    save_file({k: v.contiguous() for k, v in trainer.model.state_dict().items()}, f"{out}/rank{rank}.safetensors")
    json.dump([r["loss"] for r in trainer.history], open(f"{out}/loss{rank}.json", "w"))
    """
)


def test_ddp_replicas_match_a_single_process_run(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    (tmp_path / "ddp").mkdir()
    (tmp_path / "single").mkdir()
    env_cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    subprocess.run([*env_cmd, str(script), str(tmp_path / "ddp")], check=True, timeout=300)
    subprocess.run([sys.executable, str(script), str(tmp_path / "single")], check=True, timeout=300)

    rank0, rank1 = (load_file(tmp_path / "ddp" / f"rank{r}.safetensors") for r in (0, 1))
    single = load_file(tmp_path / "single" / "rank0.safetensors")
    for key in single:
        assert torch.equal(rank0[key], rank1[key]), f"replicas differ in {key}"
        assert torch.allclose(rank0[key], single[key], atol=1e-5), f"DDP and single process differ in {key}"

    ddp_loss = json.loads((tmp_path / "ddp" / "loss0.json").read_text())
    single_loss = json.loads((tmp_path / "single" / "loss0.json").read_text())
    assert len(ddp_loss) == len(single_loss) == 12
    assert all(abs(a - b) < 1e-5 for a, b in zip(ddp_loss, single_loss)), (ddp_loss, single_loss)
    assert single_loss[-1] < 0.5 * single_loss[0]  # it trained


STOP_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    import torch
    from torch.utils.data import TensorDataset
    from genlab.core.errors import TrainingStopped
    from genlab.core.trainer import Trainer, TrainConfig

    rank = int(os.environ["RANK"])
    calls = {"n": 0}

    def loss_fn(model, batch):
        calls["n"] += 1
        if rank == 1 and calls["n"] == 5:  # only rank 1 is signalled, during step 4
            os.kill(os.getpid(), signal.SIGTERM)
        return model(batch).square().mean(), {}

    torch.manual_seed(0)
    cfg = TrainConfig(steps=50, batch_size=16, warmup=1, ckpt_every=0, device="cpu")
    trainer = Trainer(torch.nn.Linear(4, 1), loss_fn, TensorDataset(torch.randn(64, 4)), cfg, sys.argv[1])
    try:
        trainer.fit()
    except TrainingStopped as err:
        json.dump({"step": trainer.step, "message": str(err)}, open(f"{sys.argv[1]}/stop{rank}.json", "w"))
    """
)


@pytest.mark.slow  # a second torchrun launch: ~10-25 s on 2 shared cores
def test_a_signal_to_one_rank_stops_every_rank_after_the_same_step(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(STOP_SCRIPT)
    env_cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    subprocess.run([*env_cmd, str(script), str(tmp_path / "run")], check=True, timeout=300)
    stops = [json.loads((tmp_path / "run" / f"stop{r}.json").read_text()) for r in (0, 1)]
    assert stops[0]["step"] == stops[1]["step"] == 5
    assert "stopped by a signal to another rank after step 5" in stops[0]["message"]
    assert "stopped by SIGTERM after step 5" in stops[1]["message"]
    assert (tmp_path / "run" / "checkpoints" / "latest").read_text() == "step-00000005"
