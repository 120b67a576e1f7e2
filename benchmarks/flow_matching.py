"""genlab vs torchcfm, side by side in one process: conditional flow matching with independent and
exact-OT couplings on the same MLP, data, batch and steps.

Measures the training step time, the OT coupling time, and the sliced Wasserstein of 100-step Heun
samples of the EMA weights to held-out data, over several seeds (final-iterate GAN-like swings make
one seed meaningless); prints a markdown table with genlab / torchcfm ratios. The two libraries are
trained interleaved, step by step on the same batches (genlab step i, torchcfm step i, ...), and the
step-time ratio is the median [min, max] over blocks of 100 steps, so that both see the same load.

    uv run python benchmarks/flow_matching.py --steps 3000 --batch 512 --seeds 0,1,2,3,4
"""

from __future__ import annotations

import argparse
import statistics
import time
from math import nan

import torch
from interleaved import interleaved, ratios, spread
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torchcfm.conditional_flow_matching import (
    ConditionalFlowMatcher,
    ExactOptimalTransportConditionalFlowMatcher,
)

from genlab.core.data import get_density
from genlab.core.flow import cfm_loss, get_coupling, straightness
from genlab.core.grids import time_grid
from genlab.core.metrics import sliced_wasserstein
from genlab.core.nn import TimeMLP
from genlab.core.ode import integrate


def genlab_loss(coupling):
    def loss(model, data):
        return cfm_loss(model, data, coupling=coupling)

    return loss


def torchcfm_loss(matcher):
    # torchcfm runs time the other way: t = 0 noise, t = 1 data; the MLP sees torchcfm's t
    def loss(model, data):
        t, xt, ut = matcher.sample_location_and_conditional_flow(torch.randn_like(data), data)
        return (model(xt, t) - ut).square().sum(1).mean()

    return loss


