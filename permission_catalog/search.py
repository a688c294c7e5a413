"""Text search over the catalog (actions, roles, tasks).

Scoring (lower is better): 0 exact key or name, 1 key/name starts with the query, 2 every query
word appears in the key or name, 3 every query word appears in the description / title text.
Ties are ordered by kind (action, role, task) and key, so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog, SearchHit

_KIND_ORDER = {"action": 0, "role": 1, "task": 2}


def _score(query: str, words: list[str], key: str, name: str, text: str) -> int | None:
    k, n, t = key.lower(), name.lower(), text.lower()
    if query in (k, n):
        return 0
    if k.startswith(query) or n.startswith(query):
        return 1
    if all(w in k or w in n for w in words):
        return 2
    if all(w in k or w in n or w in t for w in words):
        return 3
    return None


def _entries(cat: Catalog, kinds: frozenset[str]) -> Iterable[tuple[str, str, str, str]]:
    """(kind, key, name, searchable text) for every searchable item."""
    if "action" in kinds:
        for a in cat.actions.values():
            yield "action", a.name, a.name, a.description or ""
    if "role" in kinds:
        for r in cat.roles.values():
            yield "role", r.id, r.name, r.description
    if "task" in kinds:
        for t in cat.tasks.values():
            title = str(getattr(t, "title", ""))
            text = " ".join(
                [str(getattr(t, "area", "")), title, str(getattr(t, "notes", "") or "")]
            )
            yield "task", str(t.id), title, text


def search(cat: Catalog, text: str, kinds: frozenset[str], limit: int) -> list[SearchHit]:
    """See the module docstring; at most ``limit`` hits."""
    from .catalog import SearchHit

    query = " ".join(text.split()).lower()
    if not query:
        return []
    words = query.split()
    hits: list[SearchHit] = []
    for kind, key, name, body in _entries(cat, kinds):
        score = _score(query, words, key, name, body)
        if score is not None:
            hits.append(SearchHit(kind, key, name, score))
    hits.sort(key=lambda h: (h.score, _KIND_ORDER[h.kind], h.key))
    return hits[:limit]
