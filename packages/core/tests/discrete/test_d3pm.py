import pytest
import torch

from genlab.core.discrete import D3PMPath, uniform_path

KINDS = ["uniform", "absorbing", "gaussian"]


@pytest.mark.parametrize("kind", KINDS)
def test_transition_rows_sum_to_one(kind):
    path = D3PMPath(6, kind, steps=20)
    assert path.Q.dtype == path.Qbar.dtype == torch.float64
    for Q in (path.Q, path.Qbar):
        assert (Q >= 0).all()
        torch.testing.assert_close(
            Q.sum(-1), torch.ones(Q.shape[:-1], dtype=torch.float64), rtol=0, atol=1e-12
        )


@pytest.mark.parametrize("kind", KINDS)
def test_cumulative_matrix_is_the_product_of_steps(kind):
    path = D3PMPath(5, kind, steps=12)
    for k in [1, 2, 7, 12]:
        torch.testing.assert_close(
            path.Qbar[k],
            torch.linalg.multi_dot([torch.eye(path.num_states, dtype=torch.float64), *path.Q[1 : k + 1]]),
        )


def test_stationary_ends():
    torch.testing.assert_close(
        D3PMPath(4, "uniform", 10).Qbar[-1], torch.full((4, 4), 0.25, dtype=torch.float64)
    )
    absorbing = D3PMPath(4, "absorbing", 10).Qbar[-1]
    torch.testing.assert_close(absorbing[:, 4], torch.ones(5, dtype=torch.float64))
    gaussian = D3PMPath(7, "gaussian", 10).Q[5]
    torch.testing.assert_close(gaussian, gaussian.T)  # symmetric, so doubly stochastic: uniform is stationary
    assert gaussian[3, 2] > gaussian[3, 1] > gaussian[3, 0] > 0  # nearby levels are likelier


def test_uniform_d3pm_matches_the_linear_uniform_path():
    d3pm, path = D3PMPath(5, "uniform", steps=10), uniform_path(5)
    x0 = torch.arange(5)[None]
    for k in range(11):
        t = torch.full((1,), k / 10, dtype=torch.float64)
        torch.testing.assert_close(d3pm.probs(x0, t), path.probs(x0, t))


@pytest.mark.parametrize("kind", KINDS)
def test_posterior_is_bayes_rule_by_brute_force(kind):
    path = D3PMPath(4, kind, steps=6)
    K, S = path.vocab_size, path.num_states
    p0 = torch.softmax(torch.randn(K, dtype=torch.float64), 0)
    for k in [1, 3, 6]:
        t, s = torch.tensor([k / 6]), torch.tensor([(k - 1) / 6])
        # the joint q(x0, x_{k-1}, x_k) by enumeration of the chain x0 -> x_{k-1} -> x_k
        joint = p0[:, None, None] * path.Qbar[k - 1][:K, :, None] * path.Q[k][None]
        for x_t in range(S):
            if joint[:, :, x_t].sum() == 0:
                continue
            exact = {}
            for x0 in range(K):
                if joint[x0, :, x_t].sum() > 0:
                    exact[x0] = joint[x0, :, x_t] / joint[x0, :, x_t].sum()
                    onehot = torch.eye(K, dtype=torch.float64)[x0][None]
                    torch.testing.assert_close(
                        path.posterior(torch.tensor([x_t]), onehot, t, s)[0], exact[x0]
                    )
            # a soft x0 averages the posteriors over the x0 that can reach x_t
            post = path.posterior(torch.tensor([x_t]), p0[None], t, s)[0]
            mass = sum(p0[x0] for x0 in exact)
            torch.testing.assert_close(post, sum(p0[x0] * exact[x0] for x0 in exact) / mass)
            assert torch.isclose(post.sum(), torch.tensor(1.0, dtype=torch.float64))


def test_samples_follow_qbar_per_token():
    torch.manual_seed(0)
    path = D3PMPath(3, "gaussian", steps=10)
    n = 30000
    x0 = torch.tensor([0, 2]).repeat(n, 1)
    t = torch.tensor([0.3, 0.8]).repeat(n, 1)
    empirical = torch.nn.functional.one_hot(path.sample(x0, t), 3).double().mean(0)
    torch.testing.assert_close(empirical, path.probs(x0[:1], t[:1])[0], atol=0.012, rtol=0)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="gaussian"):
        D3PMPath(4, "gausian")
    with pytest.raises(ValueError, match="one step"):
        D3PMPath(4, "uniform", 10).posterior(
            torch.zeros(1, 3, dtype=torch.long),
            torch.ones(1, 3, 4) / 4,
            torch.tensor([0.5]),
            torch.tensor([0.2]),
        )
    with pytest.raises(ValueError, match="betas"):
        D3PMPath(4, "uniform", 3, betas=[0.1, 0.2])
