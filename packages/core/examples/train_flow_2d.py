"""Flow matching on the checkerboard in library code: data, model, loss, trainer, sampler, metric.

uv run python packages/core/examples/train_flow_2d.py
"""

import torch
from torch.utils.data import TensorDataset

from genlab.core.data import get_density
from genlab.core.flow import cfm_loss, sample_flow
from genlab.core.metrics import sliced_wasserstein
from genlab.core.nn import TimeMLP
from genlab.core.plotting import scatter_2d
from genlab.core.trainer import TrainConfig, Trainer

torch.manual_seed(0)
density = get_density("checkerboard")
data = TensorDataset(density.sample(100_000))
model = TimeMLP(dim=2, hidden=256, depth=4)
cfg = TrainConfig(steps=6000, batch_size=1024, lr=2e-3, warmup=200, ckpt_every=0)

ema = Trainer(model, lambda net, x: (cfm_loss(net, x), {}), data, cfg).fit()

samples = sample_flow(ema, torch.randn(10_000, 2), steps=50, method="heun")
held_out = density.sample(10_000)
print(f"sliced Wasserstein to held-out data: {sliced_wasserstein(samples, held_out):.4f}")
scatter_2d({"target": held_out, "samples": samples}, "flow_2d.png")
