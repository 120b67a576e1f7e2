import pytest
import torch

from genlab.core.diffusion.samplers import check_grid
from genlab.video.schedules import (
    SCHEDULING_MATRICES,
    check_levels,
    scheduling_grid,
    scheduling_matrix,
    update_mask,
)

CASES = [(1, 5, 1.0), (6, 4, 1.0), (7, 10, 0.5), (8, 3, 2.0), (5, 1, 1.0)]


@pytest.mark.parametrize("name", list(SCHEDULING_MATRICES))
@pytest.mark.parametrize("frames, steps, scale", CASES)
def test_matrices_start_at_noise_end_clean_and_never_rise(name, frames, steps, scale):
    m = scheduling_matrix(name, frames, steps, uncertainty_scale=scale)
    assert m.dtype == torch.long and m.shape[1] == frames
    assert (m[0] == steps).all() and (m[-1] == 0).all()
    assert (m[1:] <= m[:-1]).all()
    assert update_mask(m).any(dim=1).all()  # no idle row
    check_levels(m, steps)


def test_pyramid_matches_its_formula():
    steps, frames, scale = 10, 7, 1.5
    m = scheduling_matrix("pyramid", frames, steps, uncertainty_scale=scale)
    assert m.shape[0] == steps + int((frames - 1) * scale) + 1
    for row in range(m.shape[0]):
        for t in range(frames):
            assert m[row, t] == min(max(steps + int(t * scale) - row, 0), steps)


def test_full_sequence_denoises_all_frames_together():
    m = scheduling_matrix("full_sequence", 5, 8)
    assert torch.equal(m, torch.arange(8, -1, -1)[:, None].expand(9, 5))


def test_autoregressive_denoises_one_frame_at_a_time_in_order():
    steps, frames = 4, 5
    m = scheduling_matrix("autoregressive", frames, steps)
    moving = update_mask(m)
    assert m.shape[0] == frames * steps + 1
    assert (moving.sum(dim=1) == 1).all()
    order = moving.long().argmax(dim=1)  # the frame that moves at each row
    assert torch.equal(order, torch.arange(frames).repeat_interleave(steps))


def test_trapezoid_is_symmetric_and_finishes_the_ends_first():
    m = scheduling_matrix("trapezoid", 8, 5, uncertainty_scale=2.0)
    assert torch.equal(m, m.flip(1))
    first_clean = (m == 0).long().argmax(dim=0)
    assert first_clean[0] < first_clean[1] < first_clean[2] < first_clean[3]


def test_context_frames_sit_at_the_stabilization_level_and_never_move():
    m = scheduling_matrix("pyramid", 4, 10, context=3, stabilization=2)
    assert m.shape[1] == 7
    assert (m[:, :3] == 2).all()
    assert not update_mask(m)[:, :3].any()
    assert torch.equal(m[:, 3:], scheduling_matrix("pyramid", 4, 10))


def test_scheduling_grid_follows_the_core_convention():
    steps, batch = 5, 3
    m = scheduling_matrix("pyramid", 4, steps, context=2)
    grid = scheduling_grid(m, steps, batch, dtype=torch.float64)
    assert grid.shape == (m.shape[0], batch, 6)
    assert torch.equal(grid[:, 1], m.double() / steps)
    check_grid(grid, torch.zeros(batch, 6, 1, 8, 8))  # (K+1, *t_shape) with t_shape = [B, T]
    assert torch.equal(update_mask(grid)[:, 0], update_mask(m))


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="did you mean 'pyramid'"):
        scheduling_matrix("pyramd", 4, 10)
    with pytest.raises(ValueError, match="frames >= 1"):
        scheduling_matrix("pyramid", 0, 10)
    with pytest.raises(ValueError, match="uncertainty_scale"):
        scheduling_matrix("pyramid", 4, 10, uncertainty_scale=-1.0)
    with pytest.raises(ValueError, match="stabilization"):
        scheduling_matrix("pyramid", 4, 10, stabilization=11)
    m = scheduling_matrix("pyramid", 4, 10)
    with pytest.raises(ValueError, match="shape"):
        scheduling_grid(m[0], 10, 2)
    with pytest.raises(ValueError, match="integer"):
        scheduling_grid(m.float(), 10, 2)
    with pytest.raises(ValueError, match="must not increase"):
        scheduling_grid(m.flip(0), 10, 2)
    with pytest.raises(ValueError, match="lie in"):
        scheduling_grid(m, 5, 2)
