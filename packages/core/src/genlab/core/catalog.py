"""The installed recipes, known without importing them.

Every genlab package lists its recipes under the entry-point group ``genlab.recipes``. Importing a
recipe pulls in its package's whole stack (RDKit, torch_geometric, MuJoCo, ...), tens of seconds of
CPU, so the catalogue reads each recipe's name and description from its module's source instead: the
``Recipe(...)`` call assigned to the entry point's attribute, parsed with ``ast``. Only ``load`` imports,
and only the one recipe asked for. This module imports nothing heavy (not even torch), so that
``genlab list`` and a mistyped name answer in well under a second.
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from genlab.core.lookup import unknown

GROUP = "genlab.recipes"
PRESETS = ("smoke", "default", "paper")


@dataclass(frozen=True)
class Entry:
    """A registered recipe as the catalogue knows it: no code of the recipe has run."""

    name: str
    package: str
    description: str
    entry_point: EntryPoint


def _module_source(module: str) -> str:
    spec = importlib.util.find_spec(module)  # imports the parent packages only (they are light)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise LookupError(f"cannot find the source of {module}")
    return Path(spec.origin).read_text()


def _description(entry_point: EntryPoint) -> str:
    """The ``description`` given to the call assigned to the entry point's attribute: a keyword, or the
    second positional argument (``Recipe(name, description, ...)`` and helpers that keep that order)."""
    tree = ast.parse(_module_source(entry_point.module))
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        if not any(isinstance(t, ast.Name) and t.id == entry_point.attr for t in node.targets):
            continue
        call = node.value
        given = [k.value for k in call.keywords if k.arg == "description"] + call.args[1:2]
        if given and isinstance(given[0], ast.Constant) and isinstance(given[0].value, str):
            return given[0].value
    return ""


@cache
def installed() -> dict[str, Entry]:
    """Every recipe registered by an installed package, by name, sorted."""
    entries = {}
    for ep in entry_points(group=GROUP):
        try:
            description = _description(ep)
        except (LookupError, SyntaxError, OSError, ImportError):
            description = ""  # still listed; loading it will say what is wrong
        entries[ep.name] = Entry(ep.name, ep.dist.name if ep.dist else "", description, ep)
    return dict(sorted(entries.items()))


def entry(name: str) -> Entry:
    """The catalogue entry of recipe ``name``, or a ValueError naming the closest installed recipes."""
    entries = installed()
    if name not in entries:
        raise unknown("recipe", name, entries)
    return entries[name]
