"""LFQ and VQ forward + backward time: genlab against vector-quantize-pytorch, in one process.

Both sides get the same input and the same settings (LFQ: 2^dim codes, entropy weight 0.1,
commitment 0.25, inverse temperature 100; VQ: EMA decay 0.99, k-means init, commitment 0.25),
in training mode, so the VQ times include the EMA codebook update. The two are timed interleaved
(genlab, theirs, genlab, theirs, ...; ``interleaved.py``). Prints a markdown table of medians with
[min, max]; ratio = genlab time / vector-quantize-pytorch time per round, median [min, max]
(below 1: genlab is faster).

    OMP_NUM_THREADS=1 uv run --no-sync python benchmarks/tokenizers.py --threads 1
"""

from __future__ import annotations

import argparse

import torch
import vector_quantize_pytorch as vqp
from interleaved import interleaved, ratios, spread

from genlab.core.tokenizers import LFQ, VectorQuantizer


def fwd_bwd(quantizer, z: torch.Tensor):
    """One training step's quantizer work: forward, a loss on the output and the aux losses, backward."""

    def step():
        x = z.detach().requires_grad_()
        out = quantizer(x)
        aux = out[2]
        aux = sum(aux.values()) if isinstance(aux, dict) else aux.sum()
        ((out[0] ** 2).mean() + aux).backward()

    return step


def compare(ours, theirs, z: torch.Tensor, rounds: int) -> dict[str, list[float]]:
    """Seconds per training step of each quantizer on ``z``, interleaved."""
    return interleaved({"genlab": fwd_bwd(ours, z), "theirs": fwd_bwd(theirs, z)}, rounds, warmup=3)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--tokens", type=int, default=256, help="tokens per sample, e.g. a 16x16 latent")
    p.add_argument("--lfq-dims", type=int, nargs="+", default=[8, 12])
    p.add_argument("--vq-dim", type=int, default=64)
    p.add_argument("--codebooks", type=int, nargs="+", default=[512, 4096])
    p.add_argument("--repeats", type=int, default=20, help="interleaved rounds after 3 warm-up rounds")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    for d in args.lfq_dims:
        z = torch.randn(args.batch, args.tokens, d)
        ours = LFQ(d, entropy_weight=0.1, commitment_weight=0.25)
        theirs = vqp.LFQ(dim=d, codebook_size=2**d, entropy_loss_weight=0.1, commitment_loss_weight=0.25)
        rows.append((f"LFQ, {2**d} codes", compare(ours, theirs, z, args.repeats)))
    for k in args.codebooks:
        z = torch.randn(args.batch, args.tokens, args.vq_dim)
        ours = VectorQuantizer(args.vq_dim, k, decay=0.99, commitment_weight=0.25)
        theirs = vqp.VectorQuantize(args.vq_dim, k, decay=0.99, kmeans_init=True, commitment_weight=0.25)
        rows.append((f"VQ (EMA), {k} codes x {args.vq_dim}", compare(ours, theirs, z, args.repeats)))
    print(
        f"batch {args.batch} x {args.tokens} tokens, {torch.get_num_threads()} threads, torch {torch.__version__}\n"
    )
    print("| quantizer | genlab ms | vector-quantize-pytorch ms | ratio |")
    print("|---|---|---|---|")
    for name, times in rows:
        ours, theirs = ([1000 * t for t in times[k]] for k in ("genlab", "theirs"))
        ratio = ratios(times, "genlab", "theirs")
        print(
            f"| {name} | {spread(ours, '{:.2f}')} | {spread(theirs, '{:.2f}')} | {spread(ratio, '{:.2f}')} |"
        )


if __name__ == "__main__":
    main()
