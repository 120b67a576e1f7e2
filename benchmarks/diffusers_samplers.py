"""genlab's samplers against diffusers' schedulers on one trained ``diffusion-digits`` model.

Pairs: genlab DDIM / DPM-Solver++(2M) / Euler / Heun against diffusers' DDIMScheduler,
DPMSolverMultistepScheduler, EulerDiscreteScheduler and HeunDiscreteScheduler, at equal network
evaluations (NFE), from the same noise, with the same classifier-free-guided v-prediction. Quality
(FD-digits to the test split, class accuracy) and wall time are reported as ratios genlab / diffusers.

The bridge: diffusers' schedulers are built on the genlab schedule's discrete table
alphas_cumprod[i] = alpha(t_i)^2, t_i = (i + 1) / N (given as ``trained_betas``). A diffusers timestep
tau (an integer, or fractional for Euler / Heun) means the noise level
sigma(tau) = interp(tau, 0..N-1, sqrt((1 - alphas_cumprod) / alphas_cumprod)), which is how the
schedulers themselves read it; the wrapper maps it to genlab's continuous t through the logSNR,
t = schedule.t_from_logsnr(-2 log sigma(tau)), and feeds the model the variance-preserving sample
that every scheduler hands over (Euler and Heun after ``scale_model_input``). Checked by ``--check``
(and by packages/core/tests/recipes/test_diffusers_mapping.py) against an exact mixture denoiser:
diffusers' DDIM, Euler and DPM-Solver++ must equal genlab's DDIM, DDIM and DPM-Solver++ run on the
times that the mapping gives.

    uv run --no-sync python benchmarks/diffusers_samplers.py --run runs/diffusion-digits/STAMP

``--overhead`` needs no run: it measures the per-step cost of genlab's DPM-Solver++(2M) against
diffusers' DPMSolverMultistepScheduler around a tiny network that costs next to nothing, as the
difference between sampling with 2K and with K steps divided by K (so one-off setup cancels). The
two sides alternate within every round and the ratio is taken per round (a shared machine's load
drifts); it prints the median ratio, its spread over rounds, and aten operators per step (counted
with a dispatch mode; independent of the load).

    OMP_NUM_THREADS=1 uv run --no-sync python benchmarks/diffusers_samplers.py --overhead
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from genlab.core.diffusion import Denoiser, Schedule, sample_ddim, sample_dpmpp_2m
from genlab.core.diffusion.registry import sample_nfe, steps_for_nfe

N_TRAIN = 1000
PAIRS = {  # genlab sampler and grid, diffusers scheduler class name
    "ddim": ("ddim", "uniform", "DDIMScheduler"),
    "dpmpp_2m": ("dpmpp_2m", "logsnr", "DPMSolverMultistepScheduler"),
    "euler": ("euler", "karras", "EulerDiscreteScheduler"),
    "heun": ("heun", "karras", "HeunDiscreteScheduler"),
}


def discrete_betas(schedule: Schedule, n: int = N_TRAIN) -> np.ndarray:
    """betas with prod_{j <= i} (1 - beta_j) = alpha(t_i)^2 at t_i = (i + 1) / n."""
    t = torch.arange(1, n + 1, dtype=torch.float64) / n
    ac = schedule.alpha_sigma(t)[0].square()
    return (1 - ac / torch.cat([ac.new_ones(1), ac[:-1]])).numpy()


def make_scheduler(name: str, schedule: Schedule):
    import diffusers

    options = {"timestep_spacing": "trailing", "prediction_type": "v_prediction"}
    if name == "DDIMScheduler":
        options.update(set_alpha_to_one=True, clip_sample=False)
    return getattr(diffusers, name)(
        num_train_timesteps=N_TRAIN, trained_betas=discrete_betas(schedule), **options
    )


class DiffusersModel(nn.Module):
    """A genlab Denoiser as diffusers' ``model(sample, timestep) -> v`` (the sample variance-preserving)."""

    def __init__(self, denoiser: Denoiser, scheduler):
        super().__init__()
        self.denoiser = denoiser
        ac = scheduler.alphas_cumprod.to(torch.float64)
        self.sigmas = ((1 - ac) / ac).sqrt()

    def t_of(self, timestep: torch.Tensor | float) -> torch.Tensor:
        """genlab's t for a diffusers timestep, through the noise level the scheduler assigns it."""
        tau = torch.as_tensor(timestep, dtype=torch.float64).clamp(0, len(self.sigmas) - 1)
        lo = tau.floor().long().clamp(max=len(self.sigmas) - 2)
        sigma = torch.lerp(self.sigmas[lo], self.sigmas[lo + 1], tau - lo)
        return self.denoiser.schedule.t_from_logsnr(-2 * sigma.log())

    def forward(self, sample: torch.Tensor, timestep, **cond) -> torch.Tensor:
        t = self.t_of(timestep).to(sample).expand(sample.shape[:1])
        return self.denoiser.v(sample, t, **cond)


