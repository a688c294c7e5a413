"""The Graph transport: real msgraph-sdk client against the loopback fake server.

Covers what reaches the wire (path, query, bearer token), throttling and Retry-After,
fault storms, expired tokens, torn JSON, dropped connections, proxies, foreign nextLinks,
the Jupyter case (a running event loop in the calling thread) and lazy imports.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from fake_graph import BUILTIN_READER, FakeGraph, Sleeps, StaticCredential

from entra_lp.errors import TenantError
from entra_lp.tenant import GraphError, RetryPolicy, Tenant

DEFS = "/roleManagement/directory/roleDefinitions"


def test_paged_read_follows_loopback_next_links_with_the_bearer_token(tenant, fake) -> None:
    defs = tenant.role_definitions()
    assert [d["displayName"] for d in defs] == [
        "Synthetic Directory Reader",
        "Synthetic User Administrator",
        "Existing Helpdesk",
    ]
    seen = fake.gets(DEFS)
    assert [r.query for r in seen] == [{}, {"$skiptoken": "2"}]
    assert {r.token for r in seen} == {"test-token"}
    assert all(r.version == "v1.0" for r in seen)


def test_retry_after_is_obeyed_exactly_without_sleeping(tenant, fake, sleeps) -> None:
    fake.fail(DEFS, 429, times=2, retry_after="7")
    assert len(tenant.role_definitions()) == 3
    assert list(sleeps) == [7.0, 7.0]
    assert len(fake.gets(DEFS)) == 4  # 2 throttled + 2 pages


def test_retry_after_as_http_date(tenant, fake, sleeps) -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    fake.fail(DEFS, 503, retry_after=format_datetime(when, usegmt=True))
    tenant.role_definitions()
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 31


def test_backoff_without_retry_after_grows(tenant, fake, sleeps) -> None:
    fake.fail(DEFS, 504, times=3)
    tenant.role_definitions()
    assert list(sleeps) == [2.0, 4.0, 8.0]


def test_storm_beyond_retries_fails_with_status_and_attempts(tenant, fake, sleeps) -> None:
    fake.fail(DEFS, 503, times=50, retry_after="1")
    with pytest.raises(GraphError) as info:
        tenant.role_definitions()
    assert info.value.status == 503
    assert "gave up after 5 attempts" in str(info.value)
    assert len(sleeps) == 4


def test_retry_after_too_long_stops_at_once(fake, credential) -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(max_retry_after=60, sleep=sleeps)
    fake.fail(DEFS, 429, retry_after="3600")
    with (
        Tenant.connect(credential, base_url=fake.v1, beta_url=fake.beta, retry=policy) as t,
        pytest.raises(GraphError, match="asked to wait 3600 s"),
    ):
        t.role_definitions()
    assert list(sleeps) == []


def test_expired_token_is_a_clear_error_without_the_token(fake) -> None:
    cred = StaticCredential("stale-secret-token")
    with (
        Tenant.connect(cred, base_url=fake.v1, beta_url=fake.beta) as t,
        pytest.raises(GraphError) as info,
    ):
        t.role_definitions()
    assert info.value.status == 401
    assert info.value.code == "InvalidAuthenticationToken"
    assert "sign in again" in str(info.value)
    assert "stale-secret-token" not in str(info.value)
    assert fake.requests[-1].token == "stale-secret-token"  # it was sent, to the fake only


def test_forbidden_names_the_permission(tenant, fake) -> None:
    fake.fail(DEFS, 403, times=1)
    with pytest.raises(GraphError, match=r"RoleManagement\.Read\.Directory"):
        tenant.role_definitions()


def test_torn_json_is_retried_then_reported(tenant, fake, sleeps) -> None:
    fake.fail(DEFS, kind="malformed")
    assert len(tenant.role_definitions()) == 3
    assert len(sleeps) == 1
    fake.fail(DEFS, kind="malformed", times=10)
    with pytest.raises(GraphError, match="malformed JSON") as info:
        tenant.role_definitions()
    assert info.value.code == "MalformedJson"


def test_dropped_connection_is_retried_for_get(tenant, fake, sleeps) -> None:
    fake.fail(DEFS, kind="drop")
    assert len(tenant.role_definitions()) == 3
    assert len(sleeps) == 1


def test_dropped_connection_on_post_is_not_retried(tenant, fake) -> None:
    fake.fail(DEFS, method="POST", kind="drop", times=5)
    body = {"displayName": "X", "isEnabled": True, "rolePermissions": []}
    with pytest.raises(GraphError, match="may or may not have been applied"):
        tenant.run(tenant._http.request("POST", DEFS, body=body))
    assert len([r for r in fake.writes() if r.route == DEFS]) == 1


def test_next_link_to_another_host_is_refused_before_the_token_leaves(tenant, fake) -> None:
    with FakeGraph() as other:  # same host, other port: another origin
        page = {"value": [{"id": "x"}], "@odata.nextLink": other.v1 + DEFS + "?$skiptoken=2"}
        fake.fail(DEFS, 200, kind="body", body=page)
        with pytest.raises(GraphError, match="refusing to follow"):
            tenant.role_definitions()
        assert other.requests == []


def test_plain_http_is_refused_off_loopback(credential) -> None:
    with pytest.raises(TenantError, match="loopback only"):
        Tenant.connect(credential, base_url="http://graph.example.test/v1.0")


def test_proxy_variables_do_not_capture_loopback_traffic(fake, credential, monkeypatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with Tenant.connect(credential, base_url=fake.v1, beta_url=fake.beta) as t:
        assert len(t.role_definitions()) == 3


def test_works_when_the_caller_runs_an_event_loop_like_jupyter(tenant) -> None:
    async def notebook_cell() -> list[str]:
        asyncio.get_running_loop()  # a loop is running in this thread, as in Jupyter
        return [d["id"] for d in tenant.role_definitions()]

    ids = asyncio.run(notebook_cell())
    assert BUILTIN_READER in ids


def test_connect_inside_a_running_loop(fake, credential) -> None:
    async def cell() -> int:
        with Tenant.connect(credential, base_url=fake.v1, beta_url=fake.beta) as t:
            return len(t.role_definitions())

    assert asyncio.run(cell()) == 3


def test_sdk_client_is_usable_on_the_tenant_loop(tenant, fake) -> None:
    page = tenant.run(tenant.client.role_management.directory.role_definitions.get())
    assert page.value[0].display_name == "Synthetic Directory Reader"
    assert fake.gets(DEFS)[-1].token == "test-token"


def test_closed_tenant_refuses_calls(fake, credential) -> None:
    t = Tenant.connect(credential, base_url=fake.v1, beta_url=fake.beta)
    t.close()
    t.close()  # idempotent
    assert t.closed
    with pytest.raises(TenantError, match="closed"):
        t.role_definitions()


def test_importing_entra_lp_does_not_import_msgraph() -> None:
    code = textwrap.dedent("""
        import sys
        import entra_lp, entra_lp.tenant, entra_lp.export
        from entra_lp.tenant import Tenant
        assert "msgraph" not in sys.modules, "msgraph imported"
        assert "azure.identity" not in sys.modules
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr


def test_missing_graph_extra_is_a_clear_error() -> None:
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("msgraph", "azure"):
                    raise ImportError(f"No module named {name!r}")
        sys.meta_path.insert(0, Block())
        from entra_lp.tenant import Tenant
        from entra_lp.errors import TenantError
        try:
            Tenant.connect()
        except TenantError as exc:
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert "pip install 'entra-lp[graph]'" in out.stdout, out.stderr


def test_default_credential_is_created_lazily_and_closed(fake, monkeypatch) -> None:
    import azure.identity

    made = []

    class Recording(azure.identity.DefaultAzureCredential):
        def close(self) -> None:
            made.append("closed")
            super().close()

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", Recording)
    t = Tenant.connect(base_url=fake.v1, beta_url=fake.beta)
    assert fake.requests == []  # nothing sent, no token asked for
    t.close()
    assert made == ["closed"]


def test_fake_server_records_exact_query_encoding(tenant, fake: FakeGraph) -> None:
    tenant.role_management_policies()
    (first,) = fake.gets("/policies/roleManagementPolicyAssignments")[:1]
    assert first.query == {
        "$expand": "policy($expand=rules)",
        "$filter": "scopeId eq '/' and scopeType eq 'DirectoryRole'",
    }


def test_async_token_credentials_are_accepted(fake) -> None:
    from azure.core.credentials import AccessToken

    class AsyncCredential:
        async def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
            return AccessToken("test-token", 2_000_000_000)

        async def close(self) -> None:
            return None

    with Tenant.connect(AsyncCredential(), base_url=fake.v1, beta_url=fake.beta) as t:
        assert len(t.role_definitions()) == 3
    assert fake.requests[-1].token == "test-token"


def test_a_string_is_not_a_credential(fake) -> None:
    with pytest.raises(TenantError, match="TokenCredential"):
        Tenant.connect("eyJ-a-raw-token", base_url=fake.v1, beta_url=fake.beta)


def test_close_releases_every_pooled_connection(fake, credential, monkeypatch) -> None:
    """msgraph-sdk wraps httpx's pool in a transport whose aclose() does nothing; closing the
    Tenant must still close the pool, or each connection leaks until garbage collection."""
    import gc
    import warnings

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    t = Tenant.connect(credential, base_url=fake.v1, beta_url=fake.beta,
                       retry=RetryPolicy(max_retries=0, jitter=False))
    assert t.directory_snapshot(include=["users"]).users  # opens pooled connections
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        t.close()
        del t  # an unclosed socket only speaks up when collected
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []
