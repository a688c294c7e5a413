"""The analysis commands: ``analyze``, ``mine``, ``recommend``, ``validate``, ``export``,
``design``. Each reads files, runs one stage of the library and prints a summary (or
``--json``); they chain through files (logs → recommendation JSON → exports)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from . import _views as views
from ._common import (
    EXIT_FINDINGS,
    EXIT_INPUT,
    DirectoryOpt,
    JsonOpt,
    LogsArg,
    Output,
    QuietOpt,
    SinceOpt,
    UntilOpt,
    fail,
    guarded,
)
from ._data import (
    load_directory,
    load_recommendation,
    load_validation,
    read_logs,
    usage_of,
    write_text,
)

if TYPE_CHECKING:  # pragma: no cover
    from entra_lp.mining import ParetoPoint
    from entra_lp.usage import UsageMatrix

FormatOpt = Annotated[
    str,
    typer.Option("--log-format", help="auto, graph, log_analytics, event_hub or kql_usage."),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the miner's heuristic.")]
DEFAULT_LAMS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
DEFAULT_MIN_COVERAGE = 0.995


def register(app: typer.Typer) -> None:
    """Attach the commands of this module to ``app`` (order = order in --help)."""
    for fn in (analyze, mine, recommend, validate, export, design):
        app.command(epilog=_EXAMPLES[fn.__name__])(fn)


_EXAMPLES = {
    "analyze": "Examples:\n\n"
    "  entra-lp analyze audits.jsonl.gz\n\n"
    "  entra-lp analyze exports/ --directory directory.json --since 2025-03-01 --json",
    "mine": "Examples:\n\n"
    "  entra-lp mine audits.jsonl.gz\n\n"
    "  entra-lp mine audits.jsonl.gz --solver heuristic --lam 0.1 --lam 0.5 --json",
    "recommend": "Examples:\n\n"
    "  entra-lp recommend audits.jsonl.gz -d directory.json --until 2025-05-01 -o rec.json\n\n"
    "  entra-lp recommend audits/ -d directory.json --objective min_roles --json",
    "validate": "Examples:\n\n"
    "  entra-lp validate rec.json audits.jsonl.gz -d directory.json --since 2025-05-01\n\n"
    "  entra-lp validate rec.json later/ -d directory.json --min-coverage 0.99 --json",
    "export": "Examples:\n\n"
    "  entra-lp export rec.json --out exports/\n\n"
    "  entra-lp export rec.json --format terraform --format html --out exports/ --overwrite",
    "design": "Examples:\n\n"
    "  entra-lp design runbooks.yaml -d directory.json -o design.json\n\n"
    "  entra-lp design runbooks.yaml --compare rec.json --json",
}


# ---- analyze --------------------------------------------------------------------------------
@guarded()
def analyze(
    logs: LogsArg,
    *,
    directory: DirectoryOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    log_format: FormatOpt = "auto",
    strict: Annotated[
        bool,
        typer.Option(help="Exit 1 when a record was rejected or an activity is unmapped."),
    ] = False,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Read audit logs: what each principal does, unmapped activities, rejected records."""
    out = Output(json=json, quiet=quiet)
    snapshot = load_directory(directory)
    with out.steps() as steps:
        log = read_logs(logs, steps, since=since, until=until, fmt=log_format)
        usage = usage_of(log, steps)
    held = views.held_roles(snapshot)
    if json:
        out.emit({"ingest": views.ingest_json(log), "usage": views.usage_json(usage, held)})
    else:
        views.print_ingest(out, log)
        views.print_usage(out, usage, held)
    if strict and (log.report.records_rejected or len(usage.unmapped)):
        raise typer.Exit(EXIT_FINDINGS)


