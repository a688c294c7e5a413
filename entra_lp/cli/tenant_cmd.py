"""``entra-lp tenant``: read a live tenant, report its privileged access, plan and apply.

Needs the ``graph`` extra (msgraph-sdk, azure-identity). Writes happen only in ``apply
--confirm``; without it ``apply`` is a dry run that needs no credentials at all. Tokens are
never printed: errors name the credential kind and Graph's error code, not the token.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from . import _views as views
from ._common import (
    EXIT_FINDINGS,
    EXIT_INPUT,
    EXIT_TENANT,
    JsonOpt,
    Output,
    QuietOpt,
    SinceOpt,
    UntilOpt,
    fail,
    guarded,
    read_json_file,
)
from ._data import write_text

if TYPE_CHECKING:  # pragma: no cover
    from entra_lp.export import DesiredState
    from entra_lp.tenant import Plan, Tenant

TOKEN_ENV = "ENTRA_LP_ACCESS_TOKEN"
"""Environment variable read by ``--credential token-env`` (a Graph access token)."""
GRAPH_ROOT = "https://graph.microsoft.com"
CREDENTIALS = ("default", "azure-cli", "device-code", "token-env")

app = typer.Typer(
    help="Read a live tenant (snapshot, audit logs), report privileged access, plan and apply.",
    no_args_is_help=True,
)

CredentialOpt = Annotated[
    str,
    typer.Option(
        "--credential",
        help="default (azure-identity DefaultAzureCredential: environment, managed identity, "
        f"Azure CLI...), azure-cli, device-code, or token-env (an access token in ${TOKEN_ENV}).",
    ),
]
GraphUrlOpt = Annotated[
    str,
    typer.Option(
        "--graph-url",
        envvar="ENTRA_LP_GRAPH_URL",
        help="Graph root for national clouds, e.g. https://graph.microsoft.us.",
    ),
]
RetriesOpt = Annotated[
    int,
    typer.Option(
        "--max-retries",
        envvar="ENTRA_LP_MAX_RETRIES",
        min=0,
        help="Retries of throttled or dropped requests (exponential backoff; 0: fail fast).",
    ),
]


# ---- credentials ------------------------------------------------------------------------------
class EnvTokenCredential:
    """An azure-core ``TokenCredential`` handing out a token acquired elsewhere.

    For pipelines that already hold a Graph token, e.g. from
    ``az account get-access-token --resource-type ms-graph --query accessToken -o tsv``.
    The expiry is read from the token's ``exp`` claim when it is a JWT (not verified: Graph
    verifies it), else assumed one hour away.
    """

    def __init__(self, variable: str = TOKEN_ENV) -> None:
        token = os.environ.get(variable, "").strip()
        if not token:
            from entra_lp.errors import TenantError

            raise TenantError(
                f"--credential token-env: ${variable} is empty; set it to a Graph access token "
                "(az account get-access-token --resource-type ms-graph --query accessToken -o tsv)"
            )
        self._token = token
        self._expires = _jwt_expiry(token) or int(time.time()) + 3600

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        """The token (scopes are decided by whoever acquired it)."""
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, self._expires)

    def __repr__(self) -> str:  # never show the token
        return "EnvTokenCredential(<redacted>)"


def _jwt_expiry(token: str) -> int | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return int(payload["exp"])
    except (ValueError, KeyError, TypeError):
        return None


def _credential(kind: str) -> Any:
    """The credential object for ``--credential`` (None: the Tenant's default)."""
    if kind not in CREDENTIALS:
        from entra_lp.errors import UnknownNameError

        raise UnknownNameError("credential", kind, CREDENTIALS)
    if kind == "default":
        return None
    if kind == "token-env":
        return EnvTokenCredential()
    try:
        from azure import identity
    except ImportError:
        fail(EXIT_INPUT, "the tenant commands need the graph extra: pip install 'entra-lp[graph]'")
    if kind == "azure-cli":
        return identity.AzureCliCredential()
    return identity.DeviceCodeCredential()


@contextmanager
def connected(credential: str, graph_url: str, max_retries: int = 6) -> Iterator[Tenant]:
    """A connected :class:`Tenant`, closed (with any credential we made) on exit."""
    from entra_lp.tenant import RetryPolicy, Tenant

    cred = _credential(credential)
    root = graph_url.rstrip("/")
    tenant = None
    try:
        tenant = Tenant.connect(cred, base_url=f"{root}/v1.0", beta_url=f"{root}/beta",
                                retry=RetryPolicy(max_retries=max_retries))
        yield tenant
    finally:
        if tenant is not None:
            tenant.close()
        close = getattr(cred, "close", None)
        if callable(close):
            close()


def _when(value: str | None, default: datetime) -> datetime:
    from entra_lp.ingest import parse_time_us

    if value is None:
        return default
    us = parse_time_us(value)
    if us is None:
        fail(EXIT_INPUT, f"{value!r}: expected an ISO 8601 time, e.g. 2025-05-01T00:00:00Z")
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


# ---- pull -------------------------------------------------------------------------------------
@app.command(epilog="Examples:\n\n  entra-lp tenant pull --out tenant/\n\n"
             "  entra-lp tenant pull --since 2025-05-01 --credential azure-cli")
@guarded(tenant=True)
def pull(
    *,
    output: Annotated[Path, typer.Option("--out", "-o", help="Folder to write.")] = Path(
        "entra-lp-out/tenant"
    ),
    since: SinceOpt = None,
    until: UntilOpt = None,
    audits: Annotated[
        bool, typer.Option(help="Also download the directory audits of the window.")
    ] = True,
    strict: Annotated[
        bool, typer.Option(help="Fail when a snapshot section cannot be read (403).")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option(help="Start the audit download again instead of resuming it.")
    ] = False,
    credential: CredentialOpt = "default",
    graph_url: GraphUrlOpt = GRAPH_ROOT,
    max_retries: RetriesOpt = 6,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Save the directory snapshot and the directory audits (default: last 30 days).

    Writes ``directory.json`` and ``directoryAudits.jsonl`` (resumable: run again after a
    failure and it continues after the last page saved). Needs Directory.Read.All (or the
    per-object Read.All permissions), RoleManagement.Read.Directory,
    RoleEligibilitySchedule.Read.Directory, RoleAssignmentSchedule.Read.Directory,
    RoleManagementPolicy.Read.Directory and, for the audits, AuditLog.Read.All.
    """
    out = Output(json=json, quiet=quiet)
    now = datetime.now(UTC).replace(microsecond=0)
    end = _when(until, now)
    start = _when(since, end - timedelta(days=30))
    output.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"folder": str(output)}
    with connected(credential, graph_url, max_retries) as tenant, out.steps() as steps:
        with steps.step("Reading the directory snapshot"):
            snap = tenant.directory_snapshot(on_forbidden="raise" if strict else "warn")
        snap.save(output / "directory.json")
        result["directory"] = str(output / "directory.json")
        result["warnings"] = list(snap.warnings)
        if audits:
            path = output / "directoryAudits.jsonl"
            with steps.step("Downloading directory audits") as step:
                dl = tenant.download_directory_audits(
                    start, end, path, overwrite=overwrite,
                    progress=lambda p: step.say(_audit_progress(p)))
            result.update(audits=str(dl.path), records=dl.records, complete=dl.complete,
                          since=start.isoformat(), until=end.isoformat())
    if json:
        out.emit(result)
        return
    out.out.print(f"Directory snapshot: [bold]{result['directory']}[/bold] "
                  f"({len(snap.users)} users, {len(snap.role_assignments)} role assignments)")
    for w in snap.warnings:
        out.out.print(f"  [yellow]warning:[/yellow] {w}")
    if audits:
        state = "complete" if result["complete"] else "INCOMPLETE (run again to resume)"
        out.out.print(f"Directory audits {result['since']} .. {result['until']}: "
                      f"{result['records']} records, {state} → [bold]{result['audits']}[/bold]")


def _audit_progress(p: Any) -> str:
    text = f"{p.records:,} records, {p.pages} pages"
    if p.waiting:
        text += f" (throttled: waiting {p.waiting:.0f} s{', ' + p.reason if p.reason else ''})"
    return text


# ---- report -----------------------------------------------------------------------------------
@app.command(epilog="Examples:\n\n  entra-lp tenant report\n\n"
             "  entra-lp tenant report --since 2025-05-01 --html pim.html --csv pim.csv")
@guarded(tenant=True)
def report(
    *,
    since: SinceOpt = None,
    until: UntilOpt = None,
    html: Annotated[Path | None, typer.Option(help="Write the report as HTML.")] = None,
    csv: Annotated[Path | None, typer.Option(help="Write the report as CSV.")] = None,
    credential: CredentialOpt = "default",
    graph_url: GraphUrlOpt = GRAPH_ROOT,
    max_retries: RetriesOpt = 6,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Who holds which directory role: eligible, active, activated, and activation history.

    Needs RoleManagement.Read.Directory, RoleEligibilitySchedule.Read.Directory,
    RoleAssignmentSchedule.Read.Directory (and AuditLog.Read.All with --since/--until).
    """
    from entra_lp.tenant import render_privileged_access_html

    out = Output(json=json, quiet=quiet)
    with (connected(credential, graph_url, max_retries) as tenant, out.steps() as steps,
          steps.step("Reading PIM state")):
        frame = tenant.report_privileged_access(since, until)
    if html is not None:
        write_text(html, render_privileged_access_html(frame))
    if csv is not None:
        csv.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(csv, index=False)
    if json:
        out.emit({"rows": views._records(frame)})
        return
    table = views._table(f"{len(frame)} privileged access row(s)", "principal", "role", "scope",
                         "state", "start", "end", wrap=("role", "scope"))
    for row in frame.head(50).to_dict("records"):
        table.add_row(str(row["principal_name"] or row["principal_id"]), str(row["role_name"]),
                      str(row["directory_scope_id"]), str(row["state"]),
                      _short(row["start"]), _short(row["end"]))
    out.out.print(table)
    views._more(out, 50, len(frame), "rows")


def _short(value: Any) -> str:
    if value is None or views._isna(value):
        return ""
    return str(value)[:16].replace("T", " ")


# ---- plan -------------------------------------------------------------------------------------
def _desired(path: Path) -> DesiredState:
    """A desired state from a recommendation JSON or an exported ``desired_state.json``."""
    from entra_lp.export import DesiredState
    from entra_lp.export.from_recommendation import to_desired_state
    from entra_lp.recommendation import Recommendation

    raw = read_json_file(path, "desired state")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        fail(EXIT_INPUT, f"{path}: not JSON: {exc}")
    if isinstance(data, dict) and "schema_version" in data and "catalog_version" in data:
        return to_desired_state(Recommendation.load(path))
    try:
        return DesiredState.model_validate(data)
    except ValueError as exc:
        from ._common import one_line

        fail(EXIT_INPUT, f"{path}: neither a recommendation nor a desired state: {one_line(exc)}")


@app.command(epilog="Examples:\n\n  entra-lp tenant plan rec.json --out plan.json\n\n"
             "  entra-lp tenant plan entra-lp-out/desired_state.json --json")
@guarded(tenant=True)
def plan(
    source: Annotated[
        Path, typer.Argument(help="Recommendation JSON or an exported desired_state.json.")
    ],
    *,
    output: Annotated[
        Path, typer.Option("--out", "-o", help="Plan JSON to write (review it, then apply).")
    ] = Path("entra-lp-out/plan.json"),
    credential: CredentialOpt = "default",
    graph_url: GraphUrlOpt = GRAPH_ROOT,
    max_retries: RetriesOpt = 6,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """The exact Graph requests that would make the tenant match; nothing is written.

    Exit 1 when the plan has violations (Entra rules, missing principals or approvers).
    Needs the read permissions of `tenant pull` for the objects the plan names.
    """
    out = Output(json=json, quiet=quiet)
    desired = _desired(source)
    with (connected(credential, graph_url, max_retries) as tenant, out.steps() as steps,
          steps.step("Planning against the tenant")):
        result = tenant.plan(desired)
    write_text(output, result.to_json())
    if json:
        out.emit({"plan": str(output), "ok": result.ok,
                  **orjson.loads(result.to_json())})
    else:
        out.out.print(str(result), markup=False)
        out.out.print(f"Plan written to [bold]{output}[/bold]. Review it, then: "
                      f"entra-lp tenant apply {output} --confirm")
    if not result.ok:
        raise typer.Exit(EXIT_FINDINGS)


# ---- apply ------------------------------------------------------------------------------------
def _load_plan(path: Path) -> Plan:
    from entra_lp.tenant import Plan

    raw = read_json_file(path, "plan")
    try:
        return Plan.from_json(raw)
    except ValueError as exc:
        from ._common import one_line

        fail(EXIT_INPUT, f"{path}: invalid plan: {one_line(exc)}")


@app.command(epilog="Examples:\n\n  entra-lp tenant apply plan.json            # dry run\n\n"
             "  entra-lp tenant apply plan.json --confirm  # writes to the tenant")
@guarded(tenant=True)
def apply(
    plan_file: Annotated[Path, typer.Argument(help="Plan JSON from `entra-lp tenant plan`.")],
    *,
    confirm: Annotated[
        bool, typer.Option(help="Really send the requests (without it: a dry run).")
    ] = False,
    audit_log: Annotated[
        Path | None,
        typer.Option(help="JSON-lines record of every request sent "
                     "(default entra-lp-out/apply-audit.jsonl)."),
    ] = None,
    credential: CredentialOpt = "default",
    graph_url: GraphUrlOpt = GRAPH_ROOT,
    max_retries: RetriesOpt = 6,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Apply a reviewed plan. Dry run unless --confirm; re-applying changes nothing.

    Needs RoleManagement.ReadWrite.Directory (role definitions),
    RoleEligibilitySchedule.ReadWrite.Directory, RoleAssignmentSchedule.ReadWrite.Directory
    and RoleManagementPolicy.ReadWrite.Directory.
    """
    out = Output(json=json, quiet=quiet)
    the_plan = _load_plan(plan_file)
    if the_plan.errors:
        fail(EXIT_FINDINGS, f"{plan_file}: the plan has {len(the_plan.errors)} violation(s); "
             "fix them and plan again")
    if not confirm:
        _dry_run(out, the_plan)
        return
    expected = graph_url.rstrip("/") + "/v1.0"
    if the_plan.base_url != expected:
        fail(EXIT_INPUT, f"{plan_file}: planned for {the_plan.base_url}, not {expected}")
    from entra_lp.tenant import ApplyError

    with connected(credential, graph_url, max_retries) as tenant, out.steps() as steps:
        try:
            with steps.step(f"Applying {len(the_plan.requests)} request(s)"):
                result = tenant.apply(the_plan, confirm=True, audit_path=audit_log, echo=False)
        except ApplyError as exc:
            _show_apply(out, exc.result)
            fail(EXIT_TENANT, f"apply stopped: {exc.result.error}")
    _show_apply(out, result)


def _dry_run(out: Output, the_plan: Plan) -> None:
    if out.json:
        out.emit({"dry_run": True, "would_send": [r.model_dump(mode="json")
                                                  for r in the_plan.requests]})
        return
    out.out.print(f"DRY RUN: {len(the_plan.requests)} request(s) would be sent to "
                  f"{the_plan.base_url}; nothing was sent.", markup=False)
    for r in the_plan.requests:
        out.out.print(str(r), markup=False)
    out.out.print("Re-run with --confirm to apply.")


def _show_apply(out: Output, result: Any) -> None:
    if out.json:
        out.emit(result.model_dump(mode="json"))
    else:
        out.out.print(str(result), markup=False)
