"""Action grammar and the implication relation (unit + property tests)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from permission_catalog import load_catalog
from permission_catalog.actions import (
    format_action,
    grant_covers,
    implies,
    parse_action,
    parsed_implies,
)
from permission_catalog.errors import InvalidValueError

ident = st.from_regex(r"[a-z][A-Za-z0-9]{0,8}", fullmatch=True)
dotted = st.lists(ident, min_size=1, max_size=3).map(".".join)
namespace = st.lists(ident, min_size=2, max_size=3).map(".".join)
verb = st.one_of(
    ident, st.tuples(ident, st.from_regex(r"[a-z0-9][a-z0-9-]{0,6}", fullmatch=True)).map(".".join)
)
parts = st.tuples(
    namespace, ident, st.none() | dotted, st.lists(dotted, max_size=3).map(tuple), verb
)

CAT = load_catalog()
NAMES = sorted(CAT.actions)
catalog_action = st.sampled_from(NAMES)


@given(parts)
def test_parse_format_round_trip(p: tuple[str, str, str | None, tuple[str, ...], str]) -> None:
    name = format_action(*p)
    parsed = parse_action(name)
    assert (
        parsed.namespace,
        parsed.resource,
        parsed.subtype,
        parsed.property_path,
        parsed.verb,
    ) == p
    assert parsed.name == name


def test_every_catalog_action_round_trips() -> None:
    for name in NAMES:
        assert parse_action(name).name == name


def test_parse_examples() -> None:
    p = parse_action("microsoft.directory/applications.myOrganization/credentials/update")
    assert (p.resource, p.subtype, p.property_path, p.verb) == (
        "applications",
        "myOrganization",
        ("credentials",),
        "update",
    )
    p = parse_action("microsoft.directory/deletedItems.users/restore")
    assert (p.resource, p.subtype, p.property_path) == ("deletedItems", "users", ())
    p = parse_action(
        "microsoft.office365.protectionCenter/attackSimulator/payload/allProperties/allTasks"
    )
    assert p.namespace == "microsoft.office365.protectionCenter" and p.property_path == (
        "payload",
        "allProperties",
    )
    assert parse_action(
        "microsoft.directory/servicePrincipals/managePermissionGrantsForSelf.{id}"
    ).templated


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "microsoft.directory",
        "microsoft.directory/users",
        "microsoft.directory//read",
        "Microsoft/users/read",
        "microsoft.directory/users/pass word/update",
        "microsoft.directory/users/read/",
        "microsoft.directory/users/standard/re*d",
        "directory/users/read",
    ],
)
def test_malformed_actions_raise(bad: str) -> None:
    with pytest.raises(InvalidValueError, match="malformed resource action"):
        parse_action(bad)


D = "microsoft.directory"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (f"{D}/users/allProperties/allTasks", f"{D}/users/password/update"),
        (f"{D}/users/allProperties/allTasks", f"{D}/users/delete"),
        (f"{D}/users/allProperties/read", f"{D}/users/authenticationMethods/standard/read"),
        (
            f"{D}/applications/credentials/update",
            f"{D}/applications.myOrganization/credentials/update",
        ),
        (f"{D}/applications/allProperties/update", f"{D}/applications.myOrganization/basic/update"),
        (f"{D}/groups/members/update", f"{D}/groups.security.assignedMembership/members/update"),
        (f"{D}/deletedItems/restore", f"{D}/deletedItems.users/restore"),
        (
            f"{D}/accessReviews/definitions/allProperties/allTasks",
            f"{D}/accessReviews/definitions.applications/allProperties/read",
        ),
        (f"{D}/users/standard/read", f"{D}/users/basic/read"),
        (f"{D}/applications/standard/read", f"{D}/applications/standard/limitedRead"),
        (
            "microsoft.office365.usageReports/allEntities/allProperties/read",
            "microsoft.office365.usageReports/reports/read",
        ),
        ("microsoft.intune/allEntities/allTasks", "microsoft.intune/allEntities/read"),
    ],
)
def test_implies_examples(a: str, b: str) -> None:
    assert implies(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (f"{D}/users/password/update", f"{D}/users/allProperties/allTasks"),
        (f"{D}/users/basic/update", f"{D}/users/password/update"),
        (f"{D}/users/basic/update", f"{D}/users/standard/update"),
        (f"{D}/users/basic/read", f"{D}/users/standard/read"),
        (
            f"{D}/users/standard/update",
            f"{D}/users/basic/update",
        ),  # standard ⊇ basic only for reads
        (f"{D}/users/standard/read", f"{D}/users/manager/read"),
        (f"{D}/groups/allProperties/allTasks", f"{D}/groupsAssignableToRoles/allProperties/update"),
        (
            f"{D}/applications.myOrganization/credentials/update",
            f"{D}/applications/credentials/update",
        ),
        (f"{D}/users/allProperties/read", f"{D}/users/password/update"),
        (f"{D}/users/limitedRead", f"{D}/users/read"),
        (
            "microsoft.office365.usageReports/allEntities/allProperties/read",
            f"{D}/users/standard/read",
        ),
        (
            f"{D}/servicePrincipals/managePermissionGrantsForSelf.{{id}}",
            f"{D}/servicePrincipals/managePermissionGrantsForSelf.x",
        ),
    ],
)
def test_does_not_imply(a: str, b: str) -> None:
    assert not implies(a, b)


@given(catalog_action)
def test_implies_is_reflexive(a: str) -> None:
    assert implies(a, a)


@given(catalog_action, catalog_action, catalog_action)
def test_implies_is_transitive(a: str, b: str, c: str) -> None:
    if implies(a, b) and implies(b, c):
        assert implies(a, c)


def test_implies_is_transitive_on_every_chain_in_the_catalog() -> None:
    # exhaustive over the catalog: for every pair a⇒b, everything b implies a implies too
    for a in NAMES:
        implied_a = CAT.implied(a)
        for b in implied_a:
            assert CAT.implied(b) <= implied_a, (a, b)


@given(catalog_action, catalog_action)
def test_never_across_namespaces_or_resources(a: str, b: str) -> None:
    pa, pb = parse_action(a), parse_action(b)
    if parsed_implies(pa, pb):
        assert pa.namespace == pb.namespace
        assert pa.resource in ("allEntities", pb.resource)


def test_conditioned_grant_does_not_cover_unconditioned_need() -> None:
    a = f"{D}/users/password/update"
    assert not grant_covers((a, "$ResourceIsSelf"), (a, None))
    assert grant_covers((a, "$ResourceIsSelf"), (a, "$ResourceIsSelf"))
    assert grant_covers((a, None), (a, "$ResourceIsSelf"))
    assert not grant_covers((a, "$SubjectIsOwner"), (a, "$ResourceIsSelf"))
