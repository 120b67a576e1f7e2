"""``flow-digits``: class-conditional flow matching on 8x8 digits (Lipman et al. 2023) with the core
U-Net, classifier-free guidance on the velocity, and optionally label-aware minibatch OT couplings
(Tong et al. 2024). It is ``diffusion-digits`` read on the linear path with velocity prediction: the
CFM loss E ||v(x_t, t) - (x1 - x0)||^2 is the diffusion loss of the velocity kind on the
rectified-flow schedule, and the same samplers integrate the same ODE, so the two recipes share
their model, evaluation and guidance and differ only in what is the paper's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

from genlab.core.diffusion import drop_condition
from genlab.core.diffusion.registry import GridName, KindName, SamplerName, ScheduleName
from genlab.core.flow.couplings import label_ot
from genlab.core.flow.matching import cfm_loss
from genlab.core.recipe import Recipe
from genlab.core.recipes.diffusion_digits import N_CLASSES, DiffusionDigitsConfig, DiffusionDigitsTask
from genlab.core.recipes.diffusion_digits import RECIPE as DIFFUSION_RECIPE


@dataclass
class FlowDigitsConfig(DiffusionDigitsConfig):
    schedule: ScheduleName = "rectified_flow"
    kind: KindName = "velocity"
    sampler: SamplerName = "heun"
    grid: GridName = "uniform"
    # pairs noise and images at random, or by exact OT within each batch's digit class
    coupling: Literal["independent", "label-ot"] = "independent"


class FlowDigitsTask(DiffusionDigitsTask):
    def __init__(self, cfg: FlowDigitsConfig):
        if (cfg.schedule, cfg.kind) != ("rectified_flow", "velocity"):
            raise ValueError(
                "flow-digits trains a velocity on the linear path: use diffusion-digits for other kinds"
            )
        super().__init__(cfg)
        self.coupling = partial(label_ot) if cfg.coupling == "label-ot" else None

    def loss(self, model, batch):
        x0, y = batch
        y = drop_condition(y, self.cfg.p_uncond, N_CLASSES)
        return cfm_loss(model, x0, path=self.schedule, coupling=self.coupling, y=y), {}


RECIPE = Recipe(
    name="flow-digits",
    description="Class-conditional flow matching on 8x8 digits with a U-Net, CFG and label-aware OT couplings",
    config=FlowDigitsConfig,
    build=FlowDigitsTask,
    presets=DIFFUSION_RECIPE.presets,
)
