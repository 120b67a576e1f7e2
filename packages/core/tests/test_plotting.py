"""Image grids label their columns where the samples have classes (issue 41: digit grids had none)."""

import pytest
import torch

from genlab.core import plotting
from genlab.core.data.digits import load_digits
from genlab.core.recipes.diffusion_digits import class_grid
from genlab.core.recipes.tokenizer_digits import RECIPE as TOKENIZER


@pytest.fixture
def figures(monkeypatch):
    """The figures the plotting functions close, kept open for inspection."""
    kept, close = [], plotting.plt.close
    monkeypatch.setattr(plotting.plt, "close", kept.append)
    yield kept
    for fig in kept:
        close(fig)


def _column_labels(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_xticklabels()]


def test_class_conditional_grid_has_a_column_per_class(tmp_path, figures):
    class_grid(torch.rand(30, 1, 8, 8), tmp_path / "samples.png", "w = 1")
    assert _column_labels(figures[0]) == [str(c) for c in range(10)]
    assert figures[0].axes[0].get_xlabel() == "class"
    class_grid(torch.rand(3, 1, 8, 8), tmp_path / "three.png", "w = 1")  # fewer samples than classes
    assert _column_labels(figures[1]) == ["0", "1", "2"]


def test_tokenizer_grid_labels_each_test_digit_with_its_class(tmp_path, figures):
    task = TOKENIZER.build(TOKENIZER.make_config("smoke", {}))
    task.save_samples(torch.rand(12, 1, 8, 8), tmp_path / "samples.png")
    assert _column_labels(figures[0]) == [str(int(c)) for c in load_digits("test").labels[:6]]


def test_column_labels_must_match_the_grid_width(tmp_path):
    with pytest.raises(ValueError, match="3 column labels for a grid 10 images wide"):
        plotting.image_grid(torch.rand(20, 1, 8, 8), tmp_path / "g.png", columns=["a", "b", "c"])
    plain = plotting.image_grid(torch.rand(20, 1, 8, 8), tmp_path / "plain.png", title="a " * 80)
    assert plain.stat().st_size > 1000  # a long title wraps instead of failing or running off
