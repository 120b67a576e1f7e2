"""MuJoCo renders of maze episodes, written as GIFs: the executed rollout as the simulator shows it.

Rendering needs an OpenGL context. Headless machines have none for GLFW, so unless ``MUJOCO_GL`` is
set, EGL is used (``MUJOCO_GL=egl``; gymnasium reads the variable when the first renderer is made).
Without a working backend, ``render_episode`` raises a ``RuntimeError`` that says so. Mesa's
software EGL loads its own LLVM, after which importing triton (which torch imports lazily, e.g. for
torch.compile) segfaults; triton is therefore imported before the first render.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

import numpy as np
from PIL import Image

from genlab.robotics.mazes import make_env
from genlab.robotics.scores import MazeTask, Policy, run_episode


def render_episode(
    maze: str, policy: Policy, task: MazeTask, every: int = 2
) -> tuple[list[np.ndarray], float]:
    """(frames [H, W, 3] uint8 of every ``every``-th step, the episode's return) of ``policy`` on ``task``."""
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    os.environ.setdefault("MUJOCO_GL", "egl")
    if importlib.util.find_spec("triton"):  # Mesa's EGL loads an LLVM that crashes a later triton import
        importlib.import_module("triton")
    env = make_env(maze, render_mode="rgb_array")
    frames: list[np.ndarray] = []
    calls = iter(range(10**9))

    def grab(env):
        if next(calls) % every:
            return
        try:
            frames.append(env.render())
        except Exception as err:  # MuJoCo reports a missing GL platform as a FatalError or AttributeError
            if frames:
                raise
            gl = os.environ["MUJOCO_GL"]
            raise RuntimeError(f"MuJoCo cannot render here (MUJOCO_GL={gl}): {err}") from err

    try:
        total, *_ = run_episode(env, maze, policy, task, on_step=grab)
    finally:
        env.close()
    return frames, total


def write_gif(frames: list[np.ndarray], path: str | Path, fps: int = 25, width: int = 240) -> Path:
    """An endlessly looping GIF of ``frames``, resized to ``width`` pixels across."""
    if not frames:
        raise ValueError("no frames to write")
    path = Path(path)
    h, w = frames[0].shape[:2]
    size = (width, max(1, round(h * width / w)))
    images = [Image.fromarray(np.asarray(f, dtype=np.uint8)).resize(size, Image.LANCZOS) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return path
