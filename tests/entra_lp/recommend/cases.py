"""A small hand-made tenant for the recommender tests: directory, admins and audit records.

Everything is synthetic (made-up ids and names). Records are Graph ``directoryAudit`` dicts that
go through the real ingest and the real catalog mapping, so the tests exercise the whole path.

Who does what (training window, 2025-05-05 .. 2025-05-16):

* ``helpdesk1``, ``helpdesk2``: reset passwords of EMEA users only (AU ``emea``);
* ``grp1``, ``grp2``, ``grp3``: add members to / rename Finance groups (AU ``finance``);
  ``grp1`` and ``grp2`` also edit dynamic membership rules (configuration plane);
  ``grp3`` also reset one password once (a one-off none of its peers shares);
* ``appowner``: credentials and properties of ``app1``, ``app2`` (app scope);
* ``rotator`` (service principal): credentials of ``app3``;
* ``caadmin``: adds, updates and deletes Conditional Access policies (built-in fallback; the
  task ``conditional-access.manage-policies`` adds the unaudited policy read);
* ``useradmin``: updates users everywhere, including one outside every AU (tenant scope);
* ``sync``: the directory synchronization account (excluded);
* directory only: ``breakglass`` (permanent Global Administrator, no activity) and ``stale``
  (User Administrator, no activity).
"""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

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


def _id(prefix: str, n: int) -> str:
    return f"{prefix}000000-0000-4000-8000-{n:012d}"


EMEA_USERS = [_id("e1", i) for i in range(1, 7)]
APAC_USERS = [_id("e2", i) for i in range(1, 7)]
LONE_USER = _id("e3", 1)
FIN_GROUPS = [_id("f1", i) for i in range(1, 4)]
OTHER_GROUP = _id("f2", 1)
APPS = [_id("a1", i) for i in range(1, 4)]
AU_EMEA, AU_APAC, AU_FIN = _id("c1", 1), _id("c1", 2), _id("c1", 3)

ADMINS: dict[str, dict[str, Any]] = {
    name: {"id": _id("d1", i), "userPrincipalName": f"{name}@example.test",
           "displayName": None, "ipAddress": None}
    for i, name in enumerate(
        ["helpdesk1", "helpdesk2", "grp1", "grp2", "grp3", "appowner", "caadmin", "useradmin",
         "breakglass", "stale", "newcomer"], start=1)
}
ADMINS["sync"] = {"id": _id("d2", 1), "displayName": None, "ipAddress": None,
                  "userPrincipalName": "Sync_DC01_0a1b2c3d4e5f@example.onmicrosoft.test"}
ROTATOR = {"appId": None, "displayName": "secret-rotator", "servicePrincipalId": _id("b1", 1),
           "servicePrincipalName": None}

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
HELPDESK_ADMIN = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
APP_ADMIN = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"


def pid(name: str) -> str:
    """Principal id of an admin of this tenant."""
    return ROTATOR["servicePrincipalId"] if name == "rotator" else ADMINS[name]["id"]


