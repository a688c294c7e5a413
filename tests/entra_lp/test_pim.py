"""PIM stage: sessions from buckets, one test per settings rule, Entra's limits, the gap report."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from entra_lp.directory import (
    AdministrativeUnit,
    DirectorySnapshot,
    Group,
    MemberRef,
    PimSettings,
    RoleAssignment,
    User,
)
from entra_lp.errors import InvalidValueError, UnknownNameError
from entra_lp.pim import (
    ACTIVATION_SETTINGS,
    PimOptions,
    current_settings_gap,
    recommend_settings,
    sessions,
)
from entra_lp.recommendation import EscalationPath, RiskSummary
from entra_lp.risk import assess_role
from permission_catalog import load_catalog

PASSWORD = "microsoft.directory/users/password/update"
ROLE_ASSIGN = "microsoft.directory/roleAssignments/allProperties/allTasks"
USER_BASIC = "microsoft.directory/users/basic/update"
T0 = pd.Timestamp("2026-03-02 08:00", tz="UTC")


@pytest.fixture(scope="module")
def catalog() -> Any:
    return load_catalog()


def _buckets(rows: list[tuple[str, int, int]]) -> pd.DataFrame:
    """(principal, minutes after T0, count) → a buckets frame as ingest writes it."""
    return pd.DataFrame(
        {
            "principal_id": [p for p, _, _ in rows],
            "bucket_start": pd.to_datetime([T0 + pd.Timedelta(minutes=m) for _, m, _ in rows]),
            "count": np.array([c for _, _, c in rows], dtype=np.int64),
        }
    )


def _risk(tier: str, plane: str, critical: bool = False) -> RiskSummary:
    paths: tuple[EscalationPath, ...] = ()
    if critical:
        paths = (
            EscalationPath(
                action=ROLE_ASSIGN,
                gains="tenant-wide control: assign any directory role",
                severity="critical",
            ),
        )
    return RiskSummary(tier=tier, plane=plane, score=1.0, escalation_paths=paths)


def _decide(catalog: Any, risk: RiskSummary, **kw: Any) -> Any:
    kw.setdefault("session_hours", [])
    kw.setdefault("principal_kinds", {"u-req": "user"})
    return recommend_settings([USER_BASIC], risk, catalog=catalog, **kw)


# ----------------------------------------------------------------- sessions
def test_sessions_merge_gaps_below_the_limit_and_split_at_it() -> None:
    b = _buckets(
        [
            ("a", 0, 1),
            ("a", 15, 2),  # contiguous
            ("a", 45, 1),  # gap 15 min after the 08:15 bucket ends: same session
            ("a", 90, 1),  # gap 30 min: a new session
            ("a", 300, 1),
            ("b", 0, 1),
            ("b", 30, 0),  # a zero-count bucket is not activity
            ("z", 0, 5),  # not asked for
        ]
    )
    got = sessions(b, ["a", "b"])
    assert got.tolist() == [1.0, 0.25, 0.25, 0.25]
    assert sessions(b, ["a"], max_gap_minutes=31).tolist() == [1.75, 0.25]  # 08:00-09:45
    assert sessions(b, ["b"], bucket_minutes=60).tolist() == [1.0]


def test_sessions_ignore_row_order_and_duplicates() -> None:
    rows = [("a", 0, 1), ("a", 15, 1), ("a", 120, 1)]
    b = _buckets(rows)
    shuffled = pd.concat([b.iloc[::-1], b.iloc[[0]]], ignore_index=True)
    assert sessions(shuffled, ["a"]).tolist() == sessions(b, ["a"]).tolist() == [0.5, 0.25]
    assert sessions(b, []).size == 0


def test_sessions_reject_malformed_buckets() -> None:
    with pytest.raises(InvalidValueError, match="bucket_start"):
        sessions(pd.DataFrame({"principal_id": ["a"]}), ["a"])
    with pytest.raises(InvalidValueError):
        sessions(_buckets([("a", 0, 1)]), ["a"], bucket_minutes=0)


# ----------------------------------------------------------------- activation length
def test_activation_is_the_95th_percentile_session_rounded_up(catalog: Any) -> None:
    hours = [0.5] * 19 + [2.25]  # nearest rank 95 % of 20 sessions: the 19th, 0.5 h
    d = _decide(catalog, _risk("management", "execution"), session_hours=hours)
    assert d.settings.max_activation_hours == 1
    longer = [2.25] * 19 + [0.5]
    d2 = _decide(catalog, _risk("management", "execution"), session_hours=longer)
    assert d2.settings.max_activation_hours == math.ceil(2.25)
    assert "20 observed sessions" in d2.rationale["max_activation_hours"]


def test_activation_is_clamped_to_the_tier_cap(catalog: Any) -> None:
    long = [6.0] * 10
    assert (
        _decide(
            catalog, _risk("control", "execution"), session_hours=long
        ).settings.max_activation_hours
        == 4
    )
    assert (
        _decide(
            catalog, _risk("management", "execution"), session_hours=[10.0]
        ).settings.max_activation_hours
        == 8
    )
    custom = PimOptions(tier_cap_hours={"control": 2, "management": 24, "user_access": 24})
    assert (
        _decide(
            catalog, _risk("user_access", "execution"), session_hours=[30.0], options=custom
        ).settings.max_activation_hours
        == 24
    )


def test_no_session_gives_the_tier_cap(catalog: Any) -> None:
    d = _decide(catalog, _risk("control", "execution"))
    assert d.settings.max_activation_hours == 4
    assert "no session observed" in d.rationale["max_activation_hours"]


# ----------------------------------------------------------------- gates
def test_mfa_and_justification_are_always_required(catalog: Any) -> None:
    for tier in ("control", "management", "user_access"):
        s = _decide(catalog, _risk(tier, "read")).settings
        assert s.require_mfa and s.require_justification


def test_ticket_for_configuration_plane_and_control_tier_only(catalog: Any) -> None:
    assert _decide(catalog, _risk("management", "configuration")).settings.require_ticket
    assert _decide(catalog, _risk("user_access", "mixed")).settings.require_ticket
    assert _decide(catalog, _risk("control", "execution")).settings.require_ticket
    assert not _decide(catalog, _risk("management", "execution")).settings.require_ticket


def test_authentication_context_only_for_control_tier(catalog: Any) -> None:
    ctl = _decide(catalog, _risk("control", "execution"), authentication_context="c1")
    assert ctl.settings.authentication_context == "c1"
    mgmt = _decide(catalog, _risk("management", "execution"), authentication_context="c1")
    assert mgmt.settings.authentication_context is None
    with pytest.raises(InvalidValueError):
        _decide(catalog, _risk("control", "execution"), authentication_context=" ")


def test_approval_where_escalation_reaches_tenant_wide_control(catalog: Any) -> None:
    assert _decide(catalog, _risk("control", "execution", critical=True)).settings.require_approval
    no = _decide(catalog, _risk("control", "execution"))
    assert not no.settings.require_approval
    assert "no path reaches tenant-wide control" in no.rationale["require_approval"]
    strict = PimOptions(approval="control_tier")
    assert _decide(catalog, _risk("control", "execution"), options=strict).settings.require_approval
    never = PimOptions(approval="never")
    assert not _decide(
        catalog, _risk("control", "execution", critical=True), options=never
    ).settings.require_approval


def test_au_helpdesk_without_admins_needs_no_approval_but_tenant_one_does(catalog: Any) -> None:
    ga = catalog.role("Global Administrator").id
    d = DirectorySnapshot(
        users=(
            User(id="u-1", user_principal_name="one@contoso.test"),
            User(id="u-ga", user_principal_name="ga@contoso.test"),
        ),
        administrative_units=(
            AdministrativeUnit(
                id="au-1", display_name="Branch", members=(MemberRef(type="user", id="u-1"),)
            ),
        ),
        role_assignments=(
            RoleAssignment(principal_id="u-ga", role_definition_id=ga, assignment_type="eligible"),
        ),
    )
    au = assess_role(
        [PASSWORD],
        catalog,
        scope_kind="administrative_unit",
        scope_ids=["au-1"],
        directory=d,
        builtin_role="Helpdesk Administrator",
    )
    wide = assess_role([PASSWORD], catalog, directory=d, builtin_role="Helpdesk Administrator")
    kinds = {"u-req": "user"}
    au_d = recommend_settings(
        [PASSWORD], au, session_hours=[1.0], principal_kinds=kinds, directory=d, catalog=catalog
    )
    wide_d = recommend_settings(
        [PASSWORD], wide, session_hours=[1.0], principal_kinds=kinds, directory=d, catalog=catalog
    )
    assert au.tier == wide.tier == "control"
    assert not au_d.settings.require_approval
    assert wide_d.settings.require_approval


# ----------------------------------------------------------------- approvers
def _approver_tenant(catalog: Any) -> DirectorySnapshot:
    pra = catalog.role("Privileged Role Administrator").id
    users = tuple(
        User(id=f"u-{n}", user_principal_name=f"{n}@contoso.test", account_enabled=(n != "off"))
        for n in ("req", "pra1", "pra2", "bg", "off", "mate")
    )
    return DirectorySnapshot(
        users=users,
        groups=(
            Group(id="g-req", display_name="Requesters", members=("u-req",)),
            Group(id="g-ok", display_name="PIM approvers", members=("u-req", "u-mate")),
        ),
        role_assignments=tuple(
            RoleAssignment(
                principal_id=p,
                role_definition_id=pra,
                assignment_type="eligible" if p == "u-pra2" else "active",
            )
            for p in ("u-req", "u-pra1", "u-pra2", "u-bg", "u-off")
        ),
    )


def test_default_approvers_are_pra_holders_other_than_requesters(catalog: Any) -> None:
    d = _approver_tenant(catalog)
    dec = _decide(
        catalog, _risk("control", "execution", critical=True), directory=d, break_glass_ids={"u-bg"}
    )
    assert dec.settings.approvers == ("user:u-pra1", "user:u-pra2")
    assert "Privileged Role Administrator" in dec.rationale["approvers"]
    capped = _decide(
        catalog,
        _risk("control", "execution", critical=True),
        directory=d,
        options=PimOptions(max_approvers=1),
    )
    assert len(capped.settings.approvers) == 1


def test_named_approvers_drop_requesters_and_resolve_names(catalog: Any) -> None:
    d = _approver_tenant(catalog)
    dec = _decide(
        catalog,
        _risk("control", "execution", critical=True),
        directory=d,
        approvers=["PIM approvers", "g-req", "req@contoso.test"],
    )
    assert dec.settings.approvers == ("group:g-ok",)
    assert "dropped" in dec.rationale["approvers"]
    with pytest.raises(UnknownNameError, match="PIM aprovers"):
        _decide(
            catalog,
            _risk("control", "execution", critical=True),
            directory=d,
            approvers=["PIM aprovers"],
        )
    with pytest.raises(InvalidValueError, match="user:<id>"):
        _decide(catalog, _risk("control", "execution", critical=True), approvers=["u-mate"])


def test_no_approver_found_is_said(catalog: Any) -> None:
    d = _approver_tenant(catalog)
    kinds = dict.fromkeys(("u-req", "u-pra1", "u-pra2"), "user")
    dec = _decide(
        catalog,
        _risk("control", "execution", critical=True),
        directory=d,
        principal_kinds=kinds,
        break_glass_ids={"u-bg"},
    )
    assert dec.settings.require_approval and dec.settings.approvers == ()
    assert "no Privileged Role Administrator holder" in dec.rationale["approvers"]


# ----------------------------------------------------------------- assignment types and expiry
def test_service_principals_get_active_time_bound_assignments(catalog: Any) -> None:
    sp_only = _decide(
        catalog,
        _risk("control", "execution", critical=True),
        principal_kinds={"sp-1": "service_principal", "mi-1": "managed_identity"},
    )
    assert not sp_only.settings.eligible
    assert "managed identities and service principals" in sp_only.rationale["eligible"]
    assert not sp_only.settings.require_approval  # nobody activates
    assert sp_only.settings.active_assignment_expiry_days == 90
    mixed = _decide(
        catalog,
        _risk("management", "execution"),
        principal_kinds={"sp-1": "service_principal", "u-1": "user"},
    )
    assert mixed.settings.eligible
    assert mixed.settings.active_assignment_expiry_days == 180
    people = _decide(catalog, _risk("management", "execution"))
    assert people.settings.active_assignment_expiry_days == 14


def test_an_active_only_role_says_its_activation_settings_do_not_apply(catalog: Any) -> None:
    sp_only = _decide(
        catalog,
        _risk("control", "configuration", critical=True),
        session_hours=[0.25, 0.5],
        principal_kinds={"sp-1": "service_principal", "mi-1": "managed_identity"},
    )
    why = sp_only.rationale
    assert not sp_only.settings.eligible
    for key in (*ACTIVATION_SETTINGS, "eligibility_expiry_days"):
        if key != "approvers":
            assert why[key].startswith("does not apply"), key
        assert "person is present" not in why[key] and "percentile" not in why[key], key
    assert "managed identities and service principals" in why["max_activation_hours"]
    # what applies is said as such: the active assignment's expiry and the notifications
    assert "expires after 90 days" in why["active_assignment_expiry_days"]
    assert not why["notify_on_activation"].startswith("does not apply")
    assert "active assignments" in why["notify_on_activation"]
    # the values stay the safe ones, for anyone made eligible later
    assert sp_only.settings.require_mfa and sp_only.settings.require_justification
    # a role held by people keeps its activation reasons
    people = _decide(catalog, _risk("control", "configuration", critical=True))
    assert not any(v.startswith("does not apply") for v in people.rationale.values())


def test_break_glass_and_sync_holders_keep_permanent_assignments(catalog: Any) -> None:
    ga = catalog.role("Global Administrator").id
    d = DirectorySnapshot(
        users=(User(id="u-bg", user_principal_name="breakglass@contoso.test"),),
        role_assignments=(RoleAssignment(principal_id="u-bg", role_definition_id=ga),),
    )
    kept = _decide(
        catalog,
        _risk("control", "execution", critical=True),
        directory=d,
        role_id=ga,
        break_glass_ids={"u-bg"},
    )
    assert kept.settings.active_assignment_expiry_days is None
    assert "u-bg" in kept.rationale["active_assignment_expiry_days"]
    other_role = _decide(
        catalog,
        _risk("control", "execution", critical=True),
        directory=d,
        role_id=catalog.role("Helpdesk Administrator").id,
        break_glass_ids={"u-bg"},
    )
    assert other_role.settings.active_assignment_expiry_days == 14
    sync = _decide(catalog, _risk("control", "execution"), principal_kinds={"s": "sync_account"})
    assert sync.settings.active_assignment_expiry_days is None


def test_eligibility_expiry_by_tier(catalog: Any) -> None:
    assert _decide(catalog, _risk("control", "read")).settings.eligibility_expiry_days == 180
    assert _decide(catalog, _risk("management", "read")).settings.eligibility_expiry_days == 365
    assert _decide(catalog, _risk("user_access", "read")).settings.eligibility_expiry_days == 365


def test_notifications_for_control_tier(catalog: Any) -> None:
    to = ["soc@contoso.test", "ciso@contoso.test"]
    ctl = _decide(catalog, _risk("control", "execution"), notification_recipients=to)
    assert ctl.settings.notify_on_activation == tuple(sorted(to))
    mgmt = _decide(catalog, _risk("management", "execution"), notification_recipients=to)
    assert mgmt.settings.notify_on_activation == ()
    limit = catalog.limits["pim_max_notification_recipients"].value
    with pytest.raises(InvalidValueError, match="recipients"):
        _decide(
            catalog,
            _risk("control", "execution"),
            notification_recipients=[f"r{i}@contoso.test" for i in range(limit + 1)],
        )


def test_every_setting_has_a_one_line_rationale(catalog: Any) -> None:
    dec = _decide(catalog, _risk("control", "configuration", critical=True))
    assert set(dec.rationale) == set(PimSettings.model_fields)
    assert all(v.strip() and "\n" not in v for v in dec.rationale.values())


def test_bad_inputs_are_rejected(catalog: Any) -> None:
    with pytest.raises(InvalidValueError, match="session_hours"):
        _decide(catalog, _risk("control", "read"), session_hours=[1.0, -2.0])
    with pytest.raises(UnknownNameError, match="robot"):
        _decide(catalog, _risk("control", "read"), principal_kinds={"x": "robot"})
    with pytest.raises(InvalidValueError, match="tier_cap_hours"):
        _decide(
            catalog,
            _risk("control", "read"),
            options=PimOptions(tier_cap_hours={"control": 30, "management": 8, "user_access": 8}),
        )


# ----------------------------------------------------------------- Entra's limits (property)
_KINDS = st.sampled_from(["user", "service_principal", "managed_identity", "unknown"])


@given(
    hours=st.lists(st.floats(min_value=0, max_value=200, allow_nan=False), max_size=30),
    tier=st.sampled_from(["control", "management", "user_access"]),
    plane=st.sampled_from(["read", "execution", "configuration", "mixed"]),
    critical=st.booleans(),
    kinds=st.dictionaries(st.sampled_from(["p1", "p2", "p3"]), _KINDS, max_size=3),
    cap=st.integers(min_value=1, max_value=24),
    pct=st.floats(min_value=1, max_value=100),
)
def test_settings_always_within_entra_limits(
    hours: list[float],
    tier: str,
    plane: str,
    critical: bool,
    kinds: dict[str, str],
    cap: int,
    pct: float,
) -> None:
    catalog = load_catalog()
    opts = PimOptions(
        tier_cap_hours={"control": cap, "management": 8, "user_access": 24}, percentile=pct
    )
    dec = recommend_settings(
        [USER_BASIC],
        _risk(tier, plane, critical),
        session_hours=hours,
        principal_kinds=kinds,
        catalog=catalog,
        options=opts,
    )
    s = dec.settings
    lo, hi = catalog.limits["pim_activation_max_hours_range"].value
    min_minutes = catalog.limits["pim_min_assignment_minutes"].value
    assert lo <= s.max_activation_hours <= min(hi, opts.tier_cap_hours[tier])
    for days in (s.eligibility_expiry_days, s.active_assignment_expiry_days):
        assert days is None or days * 1440 >= min_minutes
    assert s.require_mfa and s.require_justification
    if s.require_approval:
        assert s.eligible and critical


# ----------------------------------------------------------------- gap report
def test_current_settings_gap(catalog: Any) -> None:
    proposed = _decide(
        catalog, _risk("control", "configuration", critical=True), session_hours=[1.5]
    ).settings
    assert current_settings_gap(proposed, proposed) == []
    lines = current_settings_gap(PimSettings(), proposed)
    assert "maximum activation: 8 h -> 2 h (stricter)" in lines
    assert "ticket: not required -> required (stricter)" in lines
    assert "eligible assignments expire after: 365 days -> 180 days (stricter)" in lines
    back = current_settings_gap(proposed, PimSettings())
    assert "maximum activation: 2 h -> 8 h (looser)" in back
    a = PimSettings(require_approval=True, approvers=("user:b", "user:a"))
    b = PimSettings(require_approval=True, approvers=("user:a", "user:b"))
    assert current_settings_gap(a, b) == []
    perm = current_settings_gap(PimSettings(eligibility_expiry_days=None), PimSettings())
    assert perm == ["eligible assignments expire after: permanent -> 365 days (stricter)"]
