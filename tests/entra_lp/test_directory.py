"""DirectorySnapshot: look-ups, JSON round trip, cache hygiene and clear load errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from entra_lp.directory import (
    AdministrativeUnit,
    Application,
    DirectorySnapshot,
    MemberRef,
    PimSettings,
    RoleAssignment,
    ServicePrincipal,
    User,
)
from entra_lp.errors import EntraLPError


def _snapshot() -> DirectorySnapshot:
    return DirectorySnapshot(
        tenant_id="t1",
        users=(User(id="u1", user_principal_name="ann@contoso.test"),),
        applications=(Application(id="a1", app_id="c1", display_name="Payroll"),),
        service_principals=(
            ServicePrincipal(id="s1", app_id="c1", display_name="Payroll",
                             application_permissions=("User.Read.All",)),
        ),
        administrative_units=(
            AdministrativeUnit(id="au1", display_name="EMEA",
                               members=(MemberRef(type="user", id="u1"),)),
            AdministrativeUnit(id="au2", display_name="Finance",
                               members=(MemberRef(type="user", id="u1"),)),
        ),
        role_assignments=(
            RoleAssignment(principal_id="u1", role_definition_id="r1", assignment_type="eligible"),
        ),
        pim_policies={"r1": PimSettings(max_activation_hours=4, approvers=("group:g1",))},
    )


def test_lookups() -> None:
    snap = _snapshot()
    assert snap.object_types == {"u1": "user", "a1": "application", "s1": "servicePrincipal"}
    assert snap.administrative_units_of["u1"] == frozenset({"au1", "au2"})
    assert snap.application_by_app_id["c1"].id == "a1"
    assert snap.service_principal_by_id["s1"].application_permissions == ("User.Read.All",)
    assert [a.role_definition_id for a in snap.assignments_of("u1")] == ["r1"]
    assert snap.assignments_of("nobody") == []


def test_json_round_trip_is_exact(tmp_path: Path) -> None:
    snap = _snapshot()
    path = tmp_path / "snap.json"
    snap.save(path)
    again = DirectorySnapshot.load(path)
    assert again == snap
    assert again.to_json() == snap.to_json()


def test_model_copy_does_not_keep_stale_lookups() -> None:
    snap = _snapshot()
    assert "u1" in snap.object_types  # fills the cache
    other = snap.model_copy(update={"users": (User(id="u9", user_principal_name="z@x"),)})
    assert "u9" in other.object_types and "u1" not in other.object_types


def test_pim_limits_are_enforced() -> None:
    with pytest.raises(ValueError, match="max_activation_hours"):
        PimSettings(max_activation_hours=25)


def test_load_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"users": [{"id": 1}]}')
    with pytest.raises(EntraLPError, match=r"bad\.json"):
        DirectorySnapshot.load(bad)
    with pytest.raises(EntraLPError, match=r"missing\.json"):
        DirectorySnapshot.load(tmp_path / "missing.json")