@torch.no_grad()
def sample_diffusers(denoiser: Denoiser, name: str, nfe: int, x1: torch.Tensor, cond: dict | None = None):
    """diffusers' scheduler ``name`` with ``nfe`` evaluations from the unit-variance noise x1."""
    scheduler = make_scheduler(name, denoiser.schedule)
    scheduler.set_timesteps(steps_for_nfe("heun" if name == "HeunDiscreteScheduler" else "ddim", nfe))
    model = DiffusersModel(denoiser, scheduler)
    x = x1 * scheduler.init_noise_sigma
    for tau in scheduler.timesteps:
        v = model(scheduler.scale_model_input(x, tau), tau, **(cond or {}))
        x = scheduler.step(v, tau, x).prev_sample
    return x


def mapped_grid(name: str, denoiser: Denoiser, nfe: int, batch: int) -> torch.Tensor:
    """The genlab grid that diffusers' DDIM / Euler / DPM-Solver++ walk, through the mapping."""
    scheduler = make_scheduler(name, denoiser.schedule)
    scheduler.set_timesteps(nfe)
    t = DiffusersModel(denoiser, scheduler).t_of(scheduler.timesteps)
    return torch.cat([t, t.new_zeros(1)])[:, None].expand(-1, batch).float()


def check_mapping(denoiser: Denoiser, x1: torch.Tensor, nfe: int = 10) -> dict[str, float]:
    """Max |diffusers - genlab| for the three schedulers that have an exact genlab twin."""
    twins = {
        "DDIMScheduler": sample_ddim,
        "EulerDiscreteScheduler": sample_ddim,  # Euler in sigma = x / alpha is DDIM
        "DPMSolverMultistepScheduler": sample_dpmpp_2m,
    }
    out = {}
    for name, twin in twins.items():
        grid = mapped_grid(name, denoiser, nfe, x1.shape[0]).to(x1)
        ours = twin(denoiser, x1, grid)
        out[name] = (sample_diffusers(denoiser, name, nfe, x1) - ours).abs().max().item()
    return out


class Counting(nn.Module):
    """Counts network evaluations (one classifier-free-guided call is one evaluation)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.calls = net, 0

    def forward(self, *args, **kwargs):
        self.calls += 1
        return self.net(*args, **kwargs)


def _timed(repeats: int, fn, *args, **kwargs):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return out, statistics.median(times)


class TinyV(nn.Module):
    """A v-prediction network that costs next to nothing: v = W x + b t (t genlab's or a timestep)."""

    def __init__(self, dim: int = 2):
        super().__init__()
        self.lin = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, t, **cond) -> torch.Tensor:
        return self.lin(x) + torch.as_tensor(t, dtype=x.dtype).reshape(-1, 1) * 1e-3


@torch.no_grad()
def _dpm_runs(steps: int, batch: int = 64):
    """(genlab run, diffusers run) of DPM-Solver++(2M) with ``steps`` steps around ``TinyV``."""
    from genlab.core.diffusion import get_schedule

    torch.manual_seed(0)
    net, sch = TinyV(), get_schedule("cosine")
    den = Denoiser(net, sch, "v")
    x1 = torch.randn(batch, 2)
    grid = mapped_grid("DPMSolverMultistepScheduler", den, steps, batch)
    scheduler = make_scheduler("DPMSolverMultistepScheduler", sch)

    def ours():
        return sample_dpmpp_2m(den, x1, grid)

    def theirs():
        scheduler.set_timesteps(steps)
        x = x1
        for tau in scheduler.timesteps:
            x = scheduler.step(net(x, tau), tau, x).prev_sample
        return x

    return ours, theirs


