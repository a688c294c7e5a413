"""Entra's rules for custom role definitions, checked before anything is sent to a tenant.

``check_custom_role(cat, actions, scope)`` returns every violated rule (``[]`` = valid):

===============================  ========  ==================================================
rule                             severity  when
===============================  ========  ==================================================
``empty_role``                   error     no action at all
``malformed_action``             error     the string is not a resource action
``unknown_action``               error     not in the catalog (nor an instance of a template)
``template_placeholder``         error     ``{id}`` left in a templated action
``not_allowed_in_custom_roles``  error     not on Microsoft's custom-role permission pages
``create_at_non_tenant_scope``   error     creating a directory object (``users/create``) at an
                                           AU or application scope (a sub-object create such as
                                           ``users/authenticationMethods/create`` follows its
                                           parent: ``Catalog.scopes_of``)
``not_meaningful_at_scope``      error     at application scope: not an app-registration or
                                           enterprise-app action
``no_au_relevant_action``        error     AU scope but no user / group / device action
``ineffective_at_au_scope``      warning   AU scope: this action does not apply to AU members
``redundant_action``             warning   implied by another action of the same role
``tenant_custom_role_limit``     error     ``existing_custom_roles`` already at the tenant limit
===============================  ========  ==================================================

Templated actions (``managePermissionGrantsForSelf.{id}``) accept any policy id in place of
``{id}``; such an instance counts as documented for custom roles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .actions import CREATE_VERBS, parse_action
from .catalog import SCOPES
from .errors import InvalidValueError, UnknownNameError

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog


@dataclass(frozen=True, slots=True)
class CustomRoleViolation:
    """One broken custom-role rule; ``action`` is None for rules about the whole role."""

    rule: str
    severity: str
    action: str | None
    message: str


def _template_of(cat: Catalog, name: str) -> str | None:
    """The documented template an action instantiates (``X.my-policy`` → ``X.{id}``)."""
    head, dot, _ = name.rpartition(".")
    candidate = f"{head}.{{id}}" if dot else ""
    hit = cat.actions.get(candidate)
    return candidate if hit is not None and hit.custom_role_ok else None


def _action_violations(cat: Catalog, name: str, scope: str) -> list[CustomRoleViolation]:
    try:
        p = parse_action(name)
    except InvalidValueError as exc:
        return [CustomRoleViolation("malformed_action", "error", name, str(exc))]
    out: list[CustomRoleViolation] = []
    known = cat.actions.get(name)
    if p.templated:
        out.append(
            CustomRoleViolation(
                "template_placeholder",
                "error",
                name,
                "replace {id} with the id of an app consent policy",
            )
        )
    elif known is None and _template_of(cat, name) is None:
        msg = str(UnknownNameError("resource action", name, cat.actions))
        return [CustomRoleViolation("unknown_action", "error", name, msg)]
    elif known is not None and not known.custom_role_ok:
        out.append(
            CustomRoleViolation(
                "not_allowed_in_custom_roles",
                "error",
                name,
                "not on Microsoft's custom-role permission pages; only built-in roles grant it",
            )
        )
    if scope != "tenant" and p.verb in CREATE_VERBS and scope not in cat.scopes_of(name):
        out.append(
            CustomRoleViolation(
                "create_at_non_tenant_scope",
                "error",
                name,
                f"creating a directory object takes effect only at tenant scope, not {scope}",
            )
        )
    elif scope == "application" and "application" not in cat.scopes_of(name):
        out.append(
            CustomRoleViolation(
                "not_meaningful_at_scope",
                "error",
                name,
                "not an app-registration or enterprise-app action",
            )
        )
    elif scope == "administrative_unit" and "administrative_unit" not in cat.scopes_of(name):
        out.append(
            CustomRoleViolation(
                "ineffective_at_au_scope",
                "warning",
                name,
                "applies to tenant objects, not to members of the AU",
            )
        )
    return out


def _redundant(cat: Catalog, names: list[str]) -> list[CustomRoleViolation]:
    out: list[CustomRoleViolation] = []
    valid = [n for n in names if _parses(n)]
    for n in valid:
        by = sorted(m for m in valid if m != n and cat.implies(m, n))
        if by:
            out.append(
                CustomRoleViolation("redundant_action", "warning", n, f"already implied by {by[0]}")
            )
    return out


def _parses(name: str) -> bool:
    try:
        parse_action(name)
    except InvalidValueError:
        return False
    return True


def check_custom_role(
    cat: Catalog,
    actions: Iterable[str],
    scope: str = "tenant",
    *,
    existing_custom_roles: int | None = None,
) -> list[CustomRoleViolation]:
    """Every rule the proposed custom role breaks, errors first (see the module docstring)."""
    if scope not in SCOPES:
        raise InvalidValueError(f"scope must be one of {', '.join(SCOPES)}; got {scope!r}")
    names = sorted(set(actions))
    out: list[CustomRoleViolation] = []
    if not names:
        out.append(
            CustomRoleViolation(
                "empty_role", "error", None, "a custom role needs at least one action"
            )
        )
    for name in names:
        out.extend(_action_violations(cat, name, scope))
    if (
        scope == "administrative_unit"
        and names
        and not any(_parses(n) and "administrative_unit" in cat.scopes_of(n) for n in names)
    ):
        out.append(
            CustomRoleViolation(
                "no_au_relevant_action",
                "error",
                None,
                "an AU-scoped role needs at least one user, group or device action",
            )
        )
    out.extend(_redundant(cat, names))
    limit = cat.limits["max_custom_roles"].value
    if existing_custom_roles is not None and existing_custom_roles >= limit:
        out.append(
            CustomRoleViolation(
                "tenant_custom_role_limit",
                "error",
                None,
                f"the tenant already has {existing_custom_roles} custom roles (limit {limit})",
            )
        )
    return sorted(out, key=lambda v: (v.severity != "error", v.rule, v.action or ""))