# ---- mine -----------------------------------------------------------------------------------
@guarded()
def mine(
    logs: LogsArg,
    *,
    since: SinceOpt = None,
    until: UntilOpt = None,
    solver: Annotated[str, typer.Option(help="auto, exact or heuristic.")] = "auto",
    lam: Annotated[
        list[float] | None,
        typer.Option(help="Price of one unit of risk-weighted over-assignment, in roles "
                     "(repeatable: one Pareto point each)."),
    ] = None,
    max_over_risk: Annotated[
        float | None,
        typer.Option(help="Never over-assign an action whose risk weight exceeds this."),
    ] = 3.0,
    time_limit: Annotated[float | None, typer.Option(help="Seconds for the search.")] = None,
    show: Annotated[
        float | None, typer.Option(help="List the roles of the point with this λ.")
    ] = None,
    log_format: FormatOpt = "auto",
    seed: SeedOpt = 0,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Mine roles from usage: the exact minimum and the roles vs over-assignment Pareto front.

    The miner works on the raw principals × actions matrix (no scopes, no split): use it to see
    how much structure the usage has. ``recommend`` runs it per scope and plane.
    """
    from entra_lp.mining import RoleMiner

    out = Output(json=json, quiet=quiet)
    lams = sorted(set(lam or DEFAULT_LAMS))
    with out.steps() as steps:
        usage = usage_of(read_logs(logs, steps, since=since, until=until, fmt=log_format), steps)
        if usage.shape[0] == 0 or usage.shape[1] == 0:
            fail(EXIT_INPUT, "no admin activity in these logs: nothing to mine")
        with steps.step(f"Mining ({solver})"):
            exact = RoleMiner(solver=solver, time_limit=time_limit,
                              random_state=seed).fit(usage)
            front = RoleMiner(objective="risk_weighted", solver=solver, time_limit=time_limit,
                              max_over_risk=max_over_risk, random_state=seed
                              ).pareto_front(usage, lams)
    chosen = _chosen(front, show)
    data = _mine_json(usage, exact, front, chosen)
    if json:
        out.emit(data)
        return
    _print_mine(out, data)


def _chosen(front: list[ParetoPoint], show: float | None) -> ParetoPoint | None:
    if show is None:
        return None
    for p in front:
        if abs(p.lam - show) < 1e-12:
            return p
    fail(EXIT_INPUT, f"--show {show}: not one of the λ values "
         f"({', '.join(f'{p.lam:g}' for p in front)})")


def _roles_json(miner: Any, usage: UsageMatrix) -> list[dict[str, Any]]:
    names = dict(zip(usage.principals["principal_id"], usage.principals["name"], strict=True))
    holders: dict[int, list[str]] = {}
    for i, roles in enumerate(miner.assignment_):
        pid = str(usage.principals["principal_id"].iloc[i])
        for r in roles.tolist():
            holders.setdefault(int(r), []).append(names.get(pid, pid))
    return [
        {"role": i, "actions": [usage.actions[j] for j in cols.tolist()],
         "principals": sorted(holders.get(i, []))}
        for i, cols in enumerate(miner.roles_)
    ]


def _mine_json(usage: UsageMatrix, exact: Any, front: list[ParetoPoint],
               chosen: ParetoPoint | None) -> dict[str, Any]:
    points = [
        {"lam": p.lam, "roles": p.n_roles, "over_assignment": p.over_assignment,
         "weighted_over_assignment": round(p.weighted_over_assignment, 3),
         "wsc": float(p.miner.wsc_), "optimal": bool(p.miner.is_optimal_)}
        for p in front
    ]
    return {
        "shape": list(usage.shape),
        "exact": {"roles": int(exact.n_roles_), "lower_bound": int(exact.lower_bound_),
                  "optimal": bool(exact.is_optimal_), "solver": str(exact.solver_),
                  "wsc": float(exact.wsc_)},
        "pareto": points,
        "roles": _roles_json(chosen.miner, usage) if chosen is not None else
        _roles_json(exact, usage),
        "roles_of": f"lam={chosen.lam:g}" if chosen is not None else "exact",
    }


def _print_mine(out: Output, data: dict[str, Any]) -> None:
    n, m = data["shape"]
    e = data["exact"]
    proof = "proven optimal" if e["optimal"] else f"lower bound {e['lower_bound']}"
    out.out.print(f"[bold]{n} principals × {m} actions[/bold]: exact reproduction needs "
                  f"[bold]{e['roles']}[/bold] roles ({proof}, {e['solver']} solver)")
    table = views._table("Pareto front: roles vs risk-weighted over-assignment", "λ", "roles",
                         "over-assigned pairs", "weighted", "WSC",
                         right=("λ", "roles", "over-assigned pairs", "weighted", "WSC"))
    seen: set[tuple[int, float]] = set()
    for p in data["pareto"]:
        key = (p["roles"], p["weighted_over_assignment"])
        style = "dim" if key in seen else None
        seen.add(key)
        table.add_row(f"{p['lam']:g}", str(p["roles"]), str(p["over_assignment"]),
                      f"{p['weighted_over_assignment']:g}", f"{p['wsc']:g}", style=style)
    out.out.print(table)
    roles = data["roles"]
    table = views._table(f"Roles ({data['roles_of']})", "#", "actions", "principals",
                         right=("#", "principals"), wrap=("actions",))
    for r in roles[: views.TOP]:
        acts = ", ".join(a.removeprefix("microsoft.directory/") for a in r["actions"][:4])
        more = f" (+{len(r['actions']) - 4})" if len(r["actions"]) > 4 else ""
        table.add_row(str(r["role"]), acts + more, f"{len(r['principals'])}")
    out.out.print(table)
    views._more(out, views.TOP, len(roles), "roles")


# ---- recommend ------------------------------------------------------------------------------
@guarded()
def recommend(
    logs: LogsArg,
    *,
    directory: DirectoryOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    output: Annotated[
        Path, typer.Option("--out", "-o", help="Recommendation JSON to write ('-': stdout).")
    ] = Path("recommendation.json"),
    objective: Annotated[str, typer.Option(help="risk_weighted or min_roles.")] = "risk_weighted",
    solver: Annotated[str, typer.Option(help="auto, exact or heuristic.")] = "auto",
    lam: Annotated[float, typer.Option(help="Price of over-assignment, in roles.")] = 0.5,
    max_over_risk: Annotated[
        float | None, typer.Option(help="Never over-assign actions weighing more than this.")
    ] = 3.0,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Principal id to leave unchanged (repeatable).")
    ] = None,
    auth_context: Annotated[
        str | None, typer.Option(help="Authentication-context id for control-tier roles.")
    ] = None,
    log_format: FormatOpt = "auto",
    seed: SeedOpt = 0,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Propose scoped, PIM-gated roles from the usage in the logs; write the recommendation."""
    from entra_lp.recommend import recommend as run_recommend

    out = Output(json=json, quiet=quiet)
    snapshot = load_directory(directory)
    with out.steps() as steps:
        usage = usage_of(read_logs(logs, steps, since=since, until=until, fmt=log_format), steps)
        with steps.step("Recommending roles"):
            rec = run_recommend(usage, directory=snapshot, objective=objective, solver=solver,
                                lam=lam, max_over_risk=max_over_risk, exclude=exclude or (),
                                authentication_context=auth_context, random_state=seed,
                                progress=steps.enabled)
    write_text(output, rec.to_json())
    if snapshot is None:
        out.note("note: no --directory: every assignment is tenant-wide unless app-scoped, "
                 "and there are no current-state metrics")
    if str(output) == "-":
        return
    if json:
        out.emit({"recommendation": str(output), **views.recommendation_json(rec)})
        return
    views.print_roles(out, rec)
    views.print_metrics(out, rec)
    out.out.print(f"Recommendation written to [bold]{output}[/bold]")


# ---- validate -------------------------------------------------------------------------------
@guarded()
def validate(
    recommendation: Annotated[Path, typer.Argument(help="Recommendation JSON.")],
    logs: LogsArg,
    *,
    directory: DirectoryOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    min_coverage: Annotated[
        float, typer.Option(help="Exit 1 when coverage is below this share (0..1).")
    ] = DEFAULT_MIN_COVERAGE,
    output: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the recommendation with coverage filled."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Write the full validation report (denied operations included) "
                     "for `entra-lp export --validation`."),
    ] = None,
    log_format: FormatOpt = "auto",
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Replay a later window against a recommendation: coverage and denied operations."""
    from entra_lp.validate import validate as run_validate

    if not 0.0 <= min_coverage <= 1.0:
        fail(EXIT_INPUT, f"--min-coverage {min_coverage}: expected a share between 0 and 1")
    out = Output(json=json, quiet=quiet)
    rec = load_recommendation(recommendation)
    snapshot = load_directory(directory)
    with out.steps() as steps:
        usage = usage_of(read_logs(logs, steps, since=since, until=until, fmt=log_format), steps)
        with steps.step("Replaying the later window"):
            rep = run_validate(rec, usage, directory=snapshot)
    if output is not None:
        write_text(output, rep.recommendation.to_json())
    if report is not None:
        write_text(report, rep.model_dump_json(indent=1))
    if json:
        out.emit(views.validation_json(rep, min_coverage))
    else:
        views.print_validation(out, rep, min_coverage)
    if rep.coverage < min_coverage:
        raise typer.Exit(EXIT_FINDINGS)


# ---- export ---------------------------------------------------------------------------------
@guarded()
def export(
    recommendation: Annotated[Path, typer.Argument(help="Recommendation JSON.")],
    *,
    output: Annotated[Path, typer.Option("--out", "-o", help="Folder to write.")] = Path(
        "entra-lp-out"
    ),
    format: Annotated[
        list[str] | None,
        typer.Option("--format", "-f",
                     help="graph, terraform, powershell, markdown, html or all (repeatable, "
                     "or comma-separated)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace an earlier export in the folder.")
    ] = False,
    pseudonymize: Annotated[
        str | None,
        typer.Option(help="Salt: replace principal names in the reports by pseudonyms."),
    ] = None,
    validation: Annotated[
        Path | None,
        typer.Option(help="Validation report of this recommendation (`entra-lp validate "
                     "--report`): the reports list its denied operations."),
    ] = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write Graph request bodies, Terraform, PowerShell and the Markdown / HTML report."""
    from entra_lp.export.bundle import FORMATS
    from entra_lp.export.bundle import export as run_export

    out = Output(json=json, quiet=quiet)
    formats = _formats(format, FORMATS)
    rec = load_recommendation(recommendation)
    replay = load_validation(validation) if validation is not None else None
    if not overwrite and output.is_dir() and any(output.iterdir()):
        fail(EXIT_INPUT, f"{output}: folder is not empty; add --overwrite to replace an "
             "earlier export (files entra-lp did not write are never deleted)")
    with out.steps() as steps, steps.step("Exporting"):
        result = run_export(rec, output, formats, pseudonymize_salt=pseudonymize,
                            overwrite=overwrite, validation=replay)
    if json:
        out.emit({"folder": str(result.folder), "formats": list(formats),
                  "files": list(result.files), "notes": list(result.notes)})
        return
    out.out.print(f"Wrote {len(result.files)} file(s) ({', '.join(formats)}) to "
                  f"[bold]{result.folder}[/bold]")
    for note in result.notes:
        out.out.print(f"  note: {note}")


