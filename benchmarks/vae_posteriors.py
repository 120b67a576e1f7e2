"""How much an IAF posterior buys over a diagonal one, under dynamic binarisation and at larger sizes.

The vae-digits recipe binarises the 8x8 digits once at a threshold. Here each training batch is drawn
as x ~ Bernoulli(grey level / 16) (dynamic binarisation, Burda et al.'s MNIST protocol), optionally
after bilinear upsampling to ``--size`` pixels, so that there are more bits per image and a larger
posterior gap for IAF (Kingma et al. 2016) to close. The diagonal and the IAF VAE (genlab.core.vae)
train in lockstep on the same batches; both report the test NLL by the k = 256 IW bound, the test
-ELBO and the train NLL, on one fixed binarisation of each split.

    OMP_NUM_THREADS=1 uv run --no-sync python benchmarks/vae_posteriors.py --latent 32 --size 28
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F

from genlab.core.data import load_digits
from genlab.core.recipes.vae_digits import binarize
from genlab.core.vae import VAE


def grey(split: str, size: int) -> torch.Tensor:
    """Digits as Bernoulli means [N, size * size] in [0, 1], bilinearly upsampled from 8 x 8."""
    x = load_digits(split).levels.float() / 16
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    return x.flatten(1)


@torch.no_grad()
def bound(model: VAE, x: torch.Tensor, k: int) -> float:
    """Mean -L_k in nats per image."""
    return -torch.cat([model.iw_bound(b, k) for b in x.split(max(1, 4096 // k))]).mean().item()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--latent", type=int, default=16)
    p.add_argument("--iaf_steps", type=int, default=4)
    p.add_argument("--iaf_hidden", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--size", type=int, default=8)
    p.add_argument("--steps", type=int, default=8000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument(
        "--free_bits", type=float, default=0.0, help="nats per latent dimension (IAF paper, App. C)"
    )
    p.add_argument(
        "--top",
        type=int,
        default=0,
        help="dims of a second latent layer (GaussianHierarchy prior); 0: N(0, I)",
    )
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    train, test = grey("train", args.size), grey("test", args.size)
    test_bin, train_bin = binarize(test, None, seed=123), binarize(train, None, seed=5)
    runs = {}
    for name, steps in (("diagonal", 0), (f"IAF ({args.iaf_steps} x {args.iaf_hidden})", args.iaf_steps)):
        torch.manual_seed(args.seed)
        model = VAE.bernoulli(args.size**2, args.latent, args.hidden, steps, args.iaf_hidden, args.top)
        opt = torch.optim.AdamW(model.parameters(), args.lr, weight_decay=1e-4)
        ema = torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.999)
        )
        runs[name] = (model, opt, ema)
    batches = torch.Generator().manual_seed(args.seed)
    started = time.perf_counter()
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / 200) * (0.1 + 0.45 * (1 + math.cos(math.pi * step / args.steps)))
        x = torch.bernoulli(
            train[torch.randint(0, len(train), (args.batch,), generator=batches)], generator=batches
        )
        for model, opt, ema in runs.values():
            for group in opt.param_groups:
                group["lr"] = lr
            loss, _ = model.loss(x, args.free_bits)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            ema.update_parameters(model)
    print(
        f"latent {args.latent}, {args.size}x{args.size} dynamically binarised digits, {args.steps} steps of "
        f"{args.batch}, free bits {args.free_bits}, top layer {args.top}, {time.perf_counter() - started:.0f} s\n"
    )
    print("| posterior | test NLL (IW k=256) | test -ELBO | ELBO gap | train NLL |\n|---|---|---|---|---|")
    for name, (_, _, ema) in runs.items():
        net = ema.module.eval()
        torch.manual_seed(3)
        nll, nelbo = bound(net, test_bin, 256), bound(net, test_bin, 1)
        print(f"| {name} | {nll:.2f} | {nelbo:.2f} | {nelbo - nll:.2f} | {bound(net, train_bin, 256):.2f} |")


if __name__ == "__main__":
    main()
