"""Generate adversarial synthetic Graph ``directoryAudit`` records as JSON lines.

The ingest benchmark's worst case, kept beside the realistic input (the tenant simulator,
``entra_lp.simulate``): almost every record acts on a fresh or random target, so ~78% of the
records become distinct usage rows and nothing saturates. The tenant is small and fixed (a few
thousand users and groups, ~60 administrators, a few apps, managed identities and a sync
account); each record is one admin operation in the shape that Graph returns (see
../shared/reference/audit-log-formats.md, form A): string ids with a service prefix,
JSON-encoded ``modifiedProperties`` values, ``Included Updated Properties``, failures,
``MS-PIM`` follow-up records, 0-7 fractional digits in timestamps.

Usage: ``python benchmarks/gen_audit_records.py OUT.jsonl [--records N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

START = datetime(2025, 4, 1, tzinfo=UTC)
DAYS = 30


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Tenant:
    """A fixed synthetic directory: the objects that records point at."""

    def __init__(self, rng: random.Random) -> None:
        self.users = [(_guid(rng), f"user{i:05d}@contoso.example") for i in range(4000)]
        self.groups = [(_guid(rng), f"Group {i:04d}") for i in range(600)]
        self.apps = [(_guid(rng), f"app-{i:03d}") for i in range(150)]
        self.roles = [
            ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator", "UserAccountAdmins"),
            ("729827e3-9c14-49f7-bb1b-9608f156bbb8", "Helpdesk Administrator", "HelpdeskAdmins"),
            ("9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "Application Administrator", ""),
        ]
        admins = rng.sample(self.users, 45)
        self.user_admins = [{"id": i, "displayName": None, "userPrincipalName": u,
                             "ipAddress": f"198.51.100.{n}"} for n, (i, u) in enumerate(admins)]
        self.app_admins = [{"appId": None, "displayName": f"automation-{n}",
                            "servicePrincipalId": _guid(rng), "servicePrincipalName": None}
                           for n in range(10)]
        self.app_admins += [{"appId": None, "displayName": "Managed Service Identity",
                             "servicePrincipalId": _guid(rng), "servicePrincipalName": None}
                            for _ in range(3)]
        self.sync = {"id": _guid(rng), "displayName": "On-Premises Directory Synchronization "
                     "Service Account", "userPrincipalName": "Sync_DC01_1a2b3c@contoso.example",
                     "ipAddress": None}
        self.pim = {"appId": None, "displayName": "MS-PIM",
                    "servicePrincipalId": _guid(rng), "servicePrincipalName": None}


def _enc(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _prop(name: str, new: Any, old: Any = None) -> dict[str, Any]:
    return {"displayName": name, "oldValue": _enc(old), "newValue": _enc(new)}


def _target(obj: tuple[str, str], kind: str, props: list[dict[str, Any]]) -> dict[str, Any]:
    upn = obj[1] if kind == "User" else None
    return {"id": obj[0], "displayName": None if kind == "User" else obj[1], "type": kind,
            "userPrincipalName": upn, "groupType": None, "modifiedProperties": props}


def _group_member(t: Tenant, rng: random.Random) -> tuple[str, str, str, list[Any]]:
    gid, gname = rng.choice(t.groups)
    add = rng.random() < 0.7
    props = [_prop("Group.ObjectID", gid if add else None, None if add else gid),
             _prop("Group.DisplayName", gname if add else None, None if add else gname)]
    name = "Add member to group" if add else "Remove member from group"
    return "GroupManagement", name, "Assign" if add else "Unassign", [
        _target(rng.choice(t.users), "User", props)]


def _update_user(t: Tenant, rng: random.Random) -> tuple[str, str, str, list[Any]]:
    names = rng.sample(["AccountEnabled", "Department", "JobTitle", "Mobile",
                        "StsRefreshTokensValidFrom", "UsageLocation"], rng.randint(1, 3))
    props = [_prop(n, [f"v{rng.randint(0, 9)}"], ["old"]) for n in names]
    props.append(_prop("Included Updated Properties", ", ".join(names)))
    return "UserManagement", "Update user", "Update", [
        _target(rng.choice(t.users), "User", props)]


def _reset_password(t: Tenant, rng: random.Random) -> tuple[str, str, str, list[Any]]:
    return "UserManagement", "Reset user password", "Update", [
        _target(rng.choice(t.users), "User", [])]


def _role_member(t: Tenant, rng: random.Random) -> tuple[str, str, str, list[Any]]:
    rid, rname, wk = rng.choice(t.roles)
    props = [_prop("Role.ObjectID", rid), _prop("Role.DisplayName", rname),
             _prop("Role.TemplateId", rid), _prop("Role.WellKnownObjectName", wk)]
    return "RoleManagement", "Add member to role", "Assign", [
        _target(rng.choice(t.users), "User", props),
        {"id": rid, "displayName": None, "type": "Role", "userPrincipalName": None,
         "groupType": None, "modifiedProperties": []}]


def _app_secret(t: Tenant, rng: random.Random) -> tuple[str, str, str, list[Any]]:
    key = f"[KeyIdentifier={_guid(rng)},KeyType=Password,KeyUsage=Verify,DisplayName=ci]"
    props = [_prop("KeyDescription", [key], []),
             _prop("Included Updated Properties", "KeyDescription")]
    return "ApplicationManagement", "Update application – Certificates and secrets management ", \
        "Update", [_target(rng.choice(t.apps), "Application", props)]


def _sp_update(t: Tenant, rng: random.Random) -> tuple[str, str, str, list[Any]]:
    props = [_prop("AppRoleAssignmentRequired", [True], [False]),
             _prop("Included Updated Properties", "AppRoleAssignmentRequired")]
    return "ApplicationManagement", "Update service principal", "Update", [
        _target(rng.choice(t.apps), "ServicePrincipal", props)]


def _add_user(t: Tenant, rng: random.Random) -> tuple[str, str, str, list[Any]]:
    obj = (_guid(rng), f"new{rng.randint(0, 10**6)}@contoso.example")
    props = [_prop("AccountEnabled", [True]), _prop("DisplayName", ["New User"]),
             _prop("Included Updated Properties", "AccountEnabled, DisplayName")]
    return "UserManagement", "Add user", "Add", [_target(obj, "User", props)]


def _update_group(t: Tenant, rng: random.Random) -> tuple[str, str, str, list[Any]]:
    props = [_prop("Description", ["x"], ["y"]),
             _prop("Included Updated Properties", "Description")]
    return "GroupManagement", "Update group", "Update", [
        _target(rng.choice(t.groups), "Group", props)]


def _ca_policy(t: Tenant, rng: random.Random) -> tuple[str, str, str, list[Any]]:
    obj = (f"{rng.randint(0, 19):08d}-0000-4000-8000-000000000000", "CA policy")
    return "Policy", "Update conditional access policy", "Update", [
        _target(obj, "Policy", [_prop("ConditionalAccessPolicy", {"state": "enabled"})])]


KINDS = [(_group_member, 30), (_update_user, 20), (_reset_password, 12), (_role_member, 4),
         (_app_secret, 6), (_sp_update, 6), (_add_user, 8), (_update_group, 8), (_ca_policy, 2)]


def records(n: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Yield ``n`` Graph ``directoryAudit`` records, deterministically for a seed."""
    rng = random.Random(seed)
    tenant = Tenant(rng)
    makers = [k for k, w in KINDS for _ in range(w)]
    for i in range(n):
        category, activity, op, targets = rng.choice(makers)(tenant, rng)
        corr = _guid(rng)
        when = START + timedelta(seconds=rng.random() * DAYS * 86400)
        frac = rng.randint(0, 7)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S") + (
            "." + f"{when.microsecond:06d}0"[:frac] if frac else "") + "Z"
        who = rng.random()
        if who < 0.80:
            initiator: dict[str, Any] = {"user": rng.choice(tenant.user_admins), "app": None}
        elif who < 0.97:
            initiator = {"user": None, "app": rng.choice(tenant.app_admins)}
        else:
            initiator = {"user": tenant.sync, "app": None}
        if activity == "Add member to role" and rng.random() < 0.5:
            initiator = {"user": None, "app": tenant.pim}
        ok = rng.random() > 0.03
        yield {
            "id": f"Directory_{corr}_{rng.randint(0, 36**5):X}_{i}",
            "category": category, "correlationId": corr,
            "result": "success" if ok else "failure",
            "resultReason": "" if ok else "Insufficient privileges to complete the operation.",
            "activityDisplayName": activity, "activityDateTime": stamp,
            "loggedByService": "Core Directory", "operationType": op,
            "userAgent": None, "initiatedBy": initiator, "targetResources": targets,
            "additionalDetails": [{"key": "User-Agent", "value": "ExampleClient/1.0"}],
        }


def write_jsonl(path: Path, n: int, seed: int = 7) -> int:
    """Write ``n`` records to ``path`` as JSON lines; returns the byte size."""
    with path.open("wb") as fh:
        for rec in records(n, seed):
            fh.write(orjson.dumps(rec))
            fh.write(b"\n")
    return path.stat().st_size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    size = write_jsonl(args.out, args.records, args.seed)
    print(f"wrote {args.records} records, {size / 1e6:.1f} MB to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
