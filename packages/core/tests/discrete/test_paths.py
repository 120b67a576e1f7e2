import math

import pytest
import torch

from genlab.core.discrete import (
    CosineCorruption,
    MixturePath,
    PolynomialCorruption,
    get_corruption_schedule,
    masked_path,
    uniform_path,
)

CORRUPTION_SCHEDULES = [
    PolynomialCorruption(1.0),
    PolynomialCorruption(2.0),
    PolynomialCorruption(0.5),
    CosineCorruption(),
]


@pytest.mark.parametrize("schedule", CORRUPTION_SCHEDULES)
def test_schedule_runs_from_clean_to_noise_with_its_derivative(schedule):
    t = torch.linspace(0.05, 0.95, 19, dtype=torch.float64, requires_grad=True)
    assert schedule.kappa(torch.tensor(0.0)) == 0 and torch.isclose(
        schedule.kappa(torch.tensor(1.0)), torch.tensor(1.0)
    )
    (grad,) = torch.autograd.grad(schedule.kappa(t).sum(), t)
    torch.testing.assert_close(schedule.d_kappa(t), grad)
    assert (schedule.d_kappa(t) > 0).all()


def test_schedules_convert_the_papers_time_once():
    t = torch.rand(50, dtype=torch.float64)
    # Gat et al.: data at s = 1, weight s^n on data; genlab: noise weight at t = 1 - s.
    torch.testing.assert_close(PolynomialCorruption(3.0).kappa(t), 1 - (1 - t) ** 3)
    # MaskGIT masks cos(pi r / 2) after progress r = 1 - t.
    torch.testing.assert_close(CosineCorruption().kappa(t), torch.cos(math.pi / 2 * (1 - t)))
    assert get_corruption_schedule("linear") == PolynomialCorruption(1.0)


def test_unknown_names_suggest_close_ones():
    with pytest.raises(ValueError, match="cosine"):
        get_corruption_schedule("cosin")
    with pytest.raises(ValueError, match="uniform"):
        MixturePath(5, source="unifrom")


@pytest.mark.parametrize("source", ["mask", "uniform"])
def test_sample_pins_the_direction_of_time(source):
    path = MixturePath(6, source)
    x0 = torch.randint(6, (4, 10))
    assert torch.equal(path.sample(x0, torch.zeros(4)), x0)
    x1 = path.sample(x0, torch.ones(4))
    if source == "mask":
        assert (x1 == 6).all()
    else:
        assert x1.max() < 6 and not torch.equal(x1, x0)


@pytest.mark.parametrize("source", ["mask", "uniform"])
def test_per_token_samples_follow_the_marginals(source):
    torch.manual_seed(0)
    path = MixturePath(3, source, "cosine")
    n = 40000
    x0 = torch.tensor([0, 1, 2]).repeat(n, 1)
    t = torch.tensor([0.2, 0.5, 0.9]).repeat(n, 1)  # one noise level per token
    x_t = path.sample(x0, t)
    empirical = torch.nn.functional.one_hot(x_t, path.num_states).double().mean(0)
    expected = path.probs(x0[:1], t[:1])[0].double()
    torch.testing.assert_close(empirical, expected, atol=0.012, rtol=0)


def _mixture_matrix(path, kappa):
    """Qbar for noise weight kappa: (1 - kappa) I + kappa 1 pi^T."""
    S = path.num_states
    pi = path.source_probs(torch.zeros(S, dtype=torch.float64))
    return (1 - kappa) * torch.eye(S, dtype=torch.float64) + kappa * pi.expand(S, S)


@pytest.mark.parametrize("make", [masked_path, uniform_path])
def test_posterior_is_bayes_rule_by_brute_force(make):
    path = make(4, "cosine")
    S, K = path.num_states, path.vocab_size
    t, s = torch.tensor([0.7], dtype=torch.float64), torch.tensor([0.3], dtype=torch.float64)
    kt, ks = path.schedule.kappa(t), path.schedule.kappa(s)
    Qs, Qt = _mixture_matrix(path, ks), _mixture_matrix(path, kt)
    step = torch.linalg.solve(Qs, Qt)  # the one-step matrix s -> t, from Qbar_s @ Q_{s->t} = Qbar_t
    assert torch.allclose(step.sum(1), torch.ones(S, dtype=torch.float64)) and (step > -1e-12).all()
    for x0 in range(K):
        for x_t in range(S):
            joint = Qs[x0] * step[:, x_t]  # q(x_s = y, x_t | x0), enumerated over y
            if joint.sum() == 0:
                continue
            post = path.posterior(torch.tensor([x_t]), torch.eye(K, dtype=torch.float64)[x0][None], t, s)[0]
            torch.testing.assert_close(post, joint / joint.sum())
            assert torch.isclose(post.sum(), torch.tensor(1.0, dtype=torch.float64))


@pytest.mark.parametrize("make", [masked_path, uniform_path])
def test_soft_posterior_averages_the_exact_ones(make):
    path = make(4)
    p0 = torch.softmax(torch.randn(4, dtype=torch.float64), 0)
    t, s = torch.tensor([0.6], dtype=torch.float64), torch.tensor([0.2], dtype=torch.float64)
    for x_t in range(path.num_states):
        x = torch.tensor([x_t])
        reachable = [k for k in range(4) if path.probs(torch.tensor([k]), t)[0, x_t] > 0]
        exact = [path.posterior(x, torch.eye(4, dtype=torch.float64)[k][None], t, s)[0] for k in reachable]
        mass = sum(p0[k] for k in reachable)
        expected = sum(p0[k] * e for k, e in zip(reachable, exact)) / mass
        torch.testing.assert_close(path.posterior(x, p0[None], t, s)[0], expected)


def test_masked_posterior_is_mdlms_reverse_step():
    path = masked_path(5)
    p0 = torch.softmax(torch.randn(1, 3, 5, dtype=torch.float64), -1)
    x_t = torch.tensor([[5, 2, 5]])
    t, s = torch.tensor([0.8], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64)
    post = path.posterior(x_t, p0, t, s)
    torch.testing.assert_close(post[0, 0, 5], torch.tensor(0.5 / 0.8, dtype=torch.float64))
    torch.testing.assert_close(post[0, 0, :5], p0[0, 0] * 0.3 / 0.8)
    assert post[0, 1, 2] == 1  # unmasked tokens stay


def test_bad_input_is_named():
    path = masked_path(5)
    with pytest.raises(ValueError, match="outside"):
        path.sample(torch.tensor([[5]]), torch.ones(1))
    with pytest.raises(ValueError, match="prefix"):
        path.sample(torch.zeros(2, 3, dtype=torch.long), torch.ones(3))
    with pytest.raises(ValueError, match="n > 0"):
        PolynomialCorruption(0.0)
