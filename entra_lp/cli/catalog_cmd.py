"""``entra-lp catalog``: look things up in the permission catalog.

Commands: ``search``, ``show`` (one action), ``task``, ``role``, ``diff`` (two role exports) and
``lpb`` (least-privileged built-in roles for actions or a task). Every command takes ``--json``
for scripts. Exit codes: 0 ok, 1 not found, 2 usage error (malformed input).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from permission_catalog.errors import InvalidValueError, UnknownNameError

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog.catalog import Catalog
    from permission_catalog.lpb import LeastPrivilegedResult

app = typer.Typer(help="Search and explain the Entra permission catalog.", no_args_is_help=True)

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print JSON (for scripts) instead of tables.")
]
RolesOpt = Annotated[
    str | None, typer.Option("--roles", help="Bundled role export (e.g. 2025-03-10).")
]


def _console() -> Console:
    return Console(soft_wrap=True)


def _emit(obj: Any) -> None:
    typer.echo(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())


@contextmanager
def _errors() -> Iterator[None]:
    """Map catalog errors to exit codes: not found → 1, malformed → 2."""
    try:
        yield
    except UnknownNameError as exc:
        typer.echo(f"not found: {exc}", err=True)
        raise typer.Exit(1) from exc
    except InvalidValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _catalog(roles: str | None = None) -> Catalog:
    from permission_catalog import load_catalog

    return load_catalog(roles=roles)


@app.command()
def search(
    text: Annotated[str, typer.Argument(help="Words to look for.")],
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="action, role or task (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Maximum results.")] = 25,
    json: JsonOpt = False,
) -> None:
    """Search actions, roles and tasks."""
    kinds = tuple(kind or ("action", "role", "task"))
    bad = sorted(set(kinds) - {"action", "role", "task"})
    if bad:
        typer.echo(f"error: unknown --kind {bad[0]!r} (action, role, task)", err=True)
        raise typer.Exit(2)
    hits = _catalog().search(text, kinds, limit)
    if json:
        _emit([{"kind": h.kind, "key": h.key, "title": h.title, "score": h.score} for h in hits])
    else:
        table = Table(title=f"{len(hits)} match(es) for {text!r}")
        for col in ("kind", "name", "key"):
            table.add_column(col, overflow="fold")
        for h in hits:
            table.add_row(h.kind, h.title, "" if h.key == h.title else h.key)
        _console().print(table)
    if not hits:
        raise typer.Exit(1)


def _action_info(cat: Catalog, name: str) -> dict[str, Any]:
    a = cat.action(name)
    c = cat.classify(name)
    return {
        "name": a.name,
        "namespace": a.namespace,
        "resource": a.resource,
        "subtype": a.subtype,
        "property_path": list(a.property_path),
        "verb": a.verb,
        "description": a.description,
        "custom_role_ok": a.custom_role_ok,
        "scopes": list(a.scopes),
        "is_privileged": a.is_privileged,
        "plane": c.plane,
        "tier": c.tier,
        "reasons": list(c.reasons),
        "risk_weight": cat.risk_weight(name),
        "granted_directly_by": sorted(cat.roles[r].name for r in a.roles),
        "allowed_by_roles": [r.name for r in cat.roles_covering([name])],
        "implies": sorted(cat.implied(name) - {name}),
        "escalation": [
            {"capability": e.capability, "target": e.target, "reason": e.reason}
            for e in cat.escalation_edges(name)
        ],
    }


@app.command()
def show(
    action: Annotated[str, typer.Argument(help="A resource action.")], json: JsonOpt = False
) -> None:
    """Everything known about one resource action."""
    with _errors():
        info = _action_info(_catalog(), action)
    if json:
        _emit(info)
        return
    con = _console()
    con.print(f"[bold]{info['name']}[/bold]")
    if info["description"]:
        con.print(f"  {info['description']}")
    rows = [
        (
            "parts",
            f"{info['namespace']} / {info['resource']}"
            + (f".{info['subtype']}" if info["subtype"] else "")
            + f" / {'/'.join(info['property_path']) or '-'} / {info['verb']}",
        ),
        ("plane / tier", f"{info['plane']} / {info['tier']} (risk weight {info['risk_weight']})"),
        (
            "Microsoft privileged label",
            {True: "yes", False: "no", None: "unknown"}[info["is_privileged"]],
        ),
        (
            "custom roles",
            "allowed" if info["custom_role_ok"] else "not documented for custom roles",
        ),
        ("scopes", ", ".join(info["scopes"])),
        ("allowed by roles", ", ".join(info["allowed_by_roles"]) or "-"),
    ]
    _kv_table(con, rows)
    for reason in info["reasons"]:
        con.print(f"  - {reason}")
    for e in info["escalation"]:
        con.print(f"  escalation: {e['capability']} over {e['target']} ({e['reason']})")


def _kv_table(con: Console, rows: list[tuple[str, str]]) -> None:
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for k, v in rows:
        table.add_row(k, v)
    con.print(table)


@app.command()
def role(
    name: Annotated[str, typer.Argument(help="Role display name or template id.")],
    roles: RolesOpt = None,
    json: JsonOpt = False,
) -> None:
    """A built-in role: its flags and actions."""
    with _errors():
        cat = _catalog(roles)
        r = cat.role(name)
    info = {
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "is_privileged": r.is_privileged,
        "au_scopable": r.au_scopable,
        "assignable": r.assignable,
        "notes": list(r.notes),
        "actions": [{"name": a.name, "condition": a.condition} for a in r.actions],
        "privilege_cost": _role_cost(cat, r.id),
    }
    if json:
        _emit(info)
        return
    con = _console()
    con.print(f"[bold]{r.name}[/bold]  ({r.id})\n  {r.description}")
    flags = (
        f"privileged: {r.is_privileged}; AU-scopable: {r.au_scopable}; "
        f"privilege {_privilege_text(cat, [r])}"
    )
    con.print(f"  {flags}" + ("; NOT assignable: " + "; ".join(r.notes) if r.notes else ""))
    table = Table(title=f"{len(r.actions)} action(s)")
    for col in ("action", "condition", "tier", "custom roles"):
        table.add_column(col, overflow="fold")
    for a in r.actions:
        known = cat.actions.get(a.name)
        table.add_row(
            a.name,
            a.condition or "",
            cat.classify(a.name).tier,
            "yes" if known is not None and known.custom_role_ok else "",
        )
    con.print(table)


def _privilege_text(cat: Catalog, roles: list[Any]) -> str:
    """``changes/reads`` weighted privilege of roles, for people (permission_catalog.lpb)."""
    from permission_catalog.lpb import privilege_of

    p = privilege_of(cat, roles)
    return f"{p.changes} changes / {p.reads} reads"


def _role_cost(cat: Catalog, role_id: str) -> int:
    from permission_catalog.lpb import set_cost

    return set_cost(cat, [cat.roles[role_id]])


@app.command()
def task(
    task_id: Annotated[str, typer.Argument(help="Task id, e.g. users.reset-password-nonadmin.")],
    json: JsonOpt = False,
) -> None:
    """A curated admin task and the least-privileged built-in roles for it."""
    from permission_catalog.tasks import task_least_privileged

    with _errors():
        cat = _catalog()
        t = cat.task(task_id)
        result = task_least_privileged(cat, t)
    info = {
        "id": t.id,
        "title": getattr(t, "title", ""),
        "area": getattr(t, "area", ""),
        "actions": list(t.actions),
        "scopes": list(getattr(t, "scopes", ())),
        "microsoft_roles": list(getattr(t, "microsoft_roles", ()) or ()),
        "least_privileged": _lpb_json(cat, result),
    }
    if json:
        _emit(info)
        return
    con = _console()
    con.print(f"[bold]{info['title']}[/bold]  ({t.id}, area {info['area']})")
    if info["microsoft_roles"]:
        con.print(f"  Microsoft documents: {', '.join(info['microsoft_roles'])}")
    _print_lpb(con, cat, result)


def _lpb_json(cat: Catalog, r: LeastPrivilegedResult) -> dict[str, Any]:
    return {
        "needed": list(r.needed),
        "roles": list(r.role_names),
        "cost": r.cost,
        "covered_by": {k: list(v) for k, v in r.covered_by.items()},
        "uncoverable": sorted(r.uncoverable),
        "extra_actions": sorted(r.extra_actions),
        "extra_privileged": sorted(a for a in r.extra_actions if cat.is_privileged(a)),
        "alternatives": [{"role": n, "cost": c} for n, c in _alternatives(cat, r)],
        "custom_role_violations": [
            v.rule + ": " + (v.action or "")
            for v in cat.check_custom_role(r.needed)
            if v.severity == "error"
        ],
    }


def _alternatives(cat: Catalog, r: LeastPrivilegedResult, n: int = 5) -> list[tuple[str, int]]:
    """Single assignable roles that also cover everything coverable, cheapest first."""
    from permission_catalog.lpb import set_cost

    coverable = [a for a in r.needed if a not in r.uncoverable]
    if not coverable:
        return []
    singles = [x for x in cat.roles_covering(coverable) if x.assignable]
    ranked = sorted((set_cost(cat, [x]), x.name) for x in singles)
    return [(name, cost) for cost, name in ranked[:n]]


def _print_lpb(con: Console, cat: Catalog, r: LeastPrivilegedResult) -> None:
    if not r.roles:
        con.print("[red]No assignable built-in role covers these actions.[/red]")
    else:
        con.print(
            "Least-privileged built-in role set: "
            f"[bold green]{', '.join(r.role_names)}[/bold green] "
            f"(privilege {r.privilege.changes} changes / {r.privilege.reads} reads, weighted;"
            " changes outrank reads: see permission_catalog.lpb)"
        )
    table = Table(title="Needed actions")
    for col in ("action", "covered by", "tier"):
        table.add_column(col, overflow="fold")
    for a in r.needed:
        table.add_row(
            a,
            ", ".join(r.covered_by.get(a, ())) or "[red]no built-in role[/red]",
            cat.classify(a).tier,
        )
    con.print(table)
    _print_extra(con, cat, r)
    _print_context(con, cat, r)


def _print_extra(con: Console, cat: Catalog, r: LeastPrivilegedResult) -> None:
    privileged = sorted(a for a in r.extra_actions if cat.is_privileged(a))
    con.print(
        f"It also grants {len(r.extra_actions)} action(s) you did not ask for"
        f" ({len(privileged)} privileged):"
    )
    for a in privileged:
        con.print(f"  [yellow]! {a}[/yellow]  ({cat.classify(a).tier})")
    for a in sorted(r.extra_actions - set(privileged))[:15]:
        con.print(f"    {a}")
    hidden = len(r.extra_actions) - len(privileged) - 15
    if hidden > 0:
        con.print(f"    ... and {hidden} more (--json lists all)")


def _print_context(con: Console, cat: Catalog, r: LeastPrivilegedResult) -> None:
    alts = _alternatives(cat, r)
    if alts:
        con.print(
            "Single roles that would also do it: "
            + ", ".join(f"{name} ({_privilege_text(cat, [cat.role(name)])})" for name, _ in alts)
        )
    for role_obj in r.roles:
        targets = cat.password_reset_targets(role_obj.id) if _resets_passwords(r) else ()
        if targets:
            con.print(f"{role_obj.name} may reset passwords of: {'; '.join(targets)}")
        if role_obj.au_scopable:
            con.print(f"{role_obj.name} can be assigned at administrative-unit scope to narrow it.")
    errors = [v for v in cat.check_custom_role(r.needed) if v.severity == "error"]
    if errors:
        con.print(
            "A custom role cannot replace it: "
            + "; ".join(f"{v.action or 'role'}: {v.message}" for v in errors)
        )
    else:
        con.print("A custom role with exactly these actions is valid (needs Entra ID P1).")


def _resets_passwords(r: LeastPrivilegedResult) -> bool:
    return any(a.endswith("/password/update") and "/users/" in a for a in r.needed)


@app.command()
def lpb(
    actions: Annotated[
        list[str] | None, typer.Argument(help="Resource actions the principal needs.")
    ] = None,
    task_id: Annotated[
        str | None, typer.Option("--task", help="Use the actions of a curated task.")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Least-privileged built-in role(s) for some actions, and what else they grant."""
    with _errors():
        cat = _catalog()
        wanted = list(actions or ())
        if task_id:
            wanted += list(cat.task(task_id).actions)
        if not wanted:
            typer.echo("error: give resource actions or --task", err=True)
            raise typer.Exit(2)
        result = cat.least_privileged_builtin(wanted)
    if json:
        _emit(_lpb_json(cat, result))
    else:
        _print_lpb(_console(), cat, result)


