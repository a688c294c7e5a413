"""Risk stage: tier, plane, score and escalation paths on hand-built directories."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from entra_lp.directory import (
    AdministrativeUnit,
    Application,
    DirectorySnapshot,
    Group,
    MemberRef,
    RoleAssignment,
    ServicePrincipal,
    User,
)
from entra_lp.errors import InvalidValueError, UnknownNameError
from entra_lp.recommendation import RiskSummary
from entra_lp.risk import (
    SCOPE_FACTORS,
    SEVERITY_WEIGHTS,
    assess_role,
    escalation_graph,
    role_plane,
)
from permission_catalog import load_catalog

APP_CRED = "microsoft.directory/applications/credentials/update"
APP_OWNERS = "microsoft.directory/applications/owners/update"
PASSWORD = "microsoft.directory/users/password/update"
RA_GROUP_UPDATE = "microsoft.directory/groupsAssignableToRoles/allProperties/update"
RA_GROUP_DELETE = "microsoft.directory/groupsAssignableToRoles/delete"
GROUP_MEMBERS = "microsoft.directory/groups/members/update"
ROLE_ASSIGN = "microsoft.directory/roleAssignments/allProperties/allTasks"
SCOPED_ROLES = "microsoft.directory/scopedRoleMemberships/allProperties/allTasks"
CA_CREATE = "microsoft.directory/conditionalAccessPolicies/create"
USER_READ = "microsoft.directory/users/standard/read"
USER_BASIC = "microsoft.directory/users/basic/update"
HELPDESK = "Helpdesk Administrator"


@pytest.fixture(scope="module")
def catalog() -> Any:
    return load_catalog()


def _rid(catalog: Any, name: str) -> str:
    return str(catalog.role(name).id)


def _tenant(catalog: Any, *, reverse: bool = False) -> DirectorySnapshot:
    """A small tenant with one object of each escalation kind (``reverse`` shuffles order)."""
    ga, pra, hd = (
        _rid(catalog, n)
        for n in ("Global Administrator", "Privileged Role Administrator", HELPDESK)
    )
    app_admin = _rid(catalog, "Application Administrator")
    users = [
        User(id="u-eve", user_principal_name="eve@contoso.test"),  # eligible GA, AU Paris
        User(id="u-hal", user_principal_name="hal@contoso.test"),  # Helpdesk of AU Lyon
        User(id="u-gus", user_principal_name="gus@contoso.test"),  # active GA, AU Nice
        User(id="u-ann", user_principal_name="ann@contoso.test"),  # App Admin, AU Metz
        User(id="u-joe", user_principal_name="joe@contoso.test"),  # nobody
        User(id="u-rex", user_principal_name="rex@contoso.test"),  # eligible GA, restricted AU
        User(id="u-pat", user_principal_name="pat@contoso.test"),  # member of the PRA group
    ]
    aus = [
        AdministrativeUnit(
            id="au-paris",
            display_name="Paris",
            members=(MemberRef(type="user", id="u-eve"), MemberRef(type="user", id="u-joe")),
        ),
        AdministrativeUnit(
            id="au-lyon", display_name="Lyon", members=(MemberRef(type="user", id="u-hal"),)
        ),
        AdministrativeUnit(
            id="au-nice", display_name="Nice", members=(MemberRef(type="user", id="u-gus"),)
        ),
        AdministrativeUnit(
            id="au-metz", display_name="Metz", members=(MemberRef(type="user", id="u-ann"),)
        ),
        AdministrativeUnit(
            id="au-vault",
            display_name="Vault",
            is_member_management_restricted=True,
            members=(MemberRef(type="user", id="u-rex"),),
        ),
    ]
    assignments = [
        RoleAssignment(principal_id="sp-sync", role_definition_id=ga),
        RoleAssignment(principal_id="g-pra", role_definition_id=pra),
        RoleAssignment(principal_id="u-eve", role_definition_id=ga, assignment_type="eligible"),
        RoleAssignment(principal_id="u-rex", role_definition_id=ga, assignment_type="eligible"),
        RoleAssignment(principal_id="u-gus", role_definition_id=ga),
        RoleAssignment(
            principal_id="u-hal",
            role_definition_id=hd,
            directory_scope_id="/administrativeUnits/au-lyon",
        ),
        RoleAssignment(principal_id="u-ann", role_definition_id=app_admin),
    ]
    groups = [
        Group(id="g-pra", display_name="Role admins", is_role_assignable=True, members=("u-pat",)),
        Group(id="g-sales", display_name="Sales", members=("u-joe",)),
    ]
    apps = [
        Application(id="app-sync", app_id="c-sync", display_name="HR Sync"),
        Application(id="app-wiki", app_id="c-wiki", display_name="Wiki"),
    ]
    sps = [
        ServicePrincipal(id="sp-sync", app_id="c-sync", display_name="HR Sync"),
        ServicePrincipal(id="sp-wiki", app_id="c-wiki", display_name="Wiki"),
    ]
    seq = reversed if reverse else list
    return DirectorySnapshot(
        users=tuple(seq(users)),
        groups=tuple(seq(groups)),
        applications=tuple(seq(apps)),
        service_principals=tuple(seq(sps)),
        administrative_units=tuple(seq(aus)),
        role_assignments=tuple(seq(assignments)),
    )


@pytest.fixture(scope="module")
def tenant(catalog: Any) -> DirectorySnapshot:
    return _tenant(catalog)


def _worst(r: RiskSummary) -> str:
    order = ["low", "medium", "high", "critical"]
    return max((p.severity for p in r.escalation_paths), key=order.index, default="none")


def _critical(r: RiskSummary) -> list[Any]:
    return [p for p in r.escalation_paths if p.severity == "critical"]


# ----------------------------------------------------------------- applications
def test_credentials_on_app_whose_sp_holds_global_admin_is_critical(
    catalog: Any, tenant: Any
) -> None:
    r = assess_role([APP_CRED], catalog, directory=tenant)
    crit = _critical(r)
    assert len(crit) == 1
    path = crit[0]
    assert path.action == APP_CRED
    assert path.via[0] == "app registration HR Sync"
    assert "service principal HR Sync" in path.via
    assert "Global Administrator (tenant)" in path.via
    assert path.via[-1] == "assign any directory role"
    assert "HR Sync holds Global Administrator" in path.explanation
    # the other app leads nowhere: a medium path, counted separately
    assert {p.severity for p in r.escalation_paths} == {"critical", "medium"}


def test_app_scope_limits_the_paths_to_the_scoped_app(catalog: Any, tenant: Any) -> None:
    wiki = assess_role(
        [APP_CRED], catalog, scope_kind="application", scope_ids=["app-wiki"], directory=tenant
    )
    sync = assess_role(
        [APP_CRED], catalog, scope_kind="application", scope_ids=["app-sync"], directory=tenant
    )
    assert _worst(wiki) == "medium"
    assert wiki.escalation_paths[0].via == ("app registration Wiki",)
    assert _worst(sync) == "critical"


def test_owner_change_on_privileged_app_is_critical(catalog: Any, tenant: Any) -> None:
    r = assess_role([APP_OWNERS], catalog, directory=tenant)
    assert _critical(r)[0].action == APP_OWNERS
    assert "can become owner of app registration HR Sync" in _critical(r)[0].explanation


def test_app_permissions_decide_the_severity(catalog: Any, tenant: Any) -> None:
    perms = {"sp-wiki": ["RoleManagement.ReadWrite.Directory"]}
    r = assess_role(
        [APP_CRED],
        catalog,
        scope_kind="application",
        scope_ids=["app-wiki"],
        directory=tenant,
        app_permissions=perms,
    )
    assert _worst(r) == "critical"
    assert r.escalation_paths[0].via[-1] == (
        "application permission RoleManagement.ReadWrite.Directory"
    )
    mild = {"c-wiki": ["User.Read.All"]}  # keyed by app id this time
    r2 = assess_role(
        [APP_CRED],
        catalog,
        scope_kind="application",
        scope_ids=["app-wiki"],
        directory=tenant,
        app_permissions=mild,
    )
    assert _worst(r2) == "high"
    with pytest.raises(UnknownNameError, match="sp-wikki"):
        assess_role([APP_CRED], catalog, directory=tenant, app_permissions={"sp-wikki": ["x"]})


def test_snapshot_application_permissions_are_used(catalog: Any, tenant: Any) -> None:
    """Permissions recorded on the service principal in the snapshot count like explicit ones."""
    sps = tuple(
        sp.model_copy(update={"application_permissions": ("RoleManagement.ReadWrite.Directory",)})
        if sp.id == "sp-wiki"
        else sp
        for sp in tenant.service_principals
    )
    snapshot = tenant.model_copy(update={"service_principals": sps})
    r = assess_role([APP_CRED], catalog, scope_kind="application", scope_ids=["app-wiki"],
                    directory=snapshot)
    assert _worst(r) == "critical"
    plain = assess_role([APP_CRED], catalog, scope_kind="application", scope_ids=["app-wiki"],
                        directory=tenant)
    assert _worst(plain) != "critical"


# ----------------------------------------------------------------- groups
def test_role_assignable_group_membership_gives_its_roles(catalog: Any, tenant: Any) -> None:
    r = assess_role([RA_GROUP_UPDATE], catalog, directory=tenant)
    crit = _critical(r)
    assert crit and crit[0].via[:2] == (
        "group Role admins",
        "Privileged Role Administrator (tenant)",
    )


def test_deleting_a_role_assignable_group_gives_no_roles(catalog: Any, tenant: Any) -> None:
    r = assess_role([RA_GROUP_DELETE], catalog, directory=tenant)
    assert r.tier == "control"  # the catalog still ranks it control tier
    assert r.escalation_paths == ()


def test_ordinary_group_rights_never_reach_role_assignable_groups(
    catalog: Any, tenant: Any
) -> None:
    r = assess_role([GROUP_MEMBERS], catalog, directory=tenant)
    assert _worst(r) == "low"
    assert all("Role admins" not in " ".join(p.via) for p in r.escalation_paths)
    assert "1 groups (not role-assignable) at tenant" in r.escalation_paths[0].via[0]


# ----------------------------------------------------------------- users and AUs
def test_helpdesk_in_au_with_an_eligible_global_admin_is_critical(
    catalog: Any, tenant: Any
) -> None:
    r = assess_role(
        [PASSWORD],
        catalog,
        scope_kind="administrative_unit",
        scope_ids=["au-paris"],
        directory=tenant,
        builtin_role=HELPDESK,
    )
    crit = _critical(r)
    assert crit and crit[0].via[0] == "user eve@contoso.test"
    assert "is eligible for Global Administrator" in crit[0].explanation
    assert any(p.via == ("1 other user at AU Paris",) for p in r.escalation_paths)


def test_helpdesk_in_au_with_a_helpdesk_admin_reaches_that_role(catalog: Any, tenant: Any) -> None:
    r = assess_role(
        [PASSWORD],
        catalog,
        scope_kind="administrative_unit",
        scope_ids=["au-lyon"],
        directory=tenant,
        builtin_role=HELPDESK,
    )
    assert _worst(r) == "high"
    assert r.escalation_paths[0].via == (
        "user hal@contoso.test",
        "Helpdesk Administrator (AU Lyon)",
    )


def test_entra_protects_active_global_admins_from_helpdesk(catalog: Any, tenant: Any) -> None:
    r = assess_role(
        [PASSWORD],
        catalog,
        scope_kind="administrative_unit",
        scope_ids=["au-nice"],
        directory=tenant,
        builtin_role=HELPDESK,
    )
    assert r.escalation_paths == ()
    # an actor outside the matrix (unknown) is assumed able to reset anyone
    unknown = assess_role(
        [PASSWORD],
        catalog,
        scope_kind="administrative_unit",
        scope_ids=["au-nice"],
        directory=tenant,
    )
    assert _worst(unknown) == "critical"


def test_multi_hop_through_an_application_administrator(catalog: Any, tenant: Any) -> None:
    r = assess_role(
        [PASSWORD],
        catalog,
        scope_kind="administrative_unit",
        scope_ids=["au-metz"],
        directory=tenant,
    )
    crit = _critical(r)
    assert crit
    via = crit[0].via
    assert via[0] == "user ann@contoso.test"
    assert via[1] == "Application Administrator (tenant)"
    assert len(via) >= 3


def test_restricted_au_members_are_out_of_reach_of_tenant_admins(catalog: Any, tenant: Any) -> None:
    tenant_wide = escalation_graph(
        [PASSWORD], catalog, directory=tenant, builtin_role=HELPDESK, max_targets_per_path=100
    )
    reached = {v for _, v in tenant_wide.out_edges("subject")}
    assert "obj:u-eve" in reached  # an eligible Global Administrator outside the vault
    assert "obj:u-rex" not in reached
    in_vault = assess_role(
        [PASSWORD],
        catalog,
        scope_kind="administrative_unit",
        scope_ids=["au-vault"],
        directory=tenant,
        builtin_role=HELPDESK,
    )
    assert _critical(in_vault)[0].via[0] == "user rex@contoso.test"


# ----------------------------------------------------------------- tenant-wide rights
def test_role_assignment_and_policy_rights_are_tenant_wide_control(catalog: Any) -> None:
    roles = assess_role([ROLE_ASSIGN], catalog)
    assert _critical(roles)[0].gains == "tenant-wide control: assign any directory role"
    ca = assess_role([CA_CREATE], catalog)
    assert "authentication and authorization policy" in _critical(ca)[0].gains
    scoped = assess_role([SCOPED_ROLES], catalog)
    assert _worst(scoped) == "high"  # AU-scoped roles only


def test_without_a_directory_the_worst_is_assumed_and_said(catalog: Any) -> None:
    app = assess_role([APP_CRED], catalog)
    assert _worst(app) == "critical"
    assert "assumed without a directory snapshot" in _critical(app)[0].explanation
    helpdesk = assess_role([PASSWORD], catalog, builtin_role=HELPDESK)
    assert _worst(helpdesk) == "high"  # the matrix keeps Global Administrators out of reach
    pam = assess_role([PASSWORD], catalog, builtin_role="Privileged Authentication Administrator")
    assert _worst(pam) == "critical"


# ----------------------------------------------------------------- tier, plane, score
def test_tier_and_plane(catalog: Any) -> None:
    assert assess_role([USER_READ], catalog).plane == "read"
    assert assess_role([USER_READ], catalog).tier == "user_access"
    assert assess_role([CA_CREATE, USER_READ], catalog).plane == "configuration"
    assert assess_role([USER_BASIC, USER_READ], catalog).plane == "execution"
    assert role_plane([CA_CREATE, USER_BASIC], catalog) == "mixed"
    assert assess_role([USER_BASIC, PASSWORD], catalog).tier == "control"
    assert assess_role([USER_BASIC, GROUP_MEMBERS], catalog).tier == "management"


def test_score_follows_the_documented_formula(catalog: Any, tenant: Any) -> None:
    acts = [PASSWORD, USER_BASIC]
    for kind, ids in (("tenant", ()), ("administrative_unit", ("au-lyon",))):
        r = assess_role(
            acts, catalog, scope_kind=kind, scope_ids=ids, directory=tenant, builtin_role=HELPDESK
        )
        expected = sum(catalog.risk_weight(a) for a in acts) * SCOPE_FACTORS[kind]
        expected += sum(SEVERITY_WEIGHTS[p.severity] for p in r.escalation_paths)
        assert r.score == pytest.approx(round(expected, 3))
    quiet = assess_role([USER_BASIC], catalog)
    assert quiet.escalation_paths == ()
    assert quiet.score == pytest.approx(catalog.risk_weight(USER_BASIC))


def test_deterministic_and_independent_of_snapshot_order(catalog: Any, tenant: Any) -> None:
    acts = [PASSWORD, APP_CRED, RA_GROUP_UPDATE, GROUP_MEMBERS]
    first = assess_role(acts, catalog, directory=tenant)
    again = assess_role(list(reversed(acts)), catalog, directory=tenant)
    shuffled = assess_role(acts, catalog, directory=_tenant(catalog, reverse=True))
    assert first.model_dump_json() == again.model_dump_json() == shuffled.model_dump_json()
    assert len(first.escalation_paths) >= 4


# ----------------------------------------------------------------- graph and errors
def test_escalation_graph_explains_the_paths(catalog: Any, tenant: Any) -> None:
    g = escalation_graph([APP_CRED], catalog, directory=tenant)
    assert g.nodes["subject"]["kind"] == "subject"
    first = [v for _, v in g.out_edges("subject")]
    assert set(first) == {"obj:app-sync", "obj:app-wiki"}
    assert g.nodes["obj:app-sync"]["severity"] == "critical"
    assert g.edges["subject", "obj:app-sync"]["action"] == APP_CRED
    controls = [n for n, d in g.nodes(data=True) if d["kind"] == "control"]
    assert controls and all(nx.has_path(g, "obj:app-sync", c) for c in controls)
    capped = escalation_graph([PASSWORD], catalog, directory=tenant, max_targets_per_path=1)
    assert capped.out_degree("subject") <= len(
        {p.severity for p in assess_role([PASSWORD], catalog, directory=tenant).escalation_paths}
    )


def test_bad_inputs_are_named(catalog: Any, tenant: Any) -> None:
    with pytest.raises(InvalidValueError):
        assess_role([], catalog)
    with pytest.raises(InvalidValueError):
        assess_role(["not-an-action"], catalog)
    with pytest.raises(UnknownNameError, match="administrative_unit"):
        assess_role([PASSWORD], catalog, scope_kind="administrative-unit")
    with pytest.raises(UnknownNameError, match=r"au-pariss.*au-paris"):
        assess_role(
            [PASSWORD],
            catalog,
            scope_kind="administrative_unit",
            scope_ids=["au-pariss"],
            directory=tenant,
        )
    with pytest.raises(InvalidValueError, match="directory"):
        assess_role([APP_CRED], catalog, app_permissions={"sp-wiki": ["User.Read.All"]})


def test_unknown_role_definition_in_the_directory_counts_as_high(catalog: Any) -> None:
    d = DirectorySnapshot(
        users=(User(id="u-1", user_principal_name="one@contoso.test"),),
        role_assignments=(RoleAssignment(principal_id="u-1", role_definition_id="custom-xyz"),),
    )
    r = assess_role([PASSWORD], catalog, directory=d)
    assert _worst(r) == "high"
    assert r.escalation_paths[0].via[-1] == "unknown role custom-xyz (tenant)"


_HASH_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from test_risk import _tenant, PASSWORD, APP_CRED, RA_GROUP_UPDATE, GROUP_MEMBERS
from entra_lp.risk import assess_role
from permission_catalog import load_catalog
c = load_catalog()
acts = [PASSWORD, APP_CRED, RA_GROUP_UPDATE, GROUP_MEMBERS]
for d in (None, _tenant(c)):
    print(assess_role(acts, c, directory=d).model_dump_json())
"""


def test_output_does_not_depend_on_the_hash_seed() -> None:
    script = _HASH_SCRIPT.format(tests=str(Path(__file__).parent))
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        outs.append(proc.stdout)
    assert outs[0] == outs[1]
    assert outs[0].count("critical") >= 2


def test_au_scoped_assignment_acts_only_through_au_scopable_actions(
    catalog: Any, tenant: Any
) -> None:
    ua = catalog.role("User Administrator")
    wide = assess_role(ua.action_names, catalog, directory=tenant, builtin_role=ua.id)
    assert any(p.gains.endswith("application permissions") for p in _critical(wide))
    scoped = assess_role(
        ua.action_names,
        catalog,
        scope_kind="administrative_unit",
        scope_ids=["au-lyon"],
        directory=tenant,
        builtin_role=ua.id,
    )
    assert not _critical(scoped)  # no consent, no role-assignable groups at AU scope
    assert "user hal@contoso.test" in {p.via[0] for p in scoped.escalation_paths}