def directory() -> DirectorySnapshot:
    """The tenant's snapshot: AUs, objects and today's (broad) role assignments."""
    users = [User(id=u, user_principal_name=f"user{i}@example.test")
             for i, u in enumerate([*EMEA_USERS, *APAC_USERS, LONE_USER])]
    users += [User(id=a["id"], user_principal_name=a["userPrincipalName"],
                   display_name="Emergency access" if n == "breakglass" else "")
              for n, a in ADMINS.items()]
    return DirectorySnapshot(
        tenant_id="t-test",
        users=tuple(users),
        groups=tuple(Group(id=g, display_name=f"group {i}")
                     for i, g in enumerate([*FIN_GROUPS, OTHER_GROUP])),
        applications=tuple(Application(id=a, app_id=_id("a9", i), display_name=f"app{i + 1}")
                           for i, a in enumerate(APPS)),
        service_principals=(ServicePrincipal(id=ROTATOR["servicePrincipalId"], app_id="x",
                                             display_name="secret-rotator"),),
        administrative_units=(
            AdministrativeUnit(id=AU_EMEA, display_name="EMEA",
                               members=tuple(MemberRef(type="user", id=u) for u in EMEA_USERS)),
            AdministrativeUnit(id=AU_APAC, display_name="APAC",
                               members=tuple(MemberRef(type="user", id=u) for u in APAC_USERS)),
            AdministrativeUnit(id=AU_FIN, display_name="Finance",
                               members=tuple(MemberRef(type="group", id=g) for g in FIN_GROUPS)),
        ),
        role_assignments=(
            RoleAssignment(principal_id=pid("breakglass"), role_definition_id=GLOBAL_ADMIN),
            RoleAssignment(principal_id=pid("stale"), role_definition_id=USER_ADMIN),
            RoleAssignment(principal_id=pid("helpdesk1"), role_definition_id=HELPDESK_ADMIN),
            RoleAssignment(principal_id=pid("caadmin"), role_definition_id=SECURITY_ADMIN),
            RoleAssignment(principal_id=pid("useradmin"), role_definition_id=GLOBAL_ADMIN),
            RoleAssignment(principal_id=pid("appowner"), role_definition_id=APP_ADMIN),
        ),
    )


def _prop(name: str, new: Any = None, old: Any = None) -> dict[str, Any]:
    def enc(value: Any) -> str | None:
        return None if value is None else orjson.dumps(value).decode()

    return {"displayName": name, "oldValue": enc(old), "newValue": enc(new)}


_counter = itertools.count(1)


def record(who: str, activity: str, when: datetime, *, target: str, target_type: str = "User",
           props: list[dict[str, Any]] | None = None, category: str = "UserManagement",
           service: str = "Core Directory", result: str = "success") -> dict[str, Any]:
    """One Graph directoryAudit record initiated by admin ``who``."""
    initiated = ({"user": None, "app": copy.deepcopy(ROTATOR)} if who == "rotator"
                 else {"user": copy.deepcopy(ADMINS[who]), "app": None})
    n = next(_counter)
    return {
        "id": f"Test_{when:%Y%m%d%H%M%S}_{n:06d}", "category": category,
        "correlationId": _id("99", n), "result": result, "resultReason": "",
        "activityDisplayName": activity,
        "activityDateTime": when.isoformat().replace("+00:00", "Z"),
        "loggedByService": service, "operationType": "Update", "initiatedBy": initiated,
        "targetResources": [{"id": target, "displayName": None, "type": target_type,
                             "userPrincipalName": None, "modifiedProperties": props or []}],
        "additionalDetails": [],
    }


def reset(who: str, user: str, when: datetime) -> dict[str, Any]:
    """Reset user password (users/password/update)."""
    return record(who, "Reset user password", when, target=user)


def add_member(who: str, group: str, user: str, when: datetime) -> dict[str, Any]:
    """Add member to group (groups/members/update, object: the group)."""
    return record(who, "Add member to group", when, target=user, category="GroupManagement",
                  props=[_prop("Group.ObjectID", group), _prop("Group.DisplayName", "g")])


def rename_group(who: str, group: str, when: datetime) -> dict[str, Any]:
    """Update group (groups/basic/update)."""
    return record(who, "Update group", when, target=group, target_type="Group",
                  category="GroupManagement", props=[_prop("DisplayName", "new", "old")])


def membership_rule(who: str, group: str, when: datetime) -> dict[str, Any]:
    """Update group's membership rule (groups/dynamicMembershipRule/update: configuration)."""
    return record(who, "Update group", when, target=group, target_type="Group",
                  category="GroupManagement", props=[_prop("MembershipRule", "a", "b")])


def app_secret(who: str, app: str, when: datetime) -> dict[str, Any]:
    """Certificates and secrets management (applications/credentials/update)."""
    return record(who, "Update application – Certificates and secrets management ", when,
                  target=app, target_type="Application", category="ApplicationManagement",
                  props=[_prop("KeyDescription", ["[KeyIdentifier=1]"], [])])


def app_rename(who: str, app: str, when: datetime) -> dict[str, Any]:
    """Update application (applications/basic/update)."""
    return record(who, "Update application", when, target=app, target_type="Application",
                  category="ApplicationManagement", props=[_prop("DisplayName", "n", "o")])


