"""nf-2d: smoke runs of the three flow families through the CLI, and NLL = entropy for an exact model."""

import json

import pytest
import torch

from genlab.core.cli import main
from genlab.core.recipes.nf_2d import NF2DConfig, NF2DTask, build_flow


@pytest.mark.parametrize("flow", ["maf", "nsf", "coupling", "iresnet"])
def test_smoke_run(tmp_path, flow):
    assert main(["train", "nf-2d", "--preset", "smoke", "--out", str(tmp_path), "--flow", flow]) == 0
    run_dir = (tmp_path / "nf-2d" / "latest").resolve()
    results = json.loads((run_dir / "eval.json").read_text())
    assert results["kl_gap"] == pytest.approx(results["test_nll"] - results["entropy"])
    assert results["kl_gap"] > -0.1  # NLL - H(p) = KL(p || q) >= 0, up to Monte-Carlo error
    assert (run_dir / "samples.png").stat().st_size > 1000


def test_an_exact_model_scores_the_entropy():
    """An untrained MAF is the identity (zero-initialised MADE outputs), so on the standard normal
    density its test NLL estimates the entropy log(2 pi e)."""
    torch.manual_seed(0)
    task = NF2DTask(NF2DConfig(density="gaussian", flow="maf", layers=2, n_train=512, n_eval=20_000))
    results = task.evaluate(task.model)
    assert abs(results["kl_gap"]) < 0.03
    assert results["entropy"] == pytest.approx(2.8379, abs=0.03)


@pytest.mark.parametrize("kind", ["maf", "nsf", "coupling", "iresnet"])
def test_flows_round_trip(kind):
    torch.manual_seed(0)
    flow = build_flow(kind, 2, 16, 2).double()
    x = torch.randn(32, 2, dtype=torch.float64)
    flow.log_prob(x)  # initialises ActNorm
    flow.eval()
    z, _ = flow.transform(x)
    assert torch.allclose(flow.transform.inverse(z)[0], x, atol=1e-6)
    with pytest.raises(ValueError, match="flow"):
        build_flow("realnvp", 2, 16, 2)