def train_pair(losses, data, steps, batch, seed, ema_decay, block=100):
    """Train one model per loss (Adam at lr 1e-3) interleaved, step i of each on the same batch;
    returns the EMA models and each one's step times (EMA update included) summed over blocks of
    ``block`` steps, after warm-up steps that pay one-off costs (allocator, autograd, imports)."""
    runs = []
    for loss_fn in losses:
        torch.manual_seed(seed)
        model = TimeMLP(2, 256, 4)
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(ema_decay))
        runs.append((loss_fn, model, ema, torch.optim.Adam(model.parameters(), lr=1e-3)))
    g = torch.Generator().manual_seed(seed)
    warmup = min(20, steps // 10)
    blocks = [[0.0] * len(runs) for _ in range(max(1, (steps - warmup) // block))]
    for step in range(steps):
        idx = torch.randint(0, len(data), (batch,), generator=g)
        for k, (loss_fn, model, ema, opt) in enumerate(runs):
            start = time.perf_counter()
            loss = loss_fn(model, data[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            ema.update_parameters(model)
            b = (step - warmup) // block
            if step >= warmup and b < len(blocks):
                blocks[b][k] += time.perf_counter() - start
    per_step = [[t / block for t in column] for column in zip(*blocks)]
    return [ema.module for _, _, ema, _ in runs], per_step


@torch.no_grad()
def quality(model, test, library, threshold):
    """SW of 50-step Heun samples, straightness, and the fewest Euler steps reaching SW <= threshold."""
    noise = torch.randn(len(test), 2, generator=torch.Generator().manual_seed(1))
    start, end = (1.0, 0.0) if library == "genlab" else (0.0, 1.0)  # torchcfm: t = 0 noise

    def solve(steps, method):
        grid = time_grid(steps, (len(noise),), t_max=start, t_min=end)
        return integrate(lambda x, t: model(x, t), noise, grid, method, return_path=method == "rk4")

    sw = sliced_wasserstein(solve(50, "heun"), test)
    path = solve(100, "rk4")
    nfe = next(
        (
            n
            for n in (1, 2, 4, 8, 16, 32, 64, 128)
            if sliced_wasserstein(solve(n, "euler"), test) <= threshold
        ),
        None,
    )
    return sw, straightness(path), nfe


def coupling_time(batch, rounds=20):
    """Seconds per exact OT coupling of a batch, the two libraries interleaved."""
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(batch, 2, generator=g) + 3, torch.randn(batch, 2, generator=g)
    ours = get_coupling("ot")
    theirs = ExactOptimalTransportConditionalFlowMatcher().ot_sampler
    return interleaved(
        {"genlab": lambda: ours(x0, x1), "torchcfm": lambda: theirs.sample_plan(x1, x0)}, rounds
    )


def mean_se(values):
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")
    return f"{mean:.4f} ± {se:.4f}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--density", default="8gaussians")
    p.add_argument("--seeds", default="0", help="comma-separated training seeds")
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay of the evaluated weights")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--timing-only", action="store_true", help="skip the sample-quality columns (minutes of ODE solves)"
    )
    p.add_argument(
        "--threshold", type=float, default=0.15, help="sliced Wasserstein that counts as converged"
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    density = get_density(args.density)
    data = density.sample(100_000, torch.Generator().manual_seed(0))
    test = density.sample(10_000, torch.Generator().manual_seed(1))
    couplings = {
        "independent": (genlab_loss(None), torchcfm_loss(ConditionalFlowMatcher(sigma=0.0))),
        "exact OT": (
            genlab_loss(get_coupling("ot")),
            torchcfm_loss(ExactOptimalTransportConditionalFlowMatcher(0.0)),
        ),
    }
    results = {}  # (coupling, library) -> list of (step time, SW, straightness, NFE) over seeds
    step_times = {}  # (coupling, library) -> per-step seconds of each block of 100 steps, all seeds
    for seed in seeds:
        for label, losses in couplings.items():
            models, times = train_pair(losses, data, args.steps, args.batch, seed, args.ema)
            for library, model, t in zip(("genlab", "torchcfm"), models, times):
                scores = (
                    (nan, nan, None) if args.timing_only else quality(model, test, library, args.threshold)
                )
                row = (statistics.median(t), *scores)
                results.setdefault((label, library), []).append(row)
                step_times.setdefault((label, library), []).extend(t)
                print(f"seed {seed} {label} {library}: {row}", flush=True)
    ot = coupling_time(args.batch)
    print(f"\n{args.steps} steps of batch {args.batch} on {args.density}, EMA {args.ema}, seeds {seeds}\n")
    print(
        "| coupling | library | step ms, median [min, max] over blocks | SW (Heun, 100 NFE), mean ± s.e. | straightness | Euler NFE to SW <= "
        f"{args.threshold} (per seed) |"
    )
    print("|---|---|---|---|---|---|")
    for (label, library), rows in results.items():
        t, sw, s, nfe = zip(*rows)
        nfes = ", ".join(str(n) if n else "> 128" for n in nfe)
        print(
            f"| {label} | {library} | {spread([1e3 * x for x in step_times[(label, library)]], '{:.2f}')} | {mean_se(sw)} | "
            f"{statistics.fmean(s):.3f} | {nfes} |"
        )
    print(
        "\n| coupling | step-time ratio genlab / torchcfm | SW ratio per seed | seeds with genlab SW <= torchcfm |"
    )
    print("|---|---|---|---|")
    for label in couplings:
        ours, theirs = results[(label, "genlab")], results[(label, "torchcfm")]
        time_ratio = ratios(step_times, (label, "genlab"), (label, "torchcfm"))
        sw_ratios = [a[1] / b[1] for a, b in zip(ours, theirs)]
        wins = sum(a[1] <= b[1] for a, b in zip(ours, theirs))
        print(
            f"| {label} | {spread(time_ratio, '{:.2f}')} | {', '.join(f'{r:.2f}' for r in sw_ratios)} | "
            f"{wins} / {len(seeds)} |"
        )
    print(
        f"\nexact OT coupling of a batch of {args.batch}, interleaved, median [min, max]: genlab "
        f"{spread([1e3 * t for t in ot['genlab']], '{:.2f}')} ms, torchcfm "
        f"{spread([1e3 * t for t in ot['torchcfm']], '{:.2f}')} ms, ratio {spread(ratios(ot, 'genlab', 'torchcfm'), '{:.2f}')}"
    )
    floor = sliced_wasserstein(density.sample(10_000, torch.Generator().manual_seed(9)), test)
    print(f"data floor of the sliced Wasserstein (two held-out sets): {floor:.4f}")


if __name__ == "__main__":
    main()
