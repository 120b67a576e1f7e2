"""A 2-process gloo job under torchrun keeps identical replicas and matches one process on the global batch."""

import subprocess
import sys
import textwrap

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
    import json

    ddp_loss = json.loads((tmp_path / "ddp" / "loss0.json").read_text())
    single_loss = json.loads((tmp_path / "single" / "loss0.json").read_text())
    assert len(ddp_loss) == len(single_loss) == 12
    assert all(abs(a - b) < 1e-5 for a, b in zip(ddp_loss, single_loss)), (ddp_loss, single_loss)
    assert single_loss[-1] < 0.5 * single_loss[0]  # it trained
