"""The one place entra-lp talks HTTP to Microsoft Graph, through msgraph-sdk's request adapter.

Requests go through the SDK's ``GraphRequestAdapter`` (credential → bearer token, kiota
middleware: redirects, parameter decoding, user agent, Graph telemetry, CAE claims
challenges), built on an httpx client this module owns so that it can be closed and so that
``trust_env`` can be chosen. Responses are taken *raw* (kiota's ``NativeResponseHandler``)
rather than as SDK model objects, because:

* audit records must reach ``read_audit_logs`` exactly as Graph sent them (SDK models move
  unknown keys such as the docs' ``Type`` into ``additional_data`` and drop beta fields);
* SDK models mis-serialise durations (``str(timedelta)``, msgraph-sdk-python #1262) and need
  enum objects for rule targets, whereas ``entra_lp.export.graph`` builds exact JSON;
* beta endpoints (resource actions) work without the 676 MB msgraph-beta-sdk;
* the retry policy needs the status and ``Retry-After`` of every attempt.

The SDK's own RetryHandler is switched off and :class:`RetryPolicy` replaces it: it honours
``Retry-After`` exactly (seconds or HTTP date), backs off exponentially otherwise, reports
each wait, and takes an injectable ``sleep`` so tests never wait.

Tokens never leave the adapter: nothing here logs headers, and bearer tokens are only sent
to the hosts of ``base_url`` / ``beta_url`` (kiota's allowed-hosts check), so a ``nextLink``
pointing elsewhere is refused before anything is sent.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from ..errors import TenantError

__all__ = [
    "GRAPH_BETA",
    "GRAPH_V1",
    "GraphError",
    "GraphHttp",
    "GraphResponse",
    "RequestRecord",
    "RetryEvent",
    "RetryPolicy",
]

log = logging.getLogger("entra_lp.tenant")

GRAPH_V1 = "https://graph.microsoft.com/v1.0"
GRAPH_BETA = "https://graph.microsoft.com/beta"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_IDEMPOTENT = frozenset({"GET", "PATCH", "PUT", "DELETE"})
_MAX_PAGES = 1_000_000


class GraphError(TenantError):
    """A Graph request failed; carries what is needed to act on it (never a token).

    ``status`` is the HTTP status (``None`` for a connection failure), ``code`` Graph's error
    code (``Authorization_RequestDenied``, ``InvalidAuthenticationToken``...), ``request_id``
    the id to quote to Microsoft support.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        url: str = "",
        status: int | None = None,
        code: str = "",
        request_id: str = "",
    ) -> None:
        self.method, self.url, self.status = method, url, status
        self.code, self.request_id = code, request_id
        super().__init__(message)


