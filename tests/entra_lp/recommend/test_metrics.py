"""Metric sets: over-privilege on expanded grants, WSC, standing control-plane hours, baselines.

Expected values are computed here from the catalog's own answers (risk_weight, expand,
classify, least_privileged_builtin), independently of entra_lp.metrics."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from entra_lp.directory import DirectorySnapshot, PimSettings, RoleAssignment
from entra_lp.metrics import (
    CoverStructure,
    Holding,
    baseline_builtin,
    baseline_exact_union,
    current_metric_set,
    metric_set,
    session_counts,
)

BASIC = "microsoft.directory/users/basic/update"
ALL = "microsoft.directory/users/allProperties/allTasks"
RESET = "microsoft.directory/users/password/update"


def _w(catalog: Any, actions: set[str]) -> float:
    return sum(catalog.risk_weight(a) for a in actions)


def _control(catalog: Any, actions: set[str]) -> int:
    return sum(1 for a in actions if catalog.classify(a).tier == "control")


def test_exact_grant_has_no_over_privilege_and_expanded_grants_count(catalog: Any) -> None:
    needs = {"p": frozenset({BASIC}), "q": frozenset({BASIC})}
    roles = {"exact": frozenset({BASIC}), "wide": frozenset({ALL})}
    holdings = [Holding("p", "exact", 10.0), Holding("q", "wide", 10.0)]
    m = metric_set(roles, holdings, needs, catalog)
    extra = set(catalog.expand([ALL])) - set(catalog.expand([BASIC]))
    assert extra and RESET in extra
    assert m.over_privilege == pytest.approx(_w(catalog, extra))
    assert m.over_privilege_actions == len(extra)
    assert m.n_roles == 2 and m.n_assignments == 2
    assert m.wsc == 2 + 2 + 2  # |R| + |UA| + |PA|
    # standing exposure: the control-tier actions granted, for the hours they are live
    granted_q = set(catalog.expand([ALL]))
    assert m.standing_control_plane_hours == pytest.approx(10.0 * _control(catalog, granted_q))


def test_a_principal_holding_nothing_counts_nothing(catalog: Any) -> None:
    m = metric_set({}, [], {"p": frozenset({BASIC})}, catalog, principals=["p"])
    assert (m.n_roles, m.over_privilege, m.standing_control_plane_hours) == (0, 0.0, 0.0)


def test_overlapping_holdings_count_each_action_once_at_the_longest_hours(catalog: Any) -> None:
    roles = {"a": frozenset({RESET}), "b": frozenset({RESET, BASIC})}
    hold = [Holding("p", "a", 3.0), Holding("p", "b", 7.0)]
    m = metric_set(roles, hold, {"p": frozenset()}, catalog)
    granted = set(catalog.expand([RESET, BASIC]))
    assert m.over_privilege_actions == len(granted)
    assert m.standing_control_plane_hours == pytest.approx(7.0 * _control(catalog, granted))


class _Usage:
    """The two usage attributes the metrics read (window, buckets)."""

    def __init__(self, hours: float, buckets: pd.DataFrame) -> None:
        lo = pd.Timestamp("2025-05-01", tz="UTC")
        self.window = (lo, lo + pd.Timedelta(hours=hours))
        self.buckets = buckets


def _buckets(pid: str, starts: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"principal_id": [pid] * len(starts),
                         "bucket_start": pd.to_datetime(starts, utc=True),
                         "count": [1] * len(starts)})


def test_session_counts_follow_the_gap_rule() -> None:
    b = _buckets("p", ["2025-05-01T09:00", "2025-05-01T09:15", "2025-05-01T09:45",  # one
                       "2025-05-01T10:30",  # gap 30 min after 10:00 end: new session
                       "2025-05-02T09:00"])
    assert session_counts(b) == {"p": 3}


def test_current_state_active_vs_eligible_hours(catalog: Any) -> None:
    usage = _Usage(100.0, _buckets("p", ["2025-05-01T09:00", "2025-05-02T09:00"]))
    helpdesk = catalog.role("Helpdesk Administrator")
    d = DirectorySnapshot(
        role_assignments=(
            RoleAssignment(principal_id="p", role_definition_id=helpdesk.id,
                           assignment_type="eligible"),
            RoleAssignment(principal_id="q", role_definition_id=helpdesk.id),
        ),
        pim_policies={helpdesk.id: PimSettings(max_activation_hours=2)},
    )
    m = current_metric_set(d, {"p": frozenset({RESET}), "q": frozenset()}, catalog, usage)
    granted = set(catalog.expand(helpdesk.action_names))
    ctrl = _control(catalog, granted)
    # p: 2 sessions x 2 h activation; q: permanent active for the whole 100 h window
    assert m.standing_control_plane_hours == pytest.approx(ctrl * (2 * 2 + 100))
    need_p = set(catalog.expand([RESET]))
    assert m.over_privilege == pytest.approx(_w(catalog, granted - need_p) + _w(catalog, granted))
    assert m.n_roles == 1 and m.n_assignments == 2


def test_baselines(catalog: Any) -> None:
    needs = {"p": frozenset({RESET}), "q": frozenset({RESET}), "r": frozenset({BASIC})}
    usage = _Usage(10.0, _buckets("p", []))
    a = baseline_exact_union(needs, catalog, usage)
    assert (a.n_roles, a.n_assignments, a.over_privilege) == (2, 3, 0.0)
    b = baseline_builtin(needs, catalog, usage)
    want = 0.0
    names = set()
    for need in needs.values():
        lpb = catalog.least_privileged_builtin(sorted(need))
        names |= {r.name for r in lpb.roles}
        grant = set().union(*(catalog.expand(r.action_names) for r in lpb.roles))
        want += _w(catalog, grant - set(catalog.expand(need)))
    assert b.n_roles == len(names)
    assert b.over_privilege == pytest.approx(want)


# ----------------------------------------------------------------------------- baseline (b) cost
def _searches(catalog: Any) -> tuple[list[frozenset[str]], Any]:
    calls: list[frozenset[str]] = []

    def search(n: frozenset[str]) -> Any:
        calls.append(n)
        return catalog.least_privileged_builtin(sorted(n))

    return calls, search


@pytest.fixture(scope="module")
def sample_needs(catalog: Any) -> dict[str, frozenset[str]]:
    """Observed needs of the shipped sample tenant's training window."""
    from entra_lp.ingest import read_audit_logs
    from entra_lp.simulate import load_sample_tenant

    sample = load_sample_tenant()
    usage = read_audit_logs(sample.graph, until=str(sample.manifest["split_time"])).usage(catalog)
    out: dict[str, set[str]] = {}
    for p, a in zip(usage.evidence["principal_id"], usage.evidence["action"], strict=True):
        out.setdefault(str(p), set()).add(str(a))
    return {p: frozenset(a) for p, a in out.items()}