def _formats(given: list[str] | None, known: tuple[str, ...]) -> tuple[str, ...]:
    from entra_lp.errors import UnknownNameError

    items = [p.strip() for g in (given or ["all"]) for p in g.split(",") if p.strip()]
    if not items or "all" in items:
        return known
    for f in items:
        if f not in known:
            raise UnknownNameError("export format", f, (*known, "all"))
    return tuple(dict.fromkeys(items))


# ---- design ---------------------------------------------------------------------------------
@guarded()
def design(
    runbooks: Annotated[Path, typer.Argument(help="Runbooks YAML or JSON (a list).")],
    *,
    directory: DirectoryOpt = None,
    output: Annotated[
        Path, typer.Option("--out", "-o", help="Design recommendation JSON ('-': stdout).")
    ] = Path("design.json"),
    compare: Annotated[
        Path | None,
        typer.Option(help="A usage-based recommendation to compare the design with."),
    ] = None,
    auth_context: Annotated[
        str | None, typer.Option(help="Authentication-context id for control-tier roles.")
    ] = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Workshop: turn runbooks (tasks, actions, intended scope) into designed roles."""
    from entra_lp.design import compare as run_compare
    from entra_lp.design import design_roles

    out = Output(json=json, quiet=quiet)
    snapshot = load_directory(directory)
    with out.steps() as steps, steps.step("Designing roles"):
        rec = design_roles(runbooks, directory=snapshot, authentication_context=auth_context)
    write_text(output, rec.to_json())
    diff = run_compare(rec, load_recommendation(compare)) if compare is not None else None
    if str(output) == "-":
        return
    if json:
        data = {"recommendation": str(output), **views.recommendation_json(rec)}
        if diff is not None:
            data["comparison"] = diff.model_dump(mode="json")
        out.emit(data)
        return
    views.print_roles(out, rec)
    for sentence in rec.cannot_express:
        out.out.print(f"  [yellow]limit:[/yellow] {sentence}")
    if diff is not None:
        _print_compare(out, diff)
    out.out.print(f"Design written to [bold]{output}[/bold]")


def _print_compare(out: Output, diff: Any) -> None:
    if diff.matches:
        out.out.print("The design matches the observed usage.")
        return
    for r in diff.designed_never_used:
        out.out.print(f"  designed, never used ({r.display_name}): {', '.join(r.actions)}")
    for r in diff.used_not_designed:
        out.out.print(f"  used, not designed ({r.display_name}): {', '.join(r.actions)}")
