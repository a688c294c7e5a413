"""Ground truth: JSON round trip and consistency with the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest

from entra_lp.errors import EntraLPError, UnknownNameError
from entra_lp.simulate import GroundTruth, SimulatedTenant
from entra_lp.simulate.profiles import CONTOSO
from permission_catalog import Catalog


def test_json_round_trip(every_persona: SimulatedTenant, tmp_path: Path) -> None:
    truth = every_persona.ground_truth
    assert GroundTruth.from_json(truth.to_json()) == truth
    path = tmp_path / "truth.json"
    truth.save(path)
    assert GroundTruth.load(path) == truth
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(EntraLPError, match=r"truth\.json"):
        GroundTruth.load(path)


def test_actions_partition_the_tasks(every_persona: SimulatedTenant, catalog: Catalog) -> None:
    for p in every_persona.ground_truth.principals:
        needed = {a for t in p.tasks for a in catalog.task(t).actions}
        observable, hidden = set(p.observable_actions), set(p.unobservable_actions)
        assert observable | hidden == needed and not observable & hidden
        assert set(p.exercised_actions) <= observable
        assert set(p.failed_actions) <= observable
        assert set(p.train_actions) | set(p.test_actions) == p.used_actions
        for noise in p.noise:
            assert noise.task_id not in p.tasks
            assert not set(noise.actions) <= observable


def test_unobservable_reads_are_reported(every_persona: SimulatedTenant,
                                         catalog: Catalog) -> None:
    hidden = {a for p in every_persona.ground_truth.principals for a in p.unobservable_actions}
    assert hidden  # e.g. sign-in log reads of the security operators
    assert hidden & catalog.unobservable_actions


def test_persona_roles_are_distinct_task_sets(every_persona: SimulatedTenant) -> None:
    truth = every_persona.ground_truth
    task_sets = {tuple(sorted(p.tasks)) for p in truth.principals if p.tasks}
    expected = {tuple(sorted(p.all_tasks)) for p in CONTOSO.personas if p.all_tasks}
    assert truth.n_persona_roles == len(task_sets) == len(expected)  # break glass has none
    members = [m for role in truth.persona_roles for m in role.principals]
    assert sorted(members) == sorted(p.principal_id for p in truth.principals if p.tasks)


def test_scopes(every_persona: SimulatedTenant) -> None:
    truth = every_persona.ground_truth
    directory = every_persona.directory
    aus = {a.id for a in directory.administrative_units}
    apps = {a.id for a in directory.applications} | {s.id for s in directory.service_principals}
    kinds = {p.scope.kind for p in truth.principals}
    assert kinds == {"tenant", "administrative_unit", "application"}
    for p in truth.principals:
        if p.scope.kind == "administrative_unit":
            assert len(p.scope.ids) == 1 and set(p.scope.ids) <= aus
            assert p.scope.directory_scope_ids == (f"/administrativeUnits/{p.scope.ids[0]}",)
        elif p.scope.kind == "application":
            assert p.scope.ids and set(p.scope.ids) <= apps
        else:
            assert p.scope.ids == () and p.scope.directory_scope_ids == ("/",)


def test_break_glass_is_never_used(every_persona: SimulatedTenant, catalog: Catalog) -> None:
    truth = every_persona.ground_truth
    glass = [p for p in truth.principals if p.persona == "break_glass"]
    assert glass and all(p.records == 0 and not p.used_actions for p in glass)
    held = {a.role_definition_id for a in every_persona.directory.assignments_of(
        glass[0].principal_id)}
    assert catalog.role_by_name("Global Administrator").id in held


def test_principal_lookup(every_persona: SimulatedTenant) -> None:
    truth = every_persona.ground_truth
    first = truth.principals[0]
    assert truth.principal(first.principal_id) is first
    with pytest.raises(UnknownNameError):
        truth.principal("not-a-principal")
