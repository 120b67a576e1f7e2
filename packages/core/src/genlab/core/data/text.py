"""Text corpora that ship with the Python interpreter, as byte tokens (vocab 256).

- ``python``: the standard library's own ``.py`` sources (under ``sysconfig``'s ``stdlib``),
  without test suites and installed packages; about 12 MB of code on CPython 3.11.
- ``prose``: the English help topics of ``pydoc_data.topics``, about 0.5 MB.

Documents are split by name, not by position, so no file straddles train and test: a document
is in ``test`` when crc32 of its name is 0 mod 10, the same on every machine with the same
Python. Bytes are the tokens (the byte-level vocabulary of GPT-2, Radford et al., 2019, without
merges), so nothing needs a trained tokenizer and any text round-trips.
"""

from __future__ import annotations

import os
import sysconfig
import zlib
from functools import lru_cache
from pathlib import Path

import torch

from genlab.core.lookup import lookup

VOCAB_SIZE = 256
EXCLUDED_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"}


def _python_documents() -> dict[str, str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    docs = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in EXCLUDED_DIRS]  # prune: never walk site-packages
        for name in files:
            if name.endswith(".py"):
                path = Path(folder, name)
                docs[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8", errors="replace")
    return dict(sorted(docs.items()))


def _prose_documents() -> dict[str, str]:
    from pydoc_data.topics import topics

    return dict(sorted(topics.items()))


CORPORA = {"python": _python_documents, "prose": _prose_documents}
SPLITS = ("train", "test")


def is_test_document(name: str) -> bool:
    """The deterministic split: 1 document in 10, by the crc32 of its name."""
    return zlib.crc32(name.encode()) % 10 == 0


@lru_cache(maxsize=2)
def documents(corpus: str = "python") -> dict[str, str]:
    """All documents of a corpus by name, in name order."""
    return lookup("text corpus", corpus, CORPORA)()


def load_text(corpus: str = "python", split: str = "train") -> str:
    """The documents of one split of a corpus, in name order, separated by blank lines."""
    docs = documents(corpus)
    lookup("text split", split, {s: s for s in SPLITS})
    chosen = [text for name, text in docs.items() if is_test_document(name) == (split == "test")]
    if not chosen:
        raise ValueError(f"the {corpus!r} corpus has no {split!r} documents on this interpreter")
    return "\n\n".join(chosen)


def encode(text: str) -> torch.Tensor:
    """UTF-8 bytes of ``text`` as a uint8 tensor."""
    return torch.frombuffer(bytearray(text.encode("utf-8")), dtype=torch.uint8)


def decode(tokens: torch.Tensor) -> str:
    """Text from byte tokens; bytes that are not valid UTF-8 become U+FFFD."""
    tokens = tokens.long()
    if tokens.numel() and (tokens.min() < 0 or tokens.max() >= VOCAB_SIZE):
        raise ValueError("byte tokens must lie in [0, 256)")
    return bytes(tokens.tolist()).decode("utf-8", errors="replace")


def load_tokens(corpus: str = "python", split: str = "train") -> torch.Tensor:
    """One split of a corpus as a 1-D uint8 tensor of bytes."""
    return encode(load_text(corpus, split))


def blocks(tokens: torch.Tensor, length: int) -> torch.Tensor:
    """Consecutive non-overlapping blocks [N, length] (LongTensor); the tail that does not fill one is dropped."""
    if tokens.ndim != 1 or length < 1 or len(tokens) < length:
        raise ValueError(f"need 1-D tokens with at least {length} entries, got shape {tuple(tokens.shape)}")
    n = len(tokens) // length
    return tokens[: n * length].view(n, length).long()


def random_blocks(tokens: torch.Tensor, length: int, batch_size: int, generator=None) -> torch.Tensor:
    """``batch_size`` contiguous blocks [B, length] (LongTensor) at uniform random offsets."""
    if tokens.ndim != 1 or len(tokens) < length:
        raise ValueError(f"need 1-D tokens with at least {length} entries, got shape {tuple(tokens.shape)}")
    starts = torch.randint(len(tokens) - length + 1, (batch_size,), generator=generator)
    return tokens[starts[:, None] + torch.arange(length)].long()


def ngram_bits_per_byte(
    train: torch.Tensor, test: torch.Tensor | None = None, order: int = 1, alpha: float = 0.0, start: int = 10
) -> float:
    """Bits per byte of the byte n-gram model (order 1: unigram, 2: bigram) counted on ``train`` and
    scored on ``test`` (default: ``train`` itself, which with ``alpha = 0`` is the plug-in entropy).

    These are the trivial rows a learned byte model must beat. 1-D tokens are one sequence, 2-D are
    blocks scored row by row; as in ``text-ar``, the bigram model conditions each sequence's first
    byte on ``start`` (a newline). ``alpha`` is add-alpha smoothing of the counts."""
    if order not in (1, 2):
        raise ValueError(f"order must be 1 (unigram) or 2 (bigram), got {order}")
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")

    def pairs(tokens: torch.Tensor) -> torch.Tensor:
        if tokens.ndim not in (1, 2) or tokens.shape[-1] == 0:
            raise ValueError(f"need non-empty 1-D or 2-D byte tokens, got shape {tuple(tokens.shape)}")
        rows = tokens.long().reshape(-1, tokens.shape[-1])
        context = torch.nn.functional.pad(rows, (1, 0), value=start)[:, :-1]
        if order == 1:
            context = torch.zeros_like(rows)
        return (context * VOCAB_SIZE + rows).flatten()

    counts = torch.bincount(pairs(train), minlength=VOCAB_SIZE * VOCAB_SIZE).view(VOCAB_SIZE, VOCAB_SIZE)
    counts = counts.double() + alpha
    log2p = (counts / counts.sum(-1, keepdim=True)).log2()
    bits = -log2p.flatten()[pairs(train if test is None else test)]
    if not torch.isfinite(bits).all():
        raise ValueError("the test bytes hold n-grams never seen in train: use alpha > 0")
    return bits.mean().item()
