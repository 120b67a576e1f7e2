"""Name lookups that fail with the closest known names, for every registry in genlab."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TypeVar

V = TypeVar("V")


def unknown(kind: str, name: str, known: Iterable[str]) -> ValueError:
    """A ValueError for an unknown ``name`` of some ``kind``, naming the closest known names."""
    known = list(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    return ValueError(f"unknown {kind} {name!r}{hint} (known: {', '.join(known)})")


def lookup(kind: str, name: str, table: Mapping[str, V]) -> V:
    """``table[name]``, or a ValueError from ``unknown``."""
    if name not in table:
        raise unknown(kind, name, table)
    return table[name]
