import numpy as np
import pytest
import torch

from genlab.robotics.normalizer import LimitsNormalizer


def test_round_trip_numpy_and_torch():
    x = np.random.default_rng(0).normal(size=(64, 8, 6)) * [1, 2, 3, 4, 5, 6] + 3
    norm = LimitsNormalizer.fit(x)
    y = norm.normalize(x)
    assert y.min() == pytest.approx(-1) and y.max() == pytest.approx(1)
    np.testing.assert_allclose(y.reshape(-1, 6).min(0), -1, atol=1e-12)
    np.testing.assert_allclose(y.reshape(-1, 6).max(0), 1, atol=1e-12)
    np.testing.assert_allclose(norm.unnormalize(y), x, atol=1e-12)
    xt = torch.as_tensor(x)
    yt = norm.normalize(xt)
    assert isinstance(yt, torch.Tensor) and yt.dtype == torch.float64
    torch.testing.assert_close(norm.unnormalize(yt), xt)
    assert LimitsNormalizer.fit(xt).mins.tolist() == norm.mins.tolist()


def test_unnormalize_clips_like_diffuser():
    norm = LimitsNormalizer([0.0, -2.0], [1.0, 2.0])
    np.testing.assert_allclose(norm.unnormalize(np.array([1.5, -3.0])), [1.0, -2.0])
    np.testing.assert_allclose(norm.unnormalize(np.array([1.5, -3.0]), clip=False), [1.25, -6.0])


def test_constant_dimension_round_trips():
    x = np.stack([np.linspace(0, 1, 5), np.full(5, 7.0)], axis=1)
    norm = LimitsNormalizer.fit(x)
    assert np.isfinite(norm.normalize(x)).all()
    np.testing.assert_allclose(norm.unnormalize(norm.normalize(x)), x)


def test_bad_inputs():
    norm = LimitsNormalizer.fit(np.zeros((3, 4)) + np.arange(3)[:, None])
    with pytest.raises(ValueError, match=r"expects \[\.\.\., 4\].*\(5, 2\)"):
        norm.normalize(np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"unnormalize expects"):
        norm.unnormalize(torch.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        LimitsNormalizer.fit(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="maxs below mins"):
        LimitsNormalizer([1.0], [0.0])


def test_widened_covers_both_ranges():
    norm = LimitsNormalizer([0.0, -1.0], [1.0, 1.0]).widened([-2.0, -0.5], [0.5, 3.0])
    np.testing.assert_array_equal(norm.mins, [-2.0, -1.0])
    np.testing.assert_array_equal(norm.maxs, [1.0, 3.0])
    with pytest.raises(ValueError, match="bounds of shape"):
        norm.widened([0.0], [1.0])
