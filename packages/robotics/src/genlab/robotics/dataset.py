"""D4RL's Maze2D dataset (Fu et al., 2020) rebuilt in PointMaze, stored and loaded with Minari.

Diffuser (Janner et al., 2022) learns from one long stream in which D4RL's waypoint controller drives the
point mass to a random goal cell, then to the next, and so on. We record the same stream: at step t the
observation (x, y, vx, vy), the goal the controller drives to, its action and the env's sparse reward
(distance <= 0.45). Once the agent comes within ``GOAL_RADIUS`` of the goal, a new goal is drawn: a free
cell other than the current one, jittered by the env's own reset noise U(-0.25, 0.25), at least
``GOAL_RADIUS`` away. D4RL's reward radius was 0.5; we switch at the env's 0.45 so that every goal arrival
earns its reward (at 0.5 the goal would move before the agent scores).

Segments, after Diffuser's ``maze2d_set_terminals``: a step that brings the agent into the goal region ends a
segment (the agent then leaves it for the next goal), one Minari episode per goal. The env does not end there
(``continuing_task=True``; D4RL's maze2d had no terminals either), so the flags say what the env says:
``terminations`` False everywhere, ``truncations`` True on the last step of every episode (the data collector
cut the stream there: a new goal, or the end of the recording). An arrival is visible in the reward (1 only on
the step that reaches the goal). The dataset's metadata (``genlab.flags``) says the same. Episodes are
contiguous (an episode's final observation is the next one's first), so the flat arrays of ``load_dataset``
are the original stream and windows of any horizon may cross segments.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import minari
import numpy as np
import torch
from minari.data_collector.episode_buffer import EpisodeBuffer
from minari.namespace import create_namespace, list_local_namespaces
from tqdm import tqdm

from genlab.robotics.controller import WaypointController
from genlab.robotics.mazes import GOAL_RADIUS, control_dt, get_maze, make_env, reset_to, set_goal

NAMESPACE = "genlab"
VERSION = 1  # v1: no goal arrival stored as a termination (v0 stored each one)
FLAGS = (
    "terminations: always False, the env (continuing_task=True) never terminates; truncations: True on the "
    "last step of each episode, where the collector moved the goal (reward 1 on that step) or the recording "
    "ended; the stream continues into the next episode"
)


@dataclass(frozen=True, eq=False)
class MazeDataset:
    """The stream as flat arrays: step t goes from ``observations[t]`` to ``next_observations[t]``."""

    maze: str
    dt: float
    observations: np.ndarray  # [N, 4] (x, y, vx, vy), float64
    next_observations: np.ndarray  # [N, 4]
    actions: np.ndarray  # [N, 2] float32 in [-1, 1]
    goals: np.ndarray  # [N, 2] the goal the controller drives to at step t
    rewards: np.ndarray  # [N] sparse, 1 within 0.45 of the goal after the step
    terminals: np.ndarray  # [N] bool, the env's terminations: all False (the task continues)
    timeouts: np.ndarray  # [N] bool, the last step of each segment (goal reached, or the stream's end)

    def __len__(self) -> int:
        return len(self.actions)

    def tensors(self, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
        """The arrays as torch tensors, floats in ``dtype``, flags as bool."""
        arrays = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        return {
            k: torch.as_tensor(v, dtype=torch.bool if v.dtype == bool else dtype) for k, v in arrays.items()
        }


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$GENLAB_DATA/robotics``, else ``~/.cache/genlab/robotics``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return Path(os.environ.get("GENLAB_DATA", "~/.cache/genlab")).expanduser() / "robotics"


def dataset_id(maze: str, n_steps: int, seed: int) -> str:
    """The Minari id of a build, e.g. ``genlab/pointmaze-umaze-100000-s0-v1``."""
    get_maze(maze)
    return f"{NAMESPACE}/pointmaze-{maze}-{n_steps}-s{seed}-v{VERSION}"


@contextmanager
def minari_root(root: Path):
    """Point Minari at ``root`` (``MINARI_DATASETS_PATH``), so that it reads and writes only there."""
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        yield
    finally:
        if old is None:
            del os.environ["MINARI_DATASETS_PATH"]
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def generate_stream(maze: str, n_steps: int, seed: int, progress: bool = True) -> dict[str, np.ndarray]:
    """Run the controller between random goals for ``n_steps``; arrays of the stream (see the module doc)."""
    if n_steps < 1:
        raise ValueError(f"n_steps must be positive, got {n_steps}")
    layout = get_maze(maze)
    env = make_env(maze).unwrapped  # no time limit: one continuous stream
    rng = np.random.default_rng(seed)
    cells = layout.free_cells
    start, goal_cell = rng.choice(len(cells), size=2, replace=False)
    obs, _ = reset_to(env, maze, cells[start], cells[goal_cell], seed=seed)
    noise = env.position_noise_range * layout.maze.maze_size_scaling
    controller = WaypointController(maze, rng=rng)
    stream = {
        "observations": np.zeros((n_steps + 1, 4)),
        "actions": np.zeros((n_steps, 2), dtype=np.float32),
        "goals": np.zeros((n_steps, 2)),
        "rewards": np.zeros(n_steps),
        "arrivals": np.zeros(n_steps, dtype=bool),
    }
    goal = obs["desired_goal"]
    for t in tqdm(range(n_steps), desc=f"pointmaze-{maze}", disable=not progress, mininterval=1.0):
        stream["observations"][t], stream["goals"][t] = obs["observation"], goal
        stream["actions"][t] = controller(obs["observation"], goal)
        obs, stream["rewards"][t], *_ = env.step(stream["actions"][t])
        position = obs["achieved_goal"]
        if np.linalg.norm(position - goal) <= GOAL_RADIUS:
            stream["arrivals"][t] = True
            others = cells[(cells != layout.xy_to_cell(position)).any(axis=1)]
            while np.linalg.norm(position - goal) <= GOAL_RADIUS:
                goal = layout.cell_to_xy(others[rng.integers(len(others))]) + rng.uniform(-noise, noise, 2)
            set_goal(env, maze, goal)
    stream["observations"][n_steps] = obs["observation"]
    env.close()
    return stream


def episode_buffers(stream: dict[str, np.ndarray]) -> list[EpisodeBuffer]:
    """Cut the stream into Minari episodes after every goal arrival, each truncated (never terminated)."""
    ends = list(np.flatnonzero(stream["arrivals"]) + 1)
    if not stream["arrivals"][-1]:
        ends.append(len(stream["arrivals"]))
    buffers = []
    for i, (s, e) in enumerate(zip([0, *ends[:-1]], ends)):
        obs = stream["observations"][s : e + 1]
        goals = np.concatenate([stream["goals"][s:e], stream["goals"][e - 1 : e]])
        truncations = np.zeros(e - s, dtype=bool)
        truncations[-1] = True
        buffers.append(
            EpisodeBuffer(
                id=i,
                observations={"observation": obs, "achieved_goal": obs[:, :2].copy(), "desired_goal": goals},
                actions=stream["actions"][s:e],
                rewards=stream["rewards"][s:e],
                terminations=np.zeros(e - s, dtype=bool),
                truncations=truncations,
            )
        )
    return buffers


def build_dataset(
    maze: str,
    n_steps: int,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> MazeDataset:
    """Generate, store and load the dataset of ``maze``; a cached build with the same id is loaded instead."""
    root = cache_root(cache_dir)
    ds_id = dataset_id(maze, n_steps, seed)
    if not (root / ds_id / "data").exists():
        root.mkdir(parents=True, exist_ok=True)
        stream = generate_stream(maze, n_steps, seed, progress)
        env = make_env(maze)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
        try:  # written aside, then moved into place, so an interrupted build leaves no half dataset
            with minari_root(tmp), warnings.catch_warnings():
                warnings.filterwarnings(
                    "ignore", message="`(code_permalink|author_email|eval_env)` is set to None"
                )
                ds = minari.create_dataset_from_buffers(
                    ds_id,
                    episode_buffers(stream),
                    env=env,
                    algorithm_name="D4RL waypoint controller (genlab.robotics.controller)",
                    author="genlab",
                    description=f"D4RL-style Maze2D data in {get_maze(maze).env_id}: {n_steps} steps, seed {seed}",
                )
                ds.storage.update_metadata(
                    {
                        "genlab": {
                            "maze": maze,
                            "n_steps": n_steps,
                            "seed": seed,
                            "dt": control_dt(env),
                            "flags": FLAGS,
                        }
                    }
                )
            with minari_root(root):
                if NAMESPACE not in list_local_namespaces():
                    create_namespace(NAMESPACE, description="genlab datasets, generated locally")
            if not (root / ds_id / "data").exists():  # else a concurrent build finished first
                os.replace(tmp / ds_id, root / ds_id)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            env.close()
    return load_dataset(maze, n_steps, seed, cache_dir)


def load_dataset(
    maze: str, n_steps: int, seed: int = 0, cache_dir: str | os.PathLike | None = None
) -> MazeDataset:
    """Load a build of ``build_dataset``; a FileNotFoundError naming the build command if it is missing."""
    root = cache_root(cache_dir)
    ds_id = dataset_id(maze, n_steps, seed)
    if not (root / ds_id / "data").exists():
        found = sorted(p.name for p in (root / NAMESPACE).glob(f"pointmaze-{maze}-*"))
        raise FileNotFoundError(
            f"no dataset {ds_id} in {root} (cached for {maze}: {', '.join(found) or 'none'}); build it with\n"
            f"  genlab-robotics data build --maze {maze} --steps {n_steps} --seed {seed} --out {root}\n"
            f"or genlab.robotics.dataset.build_dataset({maze!r}, {n_steps}, seed={seed}, cache_dir={str(root)!r})"
        )
    with minari_root(root):
        ds = minari.load_dataset(ds_id)
    meta = ds.storage.metadata["genlab"]
    episodes = list(ds.iterate_episodes())
    obs = [ep.observations["observation"] for ep in episodes]
    cat = np.concatenate
    return MazeDataset(
        maze=maze,
        dt=float(meta["dt"]),
        observations=cat([o[:-1] for o in obs]),
        next_observations=cat([o[1:] for o in obs]),
        actions=cat([ep.actions for ep in episodes]),
        goals=cat([ep.observations["desired_goal"][:-1] for ep in episodes]),
        rewards=cat([ep.rewards for ep in episodes]),
        terminals=cat([ep.terminations for ep in episodes]).astype(bool),
        timeouts=cat([ep.truncations for ep in episodes]).astype(bool),
    )
