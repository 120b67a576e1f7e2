import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from genlab.robotics.controller import shortest_path
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


def test_wall_crossing_counts_interiors_not_faces():
    layout = get_maze("umaze")  # walls (2, 1) and (2, 2) fill x in [-1.5, 0.5], y in [-0.5, 0.5]
    c = layout.cell_to_xy
    a = np.array([c((1, 1)), c((1, 1)), c((1, 1)), [-1.0, 0.5], [-1.5, 0.5], [-1.0, 0.5]])
    b = np.array([c((3, 1)), c((1, 3)), c((2, 3)), [1.0, 0.5], [-1.5, -0.5], [1.0, 0.4]])
    # through the U's inner wall; along the top corridor; clipping the wall's corner cell (2, 2); along its
    # face; along the edge two walls share (interior to the wall, not a gap); just inside the face
    np.testing.assert_array_equal(layout.crosses_walls(a, b), [True, False, True, False, True, True])
    np.testing.assert_array_equal(layout.in_wall([[0.0, 0.0], [-1.0, 1.0], [9.0, 9.0]]), [True, False, True])


def test_geodesic_bends_at_corners():
    layout = get_maze("umaze")
    c = layout.cell_to_xy
    # round the inner wall's free end: (-1, 1) -> (0.5, 0.5) -> (0.5, -0.5) -> (-1, -1)
    assert layout.geodesic(c((1, 1)), c((3, 1))) == pytest.approx(2 * np.hypot(1.5, 0.5) + 1)
    assert layout.geodesic(c((1, 1)), c((1, 3))) == pytest.approx(2.0)  # in sight: the straight line
    rng = np.random.default_rng(0)
    for maze in ("medium", "large"):
        lay = get_maze(maze)
        cells = lay.free_cells[rng.choice(len(lay.free_cells), size=(5, 2))]
        for s, g in lay.cell_to_xy(cells) + rng.uniform(-0.3, 0.3, (5, 2, 2)):
            d = lay.geodesic(s, g)
            assert d == pytest.approx(lay.geodesic(g, s)) and d >= np.linalg.norm(g - s) - 1e-12
            # never longer than the 4-connected route through the cell centres
            route = shortest_path(maze, lay.xy_to_cell(s), lay.xy_to_cell(g))[1:-1]
            points = np.concatenate([s[None], lay.cell_to_xy(route).reshape(-1, 2), g[None]])
            assert d <= np.linalg.norm(np.diff(points, axis=0), axis=1).sum() + 1e-12


@pytest.mark.parametrize("name", MAZES)
def test_state_bounds_hold_every_reachable_state(name):
    layout = get_maze(name)
    lo, hi = layout.state_bounds()
    free = layout.cell_to_xy(layout.free_cells)
    assert (lo[:2] == free.min(0) - 0.5).all() and (hi[:2] == free.max(0) + 0.5).all()
    # full thrust from the velocity clip: one step adds dt * gear / mass, and no more
    env = make_env(name)
    env.reset(seed=0)
    point = env.unwrapped.point_env
    point.set_state(point.data.qpos, np.array([5.0, -5.0]))
    obs, *_ = env.step(np.array([1.0, -1.0]))
    assert np.abs(obs["observation"][2:]).max() <= hi[2] and hi[2] == -lo[2] > 5.0
    assert np.abs(obs["observation"][2:]).max() > 5.0 + 0.9 * (hi[2] - 5.0)
    env.close()
