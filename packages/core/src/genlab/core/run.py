"""The run directory contract, shared by ``genlab train``, ``sample`` and ``eval``.

runs/<recipe>/<stamp>/ holds config.json, checkpoints/, metrics.jsonl, eval.json, samples.png
(or .gif), loss.png and report.md. A run directory is enough to rebuild the task, reload the EMA
weights and sample or evaluate again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import platform
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from genlab.core import __version__, checkpoint, distributed
from genlab.core.errors import GenlabError, RunDirError
from genlab.core.plotting import plot_loss
from genlab.core.recipe import Recipe, Task, get_recipe, parse_fields
from genlab.core.trainer import TrainConfig, Trainer, run_dir_lock

LATEST = "latest"  # out/<recipe>/latest: a symbolic link to the newest run of the recipe


def new_run_dir(out: Path, recipe: str) -> Path:
    """A fresh ``out/<recipe>/<stamp>`` chosen on rank 0 and shared with every rank."""
    path = None
    if not distributed.active() or torch.distributed.get_rank() == 0:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = out / recipe / stamp
        n = 1
        try:
            while path.exists():
                path, n = out / recipe / f"{stamp}-{n}", n + 1
            path.mkdir(parents=True)
        except OSError as err:  # a file, /dev/null, a name too long, no permission, a full disk
            raise ValueError(f"--out {out}: cannot make a run directory there ({err.strerror})") from None
        point_latest(path)
    return Path(distributed.broadcast(str(path)))


def point_latest(run_dir: Path) -> None:
    """Make ``<recipe folder>/latest`` a relative link to ``run_dir``, replaced atomically."""
    link = run_dir.parent / LATEST
    tmp = run_dir.parent / f".{LATEST}.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_dir.name, target_is_directory=True)
    tmp.replace(link)


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=str))
    tmp.replace(path)


def train(
    recipe: Recipe, cfg: TrainConfig, preset: str, out: Path = Path("runs"), run_dir: Path | None = None
) -> Path:
    """Train ``recipe`` with ``cfg`` into a new run directory (or resume ``run_dir``); return its path."""
    info = distributed.setup(cfg.device)
    torch.manual_seed(cfg.seed)
    task = recipe.build(cfg)  # a bad config fails here, before a run directory exists
    run_dir = Path(run_dir) if run_dir else new_run_dir(Path(out), recipe.name)
    with run_dir_lock(run_dir if info.is_main else None):  # one writer per run, to the end of finish()
        return _train_in(run_dir, recipe, task, cfg, preset, info)


def _train_in(
    run_dir: Path, recipe: Recipe, task: Task, cfg: TrainConfig, preset: str, info: distributed.DistInfo
) -> Path:
    if info.is_main and not (run_dir / "config.json").exists():
        _write_json(
            run_dir / "config.json",
            {
                "recipe": recipe.name,
                "package": recipe.package,
                "preset": preset,
                "config": dataclasses.asdict(cfg),
                "genlab_version": __version__,
            },
        )
    started = time.perf_counter()
    if hasattr(task, "fit"):
        ema, start_step = task.fit(cfg, run_dir), None
    else:
        trainer = Trainer(
            task.model, task.loss, task.train_set, cfg, run_dir, functools.partial(progress, run_dir, task)
        )
        ema, start_step = trainer.fit(), trainer.start_step
    if info.is_main:
        timing = {"train_seconds": time.perf_counter() - started, "resumed_from": start_step}
        finish(run_dir, task, ema, timing)
    distributed.barrier()
    return run_dir


def progress(run_dir: Path, task: Task, model: torch.nn.Module, step: int) -> dict[str, float]:
    """A periodic evaluation during training: the numbers, plus a sample grid in progress/step-N.png."""
    model.eval()
    (run_dir / "progress").mkdir(exist_ok=True)
    task.save_samples(task.sample(model, task.n_show), run_dir / "progress" / f"step-{step:08d}.png")
    results = task.evaluate(model)
    model.train()
    return results


def train_stage(
    name: str, model: torch.nn.Module, loss_fn, dataset, cfg: TrainConfig, run_dir: Path | None, evaluate=None
) -> torch.nn.Module:
    """One stage of a multi-stage recipe, checkpointed (and resumable) under ``run_dir/stages/name``;
    returns its EMA model. With ``name=""`` the stage is the run's final model, in ``run_dir``."""
    stage_dir = (Path(run_dir) / "stages" / name if name else Path(run_dir)) if run_dir else None
    return Trainer(model, loss_fn, dataset, cfg, stage_dir, evaluate=evaluate).fit()


def finish(run_dir: Path, task: Task, model: torch.nn.Module, timing: dict[str, float]) -> dict[str, float]:
    """Evaluate, sample and write eval.json, the sample figure, loss.png and report.md."""
    model.eval()
    started = time.perf_counter()
    results = task.evaluate(model)
    results["eval_seconds"] = time.perf_counter() - started
    _write_json(run_dir / "eval.json", results)
    samples = task.sample(model, task.n_show)
    with whole_files_only(run_dir):
        figure = task.save_samples(samples, run_dir / "samples.png")
        if (run_dir / "metrics.jsonl").exists():
            plot_loss(run_dir / "metrics.jsonl", run_dir / "loss.png")
        write_report(run_dir, results, timing, figure)
    return results


