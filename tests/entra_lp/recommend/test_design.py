"""design_roles from runbooks (YAML, dicts, files), its errors, and compare() with usage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from entra_lp.design import Runbook, compare, design_roles, load_runbooks
from entra_lp.errors import RecommendationError
from entra_lp.recommendation import Recommendation

from . import cases
from .cases import pid

RESET = "microsoft.directory/users/password/update"
MEMBERS = "microsoft.directory/groups/members/update"
RULE = "microsoft.directory/groups/dynamicMembershipRule/update"


def _books() -> str:
    return f"""
runbooks:
  - name: EMEA helpdesk
    tasks: [users.reset-password-nonadmin]
    scope: administrative_unit
    scope_ids: [{cases.AU_EMEA}]
    principals: [{pid("helpdesk1")}, {pid("helpdesk2")}]
  - name: Finance groups
    tasks: [groups.manage-membership]
    actions: [{RULE}]
    scope: administrative_unit
    scope_ids: [{cases.AU_FIN}]
    principals: [{pid("grp1")}, {pid("grp2")}, {pid("grp3")}]
  - name: App owners
    tasks: [app-registrations.manage-credentials, users.create]
    scope: application
    scope_ids: [{cases.APPS[0]}]
    principals: [{pid("appowner")}]
"""


@pytest.fixture(scope="module")
def design(catalog: Any, snapshot: Any) -> Recommendation:
    return design_roles(_books(), catalog, snapshot)


def _held(rec: Recommendation, who: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for a in rec.assignments_of(pid(who)):
        out.setdefault(a.role_key, set()).add(a.scope.directory_scope_id)
    return out


def test_design_builds_scoped_split_roles(design: Recommendation, catalog: Any) -> None:
    assert design.source == "design"
    by_actions = {r.actions: r for r in design.roles}
    execution = by_actions[(MEMBERS,)]
    config = by_actions[(RULE,)]
    assert execution.kind == config.kind == "custom"
    assert (execution.plane, config.plane) == ("execution", "configuration")
    finance = f"/administrativeUnits/{cases.AU_FIN}"
    for who in ("grp1", "grp2", "grp3"):
        assert _held(design, who) == {execution.key: {finance}, config.key: {finance}}
    assert all(e.source == "design" for r in design.roles for e in r.evidence)
    assert execution.evidence[0].task_ids == ("groups.manage-membership",)


def test_design_falls_back_to_an_au_scopable_builtin(design: Recommendation,
                                                     catalog: Any) -> None:
    (key,) = _held(design, "helpdesk1")
    role = design.role(key)
    assert role.kind in ("builtin", "pim_group") and RESET in role.actions
    assert catalog.role(role.builtin_template_id).au_scopable
    assert _held(design, "helpdesk1")[key] == {f"/administrativeUnits/{cases.AU_EMEA}"}


def test_design_says_plainly_what_entra_cannot_express(design: Recommendation) -> None:
    said = " ".join(design.cannot_express)
    assert "'App owners': task users.create cannot be delegated at application scope" in said
    assert "Custom roles cannot hold microsoft.directory/users/create" in said
    # the tenant-only part is assigned tenant-wide, the rest at the app
    scopes = set().union(*_held(design, "appowner").values())
    assert scopes == {"/", f"/{cases.APPS[0]}"}


def test_design_roles_pass_entra_rules_and_pim_defaults_by_tier(design: Recommendation,
                                                                catalog: Any) -> None:
    for role in design.roles:
        if role.kind == "custom":
            for kind in role.assignable_scopes:
                assert not [v for v in catalog.check_custom_role(role.actions, kind)
                            if v.severity == "error"]
        cap = 4 if role.risk.tier == "control" else 8
        assert role.pim.settings.max_activation_hours == cap  # no usage: the tier's cap
    assert design.metrics is not None


def test_design_is_deterministic_and_accepts_every_form(design: Recommendation, catalog: Any,
                                                        snapshot: Any, tmp_path: Path) -> None:
    path = tmp_path / "books.yaml"
    path.write_text(_books(), encoding="utf-8")
    books = load_runbooks(path)
    assert [b.name for b in books] == ["EMEA helpdesk", "Finance groups", "App owners"]
    from_objects = design_roles(books, catalog, snapshot)
    from_dicts = design_roles([b.model_dump() for b in books], catalog, snapshot)
    assert from_objects.to_json() == from_dicts.to_json() == design.to_json()


def test_runbook_without_principals_still_designs_roles(catalog: Any) -> None:
    rec = design_roles({"name": "CA", "tasks": ["conditional-access.manage-policies"]}, catalog)
    (role,) = rec.roles
    assert role.kind == "builtin" and not rec.assignments
    assert "microsoft.directory/conditionalAccessPolicies/create" in role.actions


@pytest.mark.parametrize(("books", "needle"), [
    ([{"name": "x"}], "at least one task id or action"),
    ([{"name": "x", "tasks": ["users.reset-pasword-nonadmin"]}],
     "did you mean 'users.reset-password-nonadmin'"),
    ([{"name": "x", "actions": ["microsoft.directory/users/pasword/update"]}], "runbook 'x'"),
    ([{"name": "x", "tasks": ["users.create"], "scope": "tenant", "scope_ids": ["a"]}],
     "scope_ids"),
    ([{"name": "x", "tasks": ["users.create"]}, {"name": "x", "tasks": ["users.create"]}],
     "duplicate runbook name"),
    ([{"name": "x", "tasks": ["users.reset-password-nonadmin"], "scope": "administrative_unit",
       "principals": ["p"]}], "no scope_ids"),
    ([{"name": "x", "tasks": ["users.create"], "colour": "red"}], "colour"),
    ("- [unclosed", "invalid YAML"),
])
def test_runbook_errors_name_the_runbook_and_field(books: Any, needle: str,
                                                   catalog: Any) -> None:
    with pytest.raises(RecommendationError, match=needle):
        design_roles(books, catalog)


def test_unknown_scope_ids_are_refused_with_a_directory(catalog: Any, snapshot: Any) -> None:
    book = Runbook(name="x", tasks=("users.reset-password-nonadmin",),
                   scope="administrative_unit", scope_ids=("not-an-au",),
                   principals=(pid("helpdesk1"),))
    with pytest.raises(RecommendationError, match="unknown administrative unit: 'not-an-au'"):
        design_roles([book], catalog, snapshot)


def test_compare_design_with_usage(design: Recommendation, rec: Recommendation, train: Any,
                                   catalog: Any) -> None:
    diff = compare(design, rec, catalog, usage=train)
    per = {d.principal_id: d for d in diff.principals}
    # grp3 never edited membership rules; the design gives them to every group manager
    assert per[pid("grp3")].designed_not_used == (RULE,)
    # the app owner also renamed apps, which the design did not ask for
    assert per[pid("appowner")].used_not_designed == (
        "microsoft.directory/applications/basic/update",)
    # users.create was designed for the app owner and nobody used it
    assert any("microsoft.directory/users/create" in r.actions for r in diff.designed_never_used)
    # the CA work and the user updates are used but not designed at all
    missing = {a for r in diff.used_not_designed for a in r.actions}
    assert {"microsoft.directory/conditionalAccessPolicies/create",
            "microsoft.directory/users/basic/update"} <= missing
    assert not diff.matches


def test_compare_without_usage_uses_the_recommendations_evidence(
        design: Recommendation, rec: Recommendation, catalog: Any) -> None:
    diff = compare(design, rec, catalog)
    per = {d.principal_id: d for d in diff.principals}
    assert per[pid("grp3")].designed_not_used == (RULE,)


def test_a_design_matches_itself(design: Recommendation, catalog: Any) -> None:
    assert compare(design, design, catalog, usage=None).principals == ()
