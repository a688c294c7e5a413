"""Fixtures for the live-tenant tests: a seeded fake Graph server and a connected Tenant.

Retries never sleep: the Tenant's RetryPolicy gets a ``sleep`` that only records the
delays it was asked to wait, so tests assert that ``Retry-After`` was obeyed without
waiting for it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("msgraph", reason="needs the 'graph' extra (msgraph-sdk)")

# Test modules here import the fake server as a top-level module (pytest runs with
# --import-mode=importlib and the test tree has no packages).
sys.path.insert(0, str(Path(__file__).parent))

from fake_graph import FakeGraph, Sleeps, StaticCredential, seed

from entra_lp.tenant import RetryPolicy, Tenant


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph(page_size=2) as server:
        seed(server)
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def credential() -> StaticCredential:
    return StaticCredential("test-token")


@pytest.fixture
def tenant(
    fake: FakeGraph, sleeps: Sleeps, credential: StaticCredential, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Tenant]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    t = Tenant.connect(
        credential,
        base_url=fake.v1,
        beta_url=fake.beta,
        retry=RetryPolicy(max_retries=4, jitter=False, sleep=sleeps),
    )
    yield t
    t.close()
