"""What the recommendation says about itself: built-in fallback descriptions, tenant-scope
reasons, the sentences of ``cannot_express`` and one-offs, on small hand-made workloads
(``cases.py`` admins and directory) through real ingest and the real catalog."""

from __future__ import annotations

import re
from typing import Any

import pytest

from entra_lp.directory import DirectorySnapshot
from entra_lp.ingest import read_audit_logs
from entra_lp.recommend import recommend
from entra_lp.recommendation import Recommendation

from . import cases
from .cases import APAC_USERS, EMEA_USERS, FIN_GROUPS, _prop, day, pid, record

D = "microsoft.directory/"
OWNERS, RENAME, DELETE = D + "groups/owners/update", D + "groups/basic/update", D + "groups/delete"
TAP, RESET, CREATE = D + "users/authenticationMethods/create", D + "users/password/update", (
    D + "users/create")


def _methods(who: str, user: str, when: Any) -> dict[str, Any]:
    """Admin registered security info (a method, e.g. a Temporary Access Pass, of a user)."""
    return record(who, "Admin registered security info", when, target=user,
                  service="Authentication Methods")


def _records() -> list[dict[str, Any]]:
    """grp1 manages Finance groups (owners: built-in only; rename, delete: custom-eligible);
    helpdesk1 issues methods and resets passwords in EMEA, helpdesk2 issues methods in APAC;
    useradmin creates users (tenant-only) and resets EMEA passwords."""
    recs = []
    for d in range(10):
        g = FIN_GROUPS[d % 3]
        recs += [
            record("grp1", "Add owner to group", day(d, 9), target=EMEA_USERS[d % 6],
                   category="GroupManagement", props=[_prop("Group.ObjectID", g)]),
            record("grp1", "Update group", day(d, 10), target=g, target_type="Group",
                   category="GroupManagement", props=[_prop("DisplayName", "n", "o")]),
            record("grp1", "Delete group", day(d, 11), target=g, target_type="Group",
                   category="GroupManagement"),
            _methods("helpdesk1", EMEA_USERS[d % 6], day(d, 12)),
            cases.reset("helpdesk1", EMEA_USERS[(d + 1) % 6], day(d, 13)),
            _methods("helpdesk2", APAC_USERS[d % 6], day(d, 14)),
            record("useradmin", "Add user", day(d, 15), target=EMEA_USERS[d % 6]),
            cases.reset("useradmin", EMEA_USERS[(d + 2) % 6], day(d, 16)),
        ]
    return recs


@pytest.fixture(scope="module")
def rec(catalog: Any, snapshot: DirectorySnapshot) -> Recommendation:
    return recommend(read_audit_logs(_records()).usage(catalog), catalog, snapshot)


def _role_of(rec: Recommendation, who: str, action: str) -> Any:
    (role,) = [rec.role(a.role_key) for a in rec.assignments_of(pid(who))
               if action in rec.role(a.role_key).actions]
    return role


def _named(description: str) -> set[str]:
    """The actions a fallback description says custom roles cannot hold."""
    listed = description.split("custom roles cannot hold ", 1)[1]
    return {D + a for a in re.split(r", | and ", listed)}


def test_fallback_description_names_exactly_the_actions_that_forced_it(
        rec: Recommendation, catalog: Any) -> None:
    groups = _role_of(rec, "grp1", OWNERS)
    assert groups.kind == "builtin"
    # rename and delete ride along (the built-in role grants them anyway) ...
    assert {RENAME, DELETE} <= set(groups.actions)
    assert catalog.action(RENAME).custom_role_ok and catalog.action(DELETE).custom_role_ok
    # ... but only the owners update is why a built-in role is used
    assert _named(groups.description) == {OWNERS}
    for role in rec.roles:
        if role.kind == "builtin":
            forced = {a for a in role.actions if not catalog.action(a).custom_role_ok}
            assert _named(role.description) == forced, role.display_name


def test_a_helpdesk_issuing_methods_is_scoped_to_its_administrative_unit(
        rec: Recommendation) -> None:
    """Creating a method (or a Temporary Access Pass) of an existing user follows the user:
    AU scope, not tenant scope as for creating a directory object."""
    for who, au in (("helpdesk1", cases.AU_EMEA), ("helpdesk2", cases.AU_APAC)):
        role = _role_of(rec, who, TAP)
        scopes = {a.scope.directory_scope_id for a in rec.assignments_of(pid(who))
                  if a.role_key == role.key}
        assert scopes == {f"/administrativeUnits/{au}"}, who


def test_tenant_reasons_name_the_actions_each_clause_is_about(rec: Recommendation) -> None:
    (a,) = [x for x in rec.assignments_of(pid("useradmin"))
            if CREATE in rec.role(x.role_key).actions]
    assert a.scope.kind == "tenant"
    clauses = a.scope.reason.split("; ")
    assert "users/create: only assignable tenant-wide" in clauses
    # the reset alone would fit EMEA: the clause says so, and why it is tenant-wide anyway
    assert ("users/password/update would fit EMEA, but the role is held tenant-wide anyway "
            "for users/create") in clauses
    for clause in clauses:
        assert re.match(r"^[a-zA-Z.]+/\S+", clause), clause  # every clause names its action


def test_cannot_express_says_each_fallback_role_set_once(rec: Recommendation) -> None:
    auth = [s for s in rec.cannot_express if "Authentication Administrator" in s]
    # helpdesk1 (methods + resets) and helpdesk2 (methods only) differ in needs, share the set
    assert len(auth) == 1
    (sentence,) = auth
    assert "helpdesk1@example.test and helpdesk2@example.test" in sentence
    assert f"cannot hold {TAP}, {RESET}:" in sentence
    assert re.search(r"granting \d+ to \d+ action\(s\) beyond the need", sentence)
    sets = [s.split("role set ", 1)[1].split(" is used", 1)[0] for s in rec.cannot_express
            if "role set " in s]
    assert len(sets) == len(set(sets))
