import numpy as np
import pytest

from genlab.robotics.controller import WaypointController, shortest_path
from genlab.robotics.mazes import GOAL_RADIUS, get_maze, make_env, reset_to


def test_shortest_path_walks_the_u():
    path = shortest_path("umaze", (1, 1), (3, 1))
    np.testing.assert_array_equal(path, [(1, 1), (1, 2), (1, 3), (2, 3), (3, 3), (3, 2), (3, 1)])
    assert len(shortest_path("umaze", (1, 2), (1, 2))) == 1


@pytest.mark.parametrize("name", ["medium", "large"])
def test_shortest_path_steps_between_free_neighbours(name):
    layout = get_maze(name)
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = layout.free_cells[rng.choice(len(layout.free_cells), 2, replace=False)]
        path = shortest_path(name, a, b)
        assert (path[0] == a).all() and (path[-1] == b).all()
        assert (np.abs(np.diff(path, axis=0)).sum(axis=1) == 1).all()
        assert not layout.walls[path[:, 0], path[:, 1]].any()
        assert len({tuple(c) for c in path}) == len(path)


def test_waypoints_are_jittered_cell_centres_then_the_goal():
    layout = get_maze("large")
    controller = WaypointController("large", rng=np.random.default_rng(0))
    goal = layout.cell_to_xy((7, 10)) + 0.1
    controller.plan(layout.cell_to_xy((1, 1)), goal)
    cells = shortest_path("large", (1, 1), (7, 10))[1:-1]
    offset = controller.waypoints[:-1] - layout.cell_to_xy(cells)
    # D4RL subtracts U(0, 0.2) from (row, col): x moves left, y moves up.
    assert (offset[:, 0] <= 0).all() and (offset[:, 0] >= -0.2).all()
    assert (offset[:, 1] >= 0).all() and (offset[:, 1] <= 0.2).all()
    np.testing.assert_array_equal(controller.waypoints[-1], goal)


def test_pd_law_and_clipping():
    layout = get_maze("umaze")
    controller = WaypointController("umaze", rng=np.random.default_rng(0))
    goal = layout.cell_to_xy((1, 3))
    obs = np.concatenate([goal - [0.03, 0.02], [0.1, -0.2]])
    np.testing.assert_allclose(controller(obs, goal), 10 * np.array([0.03, 0.02]) - obs[2:], rtol=1e-6)
    far = np.concatenate([goal - [0.4, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(controller(far, goal), [1.0, 0.0])
    with pytest.raises(ValueError, match="shape"):
        controller(np.zeros(2), goal)


@pytest.mark.parametrize("name", ["umaze", "medium", "large"])
def test_controller_reaches_random_goals_within_the_episode(name):
    layout = get_maze(name)
    env = make_env(name)
    rng = np.random.default_rng(1)
    for episode in range(20):
        start, goal = layout.free_cells[rng.choice(len(layout.free_cells), 2, replace=False)]
        obs, _ = reset_to(env, name, start, goal, seed=episode)
        controller = WaypointController(name, rng=rng)
        for _ in range(layout.max_episode_steps):
            obs, _, _, truncated, _ = env.step(controller(obs["observation"], obs["desired_goal"]))
            if np.linalg.norm(obs["achieved_goal"] - obs["desired_goal"]) <= GOAL_RADIUS:
                break
        else:
            pytest.fail(f"{name}: no arrival from {start} at {goal} in {layout.max_episode_steps} steps")
    env.close()