@app.command()
def diff(
    old: Annotated[str, typer.Option("--from", help="Older bundled role export.")] = "2025-03-10",
    new: Annotated[
        str | None, typer.Option("--to", help="Newer role export (default: current).")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Roles and actions added, removed or changed between two role-definition exports."""
    with _errors():
        d = _catalog(old).diff(_catalog(new))
    if json:
        _emit(_diff_json(d))
        return
    con = _console()
    con.print(
        f"[bold]{d.old_version} → {d.new_version}[/bold]: {len(d.added_roles)} role(s) added, "
        f"{len(d.removed_roles)} removed, {len(d.changed_roles)} changed; "
        f"{len(d.added_actions)} action(s) added, {len(d.removed_actions)} removed"
    )
    _list(con, "Added roles", d.added_roles)
    _list(con, "Removed roles", d.removed_roles)
    table = Table(title="Changed roles")
    for col in ("role", "+ actions", "- actions"):
        table.add_column(col, overflow="fold")
    for c in d.changed_roles:
        table.add_row(c.name, "\n".join(c.added_actions), "\n".join(c.removed_actions))
    con.print(table)


def _diff_json(d: Any) -> dict[str, Any]:
    return {
        "old_version": d.old_version,
        "new_version": d.new_version,
        "added_roles": list(d.added_roles),
        "removed_roles": list(d.removed_roles),
        "changed_roles": [
            {
                "id": c.id,
                "name": c.name,
                "added_actions": list(c.added_actions),
                "removed_actions": list(c.removed_actions),
            }
            for c in d.changed_roles
        ],
        "renamed_roles": [list(x) for x in d.renamed_roles],
        "added_actions": list(d.added_actions),
        "removed_actions": list(d.removed_actions),
    }


def _list(con: Console, title: str, items: tuple[str, ...]) -> None:
    if items:
        con.print(f"{title}: " + ", ".join(items))
