"""recommend() on the hand-made tenant of cases.py: roles, scopes, split, fallback, triage,
evidence, determinism and errors, through real ingest and the real catalog."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from entra_lp.errors import RecommendationError, UnknownNameError
from entra_lp.ingest import read_audit_logs
from entra_lp.recommend import UnknownPrincipalError, recommend
from entra_lp.recommendation import Recommendation
from entra_lp.usage import UsageMatrix

from . import cases
from .cases import pid


def _holdings(rec: Recommendation, who: str) -> dict[str, set[str]]:
    """role display name → directory scope ids of one principal's assignments."""
    out: dict[str, set[str]] = {}
    for a in rec.assignments_of(pid(who)):
        out.setdefault(rec.role(a.role_key).display_name, set()).add(a.scope.directory_scope_id)
    return out


def _role_of(rec: Recommendation, who: str, action: str) -> Any:
    hits = [rec.role(a.role_key) for a in rec.assignments_of(pid(who))
            if action in rec.role(a.role_key).actions]
    assert len(hits) == 1, f"{who} should hold exactly one role serving {action}: {hits}"
    return hits[0]


# ----------------------------------------------------------------------------- scopes
def test_helpdesk_gets_a_builtin_fallback_at_its_administrative_unit(rec: Recommendation,
                                                                     catalog: Any) -> None:
    role = _role_of(rec, "helpdesk1", "microsoft.directory/users/password/update")
    assert role.kind in ("builtin", "pim_group")
    builtin = catalog.role(role.builtin_template_id)
    assert builtin.au_scopable
    assert catalog.covers([a.grant for a in builtin.actions if a.condition is None],
                          ["microsoft.directory/users/password/update"])
    for who in ("helpdesk1", "helpdesk2"):
        (scopes,) = _holdings(rec, who).values()
        assert scopes == {f"/administrativeUnits/{cases.AU_EMEA}"}
    assert any("microsoft.directory/users/password/update" in s and "cannot hold" in s
               for s in rec.cannot_express)


def test_group_managers_share_one_execution_role_and_two_get_a_configuration_role(
        rec: Recommendation) -> None:
    execution = _role_of(rec, "grp1", "microsoft.directory/groups/members/update")
    config = _role_of(rec, "grp1", "microsoft.directory/groups/dynamicMembershipRule/update")
    assert execution.kind == config.kind == "custom"
    assert set(execution.actions) == {"microsoft.directory/groups/members/update",
                                      "microsoft.directory/groups/basic/update"}
    assert config.actions == ("microsoft.directory/groups/dynamicMembershipRule/update",)
    assert (execution.plane, config.plane) == ("execution", "configuration")
    assert config.split_from == execution.key and execution.split_from == config.key
    holders = {a.principal_id for a in rec.assignments if a.role_key == execution.key}
    assert holders == {pid("grp1"), pid("grp2"), pid("grp3")}
    assert {a.principal_id for a in rec.assignments if a.role_key == config.key} == {
        pid("grp1"), pid("grp2")}
    finance = f"/administrativeUnits/{cases.AU_FIN}"
    for who in ("grp1", "grp2", "grp3"):
        assert set().union(*_holdings(rec, who).values()) == {finance}
    # configuration roles are ticket-gated, execution ones are not
    assert config.pim.settings.require_ticket and not execution.pim.settings.require_ticket


def test_app_work_is_scoped_to_the_apps_and_workloads_stay_active(rec: Recommendation) -> None:
    (scopes,) = _holdings(rec, "appowner").values()
    assert scopes == {f"/{cases.APPS[0]}", f"/{cases.APPS[1]}"}
    (rot,) = rec.assignments_of(pid("rotator"))
    assert rot.scope.directory_scope_id == f"/{cases.APPS[2]}"
    assert rot.assignment_type == "active" and rot.principal_kind == "service_principal"
    assert rot.scope.denied_by_narrower == {"without app3": 5}
    assert {a.assignment_type for a in rec.assignments_of(pid("appowner"))} == {"eligible"}


def test_tenant_scope_is_explained_by_what_narrower_scopes_would_deny(
        rec: Recommendation) -> None:
    (a,) = rec.assignments_of(pid("useradmin"))
    assert a.scope.kind == "tenant" and a.scope.directory_scope_id == "/"
    # the lone user outside every AU was updated once: an AU-scoped role would deny that event
    assert a.scope.denied_by_narrower == {"administrative units": 1}
    assert "outside every administrative unit" in a.scope.reason


def test_without_a_directory_no_au_scope_but_app_scope_remains(train: UsageMatrix,
                                                               catalog: Any) -> None:
    rec = recommend(train, catalog)
    kinds = {a.scope.kind for a in rec.assignments}
    assert "administrative_unit" not in kinds and "application" in kinds
    (scopes,) = _holdings(rec, "helpdesk1").values()
    assert scopes == {"/"}
    assert rec.metrics is not None and rec.metrics.current is None
    # no directory: break-glass and held-never-seen cannot be known
    assert [e.kind for e in rec.exclusions] == ["sync_account"]


