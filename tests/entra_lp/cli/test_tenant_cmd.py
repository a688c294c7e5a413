"""``entra-lp tenant`` against the loopback Graph server of the tenant tests (real
msgraph-sdk, real HTTP on 127.0.0.1): pull, report, plan, dry-run and confirmed apply,
exit codes, and that the token never reaches the output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

pytest.importorskip("msgraph", reason="needs the 'graph' extra (msgraph-sdk)")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tenant"))

from fake_graph import APPROVER, USER_2, FakeGraph, add_audits, seed

from entra_lp.cli import EXIT_FINDINGS, EXIT_INPUT, EXIT_TENANT, app
from entra_lp.directory import DirectorySnapshot

TOKEN = "test-token"
RUN = CliRunner()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGraph]:
    with FakeGraph(page_size=2) as server:
        seed(server)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.setenv("ENTRA_LP_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("ENTRA_LP_GRAPH_URL", server.root)
        yield server


def tenant(*args: str) -> tuple[int, str, str]:
    res = RUN.invoke(app, ["tenant", *args, "--credential", "token-env"],
                     env={"COLUMNS": "200"})
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert TOKEN not in res.stdout + res.stderr
    return res.exit_code, res.stdout, res.stderr


def test_pull_writes_snapshot_and_audits(fake: FakeGraph, tmp_path: Path) -> None:
    add_audits(fake, 5, datetime(2025, 3, 1, tzinfo=UTC))
    code, out, err = tenant("pull", "--out", str(tmp_path), "--since", "2025-02-28",
                            "--until", "2025-03-02", "--json")
    assert code == 0, err
    data = orjson.loads(out)
    snap = DirectorySnapshot.load(tmp_path / "directory.json")
    assert {u.user_principal_name for u in snap.users} == {"ada@example.test", "bob@example.test"}
    assert data["records"] == 5 and data["complete"] is True
    lines = (tmp_path / "directoryAudits.jsonl").read_bytes().splitlines()
    assert len(lines) == 5
    assert all(r.token == TOKEN for r in fake.requests)  # the env token was used
    # The pulled audits feed the analysis commands directly.
    res = RUN.invoke(app, ["analyze", str(tmp_path / "directoryAudits.jsonl"), "--json"])
    assert orjson.loads(res.stdout)["ingest"]["records_parsed"] == 5


def test_report_json_and_html(fake: FakeGraph, tmp_path: Path) -> None:
    page = tmp_path / "pim.html"
    code, out, err = tenant("report", "--json", "--html", str(page))
    assert code == 0, err
    rows = orjson.loads(out)["rows"]
    states = {(r["principal_name"], r["state"]) for r in rows}
    assert ("ada@example.test", "eligible") in states
    assert ("bob@example.test", "active") in states
    assert all(r["end"] is None or isinstance(r["end"], str) for r in rows)
    assert "Synthetic User Administrator" in page.read_text(encoding="utf-8")


def _desired(tmp_path: Path) -> Path:
    from entra_lp.directory import PimSettings
    from entra_lp.export import AssignmentSpec, DesiredState, PolicySpec, RoleSpec

    name = "CLI User Support"
    state = DesiredState(
        roles=(RoleSpec(display_name=name, description="Edit basic user properties",
                        actions=("microsoft.directory/users/basic/update",)),),
        assignments=(AssignmentSpec(principal_id=USER_2, role_display_name=name,
                                    duration=timedelta(days=90)),),
        policies=(PolicySpec(role_display_name=name, settings=PimSettings(
            max_activation_hours=2, require_approval=True, approvers=(f"user:{APPROVER}",))),),
    )
    path = tmp_path / "desired_state.json"
    path.write_text(state.model_dump_json(), encoding="utf-8")
    return path


def test_plan_then_dry_run_then_confirmed_apply(fake: FakeGraph, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    code, out, err = tenant("plan", str(_desired(tmp_path)), "--out", str(plan_file))
    assert code == 0, err
    assert "CLI User Support" in out and plan_file.is_file()
    planned = orjson.loads(plan_file.read_bytes())["requests"]
    assert planned

    code, out, _ = tenant("apply", str(plan_file))
    assert code == 0 and "DRY RUN" in out and "--confirm" in out
    assert fake.writes() == []  # a dry run sends nothing

    audit = tmp_path / "apply-audit.jsonl"
    code, out, err = tenant("apply", str(plan_file), "--confirm", "--audit-log", str(audit))
    assert code == 0, err
    assert len(fake.writes()) == len(planned)
    assert len(audit.read_bytes().splitlines()) >= len(planned)
    assert fake.role_named("CLI User Support")["rolePermissions"]

    code, _, _ = tenant("plan", str(_desired(tmp_path)), "--out", str(plan_file))
    again = orjson.loads(plan_file.read_bytes())
    assert code == 0 and again["requests"] == []  # re-planning after apply changes nothing


def test_plan_with_violations_exits_1(fake: FakeGraph, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(orjson.dumps({"roles": [{"display_name": "Scoped creator", "actions": [
        "microsoft.directory/users/create"]}], "assignments": [{
            "principal_id": USER_2, "role_display_name": "Scoped creator",
            "directory_scope_id": "/administrativeUnits/au-1"}]}).decode(), encoding="utf-8")
    code, out, _ = tenant("plan", str(path), "--out", str(tmp_path / "p.json"), "--json")
    assert code == EXIT_FINDINGS
    data = orjson.loads(out)
    assert data["ok"] is False and data["violations"]
    code, _, err = tenant("apply", str(tmp_path / "p.json"), "--confirm")
    assert code == EXIT_FINDINGS and "violation" in err
    assert fake.writes() == []


def test_tenant_errors_have_exit_3_and_one_line(fake: FakeGraph, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    fake.fail("/roleManagement/directory/roleDefinitions", 403, times=10)
    code, _, err = tenant("report")
    assert code == EXIT_TENANT and err.startswith("error: ") and err.count("\n") == 1
    monkeypatch.setenv("ENTRA_LP_GRAPH_URL", "http://127.0.0.1:9")  # nothing listens there
    code, _, err = tenant("report", "--max-retries", "0")
    assert code == EXIT_TENANT and "Traceback" not in err
    monkeypatch.delenv("ENTRA_LP_ACCESS_TOKEN")
    code, _, err = tenant("report")
    assert code == EXIT_TENANT and "ENTRA_LP_ACCESS_TOKEN" in err
    code, _, err = tenant("plan", str(tmp_path / "missing.json"))
    assert code == EXIT_INPUT and "missing.json" in err
