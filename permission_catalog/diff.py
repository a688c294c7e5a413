"""Differences between two catalogs (e.g. two role-definition exports, or bundled vs tenant).

A role is *changed* when its set of (action, condition) grants differs; a rename alone is
reported in ``renamed_roles`` and does not count as a change of its grants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog


@dataclass(frozen=True, slots=True)
class RoleChange:
    """How one role's grants changed (actions as ``name`` or ``name [condition]``)."""

    id: str
    name: str
    added_actions: tuple[str, ...]
    removed_actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CatalogDiff:
    """Result of ``old.diff(new)``; every tuple is sorted."""

    old_version: str
    new_version: str
    added_roles: tuple[str, ...]
    removed_roles: tuple[str, ...]
    changed_roles: tuple[RoleChange, ...]
    renamed_roles: tuple[tuple[str, str, str], ...]
    added_actions: tuple[str, ...]
    removed_actions: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        """True when nothing differs."""
        return not (
            self.added_roles
            or self.removed_roles
            or self.changed_roles
            or self.renamed_roles
            or self.added_actions
            or self.removed_actions
        )


def _grant_strings(cat: Catalog, role_id: str) -> frozenset[str]:
    return frozenset(
        a.name if a.condition is None else f"{a.name} [{a.condition}]"
        for a in cat.roles[role_id].actions
    )


def diff_catalogs(old: Catalog, new: Catalog) -> CatalogDiff:
    """Compare two catalogs role by role (by template id) and action by action."""
    old_ids, new_ids = set(old.roles), set(new.roles)
    changed: list[RoleChange] = []
    renamed: list[tuple[str, str, str]] = []
    for rid in sorted(old_ids & new_ids):
        before, after = _grant_strings(old, rid), _grant_strings(new, rid)
        if before != after:
            changed.append(
                RoleChange(
                    rid,
                    new.roles[rid].name,
                    tuple(sorted(after - before)),
                    tuple(sorted(before - after)),
                )
            )
        if old.roles[rid].name != new.roles[rid].name:
            renamed.append((rid, old.roles[rid].name, new.roles[rid].name))
    changed.sort(key=lambda c: (c.name.lower(), c.id))
    return CatalogDiff(
        old_version=old.version,
        new_version=new.version,
        added_roles=tuple(sorted(new.roles[r].name for r in new_ids - old_ids)),
        removed_roles=tuple(sorted(old.roles[r].name for r in old_ids - new_ids)),
        changed_roles=tuple(changed),
        renamed_roles=tuple(renamed),
        added_actions=tuple(sorted(set(new.actions) - set(old.actions))),
        removed_actions=tuple(sorted(set(old.actions) - set(new.actions))),
    )
