"""Acceptance on simulated tenants with ground truth: train on the early window, replay the
later one (docs/dev/recommender.md, "Acceptance").

Two tenants: a fresh simulation (40 admins, 60 days) and the sample tenant shipped with the
package (30 admins, 90 days, low volume). Every figure the assertions use is recomputed here from
the catalog and the usage, independently of ``entra_lp.metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from entra_lp.ingest import read_audit_logs
from entra_lp.recommend import recommend
from entra_lp.recommendation import Recommendation
from entra_lp.simulate import GroundTruth, load_sample_tenant, simulate_tenant
from entra_lp.usage import UsageMatrix
from entra_lp.validate import ValidationReport, validate

pytestmark = pytest.mark.slow


@dataclass
class Case:
    train: UsageMatrix
    later: UsageMatrix
    directory: Any
    truth: GroundTruth
    rec: Recommendation
    report: ValidationReport


def _case(events: Any, directory: Any, truth: GroundTruth, catalog: Any) -> Case:
    train = read_audit_logs(events, until=truth.split_time).usage(catalog)
    later = read_audit_logs(events, since=truth.split_time).usage(catalog)
    rec = recommend(train, catalog, directory)
    return Case(train, later, directory, truth, rec, validate(rec, later, catalog, directory))


@pytest.fixture(scope="module", params=["simulated", "sample"])
def case(request: pytest.FixtureRequest, catalog: Any) -> Case:
    if request.param == "simulated":
        tenant = simulate_tenant(admins=40, days=60, seed=11, catalog=catalog)
        return _case(list(tenant.events()), tenant.directory, tenant.ground_truth, catalog)
    sample = load_sample_tenant()
    return _case(sample.graph, sample.directory, sample.ground_truth, catalog)


# ----------------------------------------------------------------------------- helpers
def _observed(usage: UsageMatrix, skip: set[str]) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for p, a in zip(usage.evidence["principal_id"], usage.evidence["action"], strict=True):
        if p not in skip:
            out.setdefault(str(p), set()).add(str(a))
    return {p: frozenset(a) for p, a in out.items()}


def _granted(rec: Recommendation, catalog: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for a in rec.assignments:
        role = rec.role(a.role_key)
        acts = (catalog.role(role.builtin_template_id).action_names
                if role.builtin_template_id else role.actions)
        out.setdefault(a.principal_id, set()).update(catalog.expand(acts))
    return out


def _extra_weight(catalog: Any, granted: set[str], need: frozenset[str]) -> float:
    return sum(catalog.risk_weight(a) for a in granted - set(catalog.expand(need)))


def _builtin_grant(catalog: Any, need: frozenset[str]) -> set[str]:
    roles = catalog.least_privileged_builtin(sorted(need)).roles
    return set().union(*(catalog.expand(r.action_names) for r in roles)) if roles else set()


def _over_privilege(case: Case, catalog: Any) -> tuple[float, float, float]:
    """(proposal, baseline (b), Entra-forced floor), on the observed needs of the training
    window. The floor is what any proposal granting every need must keep: the extras of the
    least-privileged built-in roles covering the needs no custom role can hold."""
    skip = {e.principal_id for e in case.rec.exclusions}
    needs = _observed(case.train, skip)
    granted = _granted(case.rec, catalog)
    proposal = baseline = floor = 0.0
    for p, need in needs.items():
        proposal += _extra_weight(catalog, granted.get(p, set()), need)
        baseline += _extra_weight(catalog, _builtin_grant(catalog, need), need)
        fixed = frozenset(a for a in need if not catalog.actions[a].custom_role_ok)
        floor += _extra_weight(catalog, _builtin_grant(catalog, fixed), need) if fixed else 0.0
    return proposal, baseline, floor


# ----------------------------------------------------------------------------- acceptance
def test_replay_coverage_of_the_later_window(case: Case) -> None:
    assert case.report.coverage >= 0.995, case.report.denied[:10]
    assert case.report.recommendation.metrics is not None
    assert case.report.recommendation.metrics.proposed.coverage == case.report.coverage


def test_roles_are_few(case: Case) -> None:
    m = case.rec.metrics
    assert m is not None
    assert m.proposed.n_roles <= 1.2 * case.truth.n_persona_roles
    assert m.proposed.n_roles <= 0.75 * m.baselines["exact_union"].n_roles


@pytest.mark.xfail(strict=True, reason=(
    "impossible with this catalog: most of baseline (b)'s over-privilege comes from built-in "
    "roles that the personas' custom-role-ineligible needs (password reset, user create/delete, "
    "role assignment, CA policies, app roles...) force on any proposal; see "
    "test_over_privilege_is_at_the_floor_entra_allows and docs/dev/recommender.md"))
def test_over_privilege_reduced_90_percent_against_builtin_baseline(
        case: Case, catalog: Any) -> None:
    proposal, baseline, _ = _over_privilege(case, catalog)
    assert proposal <= 0.1 * baseline


def test_over_privilege_is_at_the_floor_entra_allows(case: Case, catalog: Any) -> None:
    proposal, baseline, floor = _over_privilege(case, catalog)
    assert floor < baseline
    # at least 90% of what a proposal *can* remove is removed
    assert baseline - proposal >= 0.9 * (baseline - floor), (proposal, baseline, floor)


def test_no_control_plane_action_is_over_assigned(case: Case, catalog: Any) -> None:
    needs = _observed(case.train, set())
    hidden = catalog.unobservable_actions
    for a in case.rec.assignments:
        role = case.rec.role(a.role_key)
        if role.kind != "custom":
            continue
        for action in role.actions:
            if catalog.classify(action).tier == "control":
                assert action in needs[a.principal_id] or action in hidden, (a, action)


def test_custom_roles_pass_entra_rules_where_assigned(case: Case, catalog: Any) -> None:
    for role in case.rec.roles:
        if role.kind != "custom":
            continue
        for kind in {a.scope.kind for a in case.rec.assignments if a.role_key == role.key}:
            errors = [v for v in catalog.check_custom_role(role.actions, kind)
                      if v.severity == "error"]
            assert not errors, (role.display_name, kind, errors)


def test_break_glass_and_sync_accounts_are_left_alone(case: Case) -> None:
    personas = {p.principal_id: p.persona for p in case.truth.principals}
    excluded = {e.principal_id: e.kind for e in case.rec.exclusions}
    for pid, persona in personas.items():
        if persona == "directory_sync" and pid in set(case.train.principals["principal_id"]):
            assert excluded.get(pid) == "sync_account"
        if persona == "break_glass":
            assert excluded.get(pid) == "break_glass"
    assert not any(a.principal_id in excluded for a in case.rec.assignments)


def test_people_are_eligible_and_workloads_active(case: Case) -> None:
    kinds = {p.principal_id: p.kind for p in case.truth.principals}
    for a in case.rec.assignments:
        human = kinds.get(a.principal_id, "user") == "user"
        assert a.assignment_type == ("eligible" if human else "active"), a


def test_each_fallback_role_set_is_said_once(case: Case) -> None:
    """Principals with different needs served by the same built-in role set at one scope
    share one sentence, naming every need and whom it concerns."""
    heads = [s.split(" is used instead at ", 1) for s in case.rec.cannot_express
             if " is used instead at " in s]
    keys = [(h[0].split("role set ", 1)[1], h[1].split(" scope", 1)[0]) for h in heads]
    assert keys and len(keys) == len(set(keys))
    for s in case.rec.cannot_express:
        assert "(+" not in s  # every need is named, none hidden behind "(+N more)"
