"""Realistic activity: working hours, Zipf-like task mix, rare tasks, scoped failures."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

import pytest

from entra_lp.simulate import SimulatedTenant, TemplateLibrary, simulate_tenant
from entra_lp.simulate.profiles import CONTOSO
from permission_catalog import Catalog


def _when(record: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(record["activityDateTime"])[:26])


def test_office_personas_work_office_hours(every_persona: SimulatedTenant) -> None:
    principals = {p.id: p for p in every_persona.principals}
    inside = outside = weekend = 0
    for r in every_persona.events():
        user = r["initiatedBy"]["user"]
        p = principals.get(user["id"]) if user else None
        if p is None or p.persona.schedule != "office":
            continue
        when = _when(r)
        local = (when.hour + CONTOSO.regions[p.region].utc_offset_hours) % 24
        inside += 6 <= local <= 21
        outside += not 6 <= local <= 21
        weekend += when.weekday() >= 5
    assert inside > 500
    assert outside / (inside + outside) < 0.02
    assert weekend / (inside + outside) < 0.1


def test_zipf_like_task_mix(catalog: Catalog) -> None:
    tenant = simulate_tenant(admins=30, days=14, seed=4, volume=0.5, catalog=catalog)
    library = TemplateLibrary(catalog)
    helpdesk = next(p.persona for p in tenant.principals if p.persona.name == "helpdesk")
    task_of = {name: task for task in helpdesk.tasks for t in library.for_task(task)
               for name in (t.activity, *t.spellings)}
    ids = {p.id for p in tenant.principals if p.persona is helpdesk}
    counts = Counter(task_of.get(r["activityDisplayName"].strip())
                     for r in tenant.events()
                     if r["initiatedBy"]["user"] and r["initiatedBy"]["user"]["id"] in ids)
    first, second = helpdesk.tasks[:2]
    # Rank 1 has weight 1 and rank 2 has 2 ** -1.1 (about 0.47): the first clearly dominates.
    assert counts[first] > 1.6 * counts[second] > 100


def test_rare_tasks_about_once_a_quarter(catalog: Catalog) -> None:
    tenant = simulate_tenant(admins=60, days=90, seed=8, volume=0.05, catalog=catalog)
    library = TemplateLibrary(catalog)
    rare_activities: dict[str, dict[str, set[str]]] = {}
    for p in tenant.principals:
        regular = {t.activity for task in p.persona.tasks for t in library.for_task(task)}
        rare_activities[p.id] = {
            task: {t.activity for t in library.for_task(task)} - regular
            for task in p.persona.rare}
    seen: dict[tuple[str, str], int] = defaultdict(int)
    for r in tenant.events():
        initiator = r["initiatedBy"]["user"] or r["initiatedBy"]["app"]
        pid = initiator.get("id") or initiator.get("servicePrincipalId")
        for task, activities in rare_activities.get(pid, {}).items():
            if r["activityDisplayName"].strip() in activities:
                seen[(pid, task)] += 1
    pairs = [(pid, task) for pid, tasks in rare_activities.items() for task, acts in tasks.items()
             if acts]
    assert len(pairs) >= 30
    mean = sum(seen[pair] for pair in pairs) / len(pairs)
    assert 0.5 <= mean <= 1.6


def test_scoped_failures_hit_objects_outside_the_scope(every_persona: SimulatedTenant) -> None:
    directory = every_persona.directory
    units = directory.administrative_units_of
    scoped = {p.principal_id: p for p in every_persona.ground_truth.principals
              if p.scope.kind == "administrative_unit"}
    checked = 0
    for r in every_persona.events():
        user = r["initiatedBy"]["user"]
        if r["result"] != "failure" or not user or user["id"] not in scoped:
            continue
        scope = set(scoped[user["id"]].scope.ids)
        targets = {t["id"] for t in r["targetResources"]}
        assert not any(scope & units.get(t, frozenset()) for t in targets)
        assert r["resultReason"] == "Insufficient privileges to complete the operation."
        checked += 1
    assert checked > 0


def test_successes_stay_inside_the_scope(every_persona: SimulatedTenant) -> None:
    directory = every_persona.directory
    units = directory.administrative_units_of
    truth = {p.principal_id: p for p in every_persona.ground_truth.principals}
    checked = 0
    for r in every_persona.events():
        initiator = r["initiatedBy"]["user"] or r["initiatedBy"]["app"]
        pid = initiator.get("id") or initiator.get("servicePrincipalId")
        p = truth.get(pid)
        if p is None or r["result"] != "success" or p.scope.kind == "tenant" or any(
                n.activity == r["activityDisplayName"] for n in p.noise):
            continue
        ids = {t["id"] for t in r["targetResources"]}
        if p.scope.kind == "application":
            assert ids & set(p.scope.ids), r["activityDisplayName"]
        else:
            assert any(set(p.scope.ids) & units.get(t, frozenset()) for t in ids)
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("bad", [{"admins": 0}, {"days": 0}, {"train_fraction": 0.0},
                                 {"volume": -1.0}])
def test_invalid_arguments(bad: dict[str, float], catalog: Catalog) -> None:
    from entra_lp.errors import InvalidValueError

    args = {"admins": 5, "days": 3, "catalog": catalog, **bad}
    with pytest.raises(InvalidValueError, match=next(iter(bad))):
        simulate_tenant(**args)  # type: ignore[arg-type]
