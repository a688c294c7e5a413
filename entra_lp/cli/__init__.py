"""The ``entra-lp`` command line.

Each stage adds its own commands (a module in this package); this module only assembles
them, so ``entra-lp --help`` lists every capability. Exit codes, output streams and
``--json`` are described in :mod:`entra_lp.cli._common` and ``docs/cli.md``.
"""

from __future__ import annotations

import sys

import typer

from ._common import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, EXIT_TENANT

__all__ = ["EXIT_FINDINGS", "EXIT_INPUT", "EXIT_OK", "EXIT_TENANT", "app", "main"]

app = typer.Typer(
    name="entra-lp",
    help="Least privilege for Microsoft Entra ID: analyze audit logs, mine and recommend "
    "scoped PIM-gated roles, validate them on later logs, export them as code.\n\n"
    "Exit codes: 0 ok, 1 findings (coverage below threshold, plan violations, "
    "nothing found), 2 usage or input error, 3 tenant or network error.",
    epilog="Start with: entra-lp demo   (the bundled sample tenant, end to end)",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_registered: list[bool] = []

_CATALOG_EXAMPLES = {
    "search": 'entra-lp catalog search "reset password" --kind task',
    "show": "entra-lp catalog show microsoft.directory/applications/credentials/update",
    "role": 'entra-lp catalog role "Helpdesk Administrator" --json',
    "task": "entra-lp catalog task users.reset-password-nonadmin",
    "lpb": "entra-lp catalog lpb microsoft.directory/users/password/update",
    "diff": "entra-lp catalog diff --from 2025-03-10",
}


def _version(value: bool) -> None:
    if value:
        from entra_lp import __version__

        typer.echo(f"entra-lp {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Least privilege for Microsoft Entra ID."""


def _register() -> None:
    """Attach the commands (kept in one place so the order of --help is stable)."""
    if _registered:
        return
    from . import catalog_cmd, demo, pipeline, tenant_cmd

    app.command(epilog=demo.EPILOG)(demo.demo)
    app.command(epilog=demo.SAMPLE_EPILOG)(demo.sample)
    pipeline.register(app)
    for info in catalog_cmd.app.registered_commands:  # examples in every --help
        name = info.name or (info.callback.__name__ if info.callback else "")
        if info.epilog is None and name in _CATALOG_EXAMPLES:
            info.epilog = f"Example:\n\n  {_CATALOG_EXAMPLES[name]}"
    app.add_typer(catalog_cmd.app, name="catalog")
    app.add_typer(tenant_cmd.app, name="tenant")
    _registered.append(True)


def main() -> None:
    """Console-script entry point."""
    _register()
    from entra_lp.errors import EntraLPError

    from ._common import fail, one_line

    try:
        app()
    except EntraLPError as exc:  # safety net for commands without their own mapping
        try:
            fail(EXIT_INPUT, one_line(exc))
        except typer.Exit as done:
            sys.exit(done.exit_code)


_register()