@dataclass(frozen=True)
class RetryEvent:
    """A transient failure that will be retried after ``delay`` seconds."""

    method: str
    url: str
    attempt: int
    delay: float
    status: int | None
    reason: str


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP exchange, as written to audit files: no headers, hence no token."""

    method: str
    url: str
    body: Any
    status: int | None
    attempt: int
    response_id: str = ""
    error_code: str = ""
    error_message: str = ""


async def _asyncio_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures (429, 503, 504, dropped connections, torn JSON) are retried.

    A server's ``Retry-After`` is obeyed exactly; without one the wait is
    ``backoff * 2**(attempt-1)`` capped at ``max_backoff`` (jittered down to half when
    ``jitter``). A ``Retry-After`` beyond ``max_retry_after`` is not slept through: the call
    fails at once with a :class:`GraphError` saying how long Graph asked to wait, so a
    paged read can resume later from its checkpoint. ``sleep`` replaces ``asyncio.sleep``
    (tests pass one that only records the delays).
    """

    max_retries: int = 6
    backoff: float = 2.0
    max_backoff: float = 120.0
    max_retry_after: float = 600.0
    retry_statuses: frozenset[int] = frozenset({429, 503, 504})
    jitter: bool = True
    sleep: Callable[[float], Awaitable[None]] = field(default=_asyncio_sleep, compare=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if retry_after is not None:
            return retry_after
        wait = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return float(wait * random.uniform(0.5, 1.0)) if self.jitter else float(wait)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: an integer/float or an HTTP date; ``None`` if absent/garbled."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class GraphResponse:
    """A successful response: status and parsed JSON body (``None`` for 204)."""

    status: int
    data: Any
    url: str
    request_id: str = ""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def encode_query(query: Mapping[str, Any] | None) -> str:
    """OData query string as the SDK writes it: ``$`` names verbatim, values %-encoded, sorted."""
    if not query:
        return ""
    items = []
    for key in sorted(query):
        value = query[key]
        if value is None:
            continue
        text = ",".join(value) if isinstance(value, list | tuple) else str(value)
        items.append(f"{key}={quote(text, safe='')}")
    return "&".join(items)


class GraphHttp:
    """Async Graph transport over msgraph-sdk's adapter; build and use it on one event loop."""

    def __init__(
        self,
        credential: Any,
        *,
        base_url: str,
        beta_url: str,
        scopes: list[str] | None = None,
        trust_env: bool | None = None,
        timeout: float = 100.0,
        retry: RetryPolicy | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.beta_url = beta_url.rstrip("/")
        for url in (self.base_url, self.beta_url):
            scheme, host, _ = _origin(url)
            if scheme not in ("https", "http") or not host:
                raise TenantError(f"Graph URL {url!r} must be an absolute https URL")
            if scheme == "http" and host not in _LOOPBACK:
                raise TenantError(f"Graph URL {url!r}: plain http is allowed for loopback only")
        self._origins = {_origin(self.base_url), _origin(self.beta_url)}
        self._credential = credential
        self._scopes = scopes or [self._default_scope()]
        self._trust_env = trust_env
        self._timeout = timeout
        self.retry = retry or RetryPolicy()
        self.on_retry = on_retry
        self.observers: list[Callable[[RequestRecord], None]] = []
        self._http: Any = None
        self._pools: list[Any] = []  # httpx transports to close (see start)
        self.adapter: Any = None
        self.client: Any = None

    def _default_scope(self) -> str:
        scheme, host, _ = _origin(self.base_url)
        # Loopback test servers stand in for the public cloud's Graph resource.
        return (
            "https://graph.microsoft.com/.default"
            if scheme == "http"
            else (f"https://{host}/.default")
        )

    def start(self) -> None:
        """Build the SDK client; call on the loop that will use it (httpx binds to it)."""
        import httpx
        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )
        from kiota_http.middleware.options import RetryHandlerOption
        from msgraph.graph_request_adapter import GraphRequestAdapter
        from msgraph.graph_service_client import GraphServiceClient
        from msgraph_core import GraphClientFactory

        hosts = sorted({host for _, host, _ in self._origins})
        loopback = all(h in _LOOPBACK for h in hosts)
        trust_env = (not loopback) if self._trust_env is None else self._trust_env
        timeout = httpx.Timeout(self._timeout, connect=min(30.0, self._timeout))
        raw = httpx.AsyncClient(timeout=timeout, trust_env=trust_env, http2=not loopback)
        # The SDK wraps these in a transport whose aclose() does nothing: close them ourselves,
        # or every pooled connection leaks until garbage collection.
        self._pools = [raw._transport, *(t for t in raw._mounts.values() if t is not None)]
        no_sdk_retry = RetryHandlerOption(max_retries=0, should_retry=False)
        self._http = GraphClientFactory.create_with_default_middleware(
            client=raw, options={RetryHandlerOption.get_key(): no_sdk_retry}
        )
        auth = AzureIdentityAuthenticationProvider(
            self._credential, scopes=self._scopes, allowed_hosts=hosts
        )
        self.adapter = GraphRequestAdapter(auth, client=self._http)
        self.adapter.base_url = self.base_url  # no trailing slash (SDK gotcha)
        self.client = GraphServiceClient(request_adapter=self.adapter)

    async def aclose(self) -> None:
        """Close the httpx client (idempotent)."""
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()
        pools, self._pools = self._pools, []
        for pool in pools:
            await pool.aclose()

    # ---- URLs ---------------------------------------------------------------------------
    def url(self, target: str, query: Mapping[str, Any] | None = None, api: str = "v1.0") -> str:
        """Absolute URL for a path (relative to the API root) or a checked absolute link."""
        if target.startswith(("http://", "https://")):
            if _origin(target) not in self._origins:
                raise GraphError(
                    f"refusing to follow a link to {urlsplit(target).netloc!r}: it is not the "
                    "Graph endpoint this Tenant was connected to (the token would go there)",
                    url=target,
                )
            base = target
        else:
            root = self.beta_url if api == "beta" else self.base_url
            base = root + (target if target.startswith("/") else "/" + target)
        qs = encode_query(query)
        return base + ("&" if "?" in base else "?") + qs if qs else base

    # ---- requests -----------------------------------------------------------------------
    async def request(
        self,
        method: str,
        target: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        api: str = "v1.0",
        permission: str = "",
    ) -> GraphResponse:
        """Send one request, retrying transient failures; raise :class:`GraphError` otherwise.

        ``permission`` names the least-privileged Graph permission, quoted in a 403 message.
        """
        if self.adapter is None:
            raise TenantError("Graph client not started (internal error)")
        url = self.url(target, query, api)
        payload = orjson.dumps(body, option=orjson.OPT_SORT_KEYS) if body is not None else None
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._attempt(
                method, url=url, payload=payload, body=body, attempt=attempt, permission=permission
            )
            if isinstance(outcome, GraphResponse):
                return outcome
            error, retry_after = outcome
            await self._maybe_wait(error, retry_after, attempt)

    async def _maybe_wait(self, error: GraphError, retry_after: float | None, attempt: int) -> None:
        policy = self.retry
        if attempt > policy.max_retries:
            raise _with_note(error, f"gave up after {attempt} attempts")
        if retry_after is not None and retry_after > policy.max_retry_after:
            raise _with_note(error, f"Graph asked to wait {retry_after:.0f} s; resume later")
        delay = policy.delay(attempt, retry_after)
        event = RetryEvent(error.method, error.url, attempt, delay, error.status, str(error))
        log.info(
            "retrying %s %s in %.1f s (attempt %d): %s",
            event.method,
            event.url,
            delay,
            attempt + 1,
            event.reason,
        )
        if self.on_retry is not None:
            self.on_retry(event)
        await policy.sleep(delay)

    async def _attempt(
        self,
        method: str,
        *,
        url: str,
        payload: bytes | None,
        body: Any,
        attempt: int,
        permission: str,
    ) -> GraphResponse | tuple[GraphError, float | None]:
        """One try: a response, or (retryable error, Retry-After); raises if not retryable."""
        import httpx

        try:
            resp = await self._send(method, url, payload)
        except httpx.TransportError as exc:
            self._notify(RequestRecord(method, url, body, None, attempt, error_message=str(exc)))
            error = GraphError(
                f"{method} {url}: connection failed: {exc!r}", method=method, url=url
            )
            if method not in _IDEMPOTENT:
                raise _with_note(error, "the request may or may not have been applied") from exc
            return error, None
        return self._interpret(
            method, url, body=body, attempt=attempt, resp=resp, permission=permission
        )

    def _interpret(
        self, method: str, url: str, *, body: Any, attempt: int, resp: Any, permission: str
    ) -> GraphResponse | tuple[GraphError, float | None]:
        status = int(resp.status_code)
        request_id = resp.headers.get("request-id", "")
        if status < 400:
            try:
                data = orjson.loads(resp.content) if resp.content else None
            except orjson.JSONDecodeError as exc:
                self._notify(
                    RequestRecord(
                        method, url, body, status, attempt, error_message=f"malformed JSON: {exc}"
                    )
                )
                error = GraphError(
                    f"{method} {url}: HTTP {status} with malformed JSON ({exc}; "
                    f"{len(resp.content)} bytes)",
                    method=method,
                    url=url,
                    status=status,
                    code="MalformedJson",
                    request_id=request_id,
                )
                if method not in _IDEMPOTENT:
                    raise _with_note(error, "the request may have been applied") from exc
                return error, None
            rid = data.get("id", "") if isinstance(data, dict) else ""
            self._notify(RequestRecord(method, url, body, status, attempt, str(rid or "")))
            return GraphResponse(status, data, url, request_id)
        code, message = _graph_error(resp.content)
        self._notify(
            RequestRecord(
                method, url, body, status, attempt, error_code=code, error_message=message
            )
        )
        error = GraphError(
            _describe(method, url, status=status, code=code, message=message, perm=permission),
            method=method,
            url=url,
            status=status,
            code=code,
            request_id=request_id,
        )
        if status in self.retry.retry_statuses:
            return error, parse_retry_after(resp.headers.get("Retry-After"))
        raise error

    async def _send(self, method: str, url: str, payload: bytes | None) -> Any:
        from kiota_abstractions.method import Method
        from kiota_abstractions.native_response_handler import NativeResponseHandler
        from kiota_abstractions.request_information import RequestInformation
        from kiota_http.middleware.options import ResponseHandlerOption

        info = RequestInformation(Method(method))
        info.url = url
        info.headers.try_add("Accept", "application/json")
        if payload is not None:
            info.set_stream_content(payload, "application/json")
        info.add_request_options([ResponseHandlerOption(NativeResponseHandler())])
        return await self.adapter.send_primitive_async(info, "bytes", None)

    def _notify(self, record: RequestRecord) -> None:
        for observer in list(self.observers):
            observer(record)

    # ---- collections --------------------------------------------------------------------
    async def pages(
        self,
        target: str,
        query: Mapping[str, Any] | None = None,
        *,
        api: str = "v1.0",
        permission: str = "",
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Yield ``(url, page)`` for each page, following ``@odata.nextLink``."""
        url: str | None = self.url(target, query, api)
        seen: set[str] = set()
        while url is not None:
            if url in seen or len(seen) >= _MAX_PAGES:
                raise GraphError(f"paging loop: {url} was already fetched", url=url)
            seen.add(url)
            page = await self.get_page(url, permission=permission)
            yield url, page
            url = next_link(page)

    async def get_page(self, url: str, *, permission: str = "") -> dict[str, Any]:
        """One collection page, checked to have a ``value`` list."""
        resp = await self.request("GET", url, permission=permission)
        data = resp.data
        if not isinstance(data, dict) or not isinstance(data.get("value"), list):
            raise GraphError(
                f"GET {url}: expected a collection page with a 'value' list",
                method="GET",
                url=url,
                status=resp.status,
            )
        return data

    async def collect(
        self,
        target: str,
        query: Mapping[str, Any] | None = None,
        *,
        api: str = "v1.0",
        permission: str = "",
    ) -> list[dict[str, Any]]:
        """Every item of a paged collection."""
        out: list[dict[str, Any]] = []
        async for _, page in self.pages(target, query, api=api, permission=permission):
            out.extend(page["value"])
        return out


def next_link(page: Mapping[str, Any]) -> str | None:
    """The page's ``@odata.nextLink``, if any."""
    link = page.get("@odata.nextLink")
    return link if isinstance(link, str) and link else None


def _graph_error(content: bytes) -> tuple[str, str]:
    try:
        data = orjson.loads(content) if content else {}
    except orjson.JSONDecodeError:
        snippet = content[:200].decode("utf-8", "replace").strip()
        return "", f"non-JSON error body: {snippet!r}"
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return "", ""
    return str(err.get("code") or ""), str(err.get("message") or "")


def _describe(method: str, url: str, *, status: int, code: str, message: str, perm: str) -> str:
    text = f"{method} {url}: HTTP {status}"
    if code or message:
        text += f" {code}: {message}".rstrip(": ")
    if status == 401:
        text += (
            " — the access token was rejected or has expired; sign in again or check the credential"
        )
    elif status == 403 and perm:
        text += f" — the caller needs at least the Graph permission {perm}"
    return text


def _with_note(error: GraphError, note: str) -> GraphError:
    return GraphError(
        f"{error} ({note})",
        method=error.method,
        url=error.url,
        status=error.status,
        code=error.code,
        request_id=error.request_id,
    )
