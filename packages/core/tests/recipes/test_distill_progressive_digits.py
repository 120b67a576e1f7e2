"""distill-progressive-digits: from a given teacher run (--teacher), and the distillation target."""

import json

import pytest
import torch

from genlab.core.cli import main
from genlab.core.diffusion import Denoiser, convert
from genlab.core.recipe import get_recipe


def test_smoke_run_from_a_teacher_run(tmp_path):
    assert main(["train", "diffusion-digits", "--preset", "smoke", "--out", str(tmp_path)]) == 0
    teacher = (tmp_path / "diffusion-digits" / "latest").resolve()
    argv = ["train", "distill-progressive-digits", "--preset", "smoke", "--out", str(tmp_path)]
    assert main(argv + ["--teacher", str(teacher)]) == 0
    run_dir = (tmp_path / "distill-progressive-digits" / "latest").resolve()
    results = json.loads((run_dir / "eval.json").read_text())
    for n in (1, 2):  # teacher_steps 4 -> students of 2 and 1 steps
        assert {f"student{n}/fd_digits", f"student{n}/accuracy", f"teacher_ddim{n}/fd_digits"} <= set(results)
    assert (run_dir / "stages" / "student-2" / "checkpoints").is_dir()
    assert not (run_dir / "stages" / "teacher").exists()  # the given teacher was not retrained
    assert (run_dir / "samples.png").is_file()
    (run_dir / "eval.json").unlink()  # `genlab eval` reloads the intermediate student from its stage
    assert main(["eval", str(run_dir)]) == 0
    again = json.loads((run_dir / "eval.json").read_text())
    assert again["student2/fd_digits"] == pytest.approx(results["student2/fd_digits"], rel=1e-6)
    assert again["student1/fd_digits"] == pytest.approx(results["student1/fd_digits"], rel=1e-6)


def test_rounds_halve_the_steps_and_bad_counts_are_named():
    recipe = get_recipe("distill-progressive-digits")
    task = recipe.build(recipe.make_config("smoke", {"teacher_steps": "16"}))
    assert task.rounds == [8, 4, 2, 1]
    with pytest.raises(ValueError, match="power of two"):
        recipe.build(recipe.make_config("smoke", {"teacher_steps": "6", "min_steps": "4"}))


def test_round_loss_is_zero_for_a_student_that_matches_two_teacher_steps():
    """Salimans & Ho's target: a student whose one DDIM step t -> s lands where two teacher steps
    land has zero loss. For data that is one point c, E[x0 | x_t] = c and DDIM is exact, so the teacher
    itself is such a student."""
    recipe = get_recipe("distill-progressive-digits")
    task = recipe.build(recipe.make_config("smoke"))
    sch = task.schedule

    class Point(torch.nn.Module):  # the exact denoiser of data at the single point 0.3, as v
        def forward(self, x, t, y=None):
            return convert(torch.full_like(x, 0.3), "x0", "v", x, t, sch)

    teacher = Denoiser(Point(), sch, "v")
    torch.manual_seed(0)
    batch = (torch.randn(16, 1, 8, 8, dtype=torch.float64), torch.arange(16) % 10)
    loss, _ = task.round_loss(teacher, 4)(Point(), batch)
    assert loss.item() < 1e-12
