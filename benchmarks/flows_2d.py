"""2D density estimation: genlab's MAF, spline (NSF) and coupling flows against zuko (MAF, NSF) and
normflows (RealNVP and Glow-style blocks), side by side in one process.

Every flow gets the same data, batch, steps and optimiser (Adam, cosine decay), and each peer's hidden
width is chosen so that its parameter count is the closest to the genlab flow it is compared with.
The flows train in lockstep (one step of each in turn), so the load of a shared machine falls on all
of them alike.  Each seed redraws the data and the initialisations.  Reported per pair, over the
seeds: the mean test NLL (nats) with the density's entropy as the floor, the mean NLL difference with
its standard deviation across seeds, the seeds on which genlab is no worse, and the training step
time ratio (genlab / peer; < 1 means genlab is faster).

    uv run --no-sync python benchmarks/flows_2d.py --densities moons,8gaussians --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import normflows as nf
import torch
import zuko

from genlab.core.data.toy2d import get_density
from genlab.core.recipes.nf_2d import build_flow


class Model:
    """A flow under a common interface: ``nll(x)`` (mean -log q, to train and to test)."""

    def __init__(self, name: str, module: torch.nn.Module, nll):
        self.name, self.module, self.nll = name, module, nll
        self.params = sum(p.numel() for p in module.parameters() if p.requires_grad)
        self.seconds = 0.0


def genlab_flow(kind: str, layers: int, hidden: int) -> Model:
    flow = build_flow(kind, layers, hidden, 2)
    return Model(f"genlab {kind}", flow, flow.forward_kl)


def zuko_flow(kind: str, layers: int, hidden: int) -> Model:
    cls = {"MAF": zuko.flows.MAF, "NSF": zuko.flows.NSF}[kind]
    flow = cls(2, transforms=layers, hidden_features=(hidden, hidden))
    return Model(f"zuko {kind}", flow, lambda x: -flow().log_prob(x).mean())


def normflows_flow(kind: str, layers: int, hidden: int) -> Model:
    flows = []
    for i in range(layers):
        if kind == "Glow":  # ActNorm, LU-linear mixing, affine coupling with Glow's sigmoid scale
            net = nf.nets.MLP([1, hidden, hidden, 2], init_zeros=True)
            flows += [nf.flows.AffineCouplingBlock(net, scale_map="sigmoid"), nf.flows.LULinearPermute(2)]
            flows.append(nf.flows.ActNorm((2,)))
        else:  # RealNVP: masked affine coupling (separate scale and shift nets) and ActNorm
            b = torch.tensor([1.0, 0.0] if i % 2 else [0.0, 1.0])
            s = nf.nets.MLP([2, hidden, hidden, 2], init_zeros=True)
            t = nf.nets.MLP([2, hidden, hidden, 2], init_zeros=True)
            flows += [nf.flows.MaskedAffineFlow(b, t, s), nf.flows.ActNorm((2,))]
    flow = nf.NormalizingFlow(nf.distributions.DiagGaussian(2, trainable=False), flows)
    return Model(f"normflows {kind}", flow, flow.forward_kld)


def matched(build, target: int) -> Model:
    """``build(width)`` at the hidden width whose parameter count is closest to ``target``."""
    best = min(range(4, 513, 2), key=lambda w: abs(build(w).params - target))
    return build(best)


def train_in_lockstep(models: list[Model], data: torch.Tensor, args, seed: int) -> None:
    optimizers = [torch.optim.Adam(m.module.parameters(), lr=args.lr) for m in models]
    schedulers = [
        torch.optim.lr_scheduler.CosineAnnealingLR(o, args.steps, args.lr * 0.1) for o in optimizers
    ]
    g = torch.Generator().manual_seed(seed)
    for step in range(args.steps):
        batch = data[torch.randint(len(data), (args.batch,), generator=g)]
        for m, opt, sched in zip(models, optimizers, schedulers):
            start = time.perf_counter()
            loss = m.nll(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if step >= args.warmup_timing:
                m.seconds += time.perf_counter() - start


@torch.no_grad()
def test_nll(model: Model, test: torch.Tensor) -> float:
    model.module.eval()
    values = [model.nll(x).item() * len(x) for x in test.split(5000)]
    return sum(values) / len(test)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--densities", default="moons,8gaussians,checkerboard")
    p.add_argument("--layers", type=int, default=5, help="flow steps of every model")
    p.add_argument("--hidden", type=int, default=64, help="hidden width of genlab's networks")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--n-train", type=int, default=100_000)
    p.add_argument("--n-test", type=int, default=20_000)
    p.add_argument("--warmup-timing", type=int, default=20, help="steps left out of the step time")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seeds", default="0", help="comma-separated; each redraws data and initialisations")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    rows = []
    seeds = [int(v) for v in args.seeds.split(",")]
    timed = args.steps - args.warmup_timing
    for name in args.densities.split(","):
        density = get_density(name)
        results: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
        for seed in seeds:
            data = density.sample(args.n_train, torch.Generator().manual_seed(seed))
            test = density.sample(args.n_test, torch.Generator().manual_seed(seed + 1))
            torch.manual_seed(seed)
            maf = genlab_flow("maf", args.layers, args.hidden)
            nsf = genlab_flow("nsf", args.layers, args.hidden)
            coupling = genlab_flow("coupling", args.layers, args.hidden)
            pairs = [
                (maf, matched(lambda w: zuko_flow("MAF", args.layers, w), maf.params)),
                (nsf, matched(lambda w: zuko_flow("NSF", args.layers, w), nsf.params)),
                (coupling, matched(lambda w: normflows_flow("RealNVP", args.layers, w), coupling.params)),
                (coupling, matched(lambda w: normflows_flow("Glow", args.layers, w), coupling.params)),
            ]
            models = list({id(m): m for pair in pairs for m in pair}.values())
            train_in_lockstep(models, data, args, seed)
            nll = {m.name: test_nll(m, test) for m in models}
            for ours, peer in pairs:
                results.setdefault(
                    (f"{ours.name} ({ours.params})", f"{peer.name} ({peer.params})"), []
                ).append((nll[ours.name], nll[peer.name], ours.seconds / timed, peer.seconds / timed))
        entropy = density.entropy(args.n_test, torch.Generator().manual_seed(seeds[0] + 2))
        for (ours, peer), runs in results.items():
            a, b, t_a, t_b = (list(v) for v in zip(*runs))
            diffs = [x - y for x, y in zip(a, b)]
            spread = statistics.stdev(diffs) if len(diffs) > 1 else 0.0
            rows.append(
                f"| {name} | {entropy:.3f} | {ours} | {statistics.mean(a):.3f} | {peer} | {statistics.mean(b):.3f} "
                f"| {statistics.mean(diffs):+.3f} +- {spread:.3f} | {sum(d <= 0 for d in diffs)} / {len(diffs)} "
                f"| {1e3 * statistics.mean(t_a):.2f} | {1e3 * statistics.mean(t_b):.2f} "
                f"| {statistics.mean(t_a) / statistics.mean(t_b):.2f} |"
            )
            if not all(math.isfinite(v) for v in b):
                rows[-1] += " peer diverged"
    print(
        f"steps {args.steps}, batch {args.batch}, {args.layers} flow steps, genlab hidden {args.hidden}, "
        f"lr {args.lr} (Adam, cosine), {args.threads} thread(s), seeds {args.seeds}\n"
    )
    print(
        "| density | entropy | genlab (params) | NLL | peer (params) | NLL | NLL diff (sd) | genlab no worse "
        "| genlab ms/step | peer ms/step | time ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
