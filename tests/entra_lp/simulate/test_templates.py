"""Templates invert the audit rules: every record maps back inside its task."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from entra_lp.errors import UnknownNameError
from entra_lp.simulate import PROFILES, TemplateError, TemplateLibrary, simulate_tenant
from entra_lp.simulate.profiles import CONTOSO, Persona, Profile
from entra_lp.simulate.templates import KIND_TYPE, SERVICE_AS_LOGGED
from permission_catalog import Catalog

TASKS = sorted({t for p in CONTOSO.personas for t in p.all_tasks} | set(CONTOSO.noise_pool))


@pytest.fixture(scope="module")
def library(catalog: Catalog) -> TemplateLibrary:
    return TemplateLibrary(catalog)


def _documented(service: str) -> str:
    return {v: k for k, v in SERVICE_AS_LOGGED.items()}.get(service, service)


@pytest.mark.parametrize("task_id", TASKS)
def test_templates_map_inside_their_task(task_id: str, library: TemplateLibrary,
                                         catalog: Catalog) -> None:
    task = catalog.task(task_id)
    templates = library.for_task(task_id)
    for t in templates:
        for record in (t, *t.companions):
            names = [p.name for p in record.shape.props]
            mapping = catalog.map_activity(_documented(record.service), record.category,
                                           record.activity, names, KIND_TYPE[record.shape.target],
                                           initiated_by=record.initiator)
            assert mapping.actions == record.actions
            if record.initiator is None:
                assert mapping.kind == "admin"
                assert set(mapping.actions) <= set(task.actions)
            else:
                assert mapping.kind == "system" and not mapping.actions
            for spelling in record.spellings:
                again = catalog.map_activity(_documented(record.service), record.category,
                                             spelling, names, KIND_TYPE[record.shape.target])
                assert again.actions == record.actions
    assert library.observable(task_id) | library.unobservable(task_id) == set(task.actions)


@pytest.mark.parametrize("task_id", TASKS)
def test_strongest_confidence_per_action(task_id: str, library: TemplateLibrary) -> None:
    levels: dict[str, set[str]] = defaultdict(set)
    for t in library.for_task(task_id):
        for action in t.actions:
            levels[action].add(t.confidence)
    assert all(len(found) == 1 for found in levels.values()), levels


def test_exact_rules_win_over_catch_alls(library: TemplateLibrary, catalog: Catalog) -> None:
    # A task whose actions an exact rule shows must not use a weaker rule for them.
    for task_id in TASKS:
        for t in library.for_task(task_id):
            if t.confidence == "exact":
                continue
            for action in t.actions:
                exact = [r for r in catalog.audit_rules
                         if r.kind == "admin" and r.confidence == "exact" and r.when.tier != 0
                         and action in r.actions
                         and set(r.actions) <= set(catalog.task(task_id).actions)
                         and not r.when.has_property_keys]
                assert not exact, (task_id, action, [r.id for r in exact])


def test_categories_are_documented(library: TemplateLibrary, shared: Path,
                                   catalog: Catalog) -> None:
    rows = json.loads((shared / "sources/entra/audit_activities.json").read_text("utf-8"))
    # Activities seen in real logs but missing from Microsoft's list have no category to check.
    undocumented = {(r.service, r.activity) for r in catalog.audit_rules
                    if getattr(r, "undocumented", None)}
    documented: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in rows:
        documented[(row["service"], row["activity"])].add("".join(row["category"].split()))
    for task_id in TASKS:
        for t in library.for_task(task_id):
            for record in (t, *t.companions):
                key = (_documented(record.service), record.activity)
                if key in undocumented:
                    continue
                assert record.category in documented[key], (key, record.category)


def test_unknown_task_suggests(catalog: Catalog) -> None:
    with pytest.raises(UnknownNameError, match=r"users\.reset-password-nonadmin"):
        TemplateLibrary(catalog).for_task("users.reset-pasword-nonadmin")


def test_persona_scope_is_checked(catalog: Catalog) -> None:
    wrong = Persona(name="bad", title="AU-scoped creator", principal="user",
                    scope="administrative_unit", scope_source="region", tasks=("users.create",))
    profile = Profile(name="bad", tenant_name="Bad", domain="bad.example",
                      regions=CONTOSO.regions, business_units=CONTOSO.business_units,
                      personas=(wrong,))
    with pytest.raises(TemplateError, match=r"users\.create"):
        simulate_tenant(admins=1, days=1, profile=profile, catalog=catalog)


def test_unknown_profile() -> None:
    with pytest.raises(UnknownNameError, match="contoso"):
        simulate_tenant(admins=1, days=1, profile="contosso")
    assert "contoso" in PROFILES
