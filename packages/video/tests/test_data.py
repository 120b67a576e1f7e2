import pytest
import torch
from torch.utils.data import DataLoader

from genlab.core.data import load_digits
from genlab.video.data import BouncingShapes, MovingDigits, Scene, bounce, fold, make_dataset


@pytest.fixture(scope="module")
def digits():
    return MovingDigits(frames=16, size=32, digits=(1, 1), length=50)


def test_bounce_without_gravity_is_the_triangle_wave():
    gen = torch.Generator().manual_seed(0)
    limit = torch.randint(1, 30, (20, 2), generator=gen)
    position = (torch.rand(20, 2, generator=gen) * (limit + 1)).long().clamp(max=limit)
    velocity = torch.randint(-7, 8, (20, 2), generator=gen)
    positions, _ = bounce(position, velocity, limit, gravity=0, steps=300)
    n = torch.arange(300)[:, None, None]
    expected, _ = fold(position + n * velocity, limit)
    assert torch.equal(positions, expected)


def test_fold_reflects_at_both_walls():
    limit = torch.tensor(10)
    position, sign = fold(torch.tensor([-3, 0, 4, 10, 13, 20, 23]), limit)
    assert position.tolist() == [3, 0, 4, 10, 7, 0, 3]
    assert sign.tolist() == [-1, 1, 1, -1, -1, 1, 1]


def test_same_index_gives_the_same_clip_and_splits_differ(digits):
    again = MovingDigits(frames=16, size=32, digits=(1, 1), length=50)
    assert torch.equal(digits[7], digits[7])
    assert torch.equal(digits[7], again[7])
    assert not torch.equal(digits[7], digits[8])
    assert not torch.equal(digits[7], MovingDigits("test", frames=16, digits=(1, 1), length=50)[7])
    assert not torch.equal(digits[7], MovingDigits(frames=16, digits=(1, 1), length=50, seed=1)[7])


def test_splits_use_their_own_digits():
    assert len(MovingDigits("train").sprites) == len(load_digits("train"))
    assert len(MovingDigits("test").sprites) == len(load_digits("test"))


def test_displacement_per_frame_equals_velocity_between_bounces(digits):
    checked = 0
    for index in range(10):
        clip = digits[index]
        positions, velocities = digits.scene(index).trajectory(digits.frames)
        for t in range(digits.frames - 1):
            v = velocities[t + 1, 0]
            if torch.equal(v, velocities[t, 0]):  # no wall between frames t and t + 1
                assert torch.equal(positions[t + 1, 0] - positions[t, 0], v)
                assert torch.equal(clip[t + 1], clip[t].roll(v.tolist(), dims=(-2, -1)))
                checked += 1
    assert checked > 50


@pytest.mark.parametrize(
    "dataset",
    [MovingDigits(frames=8, size=32, length=20), BouncingShapes(frames=8, size=32, gravity=1, length=20)],
    ids=["digits", "shapes-gravity"],
)
def test_objects_never_leave_the_box_in_long_sequences(dataset):
    for index in range(4):
        scene = dataset.scene(index)
        positions, _ = scene.trajectory(1000)
        assert ((positions >= 0) & (positions <= scene.limit)).all()
        assert len(set(map(tuple, positions[:, 0].tolist()))) > 4  # it does move


def test_a_single_digit_keeps_all_its_ink(digits):
    ink = (digits.sequence(3, 300) + 1).sum(dim=(1, 2, 3)) / 2
    assert torch.allclose(ink, ink[0].expand_as(ink), rtol=1e-5)


def test_gravity_adds_to_the_row_velocity_and_walls_flip_it():
    shapes = BouncingShapes(frames=8, shapes=(1, 1), gravity=1, length=5)
    _, velocities = shapes.scene(0).trajectory(200)
    before, after = velocities[:-1, 0], velocities[1:, 0]
    accelerated = after[:, 0] == before[:, 0] + 1
    bounced = after[:, 0] == -(before[:, 0] + 1)
    assert (accelerated | bounced).all()
    assert accelerated.any() and bounced.any()


@pytest.mark.parametrize(
    "dataset, channels",
    [(MovingDigits(frames=12, size=32, length=10), 1), (BouncingShapes(frames=12, size=64, length=10), 3)],
    ids=["digits", "shapes"],
)
def test_clips_and_long_sequences(dataset, channels):
    clip = dataset[2]
    assert clip.shape == (12, channels, dataset.size, dataset.size)
    assert clip.dtype == torch.float32
    assert clip.min() >= -1 and clip.max() <= 1 and clip.max() > 0
    long = dataset.sequence(2, 256)
    assert long.shape[0] == 256
    assert torch.equal(long[:12], clip)


def test_dataloader_batches_clips():
    batch = next(iter(DataLoader(BouncingShapes(frames=4, length=6), batch_size=3)))
    assert batch.shape == (3, 4, 3, 32, 32)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="did you mean 'train'"):
        MovingDigits("trian")
    with pytest.raises(ValueError, match="did you mean 'moving-digits'"):
        make_dataset("moving_digits")
    with pytest.raises(ValueError, match="digit_size"):
        MovingDigits(size=16, digit_size=16)
    with pytest.raises(ValueError, match="shapes must be smaller"):
        BouncingShapes(size=10, shape_size=(4, 12))
    with pytest.raises(ValueError, match="speed"):
        BouncingShapes(speed=(3, 1))
    with pytest.raises(IndexError):
        BouncingShapes(length=5)[5]
    with pytest.raises(ValueError, match="integer"):
        bounce(torch.zeros(1, 2), torch.ones(1, 2), torch.ones(1, 2), 0, 3)
    with pytest.raises(ValueError, match="inside the box"):
        bounce(torch.tensor([[5, 0]]), torch.ones(1, 2, dtype=torch.long), torch.tensor([[4, 4]]), 0, 3)
    with pytest.raises(ValueError, match="one colour, alpha and position"):
        Scene(8, (torch.ones(1, 2, 2),), (), torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 2))


def test_make_dataset_builds_by_name():
    assert isinstance(make_dataset("shapes", "test", frames=4, length=3), BouncingShapes)


def test_labels_are_the_classes_of_the_digits_drawn():
    data = make_dataset("moving-digits", "test", frames=2, size=32, length=20)
    for i in range(20):
        labels, scene = data.labels(i), data.scene(i)
        assert len(labels) == len(scene.alphas) and ((labels >= 0) & (labels < 10)).all()
        sprites = [
            min(range(len(data.sprites)), key=lambda j: (data.sprites[j] - a).abs().sum())
            for a in scene.alphas
        ]
        assert labels.tolist() == data.digit_labels[sprites].tolist()