def test_builtin_baseline_searches_once_per_covering_structure_with_the_same_result(
        catalog: Any, sample_needs: dict[str, frozenset[str]]) -> None:
    # the definition, computed here: one exact search per principal
    roles: dict[str, frozenset[str]] = {}
    holdings = []
    for pid, need in sorted(sample_needs.items()):
        for r in catalog.least_privileged_builtin(sorted(need)).roles:
            roles[r.id] = r.action_names
            holdings.append(Holding(pid, r.id, 0.0))
    expected = metric_set(roles, holdings, sample_needs, catalog, principals=sample_needs)
    calls, search = _searches(catalog)
    assert baseline_builtin(sample_needs, catalog, lpb=search) == expected
    # fewer searches than distinct need sets, each on fewer actions than the need set
    assert 0 < len(calls) < len(set(sample_needs.values()))
    assert sum(map(len, calls)) < sum(map(len, set(sample_needs.values())))
    # searches already made are reused: none is needed a second time
    done = {n: catalog.least_privileged_builtin(sorted(n)) for n in calls}
    again, search = _searches(catalog)
    assert baseline_builtin(sample_needs, catalog, lpb=search, searched=done) == expected
    assert again == []


def test_a_need_covered_by_every_role_covering_another_adds_nothing(catalog: Any) -> None:
    """The reduction keeps exactly the answer: on need sets mixing implied and independent
    needs, the search on the representatives picks the roles the full search picks."""
    structure = CoverStructure(catalog)
    cases = [
        {RESET, BASIC},
        {RESET, "microsoft.directory/users/authenticationMethods/create",
         "microsoft.directory/users/invalidateAllRefreshTokens"},
        {"microsoft.directory/groups/owners/update", "microsoft.directory/groups/delete",
         "microsoft.directory/groups/basic/update", "microsoft.directory/groups/members/update"},
        {"microsoft.directory/conditionalAccessPolicies/create",
         "microsoft.directory/conditionalAccessPolicies/standard/read",
         "microsoft.directory/namedLocations/delete", BASIC},
        {"microsoft.directory/applications/appRoles/update",
         "microsoft.directory/applications/credentials/update",
         "microsoft.directory/servicePrincipals/appRoleAssignedTo/update"},
    ]
    dropped = 0
    for need in cases:
        key, reps = structure.reduce(need)
        assert reps <= need and len(key) == len(reps)
        dropped += len(need) - len(reps)
        full = catalog.least_privileged_builtin(sorted(need)).roles
        assert catalog.least_privileged_builtin(sorted(reps)).roles == full, sorted(need)
    assert dropped > 0  # the cases do exercise the reduction
