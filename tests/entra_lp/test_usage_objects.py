"""The object an action acts on (``UsageMatrix.targets`` / ``n_targets``).

An app role assigned to (or removed from) a group, user or service principal acts on the
service principal of the app: the record's first target, although it also carries
``Group.ObjectID`` (or ``User.ObjectID``). A group membership change acts on the group named by
``Group.ObjectID``: the member is the first target. Scope inference relies on this to keep an
app-assignment operator's rights on the apps it touched, and a group manager's on the AUs
holding its groups (not its members).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from entra_lp.directory import AdministrativeUnit, DirectorySnapshot, Group, MemberRef, User
from entra_lp.ingest import AuditLog, read_audit_logs
from entra_lp.scope import ScopeResolver
from entra_lp.usage import UsageMatrix
from permission_catalog import load_catalog

from .ingest.records import GROUP, HELPDESK, USER_T, prop, record

APP_ROLES = "microsoft.directory/servicePrincipals/appRoleAssignedTo/update"
MEMBERS = "microsoft.directory/groups/members/update"
OPERATOR: dict[str, Any] = {"id": "a0000000-0000-4000-8000-0000000000aa", "displayName": None,
            "userPrincipalName": "app-ops@example.test", "ipAddress": None}
SP1 = "e1000000-0000-4000-8000-000000000001"
SP2 = "e1000000-0000-4000-8000-000000000002"
GROUP2 = "d0000000-0000-4000-8000-000000000002"
USER2 = "c0000000-0000-4000-8000-000000000002"
_APP_ROLE = [prop("AppRole.Id", "00000000-0000-0000-0000-000000000000"),
             prop("AppRole.Value", ""), prop("AppRole.DisplayName", "Default Access")]


def app_role(rid: str, activity: str, app: str, context: list[dict[str, Any]], *,
             category: str, second: tuple[str, str] | None, removal: bool = False,
             when: str = "2025-05-12T10:00:00Z") -> dict[str, Any]:
    """An app-role record as Entra writes it: the service principal first, the assignee
    (group / user) as a second target, the assignee's id among the properties."""
    rec: dict[str, Any] = record(
        rid, activity, category=category, op="Unassign" if removal else "Assign",
                 user=OPERATOR, target=app, target_type="ServicePrincipal", when=when,
                 props=[*_APP_ROLE, *context])
    if second is not None:
        rec["targetResources"].append({"id": second[1], "displayName": None, "type": second[0],
                                       "userPrincipalName": None, "modifiedProperties": []})
    return rec


def member(rid: str, activity: str, group: str, user: str, *, removal: bool = False,
           when: str = "2025-05-12T11:00:00Z") -> dict[str, Any]:
    """A membership record: the member first, the group in Group.ObjectID (old value on
    removal) and as a second target."""
    ref = prop("Group.ObjectID", None, group) if removal else prop("Group.ObjectID", group)
    rec: dict[str, Any] = record(
        rid, activity, category="GroupManagement", op="Unassign" if removal else "Assign",
        user=HELPDESK, target=user, when=when, props=[ref])
    rec["targetResources"].append({"id": group, "displayName": None, "type": "Group",
                                   "userPrincipalName": None, "modifiedProperties": []})
    return rec


def records() -> list[dict[str, Any]]:
    return [
        app_role("Directory_r1", "Add app role assignment to group", SP1,
                 [prop("Group.ObjectID", GROUP), prop("Group.DisplayName", "Sales")],
                 category="UserManagement", second=("Group", GROUP)),
        app_role("Directory_r2", "Remove app role assignment from group", SP2,
                 [prop("Group.ObjectID", None, GROUP2)], category="GroupManagement",
                 second=("Group", GROUP2), removal=True),
        app_role("Directory_r3", "Add app role assignment grant to user", SP1,
                 [prop("User.ObjectID", USER_T)], category="UserManagement",
                 second=("User", USER_T)),
        app_role("Directory_r4", "Remove app role assignment from user", SP2,
                 [prop("User.ObjectID", None, USER_T)], category="UserManagement",
                 second=("User", USER_T), removal=True),
        app_role("Directory_r5", "Add app role assignment to service principal", SP1,
                 [prop("ServicePrincipal.ObjectID", SP1)], category="ApplicationManagement",
                 second=None),
        app_role("Directory_r6", "Remove app role assignment from service principal", SP2,
                 [prop("ServicePrincipal.ObjectID", SP2)], category="ApplicationManagement",
                 second=None, removal=True),
        member("Directory_m1", "Add member to group", GROUP, USER_T),
        member("Directory_m2", "Add member to group", GROUP, USER2,
               when="2025-05-12T12:00:00Z"),
        member("Directory_m3", "Remove member from group", GROUP2, USER_T, removal=True),
    ]


def read(engine: str, tmp_path: Path) -> AuditLog:
    if engine == "python":
        return read_audit_logs(records(), engine="python")
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records()))
    log = read_audit_logs(path, engine="duckdb")
    assert log.report.engine == "duckdb"
    return log


def objects(matrix: UsageMatrix, principal: str, action: str) -> dict[tuple[str, str], int]:
    t = matrix.targets
    part = t[(t["principal_id"] == principal) & (t["action"] == action)]
    return {(str(kind), str(oid)): int(n) for kind, oid, n in
            zip(part["target_type"], part["target_id"], part["count"], strict=True)}


