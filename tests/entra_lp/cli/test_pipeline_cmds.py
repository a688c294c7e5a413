"""The analysis commands (analyze, mine, recommend, validate, export, design) through
typer's CliRunner, on the bundled sample tenant: real files, real library, exit codes."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from entra_lp.cli import EXIT_FINDINGS, EXIT_INPUT, app
from entra_lp.ingest import read_audit_logs
from entra_lp.recommendation import Recommendation
from entra_lp.simulate import load_sample_tenant

RUN = CliRunner()
SAMPLE = load_sample_tenant()
SPLIT = str(SAMPLE.manifest["split_time"])
DIRECTORY = str(SAMPLE.folder / "directory.json")
RUNBOOKS = Path(__file__).resolve().parents[3] / "docs" / "examples" / "runbooks.yaml"


def run(*args: str, columns: int | None = None) -> tuple[int, str, str]:
    env = {"COLUMNS": str(columns)} if columns else None
    res = RUN.invoke(app, list(args), env=env)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


def run_json(*args: str) -> dict:
    code, out, err = run(*args, "--json")
    assert code == 0, err
    return orjson.loads(out)


@pytest.fixture(scope="module")
def rec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recommendation of the sample's training window, made by the CLI."""
    path = tmp_path_factory.mktemp("rec") / "rec.json"
    code, _, err = run("recommend", str(SAMPLE.graph), "-d", DIRECTORY, "--until", SPLIT,
                       "-o", str(path), "-q")
    assert code == 0, err
    return path


# ---- analyze --------------------------------------------------------------------------------
def test_analyze_two_sources_reports_every_record_and_principal() -> None:
    sources = [SAMPLE.log_analytics, SAMPLE.event_hub]
    data = run_json("analyze", *map(str, sources), "-d", DIRECTORY)
    singles = [read_audit_logs(s).report for s in sources]
    ingest = data["ingest"]
    assert ingest["records_read"] == sum(r.records_read for r in singles)
    assert ingest["formats"] == {"log_analytics": singles[0].records_read,
                                 "event_hub": singles[1].records_read}
    assert [s["source"] for s in ingest["sources"]] == [str(s) for s in sources]
    usage = read_audit_logs(SAMPLE.log_analytics).usage()
    names = {p["name"] for p in data["usage"]["principals"]}
    assert names == set(usage.principals["name"])
    busiest = data["usage"]["principals"][0]
    # the same records twice: every operation count doubles
    single = usage.summary().iloc[0]
    assert busiest["operations"] == 2 * int(single["operations"])
    assert busiest["held_roles"], "the directory names the roles each principal holds"


def test_analyze_human_output_names_principals_and_roles() -> None:
    code, out, err = run("analyze", str(SAMPLE.log_analytics), "-d", DIRECTORY, columns=250)
    assert code == 0, err
    usage = read_audit_logs(SAMPLE.log_analytics).usage()
    top = usage.summary()["name"].iloc[0]
    assert "What each principal does" in out and top in out
    assert "Directory Synchronization Accounts" in out  # the sync account's held role
    assert err == ""  # no progress bars when not a terminal


def _graph_lines(n: int) -> list[bytes]:
    with gzip.open(SAMPLE.graph, "rb") as fh:
        return [next(fh) for _ in range(n)]


def test_several_sources_merge_like_one_read(tmp_path: Path) -> None:
    lines = _graph_lines(2000)
    whole, a, b = tmp_path / "whole.jsonl", tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    whole.write_bytes(b"".join(lines))
    a.write_bytes(b"".join(lines[::2]))  # interleaved: the same usage rows in both halves
    b.write_bytes(b"".join(lines[1::2]))
    from entra_lp.cli._common import Output
    from entra_lp.cli._data import read_logs

    with Output(quiet=True).steps() as steps:
        merged = read_logs([a, b], steps)
    one = read_audit_logs(whole)
    assert merged.rows.equals(one.rows)
    assert merged.buckets.equals(one.buckets)
    assert merged.report.records_read == one.report.records_read == 2000


def test_rejected_records_are_reported_and_strict_fails(tmp_path: Path) -> None:
    logs = tmp_path / "audits.jsonl"
    logs.write_bytes(b"".join(_graph_lines(50)) + b'{"id": "x", "activityDateTime": 7}\n')
    code, out, _ = run("analyze", str(logs))
    assert code == 0
    assert "1 rejected" in out and f"{logs}:51" in out
    code, _, _ = run("analyze", str(logs), "--strict", "-q")
    assert code == EXIT_FINDINGS
    assert run("analyze", str(tmp_path / "missing.jsonl"))[0] == EXIT_INPUT


