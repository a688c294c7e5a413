"""The ``entra-lp`` command line.

Each stage adds its own command group (a module in this package); this module only
assembles them, so ``entra-lp --help`` lists every capability.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="entra-lp",
    help="Least privilege for Microsoft Entra ID: catalog, analyze, mine, recommend, export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    """Attach the command groups (kept in one place so the order of --help is stable)."""
    from . import catalog_cmd

    app.add_typer(catalog_cmd.app, name="catalog")


def main() -> None:
    """Console-script entry point."""
    _register()
    app()
