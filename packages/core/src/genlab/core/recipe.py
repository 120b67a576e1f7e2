"""Recipes: a typed config (a TrainConfig dataclass) plus a builder, registered by entry point.

Every genlab package lists its recipes under the entry-point group ``genlab.recipes``, so
installing a package adds its recipes to the one ``genlab`` CLI. A recipe's ``build(config)``
returns a ``Task``: the model, its training data and loss, and how to sample and evaluate it.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import tokenize
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn
from torch.utils.data import Dataset

from genlab.core import catalog
from genlab.core.catalog import PRESETS
from genlab.core.lookup import unknown
from genlab.core.trainer import TrainConfig


class Task(Protocol):
    """What a recipe builds; the run machinery needs nothing else.

    A multi-stage recipe (a teacher then a student, 1-RF then reflows) also defines
    ``fit(cfg, run_dir) -> model``: it trains its earlier stages with ``run.train_stage`` under
    ``run_dir/stages/<name>`` and its final model in ``run_dir`` itself, whose checkpoints
    ``genlab sample`` and ``genlab eval`` then load into ``task.model``.
    """

    model: nn.Module
    train_set: Dataset
    n_show: int  # how many samples the run's figure shows

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]: ...

    def evaluate(self, model: nn.Module) -> dict[str, float]: ...

    def sample(self, model: nn.Module, n: int) -> torch.Tensor: ...

    def save_samples(self, samples: torch.Tensor, out: Path) -> Path: ...


@dataclass(frozen=True)
class Recipe:
    """A named experiment: config class, presets (field overrides) and a builder."""

    name: str
    description: str
    config: type[TrainConfig]
    build: Callable[[Any], Task]
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    package: str = ""

    def make_config(self, preset: str = "default", overrides: Mapping[str, str] | None = None) -> TrainConfig:
        """The dataclass defaults, then the preset's overrides, then the user's (parsed by field type)."""
        if preset not in PRESETS:
            raise ValueError(
                f"unknown preset {preset!r} for recipe {self.name}: use one of {', '.join(PRESETS)}"
            )
        values = dict(self.presets.get(preset, {}))
        values.update(parse_fields(self.config, overrides or {}))
        return self.config(**values)


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _parse_value(name: str, kind: Any, text: str) -> Any:
    origin = typing.get_origin(kind)
    if origin is typing.Literal:
        choices = typing.get_args(kind)
        if text not in choices:
            raise ValueError(f"field {name} must be one of {', '.join(map(str, choices))}, got {text!r}")
        return text
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(kind) if a is not type(None)]
        return None if text.lower() == "none" else _parse_value(name, inner[0], text)
    if kind is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"field {name} expects true or false, got {text!r}")
    if kind in (int, float, str):
        try:
            return kind(text)
        except ValueError:
            raise ValueError(f"field {name} expects {kind.__name__}, got {text!r}") from None
    raise ValueError(f"field {name} of type {kind} cannot be set from the command line")


def parse_fields(cls: type, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Typed values for ``--field value`` pairs; unknown or ill-typed fields raise ValueError.

    A value of None is a bare ``--field``: true for a true/false field, an error for any other.
    """
    types_ = _field_types(cls)
    out = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in types_:
            raise unknown(f"config field of {cls.__name__}", name, types_)
        if value is None:
            if types_[name] is not bool:
                raise ValueError(
                    f"config field --{key} has no value (only true/false fields may stand alone)"
                )
            value = "true"
        out[name] = _parse_value(name, types_[name], value) if isinstance(value, str) else value
    return out


COMMON_FIELDS = {  # meanings of field names that recur across recipes; a field's own comment wins
    "hidden": "width of the network's hidden layers",
    "depth": "number of hidden layers (or blocks) of the network",
    "dim": "model width: channels or embedding size",
    "heads": "attention heads",
    "base": "U-Net channels at full resolution",
    "mults": "U-Net channel multipliers, one per resolution",
    "blocks": "U-Net residual blocks per resolution",
    "n_train": "training examples generated or drawn",
    "n_eval": "held-out examples or samples the evaluation uses",
    "eval_batch": "batch size of the evaluation",
    "density": "the target 2D density",
    "corpus": "the text corpus (shipped with Python or its packages)",
    "schedule": "noise schedule",
    "kind": "what the network predicts (eps, x0, v, ...), converted in closed form by the Denoiser",
    "t_sampler": "how training noise levels t are drawn",
    "p_uncond": "probability of dropping the condition in training (classifier-free guidance)",
    "sampler": "sampling method",
    "grid": "the sampler's time grid",
    "nfe": "network evaluations per sample",
    "sample_steps": "sampling steps per sample",
}


def field_docs(cls: type) -> dict[str, str]:
    """Each dataclass field's one-line meaning: the comment on its line, or the comment lines just above
    it, in the class (or base class) that declares it, else ``COMMON_FIELDS``."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        source = inspect.getsource(klass)
        comments = {
            tok.start[0]: tok.string.lstrip("#").strip()
            for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type == tokenize.COMMENT
        }
        lines = source.splitlines()
        for node in ast.parse(source).body[0].body:
            if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
                continue
            above, row = [], node.lineno - 1
            while row in comments and lines[row - 1].lstrip().startswith("#"):
                above.insert(0, comments[row])
                row -= 1
            doc = comments.get(node.end_lineno) or " ".join(above)
            if doc or node.target.id not in docs:
                docs[node.target.id] = doc or COMMON_FIELDS.get(node.target.id, "")
    return docs


def _load(entry: catalog.Entry) -> Recipe:
    recipe = entry.entry_point.load()
    if not isinstance(recipe, Recipe):
        raise TypeError(f"entry point {entry.name} = {entry.entry_point.value} is not a genlab Recipe")
    if recipe.name != entry.name:
        raise TypeError(f"entry point {entry.name} = {entry.entry_point.value} is the recipe {recipe.name!r}")
    return dataclasses.replace(recipe, package=entry.package)


def discover() -> dict[str, Recipe]:
    """Every recipe registered under the ``genlab.recipes`` entry-point group, imported (slow: this
    imports every installed package; ``catalog.installed()`` lists them without importing)."""
    return {name: _load(entry) for name, entry in catalog.installed().items()}


def get_recipe(name: str) -> Recipe:
    """Recipe ``name``, importing only its own module."""
    return _load(catalog.entry(name))