# ---- mine -----------------------------------------------------------------------------------
def test_mine_pareto_front_is_monotone_and_exact_matches_the_miner() -> None:
    from entra_lp.mining import RoleMiner

    data = run_json("mine", str(SAMPLE.log_analytics), "--lam", "0", "--lam", "0.1",
                    "--lam", "5", "--show", "0.1")
    usage = read_audit_logs(SAMPLE.log_analytics).usage()
    assert data["exact"]["roles"] == RoleMiner().fit(usage).n_roles_
    points = data["pareto"]
    assert [p["lam"] for p in points] == [0.0, 0.1, 5.0]
    assert all(x["roles"] <= y["roles"] for x, y in itertools.pairwise(points))
    assert all(x["weighted_over_assignment"] >= y["weighted_over_assignment"]
               for x, y in itertools.pairwise(points))
    assert data["roles_of"] == "lam=0.1" and len(data["roles"]) == points[1]["roles"]
    used = {a for r in data["roles"] for a in r["actions"]}
    assert used == set(usage.actions)  # the roles together grant every used action
    code, _, err = run("mine", str(SAMPLE.log_analytics), "--show", "7")
    assert code == EXIT_INPUT and "not one of the λ values" in err


# ---- recommend / validate -------------------------------------------------------------------
def test_recommend_writes_a_loadable_recommendation(rec_file: Path) -> None:
    rec = Recommendation.load(rec_file)
    assert rec.source == "usage" and rec.roles and rec.metrics is not None
    assert rec.metrics.current is not None  # the directory gave current-state metrics
    assert rec_file.read_text(encoding="utf-8") == rec.to_json() + "\n"


