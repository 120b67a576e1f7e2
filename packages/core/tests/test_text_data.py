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
