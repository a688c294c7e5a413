"""Fixtures of the recommender tests: the hand-made tenant of ``cases.py`` through real ingest."""

from __future__ import annotations

from typing import Any

import pytest

from entra_lp.directory import DirectorySnapshot
from entra_lp.ingest import read_audit_logs
from entra_lp.recommend import recommend
from entra_lp.recommendation import Recommendation
from entra_lp.usage import UsageMatrix
from permission_catalog import load_catalog

from . import cases


@pytest.fixture(scope="session")
def catalog() -> Any:
    return load_catalog()


@pytest.fixture(scope="session")
def snapshot() -> DirectorySnapshot:
    return cases.directory()


@pytest.fixture(scope="session")
def train(catalog: Any) -> UsageMatrix:
    return read_audit_logs(cases.training_records()).usage(catalog)


@pytest.fixture(scope="session")
def later(catalog: Any) -> UsageMatrix:
    return read_audit_logs(cases.later_records()).usage(catalog)


@pytest.fixture(scope="session")
def rec(train: UsageMatrix, catalog: Any, snapshot: DirectorySnapshot) -> Recommendation:
    return recommend(train, catalog, snapshot)
