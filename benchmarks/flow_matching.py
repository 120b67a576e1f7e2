"""genlab vs torchcfm, side by side in one process: conditional flow matching with independent and
exact-OT couplings on the same MLP, data, batch and steps.

Measures the training step time, the OT coupling time, and the final sliced Wasserstein of 100-step
Heun samples to held-out data; prints a markdown table with genlab / torchcfm ratios.

    uv run python benchmarks/flow_matching.py --steps 3000 --batch 512
"""

from __future__ import annotations

import argparse
import time

import torch
from torchcfm.conditional_flow_matching import (
    ConditionalFlowMatcher,
    ExactOptimalTransportConditionalFlowMatcher,
)

from genlab.core.data import get_density
from genlab.core.flow import cfm_loss, get_coupling, straightness
from genlab.core.metrics import sliced_wasserstein
from genlab.core.nn import TimeMLP
from genlab.core.ode import integrate, time_grid


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


def train(loss_fn, data, steps, batch, seed):
    torch.manual_seed(seed)
    model = TimeMLP(2, 256, 4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    warmup = min(20, steps // 10)  # first steps pay one-off costs (allocator, autograd, imports)
    for step in range(steps):
        if step == warmup:
            start = time.perf_counter()
        idx = torch.randint(0, len(data), (batch,), generator=g)
        loss = loss_fn(model, data[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, (time.perf_counter() - start) / (steps - warmup)


@torch.no_grad()
def quality(model, test, library, threshold):
    """SW of 50-step Heun samples, straightness, and the fewest Euler steps reaching SW <= threshold."""
    noise = torch.randn(len(test), 2, generator=torch.Generator().manual_seed(1))
    start, end = (1.0, 0.0) if library == "genlab" else (0.0, 1.0)  # torchcfm: t = 0 noise

    def solve(steps, method):
        grid = time_grid(steps, (len(noise),), start, end)
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


def coupling_time(batch, repeats=20):
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(batch, 2, generator=g) + 3, torch.randn(batch, 2, generator=g)
    ours = get_coupling("ot")
    theirs = ExactOptimalTransportConditionalFlowMatcher().ot_sampler
    times = {}
    for name, fn in (("genlab", lambda: ours(x0, x1)), ("torchcfm", lambda: theirs.sample_plan(x1, x0))):
        fn()
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        times[name] = (time.perf_counter() - start) / repeats
    return times


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--density", default="8gaussians")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threshold", type=float, default=0.15, help="sliced Wasserstein that counts as converged"
    )
    args = p.parse_args()
    density = get_density(args.density)
    data = density.sample(100_000, torch.Generator().manual_seed(args.seed))
    test = density.sample(10_000, torch.Generator().manual_seed(args.seed + 1))
    p_threshold = args.threshold
    rows = []
    for label, ours, theirs in (
        ("independent", genlab_loss(None), torchcfm_loss(ConditionalFlowMatcher(sigma=0.0))),
        (
            "exact OT",
            genlab_loss(get_coupling("ot")),
            torchcfm_loss(ExactOptimalTransportConditionalFlowMatcher(0.0)),
        ),
    ):
        for library, loss in (("genlab", ours), ("torchcfm", theirs)):
            model, step_time = train(loss, data, args.steps, args.batch, args.seed)
            rows.append((label, library, step_time, *quality(model, test, library, p_threshold)))
    ot = coupling_time(args.batch)
    print(f"{args.steps} steps of batch {args.batch} on {args.density}; NFE to SW <= {p_threshold}\n")
    print("| coupling | library | step ms | SW (Heun, 100 NFE) | straightness | Euler NFE to threshold |")
    print("|---|---|---|---|---|---|")
    for label, library, t, sw, s, nfe in rows:
        print(f"| {label} | {library} | {1e3 * t:.2f} | {sw:.4f} | {s:.3f} | {nfe if nfe else '> 128'} |")
    print("\n| coupling | step-time ratio genlab / torchcfm | SW ratio |")
    print("|---|---|---|")
    for ours, theirs in zip(rows[::2], rows[1::2]):
        print(f"| {ours[0]} | {ours[2] / theirs[2]:.2f} | {ours[3] / theirs[3]:.2f} |")
    print(
        f"\nexact OT coupling of a batch of {args.batch}: genlab {1e3 * ot['genlab']:.2f} ms, "
        f"torchcfm {1e3 * ot['torchcfm']:.2f} ms, ratio {ot['genlab'] / ot['torchcfm']:.2f}"
    )
    floor = sliced_wasserstein(density.sample(10_000, torch.Generator().manual_seed(9)), test)
    print(f"data floor of the sliced Wasserstein (two held-out sets): {floor:.4f}")


if __name__ == "__main__":
    main()
