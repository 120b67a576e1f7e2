"""tokenizer-digits: a smoke run per quantizer at equal vocabulary, and the codebook statistics."""

import json
import math

import pytest
import torch

from genlab.core.cli import main
from genlab.core.recipes.tokenizer_digits import codebook_stats, fsq_levels

TOKENS = {"vq": 16, "fsq": 16, "lfq": 16, "rvq": 32, "msvq": 1 + 4 + 9 + 16}


@pytest.mark.parametrize("quantizer", list(TOKENS))
def test_smoke_run(tmp_path, quantizer):
    torch.manual_seed(0)
    args = [
        "train",
        "tokenizer-digits",
        "--preset",
        "smoke",
        "--out",
        str(tmp_path),
        "--quantizer",
        quantizer,
    ]
    assert main(args) == 0
    run = (tmp_path / "tokenizer-digits" / "latest").resolve()
    results = json.loads((run / "eval.json").read_text())
    assert results["vocab_size"] == 256 and results["tokens_per_image"] == TOKENS[quantizer]
    assert math.isfinite(results["psnr"])
    assert 1 <= results["perplexity"] <= 256 and 0 < results["usage"] <= 1
    assert (run / "samples.png").stat().st_size > 0


@pytest.mark.parametrize("bits", range(1, 17))
def test_fsq_levels_give_exactly_the_vocabulary(bits):
    levels = fsq_levels(bits)
    assert math.prod(levels) == 2**bits and max(levels) <= 8


def test_codebook_stats():
    uniform = codebook_stats(torch.arange(16).repeat(3)[:, None], 16)
    assert uniform["perplexity"] == pytest.approx(16) and uniform["usage"] == 1
    one = codebook_stats(torch.full((10, 1), 3), 16)
    assert one["perplexity"] == pytest.approx(1) and one["usage"] == 1 / 16
    two_books = codebook_stats(torch.tensor([[0, 1], [1, 1]]), 4)  # book 0 uses 2 codes, book 1 one
    assert two_books["perplexity"] == pytest.approx((2 + 1) / 2) and two_books["usage"] == pytest.approx(
        3 / 8
    )
