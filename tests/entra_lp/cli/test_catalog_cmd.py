"""The `entra-lp catalog` commands through typer's CliRunner."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from entra_lp.cli.catalog_cmd import app

RUN = CliRunner()
D = "microsoft.directory"


def test_lpb_explains_password_reset() -> None:
    res = RUN.invoke(app, ["lpb", f"{D}/users/password/update"])
    assert res.exit_code == 0, res.output
    assert "Password Administrator" in res.output
    assert "Helpdesk Administrator" in res.output  # the costlier alternative is shown
    assert "User (no admin role)" in res.output  # whom it may reset
    assert "custom role cannot replace it" in res.output
    data = orjson.loads(RUN.invoke(app, ["lpb", f"{D}/users/password/update", "--json"]).output)
    assert data["roles"] == ["Password Administrator"] and data["cost"] > 0
    assert data["alternatives"][0]["role"] == "Password Administrator"


def test_show_action() -> None:
    data = orjson.loads(
        RUN.invoke(app, ["show", f"{D}/applications/credentials/update", "--json"]).output
    )
    assert data["tier"] == "control" and "application" in data["scopes"]
    assert any(e["capability"] == "act_as" for e in data["escalation"])
    res = RUN.invoke(app, ["show", f"{D}/applications/credentials/update"])
    assert res.exit_code == 0 and "control" in res.output


def test_role_search_diff() -> None:
    data = orjson.loads(RUN.invoke(app, ["role", "helpdesk administrator", "--json"]).output)
    assert data["name"] == "Helpdesk Administrator" and data["au_scopable"]
    assert RUN.invoke(app, ["role", "Helpdesk Administrator"]).exit_code == 0
    hits = orjson.loads(RUN.invoke(app, ["search", "conditional access", "--json"]).output)
    assert any(h["title"] == "Conditional Access Administrator" for h in hits)
    diff = orjson.loads(RUN.invoke(app, ["diff", "--json"]).output)
    assert (len(diff["added_roles"]), len(diff["removed_roles"]), len(diff["changed_roles"])) == (
        24,
        0,
        27,
    )
    res = RUN.invoke(app, ["diff"])
    assert res.exit_code == 0 and "24 role(s) added" in res.output


def test_exit_codes() -> None:
    assert RUN.invoke(app, ["show", f"{D}/users/pasword/update"]).exit_code == 1
    assert RUN.invoke(app, ["role", "Chief Everything Officer"]).exit_code == 1
    assert RUN.invoke(app, ["search", "zzzz-nothing"]).exit_code == 1
    assert RUN.invoke(app, ["show", "not an action"]).exit_code == 2
    assert RUN.invoke(app, ["lpb"]).exit_code == 2
    assert RUN.invoke(app, ["search", "x", "--kind", "robot"]).exit_code == 2
    assert RUN.invoke(app, ["diff", "--from", "1999-01-01"]).exit_code == 1