def ca_policy(who: str, verb: str, when: datetime) -> dict[str, Any]:
    """Add / Update / Delete Conditional Access policy."""
    return record(who, f"{verb} Conditional Access policy", when, target=_id("99", 0),
                  target_type="Policy", category="Policy", service="Conditional Access")


def update_user(who: str, user: str, when: datetime) -> dict[str, Any]:
    """Update user (users/basic/update)."""
    return record(who, "Update user", when, target=user,
                  props=[_prop("JobTitle", ["a"], ["b"]),
                         _prop("Included Updated Properties", "JobTitle")])


def day(n: int, hour: int = 9, minute: int = 0) -> datetime:
    """Training days start 2025-05-05 (a Monday); the later window starts on day 14."""
    return datetime(2025, 5, 5, hour, minute, tzinfo=UTC) + timedelta(days=n)


LATER = day(14, 0)


def _number_from(start: int) -> None:
    """Restart record numbering, so that a window's record ids do not depend on how many
    records the process built before (the hash-seed test compares bytes across processes)."""
    global _counter  # noqa: PLW0603
    _counter = itertools.count(start)


def training_records() -> list[dict[str, Any]]:
    """Two weeks of work by the admins above (module docstring)."""
    _number_from(1)
    recs: list[dict[str, Any]] = []
    for d in range(10):
        for i, who in enumerate(("helpdesk1", "helpdesk2")):
            recs.append(reset(who, EMEA_USERS[(d + i) % 6], day(d, 9 + i)))
        for i, who in enumerate(("grp1", "grp2", "grp3")):
            recs.append(add_member(who, FIN_GROUPS[(d + i) % 3], APAC_USERS[d % 6],
                                   day(d, 10, 5 * i)))
            if d % 3 == 0:
                recs.append(rename_group(who, FIN_GROUPS[i], day(d, 11, 5 * i)))
            if d % 2 == 1 and who != "grp3":
                recs.append(membership_rule(who, FIN_GROUPS[i], day(d, 12, 5 * i)))
        if d % 2 == 0:
            recs.append(app_secret("appowner", APPS[0], day(d, 14)))
            recs.append(app_rename("appowner", APPS[d % 4 // 2], day(d, 14, 20)))
            recs.append(app_secret("rotator", APPS[2], day(d, 3)))
            recs.append(ca_policy("caadmin", ("Add", "Update", "Delete")[d % 3], day(d, 15)))
            recs.append(ca_policy("caadmin", "Update", day(d, 15, 10)))
        recs.append(update_user("useradmin", (EMEA_USERS + APAC_USERS + [LONE_USER])[d],
                                day(d, 16)))
        recs.append(update_user("sync", APAC_USERS[d % 6], day(d, 2)))
    recs.append(update_user("useradmin", LONE_USER, day(3, 17)))
    recs.append(reset("grp3", EMEA_USERS[0], day(4, 12)))  # the one-off
    return recs


def later_records() -> list[dict[str, Any]]:
    """The later window: expected work, one out-of-scope reset, one newcomer, one stray."""
    _number_from(100_001)
    return [
        reset("helpdesk1", EMEA_USERS[1], day(14)),
        reset("helpdesk1", EMEA_USERS[2], day(14, 10)),
        reset("helpdesk2", APAC_USERS[0], day(15)),  # outside EMEA
        add_member("grp1", FIN_GROUPS[0], APAC_USERS[0], day(14)),
        add_member("grp2", OTHER_GROUP, APAC_USERS[0], day(15)),  # group outside Finance
        app_secret("appowner", APPS[1], day(14)),
        app_secret("rotator", APPS[2], day(15)),
        ca_policy("caadmin", "Update", day(15)),
        update_user("useradmin", LONE_USER, day(16)),
        update_user("sync", APAC_USERS[0], day(16)),
        update_user("newcomer", EMEA_USERS[0], day(16)),
        app_rename("caadmin", APPS[0], day(17)),  # not caadmin's job
    ]
