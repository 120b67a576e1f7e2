"""A theory experiment as a genlab recipe task: numbers, figures and verdicts on a paper's claims.

A theory experiment is not one model trained once: it sweeps sizes, trains several small models or
evaluates closed forms, and ends in numbers and figures that support a claim or do not. ``Experiment``
fits that into the run-directory contract of every genlab recipe: ``fit`` runs the whole experiment
once (it may write extra figures into the run directory), ``evaluate`` returns its numbers
(eval.json), ``save_samples`` draws its main figure (samples.png), and ``claims`` states each claim
with the verdict of the numbers, written to claims.json for ``genlab-theory report``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from genlab.core.trainer import TrainConfig


@dataclass(frozen=True)
class Claim:
    """A paper's claim in words, whether our measurement supports it, and the numbers that decide it."""

    statement: str
    supported: bool
    evidence: str


def stage_config(cfg: TrainConfig, **changes) -> TrainConfig:
    """The plain TrainConfig part of an experiment's config, with ``changes``: the optimisation settings
    of one of the models the experiment trains."""
    return TrainConfig(**({f.name: getattr(cfg, f.name) for f in dataclasses.fields(TrainConfig)} | changes))


class Experiment:
    """Subclasses set ``title`` and ``setup`` (a paragraph: what is measured and how) and implement
    ``run``, ``claims`` and ``plot``."""

    title = ""
    setup = ""
    n_show = 0

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.model = nn.Identity()  # the run machinery wants a model; experiments keep their own
        self.train_set = TensorDataset(torch.zeros(1))
        self.results: dict[str, float] | None = None

    def run(self, run_dir: Path) -> dict[str, float]:
        """Do the experiment; return its flat numbers. Extra figures may be written into ``run_dir``."""
        raise NotImplementedError

    def claims(self, results: dict[str, float]) -> list[Claim]:
        raise NotImplementedError

    def plot(self, results: dict[str, float], out: Path) -> Path:
        """The experiment's main figure."""
        raise NotImplementedError

    # The Task protocol of genlab.core.recipe.
    def fit(self, cfg: TrainConfig, run_dir: Path) -> nn.Module:
        run_dir = Path(run_dir)
        self.results = self.run(run_dir)
        claims = self.claims(self.results)
        record = {"title": self.title, "setup": self.setup, "claims": [asdict(c) for c in claims]}
        (run_dir / "claims.json").write_text(json.dumps(record, indent=1))
        return self.model

    def loss(self, model, batch):
        raise TypeError(f"{type(self).__name__} is an experiment: its fit() does the work, not a trainer")

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        if self.results is None:
            raise RuntimeError("run the experiment first (genlab train <recipe>)")
        claims = self.claims(self.results)
        return {
            **self.results,
            "claims_supported": float(sum(c.supported for c in claims)),
            "claims": float(len(claims)),
        }

    def sample(self, model: nn.Module, n: int) -> torch.Tensor:
        return torch.empty(0)

    def save_samples(self, samples: torch.Tensor, out: Path) -> Path:
        return self.plot(self.results, Path(out))
