"""consistency-digits: the smoke run that trains its own tiny teacher, and the boundary condition."""

import json

import torch

from genlab.core.cli import main
from genlab.core.recipe import get_recipe
from genlab.core.recipes.consistency_digits import SIGMA_MIN


def test_smoke_run_trains_a_teacher_stage(tmp_path):
    assert main(["train", "consistency-digits", "--preset", "smoke", "--out", str(tmp_path)]) == 0
    run_dir = (tmp_path / "consistency-digits" / "latest").resolve()
    results = json.loads((run_dir / "eval.json").read_text())
    assert {"cm1/fd_digits", "cm1/accuracy", "cm2/fd_digits", "cm2/accuracy"} <= set(results)
    assert (run_dir / "stages" / "teacher" / "checkpoints").is_dir()
    assert (run_dir / "samples.png").is_file()


def test_boundary_condition_and_teacher_denoiser_away_from_it():
    """f(x, t_min) = x / alpha exactly (Song et al. 2023, eq. 5); at high noise f is the network's x0."""
    torch.manual_seed(0)
    recipe = get_recipe("consistency-digits")
    task = recipe.build(recipe.make_config("smoke"))
    for p in task.model.parameters():
        torch.nn.init.normal_(p, std=0.1)
    f, sch = task.model.double(), task.schedule
    x, y = torch.randn(4, 1, 8, 8, dtype=torch.float64), torch.arange(4)
    t_min = sch.t_from_logsnr(torch.full((4,), -2 * torch.log(torch.tensor(SIGMA_MIN, dtype=torch.float64))))
    alpha = sch.alpha_sigma(t_min)[0][:, None, None, None]
    assert torch.allclose(f(x, t_min, y), x / alpha, atol=1e-8)
    assert torch.allclose(task.grid[-1], t_min[0].float(), atol=1e-6)  # the grid ends at the boundary
    t = torch.full((4,), 0.9, dtype=torch.float64)
    x0 = task.teacher_task.denoiser(f.net).x0(x, t, y=y)
    assert torch.allclose(f(x, t, y), x0, atol=5e-3) and not torch.allclose(f(x, t, y), x0, atol=1e-6)
