"""Fixtures for the simulator tests: small tenants built once per session."""

from __future__ import annotations

import pytest

from entra_lp.simulate import SimulatedTenant, WriteResult, simulate_tenant
from entra_lp.simulate.profiles import CONTOSO
from permission_catalog import Catalog, load_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def small(catalog: Catalog) -> SimulatedTenant:
    """10 admins, 7 days: the unit-test size."""
    return simulate_tenant(admins=10, days=7, seed=11, catalog=catalog)


@pytest.fixture(scope="session")
def every_persona(catalog: Catalog) -> SimulatedTenant:
    """One principal of every contoso persona, three weeks, light volume."""
    return simulate_tenant(admins=len(CONTOSO.personas), days=21, seed=5, volume=0.3,
                           catalog=catalog)


@pytest.fixture(scope="session")
def written(every_persona: SimulatedTenant, tmp_path_factory: pytest.TempPathFactory
            ) -> WriteResult:
    return every_persona.write(tmp_path_factory.mktemp("every_persona"), gzip=True)
