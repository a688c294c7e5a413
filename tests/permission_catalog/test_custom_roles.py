"""Custom-role rules: every violated rule is reported, valid roles pass."""

from __future__ import annotations

import pytest

from permission_catalog import load_catalog
from permission_catalog.errors import InvalidValueError

CAT = load_catalog()
D = "microsoft.directory"


def rules(actions: list[str], scope: str = "tenant", **kw: int) -> set[tuple[str, str | None]]:
    return {(v.rule, v.action) for v in CAT.check_custom_role(actions, scope, **kw)}


def test_valid_roles() -> None:
    assert CAT.check_custom_role([f"{D}/users/basic/update", f"{D}/users/manager/update"]) == []
    assert CAT.check_custom_role([f"{D}/applications/credentials/update"], "application") == []
    assert CAT.check_custom_role([f"{D}/groups/members/update"], "administrative_unit") == []


def test_each_rule() -> None:
    assert rules([]) == {("empty_role", None)}
    assert ("malformed_action", "not an action") in rules(["not an action"])
    assert ("unknown_action", f"{D}/users/fly") in rules([f"{D}/users/fly"])
    assert ("not_allowed_in_custom_roles", f"{D}/users/password/update") in rules(
        [f"{D}/users/password/update"]
    )
    assert ("create_at_non_tenant_scope", f"{D}/applications/create") in rules(
        [f"{D}/applications/create"], "application"
    )
    assert ("not_meaningful_at_scope", f"{D}/users/basic/update") in rules(
        [f"{D}/users/basic/update"], "application"
    )
    assert ("no_au_relevant_action", None) in rules(
        [f"{D}/applications/basic/update"], "administrative_unit"
    )
    assert ("ineffective_at_au_scope", f"{D}/applications/basic/update") in rules(
        [f"{D}/applications/basic/update", f"{D}/users/basic/update"], "administrative_unit"
    )
    assert ("redundant_action", f"{D}/applications.myOrganization/basic/update") in rules(
        [f"{D}/applications/basic/update", f"{D}/applications.myOrganization/basic/update"]
    )
    assert ("tenant_custom_role_limit", None) in rules(
        [f"{D}/users/basic/update"], existing_custom_roles=100
    )
    assert rules([f"{D}/users/basic/update"], existing_custom_roles=99) == set()


def test_only_directory_object_creates_are_tenant_only() -> None:
    au = rules([f"{D}/users/create", f"{D}/users/authenticationMethods/create"],
               "administrative_unit")
    assert ("create_at_non_tenant_scope", f"{D}/users/create") in au
    # a sub-object create follows its parent user: no scope error, only the custom-role one
    assert {r for r, a in au if a == f"{D}/users/authenticationMethods/create"} == {
        "not_allowed_in_custom_roles"}
    assert ("create_at_non_tenant_scope", f"{D}/users/authenticationMethods/create") in rules(
        [f"{D}/users/authenticationMethods/create"], "application")


def test_templates() -> None:
    tmpl = f"{D}/servicePrincipals/managePermissionGrantsForSelf.{{id}}"
    assert ("template_placeholder", tmpl) in rules([tmpl])
    assert (
        CAT.check_custom_role([f"{D}/servicePrincipals/managePermissionGrantsForSelf.my-policy"])
        == []
    )


def test_errors_come_first_and_bad_scope() -> None:
    out = CAT.check_custom_role(
        [
            f"{D}/applications/basic/update",
            f"{D}/applications.myOrganization/basic/update",
            f"{D}/users/password/update",
        ]
    )
    severities = [v.severity for v in out]
    assert severities == sorted(severities, key=lambda s: s != "error") and "warning" in severities
    with pytest.raises(InvalidValueError, match="scope"):
        CAT.check_custom_role([f"{D}/users/basic/update"], "subscription")
