"""The simulated directory: objects, administrative units, roles as real tenants hold them."""

from __future__ import annotations

from collections import Counter

import pytest

from entra_lp.simulate import SimulatedTenant
from entra_lp.simulate.profiles import CONTOSO
from entra_lp.simulate.world import allocate_personas
from permission_catalog import Catalog


@pytest.mark.parametrize("admins", [1, 10, 16, 30, 100, 5000])
def test_allocation(admins: int) -> None:
    counts = allocate_personas(CONTOSO.personas, admins)
    assert sum(counts) == admins
    for persona, n in zip(CONTOSO.personas, counts, strict=True):
        if persona.maximum is not None:
            assert n <= persona.maximum
    placed = min(admins, len(CONTOSO.personas))
    assert all(n >= 1 for n in counts[:placed])
    if admins >= 100:  # proportions follow the weights once minimums are placed
        helpdesk = counts[[p.name for p in CONTOSO.personas].index("helpdesk")]
        assert helpdesk == max(counts)


def test_directory_objects(every_persona: SimulatedTenant) -> None:
    d = every_persona.directory
    assert len(d.users) >= 20 * 16
    assert any(g.is_role_assignable for g in d.groups)
    assert d.devices and d.applications
    types = Counter(s.service_principal_type for s in d.service_principals)
    assert types["ManagedIdentity"] >= 1 and types["Application"] > 1
    assert "MS-PIM" in {s.display_name for s in d.service_principals}
    workloads = {p.principal_id for p in every_persona.ground_truth.principals
                 if p.principal_type == "app"}
    granted = {s.id for s in d.service_principals if s.application_permissions}
    assert workloads and workloads <= granted
    ids = [o.id for kind in (d.users, d.groups, d.devices, d.applications,
                             d.service_principals) for o in kind]
    assert len(ids) == len(set(ids))


def test_administrative_units(every_persona: SimulatedTenant) -> None:
    d = every_persona.directory
    names = {a.display_name for a in d.administrative_units}
    assert {f"Region - {r.name}" for r in CONTOSO.regions} <= names
    assert {f"Business unit - {b}" for b in CONTOSO.business_units} <= names
    kinds = d.object_types
    for au in d.administrative_units:
        assert au.members
        assert all(kinds[m.id] == m.type for m in au.members)
    # every ordinary user sits in exactly one region and one business unit
    ordinary = {u.id for u in d.users if not u.user_principal_name.startswith(("adm-", "bg-",
                                                                              "Sync_"))}
    assert all(len(d.administrative_units_of[u]) == 2 for u in ordinary)


def test_role_assignments_look_like_real_tenants(every_persona: SimulatedTenant,
                                                 catalog: Catalog) -> None:
    d = every_persona.directory
    ga = catalog.role_by_name("Global Administrator").id
    holders = {a.principal_id for a in d.role_assignments
               if a.role_definition_id == ga and a.assignment_type == "active"}
    assert len(holders) >= 3  # break glass, the generalist, a GA automation
    assert all(a.end is None for a in d.role_assignments if a.assignment_type == "active")
    eligible = [a for a in d.role_assignments if a.assignment_type == "eligible"]
    assert eligible and all(a.end is not None for a in eligible)
    assert {a.role_definition_id for a in eligible} <= set(d.pim_policies)
    assert d.pim_policies[ga].require_approval
    scoped_roles = {a.directory_scope_id for a in d.role_assignments}
    assert scoped_roles == {"/"}  # today's tenant: everything granted tenant-wide
    truth = every_persona.ground_truth
    for p in truth.principals:
        assert d.assignments_of(p.principal_id), p.persona
