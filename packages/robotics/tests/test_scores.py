import numpy as np
import pytest

from genlab.robotics.scores import evaluate, expert_policy, make_tasks, normalized_score, random_policy


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
