"""nf-energy: the smoke run through the CLI, log Z by quadrature, and a family of flows that trains as
independent flows."""

import json
import math

import pytest
import torch

from genlab.core.cli import main
from genlab.core.nflows import Planar, log_target
from genlab.core.recipes.nf_energy import FlowFamily, log_partition, parse_layers


def test_smoke_run(tmp_path):
    argv = ["train", "nf-energy", "--preset", "smoke", "--out", str(tmp_path), "--flow", "radial"]
    assert main(argv + ["--energy", "U2"]) == 0
    run_dir = (tmp_path / "nf-energy" / "latest").resolve()
    results = json.loads((run_dir / "eval.json").read_text())
    assert {"log_z", "kl_K2", "kl_K4", "kl_K2_stderr", "kl_K4_stderr"} <= set(results)
    for k in (2, 4):  # a true KL: never below zero beyond Monte-Carlo error
        assert results[f"kl_K{k}"] > -4 * results[f"kl_K{k}_stderr"]
    assert (run_dir / "samples.png").stat().st_size > 1000


def test_log_partition_of_a_gaussian_and_of_the_energies():
    assert log_partition(lambda z: -0.5 * (z**2).sum(1), 6.0, 401) == pytest.approx(
        math.log(2 * math.pi), abs=1e-6
    )
    # U2 is a band of Gaussian width 0.4 around a curve: Z is close to 8 * sqrt(2 pi) * 0.4 on the box
    assert log_partition(log_target("U2"), 6.0, 801) == pytest.approx(
        math.log(8 * math.sqrt(2 * math.pi) * 0.4), abs=0.05
    )


def test_summed_losses_give_each_flow_its_own_gradient():
    torch.manual_seed(0)
    family = FlowFamily(Planar, [2, 3])
    log_p = log_target("U1")
    torch.manual_seed(1)
    sum(family(log_p, 16).values()).backward()
    joint = {n: p.grad.clone() for n, p in family.named_parameters()}
    for k in (2, 3):  # the same draws again: flow k's gradient alone
        family.zero_grad()
        torch.manual_seed(1)
        losses = family.flows["2"].reverse_kl(log_p, 16), family.flows["3"].reverse_kl(log_p, 16)
        losses[k - 2].backward()
        for n, p in family.flows[str(k)].named_parameters():
            assert torch.allclose(p.grad, joint[f"flows.{k}.{n}"], atol=1e-6)


def test_annealing_clock_and_layers_parsing():
    family = FlowFamily(Planar, [2])
    family(log_target("U1"), 4, anneal=10)
    assert family.updates.item() == 1.0
    family.eval()
    family(log_target("U1"), 4, anneal=10)
    assert family.updates.item() == 1.0  # evaluation does not advance the schedule
    assert parse_layers("2,8,32") == [2, 8, 32]
    with pytest.raises(ValueError, match="comma-separated"):
        parse_layers("2;8")
    with pytest.raises(ValueError, match=">= 1"):
        parse_layers("0,2")
