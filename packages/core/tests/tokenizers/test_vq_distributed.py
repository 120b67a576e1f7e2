import subprocess
import sys
import textwrap

WORKER = textwrap.dedent(
    """
    import sys
    import torch
    import torch.distributed as dist
    import torch.multiprocessing as mp
    from genlab.core.tokenizers import VectorQuantizer

    def run(rank, store):
        dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
        torch.manual_seed(rank)  # different data and different local randomness on each replica
        vq = VectorQuantizer(3, 16, dead_threshold=0.5)
        for _ in range(5):
            vq(torch.randn(64, 3) + 3 * rank)
        state = torch.cat([vq.codebook.flatten(), vq.cluster_size, vq.embed_sum.flatten()])
        gathered = [torch.empty_like(state) for _ in range(2)]
        dist.all_gather(gathered, state)
        assert torch.equal(gathered[0], gathered[1]), "replicas diverged"
        dist.destroy_process_group()

    if __name__ == "__main__":
        mp.spawn(run, args=(sys.argv[1],), nprocs=2)
    """
)


def test_ema_codebooks_stay_identical_across_processes(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "store")], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
