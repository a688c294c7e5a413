"""Configuration-vs-execution split: partition each principal's needs before mining.

Every (principal, action) need falls in one group keyed by :class:`GroupKey`:

* ``scope``: where it is assigned (tenant, administrative unit, application; ``scope.py``);
* ``custom``: whether a custom role may hold the action (``ResourceAction.custom_role_ok``);
* ``plane`` (custom-eligible needs only): ``configuration`` (policies and settings that govern
  many objects) or ``execution`` (operating on individual objects). Reads ride with the
  principal's execution work at that scope, else with its configuration work; a principal
  that only reads there gets a ``read`` group.

Mining each custom group separately makes every mined role pure, so configuration roles and
execution roles can be gated differently (ticket, approval, shorter activation). Needs no
custom role can hold are not split by plane: built-in roles mix planes anyway, and one
least-privileged search over all of a principal's fallback needs at a scope is never costlier
than two.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog import Catalog

__all__ = ["GroupKey", "action_plane", "is_custom_eligible", "partition", "split_pairs"]

ScopeKind = Literal["tenant", "administrative_unit", "application"]
GroupPlane = Literal["configuration", "execution", "read", "fallback"]
_SCOPE_RANK = {"tenant": 0, "administrative_unit": 1, "application": 2}
_PLANE_RANK = {"configuration": 0, "execution": 1, "read": 2, "fallback": 3}


@dataclass(frozen=True, slots=True, order=False)
class GroupKey:
    """One mining problem: needs at one scope kind, of one plane, custom-eligible or not."""

    scope: ScopeKind
    plane: GroupPlane
    custom: bool

    def sort_key(self) -> tuple[int, int, int]:
        """Canonical order: scope kind, then plane, then custom before fallback."""
        return (_SCOPE_RANK[self.scope], _PLANE_RANK[self.plane], 0 if self.custom else 1)

    @property
    def label(self) -> str:
        """A short readable label, e.g. ``tenant/execution``."""
        return f"{self.scope}/{self.plane}"


def action_plane(catalog: Catalog, action: str) -> Literal["read", "execution", "configuration"]:
    """Plane of one action (``catalog.classify``)."""
    plane = catalog.classify(action).plane
    if plane == "read":
        return "read"
    return "configuration" if plane == "configuration" else "execution"


def is_custom_eligible(catalog: Catalog, action: str) -> bool:
    """May a custom role hold this action? (unknown actions: no)."""
    hit = catalog.actions.get(action)
    return bool(hit is not None and hit.custom_role_ok)


def partition(
    needs: Mapping[str, Mapping[str, str]], catalog: Catalog
) -> dict[GroupKey, dict[str, frozenset[str]]]:
    """Group every principal's needs (principal → action → scope kind) by :class:`GroupKey`.

    Returns group → principal → actions, groups and principals in canonical order.
    """
    acc: dict[GroupKey, dict[str, set[str]]] = {}
    for pid in sorted(needs):
        by_scope: dict[str, list[str]] = {}
        for action, scope in needs[pid].items():
            by_scope.setdefault(scope, []).append(action)
        for scope, actions in by_scope.items():
            for key, acts in _split_one(scope, actions, catalog).items():
                acc.setdefault(key, {}).setdefault(pid, set()).update(acts)
    return {
        k: {p: frozenset(a) for p, a in sorted(acc[k].items())}
        for k in sorted(acc, key=GroupKey.sort_key)
    }


def _split_one(scope: str, actions: Iterable[str], catalog: Catalog) -> dict[GroupKey, set[str]]:
    kind: ScopeKind = scope  # type: ignore[assignment]
    planes: dict[str, set[str]] = {"read": set(), "execution": set(), "configuration": set()}
    fallback: set[str] = set()
    for a in actions:
        if is_custom_eligible(catalog, a):
            planes[action_plane(catalog, a)].add(a)
        else:
            fallback.add(a)
    out: dict[GroupKey, set[str]] = {}
    reads = planes.pop("read")
    if planes["execution"]:
        planes["execution"] |= reads
    elif planes["configuration"]:
        planes["configuration"] |= reads
    elif reads:
        planes["read"] = reads
    for plane, acts in planes.items():
        if acts:
            out[GroupKey(kind, plane, True)] = acts  # type: ignore[arg-type]
    if fallback:
        out[GroupKey(kind, "fallback", False)] = fallback
    return out


def split_pairs(
    holders: Mapping[str, frozenset[str]], planes: Mapping[str, tuple[str, str]]
) -> dict[str, str]:
    """For roles whose holders also hold a role of the other plane at the same scope kind,
    the sibling role (most shared holders, then key): role key → sibling key.

    ``holders``: role key → principals; ``planes``: role key → (scope kind, plane).
    """
    out: dict[str, str] = {}
    other = {"configuration": "execution", "execution": "configuration"}
    for key in sorted(holders):
        scope, plane = planes[key]
        if plane not in other:
            continue
        best: tuple[int, str] | None = None
        for cand in sorted(holders):
            if planes[cand] != (scope, other[plane]):
                continue
            shared = len(holders[key] & holders[cand])
            if shared and (best is None or shared > best[0]):
                best = (shared, cand)
        if best is not None:
            out[key] = best[1]
    return out
