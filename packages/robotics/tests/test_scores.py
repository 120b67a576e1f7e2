import json

import numpy as np
import pytest

from genlab.robotics.controller import shortest_path
from genlab.robotics.mazes import get_maze
from genlab.robotics.scores import (
    MazeTask,
    distinct_tasks,
    evaluate,
    expert_policy,
    hard_pairs,
    hard_tasks,
    make_tasks,
    normalized_score,
    random_policy,
    straight_policy,
)


def strict_json(obj) -> dict:
    """``obj`` through JSON with NaN and infinities refused, as a non-Python reader would."""

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(json.dumps(obj), parse_constant=refuse)


def test_normalized_score_is_d4rls():
    np.testing.assert_allclose(normalized_score([23.85, 161.86, 92.855], 23.85, 161.86), [0.0, 100.0, 50.0])
    with pytest.raises(ValueError, match="must exceed"):
        normalized_score(1.0, 5.0, 5.0)


def test_tasks_are_seeded_and_use_distinct_free_cells():
    tasks = make_tasks("medium", 10, seed=4)
    assert tasks == make_tasks("medium", 10, seed=4) and tasks != make_tasks("medium", 10, seed=5)
    assert all(t.start_cell != t.goal_cell for t in tasks)


def test_expert_beats_random_on_the_same_tasks():
    tasks = make_tasks("umaze", 4, seed=0)
    expert = evaluate("umaze", expert_policy("umaze"), tasks)
    rand = evaluate("umaze", random_policy, tasks)
    assert expert.success_rate == 1.0 and (expert.times <= 300).all()
    assert expert.mean_return > rand.mean_return
    # continuing task: after arriving the expert holds the goal and scores on every remaining step
    np.testing.assert_allclose(expert.returns, 300 - expert.times + 1, atol=3)
    again = evaluate("umaze", expert_policy("umaze"), tasks)
    np.testing.assert_array_equal(again.returns, expert.returns)
    assert np.isnan(rand.times[~rand.successes]).all()
    assert np.isnan(rand.path_ratios[~rand.successes]).all()
    # the expert's route is longer than the shortest path that enters no wall, and not absurdly so
    assert (expert.path_ratios >= 1).all() and (expert.path_ratios < 2.5).all()


def test_straight_to_goal_arrives_in_sight_and_not_round_the_wall():
    in_sight = [MazeTask((1, 1), (1, 3), 0, 0), MazeTask((3, 3), (1, 3), 1, 1)]
    seen = evaluate("umaze", straight_policy(), in_sight)
    assert seen.success_rate == 1.0 and seen.arrivals == 2
    np.testing.assert_allclose(seen.path_ratios, 1.0, atol=0.1)  # a straight line is the shortest path
    hidden = evaluate("umaze", straight_policy(), [MazeTask((1, 1), (3, 1), 0, 0)])  # the wall between them
    summary = strict_json(hidden.summary())
    assert summary["arrivals"] == 0 and summary["time_to_goal"] is None and summary["path_ratio"] is None


def test_hard_split_crosses_walls_and_is_long():
    # U-Maze: the pairs on either side of the inner wall, whose shortest paths are 5-7 cells long
    pairs = {tuple(map(tuple, p)) for p in hard_pairs("umaze").tolist()}
    one_way = {((1, 1), (3, 1)), ((1, 1), (3, 2)), ((1, 2), (3, 1))}
    assert pairs == one_way | {(g, s) for s, g in one_way}
    layout = get_maze("medium")
    hard = hard_pairs("medium")
    centres = layout.cell_to_xy(hard)
    assert layout.crosses_walls(centres[:, 0], centres[:, 1]).all()
    cells = layout.free_cells
    crossing = [
        len(shortest_path("medium", a, b))
        for a in cells
        for b in cells
        if (a != b).any() and layout.crosses_walls(*layout.cell_to_xy(np.array([a, b])))
    ]
    assert min(len(shortest_path("medium", a, b)) for a, b in hard) == np.quantile(crossing, 0.75)
    tasks = hard_tasks("medium", 20, seed=3)
    assert tasks == hard_tasks("medium", 20, seed=3)
    assert {(t.start_cell, t.goal_cell) for t in tasks} <= {tuple(map(tuple, p)) for p in hard.tolist()}
    with pytest.raises(ValueError, match="quantile"):
        hard_pairs("umaze", 1.5)


def test_distinct_tasks_never_repeat_a_pair():
    tasks = distinct_tasks("umaze", 8, seed=0)
    assert len({(t.start_cell, t.goal_cell) for t in tasks}) == 8
    assert len(distinct_tasks("umaze", 100)) == 42  # 7 free cells: every ordered pair once