def test_recommend_is_deterministic_and_json_summary_matches(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    args = ("recommend", str(SAMPLE.log_analytics), "--seed", "3")
    data = run_json(*args, "-o", str(a))
    run(*args, "-o", str(b), "-q")
    assert a.read_bytes() == b.read_bytes()
    rec = Recommendation.load(a)
    kinds = data["roles"]
    assert sum(kinds.values()) == len(rec.roles) == len(data["role_list"])
    assert data["assignments"] == len(rec.assignments)
    assert rec.options["random_state"] == 3


def test_recommend_to_stdout_prints_only_the_recommendation() -> None:
    code, out, _ = run("recommend", str(SAMPLE.log_analytics), "-o", "-", "-q")
    assert code == 0
    assert Recommendation.from_json(out).roles


def test_validate_reports_coverage_and_threshold_sets_exit_code(
    rec_file: Path, tmp_path: Path
) -> None:
    filled = tmp_path / "validated.json"
    data = run_json("validate", str(rec_file), str(SAMPLE.graph), "-d", DIRECTORY,
                    "--since", SPLIT, "-o", str(filled))
    rec = Recommendation.load(filled)
    assert rec.metrics is not None and rec.metrics.proposed.coverage == data["coverage"]
    assert data["passed"] == (data["coverage"] >= 0.995)
    assert data["denied_operations"] == sum(d["count"] for d in data["denied"])
    assert data["allowed_operations"] + data["denied_operations"] == (
        data["total_operations"] - data["excluded_operations"])
    strict = "1.0" if data["coverage"] < 1 else None
    if strict:  # a threshold above the coverage is a finding: exit 1
        code, out, _ = run("validate", str(rec_file), str(SAMPLE.graph), "-d", DIRECTORY,
                           "--since", SPLIT, "--min-coverage", strict)
        assert code == EXIT_FINDINGS and "below threshold" in out
    code, _, err = run("validate", str(rec_file), str(SAMPLE.graph), "--min-coverage", "2")
    assert code == EXIT_INPUT and "between 0 and 1" in err


def test_validate_without_directory_for_au_assignments_is_an_input_error(rec_file: Path) -> None:
    rec = Recommendation.load(rec_file)
    if not any(a.scope.kind == "administrative_unit" for a in rec.assignments):
        pytest.skip("this recommendation has no administrative-unit assignment")
    code, _, err = run("validate", str(rec_file), str(SAMPLE.log_analytics))
    assert code == EXIT_INPUT and "directory snapshot" in err and "Traceback" not in err


# ---- export ---------------------------------------------------------------------------------
def test_export_formats_and_overwrite(rec_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "ex"
    data = run_json("export", str(rec_file), "-o", str(out), "-f", "terraform,markdown")
    assert data["formats"] == ["terraform", "markdown"]
    assert all((out / f).is_file() for f in data["files"])
    assert "report.md" in data["files"] and not (out / "report.html").exists()
    code, _, err = run("export", str(rec_file), "-o", str(out), "-f", "html")
    assert code == EXIT_INPUT and "--overwrite" in err
    code, _, _ = run("export", str(rec_file), "-o", str(out), "-f", "html", "--overwrite")
    assert code == 0 and (out / "report.html").is_file() and not (out / "report.md").exists()
    code, _, err = run("export", str(rec_file), "-o", str(tmp_path / "x"), "-f", "grph")
    assert code == EXIT_INPUT and "did you mean 'graph'" in err


def test_export_all_writes_every_format(rec_file: Path, tmp_path: Path) -> None:
    data = run_json("export", str(rec_file), "-o", str(tmp_path / "all"))
    assert data["formats"] == ["graph", "terraform", "powershell", "markdown", "html"]
    files = set(data["files"])
    assert {"report.html", "report.md", "desired_state.json",
            "powershell/Apply-Recommendation.ps1", "terraform/main.tf"} <= files


def test_export_reports_list_the_denied_operations_of_a_validation(
    rec_file: Path, tmp_path: Path
) -> None:
    report = tmp_path / "validation.json"
    data = run_json("validate", str(rec_file), str(SAMPLE.graph), "-d", DIRECTORY,
                    "--since", SPLIT, "--report", str(report))
    assert data["denied"]  # the sample's later window has work the proposal denies
    out = tmp_path / "ex"
    code, _, err = run("export", str(rec_file), "-o", str(out), "-f", "markdown,html",
                       "--validation", str(report))
    assert code == 0, err
    md = (out / "report.md").read_text(encoding="utf-8")
    section = md.split("## Denied on replay", 1)[1].split("\n## ", 1)[0]
    for d in data["denied"]:
        assert f"`{d['action']}`" in section
        assert (d["principal_name"] or d["principal_id"]) in section
        assert all(x in section for x in d["example_targets"])
    assert 'id="denied"' in (out / "report.html").read_text(encoding="utf-8")
    # without --validation there is no such section; a broken file is a one-line input error
    run("export", str(rec_file), "-o", str(tmp_path / "plain"), "-f", "markdown")
    assert "Denied on replay" not in (tmp_path / "plain" / "report.md").read_text()
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    code, _, err = run("export", str(rec_file), "-o", str(tmp_path / "x"), "--validation",
                       str(bad))
    assert code == EXIT_INPUT and str(bad) in err and "Traceback" not in err


def test_summaries_count_distinct_rights_to_attest(rec_file: Path) -> None:
    from entra_lp.cli._views import recommendation_json

    rec = Recommendation.load(rec_file)
    # a right held through two roles today is one right, two attestation items
    item = next(i for i in rec.attestation if i.held_via and i.action != "*")
    twice = rec.model_copy(update={"attestation": (
        *rec.attestation, item.model_copy(update={"held_via": "Another Role at /"}))})
    summary = recommendation_json(twice)
    # "*" (every action of a role held and never used) is one right per role
    rights = len({(i.principal_id, i.action if i.action != "*" else i.held_via)
                  for i in rec.attestation})
    assert summary["attestation"] == rights
    assert summary["attestation_items"] == len(rec.attestation) + 1


# ---- design ---------------------------------------------------------------------------------
def test_design_runbooks_gives_scoped_roles_and_compares(rec_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "design.json"
    data = run_json("design", str(RUNBOOKS), "-d", DIRECTORY, "-o", str(out),
                    "--compare", str(rec_file))
    design = Recommendation.load(out)
    assert design.source == "design"
    scopes = {a.scope.kind for a in design.assignments}
    assert {"administrative_unit", "application"} <= scopes
    assert "comparison" in data and data["role_list"]
    code, txt, _ = run("design", str(RUNBOOKS), "-d", DIRECTORY, "-o", str(out),
                       columns=250)
    assert code == 0 and design.roles[0].display_name in txt


def test_design_errors_name_the_runbook(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- name: Oops\n  tasks: [users.reset-pasword-nonadmin]\n", encoding="utf-8")
    code, out, err = run("design", str(bad), "-o", str(tmp_path / "d.json"))
    assert code == EXIT_INPUT and "Oops" in err and "users.reset-password-nonadmin" in err
    assert out == "" and err.count("\n") == 1  # one clear line, no traceback


# ---- sample ---------------------------------------------------------------------------------
def test_sample_copies_the_bundled_tenant_and_refuses_a_full_folder(tmp_path: Path) -> None:
    target = tmp_path / "contoso"
    data = run_json("sample", str(target))
    assert "graph/directoryAudits.jsonl.gz" in data["files"] and "directory.json" in data["files"]
    for rel in data["files"]:
        assert (target / rel).read_bytes() == (SAMPLE.folder / rel).read_bytes()
    code, _, err = run("sample", str(target))
    assert code == EXIT_INPUT and "not empty" in err


# ---- errors and help ------------------------------------------------------------------------
def test_input_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "rec.json"
    bad.write_text('{"roles": 3}', encoding="utf-8")
    for args in (("export", str(bad)), ("export", str(tmp_path / "none.json")),
                 ("recommend", str(SAMPLE.log_analytics), "--objective", "fastest"),
                 ("analyze", str(SAMPLE.log_analytics), "-d", str(bad))):
        code, out, err = run(*args)
        assert code == EXIT_INPUT, args
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err + out


def _commands() -> list[list[str]]:
    names = [["demo"], ["sample"], ["analyze"], ["mine"], ["recommend"], ["validate"], ["export"],
             ["design"]]
    return (names + [["tenant", t] for t in ("pull", "report", "plan", "apply")]
            + [["catalog", c] for c in ("search", "show", "role", "task", "lpb", "diff")])


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_command_has_help_with_examples(command: list[str]) -> None:
    code, out, _ = run(*command, "--help")
    assert code == 0 and "Example" in out and f"entra-lp {' '.join(command)}" in out


def test_root_help_lists_commands_and_exit_codes() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for name in ("demo", "sample", "analyze", "mine", "recommend", "validate", "export", "design",
                 "catalog", "tenant"):
        assert name in out
    assert "3 tenant or network error" in out
    assert run("--version")[1].startswith("entra-lp ")
