"""Same arguments and seed give byte-identical output; another seed gives another tenant."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from entra_lp.simulate import FORMS, simulate_tenant
from permission_catalog import Catalog


def _write(folder: Path, seed: int, catalog: Catalog, *, gz: bool) -> dict[str, bytes]:
    tenant = simulate_tenant(admins=10, days=7, seed=seed, volume=0.3, catalog=catalog)
    result = tenant.write(folder, gzip=gz)
    return {name: (folder / name).read_bytes() for name in result.sha256}


def test_byte_identical_files(tmp_path: Path, catalog: Catalog) -> None:
    first = _write(tmp_path / "a", 3, catalog, gz=True)
    second = _write(tmp_path / "b", 3, catalog, gz=True)
    assert sorted(first) == sorted(["directory.json", "ground_truth.json",
                                    *(f"{p}.gz" for p in (
                                        "graph/directoryAudits.jsonl",
                                        "log_analytics/AuditLogs.csv",
                                        "event_hub/insights-logs-auditlogs.jsonl"))])
    assert first == second
    other = _write(tmp_path / "c", 4, catalog, gz=True)
    assert all(first[name] != other[name] for name in first)


def test_events_equal_the_written_graph_lines(tmp_path: Path, catalog: Catalog) -> None:
    tenant = simulate_tenant(admins=10, days=7, seed=9, volume=0.3, catalog=catalog)
    result = tenant.write(tmp_path, formats=("graph",))
    lines = result.files["graph"].read_bytes().splitlines()
    events = list(tenant.events())
    assert len(events) == len(lines) == result.records
    assert events == [orjson.loads(line) for line in lines]


def test_plain_and_gzip_hold_the_same_records(tmp_path: Path, catalog: Catalog) -> None:
    tenant = simulate_tenant(admins=10, days=7, seed=2, volume=0.3, catalog=catalog)
    plain = tenant.write(tmp_path / "plain", formats=FORMS, snapshot=False, truth=False)
    packed = tenant.write(tmp_path / "gz", formats=FORMS, gzip=True, compresslevel=1,
                          snapshot=False, truth=False)
    for form in FORMS:
        assert gzip.decompress(packed.files[form].read_bytes()) == \
            plain.files[form].read_bytes()
