"""``Tenant``: the synchronous facade over a live Entra tenant (msgraph-sdk underneath).

Everything runs on one background event loop owned by the Tenant (see ``_loop``), so the
same object works in scripts, in other libraries and inside Jupyter, where an event loop is
already running. msgraph-sdk and azure-identity are imported only by :meth:`Tenant.connect`
(the ``graph`` extra); importing ``entra_lp`` never loads them.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import weakref
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

import pandas as pd

from ..directory import (
    AdministrativeUnit,
    Application,
    DirectorySnapshot,
    Group,
    RoleAssignment,
    ServicePrincipal,
    User,
)
from ..errors import TenantError
from ..export.desired import CatalogLike, DesiredState, EntraLimits
from . import reads
from ._http import GRAPH_BETA, GRAPH_V1, GraphHttp, RetryEvent, RetryPolicy
from ._loop import LoopThread
from .audits import (
    AUDITS_PATH,
    AuditCheckpoint,
    AuditDownload,
    AuditProgress,
    AuditStream,
    audit_query,
    download_audits,
)
from .plan import ApplyError, ApplyResult, Plan, TenantState, build_plan, execute_plan, read_state
from .plan import offline_violations as _offline
from .report import privileged_access

__all__ = ["Tenant"]

log = logging.getLogger("entra_lp.tenant")
T = TypeVar("T")

_MISSING_EXTRA = (
    "talking to a live tenant needs the 'graph' extra: pip install 'entra-lp[graph]' "
    "(msgraph-sdk and azure-identity); missing: {name}"
)


def _require_graph_extra() -> None:
    for module in ("msgraph", "kiota_http", "httpx"):
        try:
            __import__(module)
        except ImportError as exc:
            raise TenantError(_MISSING_EXTRA.format(name=module)) from exc


def _default_credential() -> Any:
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise TenantError(_MISSING_EXTRA.format(name="azure-identity")) from exc
    return DefaultAzureCredential()


def _shutdown(loop: LoopThread, http: GraphHttp, credential: Any) -> None:
    if loop.closed:
        return
    try:
        loop.run(http.aclose(), timeout=10)
    finally:
        loop.close()
        _close_credential(credential)


def _close_credential(credential: Any) -> None:
    if credential is not None and callable(getattr(credential, "close", None)):
        credential.close()


class Tenant:
    """A connection to one Entra tenant through Microsoft Graph.

    Create it with :meth:`connect`; close it with :meth:`close` or a ``with`` block. Every
    read documents the least-privileged Graph permission it needs (also in
    ``entra_lp.tenant.PERMISSIONS``); writes happen only in :meth:`apply` with
    ``confirm=True``.
    """

    def __init__(self, http: GraphHttp, loop: LoopThread, owned_credential: Any = None) -> None:
        self._http, self._loop = http, loop
        self._listeners: list[Callable[[RetryEvent], None]] = []
        http.on_retry = self._dispatch_retry
        self._finalizer = weakref.finalize(self, _shutdown, loop, http, owned_credential)

    @classmethod
    def connect(
        cls,
        credential: Any = None,
        *,
        base_url: str = GRAPH_V1,
        beta_url: str = GRAPH_BETA,
        scopes: list[str] | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 100.0,
        trust_env: bool | None = None,
    ) -> Tenant:
        """Connect with ``credential`` (any azure-core ``TokenCredential`` / async one).

        ``None`` uses azure-identity's ``DefaultAzureCredential`` (environment, managed
        identity, Azure CLI, ...), which the Tenant then closes with itself. ``base_url`` and
        ``beta_url`` select the cloud (or a loopback test server); tokens are sent to their
        hosts only. ``trust_env`` (proxy variables) defaults to True except for loopback.
        No request is made until the first read.
        """
        _require_graph_extra()
        if credential is not None and not callable(getattr(credential, "get_token", None)):
            raise TenantError(
                f"credential must be an azure-core TokenCredential (with get_token), got "
                f"{type(credential).__name__}"
            )
        # A credential we create is ours to close; a caller's stays the caller's.
        owned = _default_credential() if credential is None else None
        credential = credential if credential is not None else owned
        try:
            http = GraphHttp(
                credential,
                base_url=base_url,
                beta_url=beta_url,
                scopes=scopes,
                trust_env=trust_env,
                timeout=timeout,
                retry=retry,
            )
        except BaseException:
            _close_credential(owned)
            raise
        loop = LoopThread()
        try:
            loop.run(_start(http))
        except BaseException:
            loop.close()
            _close_credential(owned)
            raise
        return cls(http, loop, owned)

    # ---- lifecycle ----------------------------------------------------------------------
    def close(self) -> None:
        """Close the HTTP client, stop the background loop (idempotent)."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._loop.closed

    def __enter__(self) -> Tenant:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"Tenant({self._http.base_url!r}, {state})"

    def run(self, awaitable: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on this Tenant's loop, e.g. ``t.run(t.client.users.get())``."""
        result: T = self._loop.run(awaitable)
        return result

    @property
    def client(self) -> Any:
        """The underlying ``msgraph.GraphServiceClient`` (use it through :meth:`run`)."""
        return self._http.client

    @property
    def base_url(self) -> str:
        """The Graph v1.0 root this Tenant talks to."""
        return self._http.base_url

    def _dispatch_retry(self, event: RetryEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    # ---- role management reads ------------------------------------------------------------
    def role_definitions(self, api: Literal["v1.0", "beta"] = "v1.0") -> list[dict[str, Any]]:
        """All role definitions, Graph-shaped (``RoleManagement.Read.Directory``).

        The beta API adds ``isPrivileged``; the shape is that of the Graph exports the
        permission catalog is built from.
        """
        return self.run(reads.role_definitions(self._http, api))

    def resource_actions(
        self, namespace: str = "microsoft.directory", api: Literal["v1.0", "beta"] = "beta"
    ) -> list[dict[str, Any]]:
        """All resource actions of a namespace, Graph-shaped (``RoleManagement.Read.Directory``).

        Listed only in the beta API reference (with ``isPrivileged``), hence beta by default.
        """
        return self.run(reads.resource_actions(self._http, namespace, api))

    def refresh_catalog(self) -> Any:
        """A permission catalog built from this tenant's role definitions and resource actions.

        Needs ``permission_catalog.Catalog.from_role_definitions`` (reads beta role
        definitions and ``microsoft.directory`` resource actions).
        """
        build = getattr(_catalog_module().Catalog, "from_role_definitions", None)
        if build is None:
            raise TenantError(
                "this permission_catalog cannot be built from a tenant "
                "(it has no Catalog.from_role_definitions)"
            )
        definitions = self.role_definitions(api="beta")
        params = inspect.signature(build).parameters
        if "resource_actions" in params:
            return build(definitions, resource_actions=self.resource_actions())
        return build(definitions)

    def catalog_diff(self, bundled: Any = None) -> Any:
        """``bundled.diff(fresh)``: what changed from the bundled catalog to this tenant's."""
        if bundled is None:
            bundled = _catalog_module().load_catalog()
        return bundled.diff(self.refresh_catalog())

    def role_assignments(self) -> list[RoleAssignment]:
        """Active directory-role assignments (``RoleManagement.Read.Directory``)."""
        return self.run(reads.role_assignments(self._http))

    def eligibility_schedules(self) -> list[RoleAssignment]:
        """PIM eligibilities (``RoleEligibilitySchedule.Read.Directory``)."""
        return self.run(reads.eligibility_schedules(self._http))

    def active_schedule_instances(self) -> list[RoleAssignment]:
        """Assignments in force, activations too (``RoleAssignmentSchedule.Read.Directory``)."""
        return self.run(reads.active_schedule_instances(self._http))

    def role_management_policies(self) -> list[reads.RolePolicy]:
        """Each directory role's PIM policy, rules expanded and summarised into ``PimSettings``
        (``RoleManagementPolicy.Read.Directory``)."""
        return self.run(reads.role_management_policies(self._http))

    # ---- directory reads -----------------------------------------------------------------
    def administrative_units(self) -> list[AdministrativeUnit]:
        """Administrative units with members (``AdministrativeUnit.Read.All``)."""
        return self.run(reads.administrative_units(self._http))

    def applications(self) -> list[Application]:
        """App registrations with owners (``Application.Read.All``)."""
        return self.run(reads.applications(self._http))

    def service_principals(self) -> list[ServicePrincipal]:
        """Service principals with owners (``Application.Read.All``)."""
        return self.run(reads.service_principals(self._http))

    def users(self) -> list[User]:
        """Users (``User.Read.All``)."""
        return self.run(reads.users(self._http))

    def groups(self) -> list[Group]:
        """Groups, with members of role-assignable ones (``GroupMember.Read.All``)."""
        return self.run(reads.groups(self._http))

    def directory_snapshot(
        self,
        include: Iterable[str] = reads.SNAPSHOT_SECTIONS,
        *,
        on_forbidden: Literal["raise", "warn"] = "raise",
        taken_at: datetime | None = None,
    ) -> DirectorySnapshot:
        """Everything ``recommend`` uses about the tenant, as a ``DirectorySnapshot``.

        ``include`` picks sections (``reads.SNAPSHOT_SECTIONS``). With
        ``on_forbidden="warn"`` a section the caller may not read is left empty with a
        ``TenantWarning`` instead of failing the whole snapshot. Needs the permissions of
        the readers above (``Directory.Read.All`` covers the directory objects).
        """
        return self.run(reads.directory_snapshot(self._http, include, on_forbidden, taken_at))

    # ---- audit logs ---------------------------------------------------------------------
    def directory_audits(
        self,
        since: datetime | str,
        until: datetime | str,
        filter: str | None = None,
        *,
        checkpoint: AuditCheckpoint | str | Path | None = None,
        page_size: int | None = None,
        progress: bool | Callable[[AuditProgress], None] = False,
    ) -> AuditStream:
        """Stream the directory audits of ``[since, until]`` page by page (``AuditLog.Read.All``).

        ``filter`` is ANDed to the time window (OData, e.g. ``"loggedByService eq 'PIM'"``).
        ``checkpoint`` (an object or a file path, created if missing) makes the read
        resumable: a later call with the same checkpoint continues after the last record
        delivered. ``progress=True`` shows a progress line; a callable receives
        :class:`AuditProgress` updates, including throttling waits.
        """
        query_url = self._http.url(AUDITS_PATH, audit_query(since, until, filter, page_size))
        path: Path | None = None
        if isinstance(checkpoint, AuditCheckpoint):
            cp = checkpoint
            cp.check_matches(query_url, "checkpoint")
        elif checkpoint is not None:
            path = Path(checkpoint)
            cp = AuditCheckpoint.load(path) if path.exists() else AuditCheckpoint.start(query_url)
            cp.check_matches(query_url, str(path))
        else:
            cp = AuditCheckpoint.start(query_url)
        return AuditStream(
            self._http,
            self.run,
            cp,
            checkpoint_path=path,
            progress=progress,
            listeners=self._listeners,
        )

    def download_directory_audits(
        self,
        since: datetime | str,
        until: datetime | str,
        path: str | Path,
        filter: str | None = None,
        *,
        page_size: int | None = None,
        overwrite: bool = False,
        progress: bool | Callable[[AuditProgress], None] = False,
    ) -> AuditDownload:
        """Save the records to ``path`` as JSON lines, resumably (``AuditLog.Read.All``).

        A checkpoint ``<path>.checkpoint`` is written after each page reaches the disk;
        calling again after a failure (or a killed process) continues from it and never
        writes a record twice. Read the file with ``entra_lp.ingest.read_audit_logs``.
        """
        query_url = self._http.url(AUDITS_PATH, audit_query(since, until, filter, page_size))
        return download_audits(
            self._http,
            self.run,
            query_url,
            path,
            overwrite=overwrite,
            progress=progress,
            listeners=self._listeners,
        )

    # ---- reporting ---------------------------------------------------------------------
    def report_privileged_access(
        self, since: datetime | str | None = None, until: datetime | str | None = None
    ) -> pd.DataFrame:
        """Every principal's directory-role assignments, eligibilities and activations.

        Columns: ``entra_lp.tenant.REPORT_COLUMNS``. With ``since`` and ``until`` the PIM
        audit records of that window add activations older than the request history.
        Needs ``RoleManagement.Read.Directory``, ``RoleEligibilitySchedule.Read.Directory``,
        ``RoleAssignmentSchedule.Read.Directory`` (and ``AuditLog.Read.All`` for the window).
        Render it with :func:`entra_lp.tenant.render_privileged_access_html`.
        """
        return self.run(privileged_access(self._http, since, until))

    # ---- plan and apply ----------------------------------------------------------------
    def plan(
        self,
        desired: DesiredState,
        *,
        catalog: CatalogLike | Literal["auto"] | None = "auto",
        limits: EntraLimits | None = None,
    ) -> Plan:
        """The exact Graph requests that would make the tenant match ``desired``.

        Entra's rules are checked before any call; if that finds a violation the plan is
        returned at once and nothing is sent. Otherwise the tenant is read (role
        definitions, PIM policies and schedules, the principals and approvers named) and
        checked again. ``catalog="auto"`` loads the bundled permission catalog for the
        per-action custom-role checks; ``None`` skips them (the plan notes it).
        """
        cat, notes = _catalog(catalog)
        lim = limits or EntraLimits.from_catalog(cat)
        pre = _offline(desired, cat, lim)
        if any(v.severity == "error" for v in pre):
            return Plan(
                base_url=self.base_url,
                desired=desired,
                violations=tuple(pre),
                notes=(*notes, "checked offline only: nothing was sent to the tenant"),
            )
        plan, _ = self.run(self._plan_async(desired, cat, lim, notes))
        return plan

    async def _plan_async(
        self, desired: DesiredState, cat: CatalogLike | None, lim: EntraLimits, notes: list[str]
    ) -> tuple[Plan, TenantState]:
        state = await read_state(self._http, desired)
        plan = build_plan(
            desired, state, base_url=self.base_url, catalog=cat, limits=lim, notes=notes
        )
        return plan, state

    def apply(
        self,
        plan: Plan,
        confirm: bool = False,
        *,
        audit_path: str | Path | None = None,
        catalog: CatalogLike | Literal["auto"] | None = "auto",
        echo: bool = True,
    ) -> ApplyResult:
        """Dry run by default: print and return what would be sent. ``confirm=True`` applies.

        Applying re-reads the tenant and sends only the reviewed requests still needed, in
        order, so re-applying changes nothing; it stops at the first error and raises
        :class:`ApplyError` whose ``result`` lists what was done and what was not. Every
        request and response status is appended to ``audit_path`` (JSON lines; default
        ``entra-lp-out/apply-audit.jsonl``). Needs the write permissions in
        ``PERMISSIONS`` (``write_*``).
        """
        if plan.base_url != self.base_url:
            raise TenantError(f"plan was made for {plan.base_url}, not {self.base_url}")
        if plan.errors:
            raise TenantError(
                "the plan has violations; fix them and re-plan:\n"
                + "\n".join(str(v) for v in plan.errors)
            )
        if not confirm:
            result = ApplyResult(dry_run=True, would_send=plan.requests)
            if echo:
                print(result)
            return result
        cat, notes = _catalog(catalog)
        lim = EntraLimits.from_catalog(cat)
        path = Path(audit_path) if audit_path else Path("entra-lp-out") / "apply-audit.jsonl"
        result = self.run(
            execute_plan(
                self._http, plan, lambda: self._plan_async(plan.desired, cat, lim, notes), path
            )
        )
        if echo:
            print(result)
        if result.error:
            raise ApplyError("apply stopped", result)
        return result


def _catalog_module() -> Any:
    # Imported by name: the catalog's exports are lazy, which static checkers cannot see.
    return importlib.import_module("permission_catalog")


async def _start(http: GraphHttp) -> None:
    http.start()


def _catalog(catalog: CatalogLike | Literal["auto"] | None) -> tuple[CatalogLike | None, list[str]]:
    if catalog is None:
        return None, ["custom-role action checks skipped (catalog=None)"]
    if catalog != "auto":
        return catalog, []
    try:
        loaded: CatalogLike = _catalog_module().load_catalog()
    except Exception as exc:
        raise TenantError(
            f"cannot check custom-role actions: the permission catalog did not load ({exc}); "
            "pass catalog=None to plan without those checks"
        ) from exc
    return loaded, []