# ----------------------------------------------------------------------------- triage
def test_break_glass_sync_and_held_never_seen(rec: Recommendation) -> None:
    kinds = {e.principal_id: e.kind for e in rec.exclusions}
    assert kinds == {pid("breakglass"): "break_glass", pid("sync"): "sync_account"}
    assert not rec.assignments_of(pid("breakglass")) and not rec.assignments_of(pid("sync"))
    stale = [i for i in rec.attestation if i.principal_id == pid("stale")]
    assert [(i.reason, i.held_via) for i in stale] == [("held_never_seen",
                                                        "User Administrator at /")]


def test_unaudited_tasks_lost_by_a_principal_are_listed_for_attestation(
        rec: Recommendation, catalog: Any) -> None:
    items = [i for i in rec.attestation if i.reason == "unobservable"]
    assert items, "caadmin holds Security Administrator, whose unaudited reads it would lose"
    hidden = catalog.unobservable_actions
    for i in items:
        assert i.action in hidden
        assert i.held_via
    # nothing the proposal keeps is listed: CA Administrator keeps the CA policy read
    ca = [i for i in items if i.principal_id == pid("caadmin")]
    assert "microsoft.directory/conditionalAccessPolicies/standard/read" not in {
        i.action for i in ca}


def test_one_off_is_left_out_and_stated(rec: Recommendation) -> None:
    reset = "microsoft.directory/users/password/update"
    granted = {a for x in rec.assignments_of(pid("grp3")) for a in rec.role(x.role_key).actions}
    assert reset not in granted
    # stated once, as an attestation item of its own kind (not as a sentence of the limits)
    (item,) = [i for i in rec.attestation if i.principal_id == pid("grp3")]
    assert (item.reason, item.action, item.held_via) == ("one_off", reset, None)
    assert "1 time(s)" in item.detail and "none of its peers" in item.detail
    assert not any(pid("grp3") in s or "grp3@" in s for s in rec.cannot_express)


def test_one_offs_can_be_granted(train: UsageMatrix, catalog: Any, snapshot: Any) -> None:
    rec = recommend(train, catalog, snapshot, one_offs="grant")
    reset = "microsoft.directory/users/password/update"
    role = _role_of(rec, "grp3", reset)
    scopes = {a.scope.directory_scope_id for a in rec.assignments_of(pid("grp3"))
              if a.role_key == role.key}
    assert scopes == {f"/administrativeUnits/{cases.AU_EMEA}"}
    assert not any(pid("grp3") in s for s in rec.cannot_express)


# ----------------------------------------------------------------------------- evidence
def test_every_action_of_every_role_has_evidence_matching_the_usage(
        rec: Recommendation, train: UsageMatrix) -> None:
    ev = train.evidence
    for role in rec.roles:
        assert tuple(e.action for e in role.evidence) == role.actions
        holders = {a.principal_id for a in rec.assignments if a.role_key == role.key}
        for e in role.evidence:
            used = ev[(ev["action"] == e.action) & ev["principal_id"].isin(holders)]
            if e.source == "task":
                assert e.count == 0 and e.task_ids
                continue
            assert e.count == int(used["count"].sum())
            assert e.n_principals == len(used)
            assert e.first_seen == used["first_seen"].min().to_pydatetime()
            assert set(e.example_ids) <= {x for ids in used["example_ids"] for x in ids}


def test_task_completion_adds_the_unaudited_read_with_task_evidence(rec: Recommendation,
                                                                    catalog: Any) -> None:
    read = "microsoft.directory/conditionalAccessPolicies/standard/read"
    assert read in catalog.unobservable_actions
    role = _role_of(rec, "caadmin", read)
    (e,) = [e for e in role.evidence if e.action == read]
    assert e.source == "task" and "conditional-access.manage-policies" in e.task_ids
    assert "conditional-access.manage-policies" in role.tasks


def test_task_completion_can_be_turned_off(train: UsageMatrix, catalog: Any,
                                           snapshot: Any) -> None:
    rec = recommend(train, catalog, snapshot, task_completion=False)
    assert all(e.source != "task" for r in rec.roles for e in r.evidence)


def test_custom_roles_pass_entra_rules_at_every_assigned_scope(rec: Recommendation,
                                                               catalog: Any) -> None:
    for role in rec.roles:
        kinds = {a.scope.kind for a in rec.assignments if a.role_key == role.key}
        assert kinds <= set(role.assignable_scopes)
        if role.kind != "custom":
            continue
        for kind in kinds:
            errors = [v for v in catalog.check_custom_role(role.actions, kind)
                      if v.severity == "error"]
            assert errors == [], (role.display_name, kind, errors)


