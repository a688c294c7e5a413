"""Directory audits streamed page by page: exact query, resume after faults, no duplicates."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from fake_graph import add_audits

from entra_lp.errors import TenantError
from entra_lp.tenant import AuditCheckpoint, AuditProgress, GraphError, RetryPolicy, Tenant

AUDITS = "/auditLogs/directoryAudits"
SINCE = datetime(2025, 1, 1, tzinfo=UTC)
UNTIL = datetime(2025, 1, 31, 23, 59, 59, tzinfo=UTC)
WINDOW = "activityDateTime ge 2025-01-01T00:00:00Z and activityDateTime le 2025-01-31T23:59:59Z"


@pytest.fixture
def records(fake):
    return add_audits(fake, 7, datetime(2025, 1, 10, tzinfo=UTC))


def _on_later_pages(req) -> bool:
    return "$skiptoken" in req.query


def test_stream_sends_the_window_filter_and_yields_graph_dicts_unchanged(tenant, fake, records):
    got = list(
        tenant.directory_audits(SINCE, UNTIL, "loggedByService eq 'Core Directory'", page_size=3)
    )
    assert got == records  # byte-for-byte the dicts Graph served, in Graph's order
    first, *rest = fake.gets(AUDITS)
    assert first.query == {
        "$filter": WINDOW + " and (loggedByService eq 'Core Directory')",
        "$top": "3",
    }
    assert [r.query["$skiptoken"] for r in rest] == ["3", "6"]
    assert all(r.query["$filter"] == first.query["$filter"] for r in rest)


def test_window_excludes_records_outside_it(tenant, fake, records):
    late = datetime(2025, 1, 10, 0, 3, tzinfo=UTC)
    got = list(tenant.directory_audits(SINCE, late))
    assert [r["activityDateTime"][:16] for r in got] == [
        "2025-01-10T00:03",
        "2025-01-10T00:02",
        "2025-01-10T00:01",
        "2025-01-10T00:00",
    ]


def test_fault_mid_paging_then_resume_from_checkpoint_file(tenant, fake, records, tmp_path):
    cp_file = tmp_path / "audits.checkpoint.json"
    fake.fail(AUDITS, 503, times=50, retry_after="2", when=_on_later_pages)
    got = []
    stream = tenant.directory_audits(SINCE, UNTIL, checkpoint=cp_file)
    with pytest.raises(GraphError) as info:
        for rec in stream:
            got.append(rec)
    assert info.value.status == 503
    assert got == records[:2]  # the first page only
    saved = AuditCheckpoint.load(cp_file)
    assert saved.next_url.endswith("skiptoken=2") and saved.records == 2 and not saved.done
    fake.faults.clear()
    rest = list(tenant.directory_audits(SINCE, UNTIL, checkpoint=cp_file))
    assert got + rest == records
    assert AuditCheckpoint.load(cp_file).done


def test_stop_mid_page_then_resume_gives_exactly_the_remainder(tenant, records):
    stream = tenant.directory_audits(SINCE, UNTIL)
    head = [next(stream) for _ in range(3)]  # stops inside the second page
    stream.close()
    assert stream.checkpoint.skip == 1 and stream.checkpoint.records == 3
    tail = list(tenant.directory_audits(SINCE, UNTIL, checkpoint=stream.checkpoint))
    assert head + tail == records


def test_expired_token_mid_paging_then_resume_with_a_fresh_credential(
    fake, records, tmp_path, monkeypatch
):
    from fake_graph import StaticCredential

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    cp_file = tmp_path / "cp.json"
    fake.valid_tokens = {"token-1"}
    got = []
    with Tenant.connect(StaticCredential("token-1"), base_url=fake.v1, beta_url=fake.beta) as t:
        stream = t.directory_audits(SINCE, UNTIL, checkpoint=cp_file)
        got.append(next(stream))
        got.append(next(stream))
        fake.valid_tokens = {"token-2"}  # token-1 expires server-side
        with pytest.raises(GraphError) as info:
            got.append(next(stream))
    assert info.value.status == 401
    with Tenant.connect(StaticCredential("token-2"), base_url=fake.v1, beta_url=fake.beta) as t:
        got += list(t.directory_audits(SINCE, UNTIL, checkpoint=cp_file))
    assert got == records
    assert "token-1" not in cp_file.read_text() and "token-2" not in cp_file.read_text()


def test_checkpoint_of_another_window_is_refused(tenant, records, tmp_path):
    cp_file = tmp_path / "cp.json"
    list(tenant.directory_audits(SINCE, UNTIL, checkpoint=cp_file))
    with pytest.raises(TenantError, match="another read"):
        tenant.directory_audits(SINCE, datetime(2025, 2, 1, tzinfo=UTC), checkpoint=cp_file)


def test_progress_callback_sees_pages_and_throttling(tenant, fake, records, sleeps):
    events: list[AuditProgress] = []
    fake.fail(AUDITS, 429, retry_after="11", when=_on_later_pages)
    got = list(tenant.directory_audits(SINCE, UNTIL, progress=events.append))
    assert got == records
    waits = [e for e in events if e.waiting is not None]
    assert [(w.waiting, w.reason, w.records) for w in waits] == [(11.0, "HTTP 429", 2)]
    assert [e.pages for e in events if e.waiting is None] == [1, 2, 3, 4]
    assert list(sleeps) == [11.0]


def test_rich_progress_line_runs(tenant, records, capsys):
    assert len(list(tenant.directory_audits(SINCE, UNTIL, progress=True))) == 7
    assert "directory audits" in capsys.readouterr().err


def test_download_is_resumable_and_exactly_once(tenant, fake, records, tmp_path):
    out = tmp_path / "audits.jsonl"
    fake.fail(AUDITS, 503, times=50, when=lambda r: r.query.get("$skiptoken") == "4")
    with pytest.raises(GraphError):
        tenant.download_directory_audits(SINCE, UNTIL, out)
    lines = out.read_bytes().splitlines()
    assert [orjson.loads(x) for x in lines] == records[:4]
    # a crash after writing a page but before checkpointing leaves extra bytes: dropped
    with out.open("ab") as fh:
        fh.write(b'{"id": "half-written page"}\n{"id": ')
    fake.faults.clear()
    result = tenant.download_directory_audits(SINCE, UNTIL, out)
    assert result.complete and result.records == 7 and result.pages == 4
    assert [orjson.loads(x) for x in out.read_bytes().splitlines()] == records
    before = len(fake.requests)
    again = tenant.download_directory_audits(SINCE, UNTIL, out)
    assert again.complete and len(fake.requests) == before  # nothing left to fetch


def test_download_refuses_to_overwrite(tenant, records, tmp_path):
    out = tmp_path / "audits.jsonl"
    out.write_text("existing\n")
    with pytest.raises(TenantError, match="already exists"):
        tenant.download_directory_audits(SINCE, UNTIL, out)
    assert tenant.download_directory_audits(SINCE, UNTIL, out, overwrite=True).records == 7


def test_stream_feeds_read_audit_logs(tenant, records):
    ingest = pytest.importorskip("entra_lp.ingest")
    log = ingest.read_audit_logs(tenant.directory_audits(SINCE, UNTIL))
    assert int(log.rows["count"].sum()) == len(records)
    assert set(log.rows["activity"]) == {"Update user"}


def test_bad_window_is_rejected(tenant):
    with pytest.raises(TenantError, match="after until"):
        tenant.directory_audits(UNTIL, SINCE)
    with pytest.raises(TenantError, match="1–1000"):
        tenant.directory_audits(SINCE, UNTIL, page_size=5000)


def test_backoff_schedule_without_jitter():
    policy = RetryPolicy(jitter=False)
    assert policy.delay(1, None) == 2.0 and policy.delay(3, None) == 8.0
    assert policy.delay(2, 5.5) == 5.5