def _aten_ops(fn) -> int:
    """aten operators dispatched while ``fn`` runs."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.n += 1
            return func(*args, **(kwargs or {}))

    with Count():
        fn()
    return Count.n


def overhead(steps: int = 20, rounds: int = 15, repeats: int = 20) -> None:
    """Per-step seconds and aten operators of both sides, from runs of ``steps`` and 2 ``steps``."""
    short, long = _dpm_runs(steps), _dpm_runs(2 * steps)
    ops = [(_aten_ops(long[i]) - _aten_ops(short[i])) / steps for i in (0, 1)]
    ratios, per_step = [], {0: [], 1: []}
    for _ in range(rounds + 1):  # the first round warms up
        cost = []
        for i in (0, 1):  # genlab, then diffusers, within the round
            spent = []
            for fns in (short, long):
                start = time.perf_counter()
                for _ in range(repeats):
                    fns[i]()
                spent.append((time.perf_counter() - start) / repeats)
            cost.append((spent[1] - spent[0]) / steps)
        for i in (0, 1):
            per_step[i].append(cost[i])
        ratios.append(cost[0] / cost[1])
    ratios, us = ratios[1:], [[c * 1e6 for c in per_step[i][1:]] for i in (0, 1)]
    q = statistics.quantiles(ratios, n=4)
    print(
        f"DPM-Solver++(2M) per-step overhead around a tiny network, {rounds} interleaved rounds, "
        f"{torch.get_num_threads()} thread(s), batch 64 x 2, {steps} vs {2 * steps} steps"
    )
    print(f"aten ops per step: genlab {ops[0]:.0f}, diffusers {ops[1]:.0f}")
    print(
        f"microseconds per step (median): genlab {statistics.median(us[0]):.0f}, "
        f"diffusers {statistics.median(us[1]):.0f}"
    )
    print(
        f"ratio genlab / diffusers per round: median {statistics.median(ratios):.3f}, "
        f"quartiles {q[0]:.3f}-{q[2]:.3f}, range {min(ratios):.3f}-{max(ratios):.3f}"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--overhead", action="store_true", help="per-step overhead only (no run needed)")
    p.add_argument("--run", help="a diffusion-digits run directory")
    p.add_argument("--nfe", default="5,10,20,50")
    p.add_argument("--samplers", default=",".join(PAIRS))
    p.add_argument("--guidance", type=float, default=None, help="CFG scale w (default: the run's)")
    p.add_argument("--n", type=int, default=1000, help="samples per setting")
    p.add_argument("--repeats", type=int, default=1, help="timed repeats (median)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--grids", default="", help="genlab grid per sampler, e.g. dpmpp_2m=uniform,euler=uniform")
    args = p.parse_args(argv)
    if args.overhead:
        torch.set_num_threads(args.threads)
        return overhead()
    if args.run is None:
        p.error("--run is required unless --overhead")
    grids = dict(item.split("=") for item in args.grids.split(",") if item)
    torch.set_num_threads(args.threads)

    from genlab.core.data import GaussianMixture
    from genlab.core.diffusion import MixtureDenoiser
    from genlab.core.run import load_run

    _, cfg, task, model = load_run(Path(args.run))
    mixture = GaussianMixture(torch.tensor([[-1.0, 0.5], [1.0, -0.5]]), torch.tensor([0.3, 0.5]))
    exact = Denoiser(MixtureDenoiser(mixture, task.schedule), task.schedule, "x0")
    x_check = torch.randn(256, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    errors = check_mapping(exact, x_check)
    print("mapping check, max |diffusers - genlab| on an exact mixture denoiser (float64, 10 steps):")
    print(", ".join(f"{k} {v:.2e}" for k, v in errors.items()) + "\n")

    w = cfg.guidance if args.guidance is None else args.guidance
    counter = Counting(model)
    den = task.denoiser(counter, w)
    x1 = task.eval.noise[: args.n] if args.n <= len(task.eval.noise) else torch.randn(args.n, 1, 8, 8)
    y = (torch.arange(args.n) % 10)[: args.n]
    cond = {"y": y}
    print(f"{args.run}: w = {w:g}, {args.n} samples, {torch.get_num_threads()} thread(s)\n")
    print(
        "| sampler | NFE | FD genlab | FD diffusers | FD ratio | acc genlab | acc diffusers | time genlab (s) | time diffusers (s) | time ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key in args.samplers.split(","):
        sampler, grid, scheduler = PAIRS[key]
        grid = grids.get(key, grid)
        for nfe in (int(v) for v in args.nfe.split(",")):
            counter.calls = 0
            ours, t_ours = _timed(args.repeats, sample_nfe, den, sampler, grid, nfe, x1, cond=cond)
            calls, counter.calls = counter.calls // args.repeats, 0
            theirs, t_theirs = _timed(args.repeats, sample_diffusers, den, scheduler, nfe, x1, cond)
            if counter.calls // args.repeats != calls:
                raise RuntimeError(
                    f"{key} at {nfe} NFE: genlab made {calls} calls, diffusers {counter.calls}"
                )
            m_ours = task.eval((ours + 1).div(2).clamp(0, 1))
            m_theirs = task.eval((theirs + 1).div(2).clamp(0, 1))
            fd_o, fd_t = m_ours["fd_digits"], m_theirs["fd_digits"]
            print(
                f"| {key} ({grid}) | {calls} | {fd_o:.2f} | {fd_t:.2f} | {fd_o / fd_t:.3f} | {m_ours['accuracy']:.3f} | "
                f"{m_theirs['accuracy']:.3f} | {t_ours:.2f} | {t_theirs:.2f} | {t_ours / t_theirs:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
