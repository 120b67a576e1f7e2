import os

import minari
import numpy as np
import pytest
import torch

from genlab.robotics import dataset as ds
from genlab.robotics.cli import main, parser
from genlab.robotics.dataset import build_dataset, dataset_id, generate_stream, load_dataset, minari_root
from genlab.robotics.mazes import GOAL_RADIUS, get_maze

STEPS = 2000


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    return root, build_dataset("umaze", STEPS, seed=0, cache_dir=root, progress=False)


def test_positions_integrate_velocities(built):
    _, data = built
    # PointMaze steps MuJoCo's semi-implicit Euler once per action (dt = 0.01 s): p[t+1] = p[t] + dt v[t+1].
    assert data.dt == pytest.approx(0.01)
    step = data.next_observations[:, :2] - data.observations[:, :2]
    np.testing.assert_allclose(step, data.dt * data.next_observations[:, 2:], rtol=0, atol=1e-12)
    assert np.abs(step).max() > 0.03  # the point really moves (|v| up to about 5)


def test_stream_is_contiguous_and_stays_in_free_cells(built):
    _, data = built
    assert len(data) == STEPS
    np.testing.assert_array_equal(data.next_observations[:-1], data.observations[1:])
    layout = get_maze("umaze")
    cells = layout.xy_to_cell(data.observations[:, :2])
    assert not layout.walls[cells[:, 0], cells[:, 1]].any()
    assert np.abs(data.actions).max() <= 1.0 and data.actions.dtype == np.float32


def test_segments_end_at_their_goal_and_nothing_terminates(built):
    _, data = built
    reached = np.linalg.norm(data.next_observations[:, :2] - data.goals, axis=1) <= GOAL_RADIUS
    np.testing.assert_array_equal(data.rewards, reached.astype(float))  # the env's sparse reward
    assert not data.terminals.any()  # the env continues at the goal (continuing_task): no termination
    ends = np.flatnonzero(data.timeouts)  # each segment is cut where the collector moves the goal
    np.testing.assert_array_equal(ends[:-1], np.flatnonzero(reached)[: len(ends) - 1])
    assert len(ends) >= 10 and ends[-1] == len(data) - 1
    for s, e in zip(np.r_[0, ends[:-1] + 1], ends + 1):  # one goal per segment, a new one after it
        assert (data.goals[s:e] == data.goals[s]).all()
    assert (np.linalg.norm(np.diff(data.goals, axis=0), axis=1)[data.timeouts[:-1]] > 0).all()


def test_minari_round_trip_and_cache_hit(built, monkeypatch):
    root, data = built
    stream = generate_stream("umaze", STEPS, seed=0, progress=False)  # the same seed makes the same stream
    np.testing.assert_array_equal(data.observations, stream["observations"][:-1])
    np.testing.assert_array_equal(data.actions, stream["actions"])
    np.testing.assert_array_equal(data.goals, stream["goals"])
    monkeypatch.setattr(ds, "generate_stream", lambda *a, **k: pytest.fail("cache miss"))
    again = build_dataset("umaze", STEPS, seed=0, cache_dir=root, progress=False)
    for name in ("observations", "next_observations", "actions", "goals", "rewards", "terminals", "timeouts"):
        np.testing.assert_array_equal(getattr(again, name), getattr(data, name))
    tensors = again.tensors(torch.float64)
    assert tensors["observations"].shape == (STEPS, 4) and tensors["terminals"].dtype == torch.bool


def test_stored_as_a_minari_dataset(built):
    root, data = built
    before = os.environ.get("MINARI_DATASETS_PATH")
    with minari_root(root):
        md = minari.load_dataset(dataset_id("umaze", STEPS, 0))
        env = md.recover_environment()
    assert os.environ.get("MINARI_DATASETS_PATH") == before
    assert md.total_steps == STEPS and md.total_episodes == data.timeouts.sum()
    assert "never terminates" in md.storage.metadata["genlab"]["flags"]  # what the flags mean
    assert env.spec.id == "PointMaze_UMaze-v3" and env.spec.kwargs["continuing_task"]
    assert not any(p.name.startswith(".build-") for p in root.iterdir())


def test_missing_dataset_names_the_build_command(tmp_path):
    with pytest.raises(
        FileNotFoundError, match="genlab-robotics data build --maze medium --steps 500 --seed 2"
    ):
        load_dataset("medium", 500, seed=2, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown maze"):
        load_dataset("huge", 500, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="n_steps"):
        generate_stream("umaze", 0, seed=0)


def test_cli_builds_into_out_and_env_var_sets_the_default(tmp_path, monkeypatch, capsys):
    assert (
        main(
            [
                "data",
                "build",
                "--maze",
                "umaze",
                "--steps",
                "300",
                "--out",
                str(tmp_path / "robotics"),
                "--quiet",
            ]
        )
        == 0
    )
    assert "pointmaze-umaze-300-s0-v1" in capsys.readouterr().out
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path))
    assert len(load_dataset("umaze", 300)) == 300


def test_cli_default_size_is_the_recipes_and_bad_sizes_are_named(capsys):
    assert parser().parse_args(["data", "build", "--maze", "umaze"]).steps == 100_000
    with pytest.raises(SystemExit):
        main(["data", "build", "--maze", "umaze", "--steps", "0"])
    assert "--steps must be >= 1" in capsys.readouterr().err