def evidence(matrix: UsageMatrix, principal: str, action: str) -> pd.Series:
    e = matrix.evidence
    return e[(e["principal_id"] == principal) & (e["action"] == action)].iloc[0]


@pytest.fixture(params=["python", "duckdb"])
def matrix(request: pytest.FixtureRequest, tmp_path: Path) -> UsageMatrix:
    log = read(request.param, tmp_path)
    assert log.report.records_parsed == len(records())
    return log.usage()


def test_app_role_assignments_act_on_the_service_principal(matrix: UsageMatrix) -> None:
    assert matrix.unmapped.empty  # every record maps: the objects below are not vacuous
    assert objects(matrix, OPERATOR["id"], APP_ROLES) == {
        ("ServicePrincipal", SP1): 3, ("ServicePrincipal", SP2): 3}
    row = evidence(matrix, OPERATOR["id"], APP_ROLES)
    assert (row["count"], row["n_targets"]) == (6, 2)
    assert set(matrix.targets["action"][matrix.targets["principal_id"] == OPERATOR["id"]]) == {
        APP_ROLES}


def test_group_membership_acts_on_the_group(matrix: UsageMatrix) -> None:
    # two members added to GROUP, one removed from GROUP2 (its id in the old value)
    assert objects(matrix, HELPDESK["id"], MEMBERS) == {("Group", GROUP): 2, ("Group", GROUP2): 1}
    row = evidence(matrix, HELPDESK["id"], MEMBERS)
    assert (row["count"], row["n_targets"]) == (3, 2)


def test_scope_keeps_the_app_operator_on_its_apps(matrix: UsageMatrix) -> None:
    catalog = load_catalog()
    scopes = ScopeResolver(catalog).resolve(OPERATOR["id"], [APP_ROLES], matrix.targets)
    placed = scopes.actions[APP_ROLES]
    assert (placed.kind, placed.ids) == ("application", (SP1, SP2))
    assert scopes.app_ids == (SP1, SP2)
    # one app allowed per principal: the two apps it touched no longer fit
    narrow = ScopeResolver(catalog, max_scoped_assignments=1).resolve(
        OPERATOR["id"], [APP_ROLES], matrix.targets)
    assert narrow.actions[APP_ROLES].kind == "tenant"
    assert "2 apps" in narrow.actions[APP_ROLES].reason


def test_scope_puts_group_work_on_the_groups_administrative_unit(matrix: UsageMatrix) -> None:
    """The AU holds the groups, not the members: only the group as object fits it."""
    directory = DirectorySnapshot(
        tenant_id="t",
        users=tuple(User(id=u, user_principal_name=f"{u[-2:]}@example.test")
                    for u in (USER_T, USER2, HELPDESK["id"])),
        groups=(Group(id=GROUP, display_name="Sales"), Group(id=GROUP2, display_name="Ops"),
                Group(id="d0000000-0000-4000-8000-000000000009", display_name="Other")),
        administrative_units=(AdministrativeUnit(
            id="au-groups", display_name="Sales groups",
            members=(MemberRef(type="group", id=GROUP), MemberRef(type="group", id=GROUP2))),),
    )
    scopes = ScopeResolver(load_catalog(), directory).resolve(
        HELPDESK["id"], [MEMBERS], matrix.targets)
    placed = scopes.actions[MEMBERS]
    assert (placed.kind, placed.ids) == ("administrative_unit", ("au-groups",))


def test_simulated_tenant_records_act_on_their_objects() -> None:
    """On the simulator's records (templates.py shapes), count per (principal, object) from
    the raw records what each action must show, and compare."""
    from entra_lp.simulate import simulate_tenant

    sim = simulate_tenant(admins=6, days=6, seed=3)
    events = list(sim.events())
    app_roles: Counter[tuple[str, str]] = Counter()
    members: Counter[tuple[str, str]] = Counter()
    for e in events:
        if e["result"] != "success":
            continue
        who = e["initiatedBy"]["user"]["id"] if e["initiatedBy"].get("user") else (
            e["initiatedBy"]["app"]["servicePrincipalId"])
        name = e["activityDisplayName"].strip()
        first = e["targetResources"][0]
        if "app role assignment" in name.lower():
            assert first["type"] == "ServicePrincipal"
            app_roles[(who, first["id"])] += 1
        elif name in ("Add member to group", "Remove member from group"):
            prop_ = next(p for p in first["modifiedProperties"]
                         if p["displayName"] == "Group.ObjectID")
            members[(who, orjson.loads(prop_["newValue"] or prop_["oldValue"]))] += 1
    assert app_roles and members  # the simulation has both kinds of record
    matrix = read_audit_logs(events).usage()
    t = matrix.targets

    def shown(action: str, kind: str) -> Counter[tuple[str, str]]:
        part = t[t["action"] == action]
        assert set(part["target_type"]) == {kind}
        return Counter({(str(p), str(oid)): int(n) for p, oid, n in
                        zip(part["principal_id"], part["target_id"], part["count"], strict=True)})

    in_matrix = set(matrix.principals["principal_id"])  # system initiators are left out
    assert shown(APP_ROLES, "ServicePrincipal") == Counter(
        {k: v for k, v in app_roles.items() if k[0] in in_matrix})
    assert shown(MEMBERS, "Group") == Counter(
        {k: v for k, v in members.items() if k[0] in in_matrix})
    assert {k[1] for k in members} <= {g.id for g in sim.directory.groups}
