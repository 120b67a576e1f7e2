import pytest
import torch

from genlab.core.flow.couplings import (
    entropic_ot,
    exact_ot,
    get_coupling,
    independent,
    label_ot,
    sinkhorn_plan,
)


def cost(a, b):
    return (a - b).square().sum(1).mean().item()


def test_exact_ot_is_a_permutation_no_costlier_than_independent_pairing():
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(256, 2, generator=g) + 3, torch.randn(256, 2, generator=g)
    _, paired = exact_ot(x0, x1)
    assert sorted(map(tuple, paired.tolist())) == sorted(map(tuple, x1.tolist()))  # every x1 exactly once
    assert cost(x0, paired) <= cost(*independent(x0, x1))
    # no pair swap can lower the cost of an optimal assignment
    i, j = 3, 17
    swapped = paired.clone()
    swapped[[i, j]] = swapped[[j, i]]
    assert cost(x0, paired) <= cost(x0, swapped) + 1e-9


def test_exact_ot_recovers_a_known_matching():
    x1 = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(1))
    x0 = x1[perm] + 1e-3
    assert torch.equal(exact_ot(x0, x1)[1], x1[perm])


def test_sinkhorn_plan_has_uniform_marginals_and_sharpens_to_ot():
    g = torch.Generator().manual_seed(0)
    x0, x1 = (
        torch.randn(32, 2, generator=g, dtype=torch.float64),
        torch.randn(32, 2, generator=g, dtype=torch.float64),
    )
    c = torch.cdist(x0, x1).square()
    plan = sinkhorn_plan(c, reg=0.5)
    assert torch.allclose(plan.sum(1), torch.full((32,), 1 / 32, dtype=torch.float64), rtol=2e-4)
    assert torch.allclose(plan.sum(0), torch.full((32,), 1 / 32, dtype=torch.float64), atol=1e-8)
    ot_cost = cost(x0, exact_ot(x0, x1)[1])
    plan_costs = [(sinkhorn_plan(c, reg=r) * c).sum().item() for r in (2.0, 0.5, 0.05)]
    assert plan_costs[0] > plan_costs[1] > plan_costs[2] >= ot_cost - 1e-9
    assert plan_costs[2] == pytest.approx(ot_cost, rel=0.05)


def test_entropic_pairing_keeps_every_source_point():
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(64, 2, generator=g), torch.randn(64, 2, generator=g)
    a, b = entropic_ot(x0, x1, sigma=0.3, generator=g)
    assert torch.equal(a, x0) and b.shape == x1.shape
    assert all(any(torch.equal(row, r) for r in x1) for row in b)


def test_label_ot_pairs_within_classes():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(60) % 3
    x0 = torch.randn(60, 2, generator=g) + labels[:, None] * 10.0
    x1 = torch.randn(60, 2, generator=g)
    _, paired = label_ot(x0, x1, labels=labels)
    for c in range(3):
        idx = labels == c
        assert sorted(map(tuple, paired[idx].tolist())) == sorted(map(tuple, x1[idx].tolist()))
    with pytest.raises(ValueError, match="labels"):
        label_ot(x0, x1)


def test_coupling_lookup_and_shape_errors():
    with pytest.raises(ValueError, match="did you mean 'ot'"):
        get_coupling("ott")
    with pytest.raises(ValueError, match="one shape"):
        exact_ot(torch.zeros(3, 2), torch.zeros(4, 2))
