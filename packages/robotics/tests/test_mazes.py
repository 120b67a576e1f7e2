import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from genlab.robotics.mazes import GOAL_RADIUS, control_dt, get_maze, make_env, reset_to, set_goal

MAZES = ["umaze", "medium", "large"]


@pytest.mark.filterwarnings(
    "ignore:.*Box observation space m.*infinity"
)  # PointMaze's unbounded obs, by design
@pytest.mark.parametrize("name", MAZES)
def test_env_passes_gymnasium_checker(name):
    env = make_env(name)
    # Rendering needs an OpenGL backend, which CI machines lack; everything else is checked.
    check_env(env.unwrapped, skip_render_check=True)
    assert env.spec.max_episode_steps == get_maze(name).max_episode_steps
    assert control_dt(env) == pytest.approx(0.01)
    env.close()


@pytest.mark.parametrize(
    "name, shape, n_free, steps",
    [("umaze", (5, 5), 7, 300), ("medium", (8, 8), 26, 600), ("large", (9, 12), 46, 800)],
)
def test_layouts_are_d4rl_maze2d(name, shape, n_free, steps):
    layout = get_maze(name)
    assert layout.walls.shape == shape and len(layout.free_cells) == n_free
    assert layout.max_episode_steps == steps
    assert (
        layout.walls[0].all()
        and layout.walls[-1].all()
        and layout.walls[:, 0].all()
        and layout.walls[:, -1].all()
    )


@pytest.mark.parametrize("name", MAZES)
def test_cell_conversions_agree_with_the_envs_maze(name):
    layout = get_maze(name)
    cells = layout.free_cells
    xy = layout.cell_to_xy(cells)
    for cell, p in zip(cells, xy):
        np.testing.assert_allclose(p, layout.maze.cell_rowcol_to_xy(cell))
    np.testing.assert_array_equal(layout.xy_to_cell(xy + 0.49), cells)
    np.testing.assert_array_equal(layout.xy_to_cell(xy - 0.49), cells)


def test_reset_to_places_start_and_goal_in_their_cells():
    env = make_env("medium")
    layout = get_maze("medium")
    obs, _ = reset_to(env, "medium", (1, 1), (6, 6), seed=3)
    np.testing.assert_array_equal(layout.xy_to_cell(obs["achieved_goal"]), (1, 1))
    np.testing.assert_array_equal(layout.xy_to_cell(obs["desired_goal"]), (6, 6))
    assert np.abs(obs["desired_goal"] - layout.cell_to_xy((6, 6))).max() <= 0.25
    env.close()


def test_set_goal_moves_the_rewarded_goal_and_goal_radius_is_the_envs():
    env = make_env("umaze")
    obs, _ = reset_to(env, "umaze", (1, 1), (3, 3), seed=0)
    for offset, expected in [(GOAL_RADIUS - 0.01, 1.0), (GOAL_RADIUS + 0.01, 0.0)]:
        set_goal(env, "umaze", obs["achieved_goal"] + [0.0, offset])
        obs, reward, *_ = env.step(np.zeros(2, dtype=np.float32))  # at rest: the point stays put
        assert reward == expected
    env.close()


def test_unknown_maze_names_close_matches():
    with pytest.raises(ValueError, match="unknown maze 'umaz'.*'umaze'"):
        get_maze("umaz")
    with pytest.raises(ValueError, match="unknown maze"):
        make_env("PointMaze_UMaze-v3")


def test_bad_cells_and_positions_are_named():
    env = make_env("umaze")
    with pytest.raises(ValueError, match=r"goal cell \(2, 1\) is a wall of the umaze maze"):
        reset_to(env, "umaze", (1, 1), (2, 1))
    with pytest.raises(ValueError, match=r"start cell \(7, 1\) is outside the umaze maze"):
        reset_to(env, "umaze", (7, 1), (1, 1))
    with pytest.raises(ValueError, match="integer"):
        reset_to(env, "umaze", (1.5, 1), (1, 1))
    layout = get_maze("umaze")
    with pytest.raises(ValueError, match="goal .* lies in the wall cell"):
        set_goal(env, "umaze", layout.cell_to_xy((2, 1)))
    with pytest.raises(ValueError, match="outside the umaze maze"):
        layout.check_xy((10.0, 0.0))
    with pytest.raises(ValueError, match="finite"):
        layout.check_xy((np.nan, 0.0))
    env.close()
