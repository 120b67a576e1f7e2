"""KV-cache generation speed-up of genlab's CausalTransformer over recomputing the prefix.

``generate`` keeps every layer's past keys and values, so token l costs one position; without a
cache each new token reruns the whole prefix (O(l) positions, O(l^2) attention). Both sample the
same way (multinomial, temperature 1) from the same model and prompt. The two are timed
interleaved in one process (``interleaved.py``: cached, plain, cached, plain, ...); the table gives
medians with [min, max] over the rounds, and the speed-up is the median of the per-round ratios.

    OMP_NUM_THREADS=1 uv run --no-sync python benchmarks/kv_cache.py --threads 1
"""

from __future__ import annotations

import argparse

import torch
from interleaved import interleaved, ratios, spread

from genlab.core.nn import CausalTransformer


@torch.no_grad()
def generate_without_cache(model: CausalTransformer, prompt: torch.Tensor, n: int) -> torch.Tensor:
    x = prompt
    for _ in range(n):
        logits = model(x)[:, -1]
        x = torch.cat([x, torch.multinomial(logits.softmax(-1), 1)], dim=1)
    return x


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lengths", type=int, nargs="+", default=[64, 256])
    p.add_argument("--rounds", type=int, default=7, help="interleaved rounds per length")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = CausalTransformer(256, max(args.lengths) + 1, args.dim, args.depth, args.heads).eval()
    prompt = torch.randint(256, (args.batch, 1))
    model.generate(prompt, 8)  # warm-up
    print(
        f"dim {args.dim}, depth {args.depth}, batch {args.batch}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}\n"
    )
    print("| new tokens | with cache tok/s | without cache tok/s | speed-up |")
    print("|---|---|---|---|")
    for n in args.lengths:
        times = interleaved(
            {
                "cached": lambda n=n: model.generate(prompt, n),
                "plain": lambda n=n: generate_without_cache(model, prompt, n),
            },
            rounds=args.rounds,
        )
        tokens = args.batch * n
        cached, plain = ([tokens / t for t in times[k]] for k in ("cached", "plain"))
        speedup = ratios(times, "plain", "cached")
        print(
            f"| {n} | {spread(cached, '{:.0f}')} | {spread(plain, '{:.0f}')} | {spread(speedup, '{:.1f}')}x |"
        )


if __name__ == "__main__":
    main()
