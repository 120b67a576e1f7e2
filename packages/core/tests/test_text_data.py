import math

import pytest
import torch

from genlab.core.data.text import (
    blocks,
    decode,
    documents,
    encode,
    is_test_document,
    load_text,
    load_tokens,
    ngram_bits_per_byte,
    random_blocks,
)


def test_python_corpus_is_the_stdlib_without_tests_and_packages():
    names = list(documents("python"))
    assert "os.py" in names and "json/decoder.py" in names
    assert not any({"test", "tests", "idle_test", "site-packages"} & set(n.split("/")[:-1]) for n in names)
    assert all(n.endswith(".py") for n in names)


@pytest.mark.parametrize("corpus", ["python", "prose"])
def test_split_is_by_document_disjoint_and_deterministic(corpus):
    docs = documents(corpus)
    test = [n for n in docs if is_test_document(n)]
    assert 0.03 < len(test) / len(docs) < 0.2
    train_text, test_text = load_text(corpus, "train"), load_text(corpus, "test")
    assert len(train_text) > 5 * len(test_text) > 0
    held_out = max(test, key=lambda n: len(docs[n]))
    assert docs[held_out] in test_text and docs[held_out] not in train_text
    assert load_text(corpus, "test") == test_text


def test_prose_is_english():
    text = load_text("prose", "train")
    assert text.count(" the ") > 1000 and len(text) > 100_000


def test_bytes_round_trip():
    text = "def f(x):\n    return 'héllo'  # ünïcode\n"
    tokens = encode(text)
    assert tokens.dtype == torch.uint8 and len(tokens) == len(text.encode())
    assert decode(tokens) == text and decode(tokens.long()) == text
    assert decode(load_tokens("prose", "test")) == load_text("prose", "test")


def test_blocks_are_contiguous_long_tensors():
    tokens = load_tokens("python", "test")
    b = blocks(tokens, 64)
    assert b.dtype == torch.long and b.shape == (len(tokens) // 64, 64)
    assert torch.equal(b[3], tokens[192:256].long())
    r = random_blocks(tokens, 32, 16, generator=torch.Generator().manual_seed(0))
    assert r.shape == (16, 32) and r.dtype == torch.long
    text = decode(tokens)
    for row in r[:4]:
        assert decode(row.to(torch.uint8)).encode() in text.encode()  # a contiguous piece of the corpus
    assert torch.equal(r, random_blocks(tokens, 32, 16, generator=torch.Generator().manual_seed(0)))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="prose"):
        load_text("prosee")
    with pytest.raises(ValueError, match="test"):
        load_text("python", "tset")
    with pytest.raises(ValueError, match="1-D"):
        blocks(torch.zeros(10, dtype=torch.uint8), 11)
    with pytest.raises(ValueError, match="256"):
        decode(torch.tensor([300]))


def test_ngram_bits_match_hand_counts():
    cycle = torch.tensor([1, 2, 3] * 4)  # each byte follows one byte: the bigram model is certain
    assert ngram_bits_per_byte(cycle, order=1) == pytest.approx(math.log2(3))
    # the first byte follows the start byte, seen once: -log2(1/1) = 0 as well
    assert ngram_bits_per_byte(cycle, order=2) == pytest.approx(0.0)
    skew = torch.tensor([0, 0, 0, 1])
    assert ngram_bits_per_byte(skew, order=1) == pytest.approx(
        -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    )


def test_ngram_smoothing_scores_unseen_bytes_and_without_it_refuses():
    train, test = torch.tensor([5, 5, 5, 5]), torch.tensor([6])
    assert ngram_bits_per_byte(train, test, alpha=1.0) == pytest.approx(-math.log2(1 / (4 + 256)))
    with pytest.raises(ValueError, match="alpha > 0"):
        ngram_bits_per_byte(train, test)
    with pytest.raises(ValueError, match="order"):
        ngram_bits_per_byte(train, order=3)


def test_bigram_on_blocks_conditions_each_row_on_the_start_byte():
    rows = torch.tensor([[1, 2], [3, 4]])
    # rows: the start byte is followed by 1 or 3 (1 bit each), then 2 and 4 are certain
    assert ngram_bits_per_byte(rows, order=2) == pytest.approx(0.5)
    assert ngram_bits_per_byte(rows.flatten(), order=2) == pytest.approx(0.0)  # one stream: all certain


def test_random_bytes_have_eight_bits_and_text_has_fewer():
    noise = torch.randint(256, (200_000,), generator=torch.Generator().manual_seed(0))
    assert ngram_bits_per_byte(noise, order=1) == pytest.approx(8.0, abs=0.01)
    text = load_tokens("prose", "train")
    unigram, bigram = ngram_bits_per_byte(text, order=1), ngram_bits_per_byte(text, order=2)
    assert 3.5 < unigram < 5.5 and bigram < unigram - 0.5
