"""MuJoCo renders of an episode and the GIF writer (skipped where no OpenGL backend exists)."""

import numpy as np
import pytest
from PIL import Image

from genlab.robotics import scores
from genlab.robotics.rendering import render_episode, write_gif


def test_expert_episode_renders_to_a_gif(tmp_path):
    task = scores.make_tasks("umaze", 1, seed=0)[0]
    policy = scores.expert_policy("umaze")(task)
    try:
        frames, total = render_episode("umaze", policy, task, every=50)
    except RuntimeError as err:
        pytest.skip(str(err))
    assert len(frames) == 300 // 50 and frames[0].shape == (480, 480, 3) and frames[0].dtype == np.uint8
    assert frames[0].std() > 10 and not np.array_equal(frames[0], frames[-1])  # a scene, and it moves
    assert total > 0  # the expert reaches the goal while being rendered
    gif = Image.open(write_gif(frames, tmp_path / "episode.gif", width=120))
    assert gif.size == (120, 120) and 1 < gif.n_frames <= len(frames)  # Pillow merges still frames


def test_bad_arguments():
    task = scores.make_tasks("umaze", 1, seed=0)[0]
    with pytest.raises(ValueError, match="every"):
        render_episode("umaze", scores.random_policy(task), task, every=0)
    with pytest.raises(ValueError, match="no frames"):
        write_gif([], "x.gif")


def test_a_failing_policy_is_not_reported_as_a_rendering_problem():
    task = scores.make_tasks("umaze", 1, seed=0)[0]

    def broken(observation, goal):
        raise ValueError("the policy's own error")

    try:
        render_episode("umaze", scores.expert_policy("umaze")(task), task, every=300)
    except RuntimeError as err:
        pytest.skip(str(err))
    with pytest.raises(ValueError, match="the policy's own error"):
        render_episode("umaze", broken, task, every=300)