def test_exporter_accepts_the_recommendation(rec: Recommendation, catalog: Any) -> None:
    from entra_lp.export.from_recommendation import prepare_export

    plan = prepare_export(rec, catalog)
    custom = {r.display_name for r in rec.roles if r.kind == "custom"}
    assert {r.display_name for r in plan.desired.roles} == custom


def test_metrics_compare_proposal_current_and_baselines(rec: Recommendation) -> None:
    m = rec.metrics
    assert m is not None and m.current is not None
    assert set(m.baselines) == {"exact_union", "least_privileged_builtin"}
    assert m.proposed.over_privilege < m.current.over_privilege
    assert m.proposed.standing_control_plane_hours < m.current.standing_control_plane_hours
    assert m.baselines["exact_union"].over_privilege == 0
    assert m.proposed.coverage is None


# ----------------------------------------------------------------------------- determinism
def test_same_input_same_bytes_and_json_round_trip(train: UsageMatrix, catalog: Any,
                                                   snapshot: Any, rec: Recommendation) -> None:
    again = recommend(train, catalog, snapshot)
    assert again.to_json() == rec.to_json()
    assert Recommendation.from_json(rec.to_json()) == rec


_SCRIPT = """
import hashlib, sys
sys.path.insert(0, {folder!r})
import cases
from entra_lp.ingest import read_audit_logs
from entra_lp.recommend import recommend
rec = recommend(read_audit_logs(cases.training_records()).usage(), directory=cases.directory())
print(hashlib.sha256(rec.to_json().encode()).hexdigest())
"""


def test_bytes_do_not_depend_on_the_hash_seed(rec: Recommendation) -> None:
    folder = str(Path(__file__).resolve().parent)
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", _SCRIPT.format(folder=folder)], env=env,
                             capture_output=True, text=True, check=True)
        digests.add(out.stdout.strip())
    assert digests == {hashlib.sha256(rec.to_json().encode()).hexdigest()}


# ----------------------------------------------------------------------------- options, errors
def test_principals_filter_restricts_the_proposal(train: UsageMatrix, catalog: Any,
                                                  snapshot: Any) -> None:
    rec = recommend(train, catalog, snapshot, principals=[pid("helpdesk1"), pid("appowner")])
    assert {a.principal_id for a in rec.assignments} == {pid("helpdesk1"), pid("appowner")}


def test_exclude_leaves_a_principal_unchanged(train: UsageMatrix, catalog: Any,
                                              snapshot: Any) -> None:
    rec = recommend(train, catalog, snapshot, exclude=[pid("caadmin")])
    assert not rec.assignments_of(pid("caadmin"))
    (ex,) = [e for e in rec.exclusions if e.principal_id == pid("caadmin")]
    assert ex.kind == "other"


def test_unknown_principal_suggests_close_ids(train: UsageMatrix, catalog: Any) -> None:
    typo = pid("caadmin")[:-1] + "9"
    with pytest.raises(UnknownPrincipalError) as err:
        recommend(train, catalog, exclude=[typo])
    assert isinstance(err.value, RecommendationError) and isinstance(err.value, UnknownNameError)
    assert pid("caadmin") in str(err.value) and typo in str(err.value)


@pytest.mark.parametrize(("option", "value", "needle"), [
    ("objective", "risk_weigted", "did you mean 'risk_weighted'"),
    ("solver", "magic", "solver"),
    ("lam", -1, "lam"),
    ("max_scoped_assignments", 0, "max_scoped_assignments"),
    ("max_au_share", 1.5, "max_au_share"),
    ("pim_group_min_principals", 1, "pim_group_min_principals"),
    ("one_offs", "drop", "one_offs"),
    ("random_state", "x", "random_state"),
])
def test_bad_options_are_named(train: UsageMatrix, option: str, value: Any, needle: str) -> None:
    with pytest.raises(RecommendationError, match=needle):
        recommend(train, **{option: value})


def test_empty_usage_is_refused(catalog: Any) -> None:
    failed = [cases.record("helpdesk1", "Reset user password", cases.day(1),
                           target=cases.EMEA_USERS[0], result="failure")]
    usage = read_audit_logs(failed).usage(catalog)
    with pytest.raises(RecommendationError, match="no successful administrative operation"):
        recommend(usage, catalog)


def test_not_a_usage_matrix_is_refused() -> None:
    with pytest.raises(RecommendationError, match="UsageMatrix"):
        recommend(pd.DataFrame())  # type: ignore[arg-type]


def test_min_roles_never_over_assigns(train: UsageMatrix, catalog: Any, snapshot: Any) -> None:
    rec = recommend(train, catalog, snapshot, objective="min_roles")
    assert all(e.source != "peer" for r in rec.roles if r.kind == "custom" for e in r.evidence)