@contextlib.contextmanager
def whole_files_only(directory: Path):
    """Remove the files written in ``directory`` by the block if the disk fills up in it: a figure cut
    short is worse than none. Files that were already complete before the block are kept."""
    before = {p: p.stat().st_mtime_ns for p in directory.iterdir() if p.is_file()}
    try:
        yield
    except OSError as err:
        if not checkpoint.disk_full(err):
            raise
        partial = [p for p in directory.iterdir() if p.is_file() and before.get(p) != p.stat().st_mtime_ns]
        for path in partial:
            path.unlink(missing_ok=True)
        removed = ", ".join(p.name for p in partial) or "nothing"
        raise GenlabError(
            f"the disk is full while writing in {directory}: removed the partial {removed}"
        ) from err


def evaluate_run(
    run_dir: Path, overrides: Mapping[str, str] | None = None, out: Path | None = None
) -> dict[str, float]:
    """Re-evaluate a trained run into ``out`` (default: the run itself). Changed fields (``overrides``,
    e.g. sampling settings) need an ``out`` of their own, so that the run's eval.json stays the one of
    its config.json; ``out`` then gets a config.json naming the run and the overrides."""
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir
    elsewhere = out.resolve() != run_dir.resolve()
    if overrides and not elsewhere:
        raise ValueError(
            f"evaluating with changed fields ({', '.join(overrides)}) needs --out DIR: "
            "the run's own eval.json stays the evaluation of its saved config"
        )
    _, cfg, task, model = load_run(run_dir, overrides)
    if elsewhere:
        out.mkdir(parents=True, exist_ok=True)
        saved = json.loads((run_dir / "config.json").read_text())
        record = {"config": dataclasses.asdict(cfg), "evaluated_from": str(run_dir.resolve())}
        _write_json(out / "config.json", saved | record | {"overrides": dict(overrides or {})})
    return finish(out, task, model, {"train_seconds": float("nan")})


def write_report(run_dir: Path, results: dict[str, float], timing: dict[str, float], figure: Path) -> None:
    config = json.loads((run_dir / "config.json").read_text())
    rows = "\n".join(
        f"| {k} | {v:.6g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in results.items()
    )
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or "cpu"
    stages = sorted(p.name for p in (run_dir / "stages").glob("*"))
    what = f"{config['config']['steps']} steps"
    if stages:  # multi-stage recipes: the time covers every stage trained in this process
        what = f"the stages {', '.join(stages)} and a final stage of {what}"
    seconds = timing["train_seconds"]
    took = "" if seconds != seconds else f" in {seconds:.1f} s"  # NaN: re-evaluated, not trained here
    if "evaluated_from" in config:
        what += f" (the run {config['evaluated_from']}, evaluated with {config['overrides'] or 'its config'})"
    loss = "## Training loss\n\n![loss](loss.png)\n" if (run_dir / "loss.png").is_file() else ""
    text = f"""# {config["recipe"]} ({config["preset"]} preset)

Trained {what}{took} on {device}
({torch.get_num_threads()} threads), genlab {config["genlab_version"]}, torch {torch.__version__}.
Resumed from step {timing.get("resumed_from") or 0}.

## Evaluation

| metric | value |
|---|---|
{rows}

## Samples

![samples]({figure.name})

{loss}
## Config

```json
{json.dumps(config["config"], indent=1)}
```
"""
    (run_dir / "report.md").write_text(text)


def saved_config(run_dir: Path) -> tuple[str, TrainConfig, str]:
    """(recipe name, config, preset) recorded in a run directory's config.json."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise RunDirError(f"{run_dir} is not a genlab run directory (no config.json)")
    try:
        saved = json.loads((run_dir / "config.json").read_text())
        recipe = get_recipe(saved["recipe"])
        return recipe.name, recipe.config(**saved["config"]), saved.get("preset", "default")
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise RunDirError(f"{run_dir}/config.json is corrupt or from another version: {err}") from err


def load_run(
    run_dir: Path, overrides: Mapping[str, str] | None = None
) -> tuple[Recipe, TrainConfig, Task, torch.nn.Module]:
    """Rebuild a run's task (its saved config, with ``overrides`` such as sampling settings) and load its
    EMA weights from the latest checkpoint."""
    run_dir = Path(run_dir)
    name, cfg, _ = saved_config(run_dir)
    recipe = get_recipe(name)
    if overrides:
        cfg = dataclasses.replace(cfg, **parse_fields(type(cfg), overrides))
    found = checkpoint.latest(run_dir / "checkpoints", need=checkpoint.EVAL_FILES)
    if found is None and (run_dir / "claims.json").is_file():
        raise RunDirError(
            f"{run_dir} is a {name} experiment: it has no model to sample or evaluate; its results are "
            f"in {run_dir / 'claims.json'} and {run_dir / 'report.md'}"
        )
    if found is None:
        raise RunDirError(f"{run_dir} has no checkpoint yet")
    torch.manual_seed(cfg.seed)
    task = recipe.build(cfg)
    checkpoint.load_weights(task.model, found.path / "ema.safetensors")
    if hasattr(task, "load_stages"):  # multi-stage recipes reload their earlier stages too
        task.load_stages(run_dir)
    return recipe, cfg, task, task.model.eval()


def resolve_run_dir(path: Path) -> Path:
    """A run directory given directly, or a recipe folder (``runs/<recipe>``) standing for its latest run."""
    path = Path(path)
    if (path / "config.json").is_file() or not path.is_dir():
        return path
    if (path / LATEST).exists():
        return (path / LATEST).resolve()
    runs = sorted(p.name for p in path.iterdir() if (p / "config.json").is_file())
    if runs:
        raise RunDirError(f"{path} holds the runs {', '.join(runs)} but no {LATEST} link: name one of them")
    raise RunDirError(f"{path} is not a genlab run directory (no config.json) nor a recipe folder of runs")
