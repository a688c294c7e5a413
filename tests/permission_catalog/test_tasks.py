"""Curated admin tasks: YAML validation, coverage of Microsoft's table, and the invariants that tie
every task to Microsoft's documented least-privileged role through the real catalog."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from permission_catalog import load_catalog
from permission_catalog.catalog import Catalog
from permission_catalog.errors import CatalogError
from permission_catalog.tasks import (
    DEVIATION_KINDS,
    SCOPES,
    MicrosoftTask,
    Task,
    TaskCheck,
    TaskCurationError,
    build_tasks_data,
    check_tasks,
    delegable_scopes,
    render_tasks_report,
)

REPO = Path(__file__).resolve().parents[2]
CURATION = REPO / "permission_catalog" / "curation" / "tasks.yaml"
DATA = REPO / "permission_catalog" / "data"

PWD = "microsoft.directory/users/password/update"
DEVICE_DISABLE = "microsoft.directory/devices/disable"
APP_CREDS = "microsoft.directory/applications/credentials/update"
APP_CREATE = "microsoft.directory/applications/createAsOwner"
USER_READ = "microsoft.directory/users/standard/read"
KNOWN = frozenset({PWD, DEVICE_DISABLE, APP_CREDS, APP_CREATE, USER_READ})
TABLE: list[dict[str, Any]] = [
    {
        "area": "Users",
        "task": "Reset password of non-admins",
        "least_privileged_role_kind": "entra_role",
        "least_privileged_roles": ["Password Administrator"],
    },
    {
        "area": "Devices",
        "task": "Disable device",
        "least_privileged_role_kind": "entra_role",
        "least_privileged_roles": ["Cloud Device Administrator"],
    },
    {
        "area": "Devices",
        "task": "Read basic configuration",
        "least_privileged_role_kind": "non_role_principal",
        "least_privileged_roles": ["Default user role"],
    },
]


def _reset() -> dict[str, Any]:
    return {
        "id": "users.reset-password",
        "area": "Users",
        "title": "Reset passwords",
        "actions": [PWD],
        "reads": [USER_READ],
        "scopes": ["administrative_unit", "tenant"],
        "microsoft_task": {"area": "Users", "task": "Reset password of non-admins"},
    }


def _disable() -> dict[str, Any]:
    return {
        "id": "devices.disable",
        "area": "Devices",
        "title": "Disable a device",
        "actions": [DEVICE_DISABLE],
        "scopes": ["tenant"],
        "microsoft_task": {"area": "Devices", "task": "Disable device"},
    }


def _extra() -> dict[str, Any]:
    return {
        "id": "apps.manage-credentials",
        "area": "Apps",
        "title": "Rotate app secrets",
        "actions": [APP_CREDS],
        "scopes": ["tenant", "application"],
    }


def _build(
    tmp_path: Path, entries: Any, table: list[dict[str, Any]] = TABLE
) -> list[dict[str, Any]]:
    path = tmp_path / "tasks.yaml"
    path.write_text(
        entries if isinstance(entries, str) else yaml.safe_dump(entries), encoding="utf-8"
    )
    return build_tasks_data(path, table, KNOWN)


# --------------------------------------------------------------------------- validation (synthetic)


def test_valid_entries_become_sorted_json_ready_records(tmp_path: Path) -> None:
    rows = _build(tmp_path, [_reset(), _extra(), _disable()])
    assert [r["id"] for r in rows] == [
        "apps.manage-credentials",
        "devices.disable",
        "users.reset-password",
    ]
    reset = rows[2]
    assert reset["scopes"] == ["tenant", "administrative_unit"]  # canonical order, not YAML order
    assert reset["microsoft_roles"] == ["Password Administrator"]  # filled in from the table
    assert reset["microsoft_task"] == {"area": "Users", "task": "Reset password of non-admins"}
    assert rows[0]["microsoft_task"] is None and rows[0]["microsoft_roles"] == []
    assert json.loads(json.dumps(rows)) == rows


def _set(key: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def mutate(entries: list[dict[str, Any]]) -> None:
        entries[0][key] = value

    return mutate


def _drop(key: str) -> Callable[[list[dict[str, Any]]], None]:
    def mutate(entries: list[dict[str, Any]]) -> None:
        del entries[0][key]

    return mutate


BAD_ENTRIES: list[tuple[str, Callable[[list[dict[str, Any]]], None], tuple[str, ...]]] = [
    (
        "unknown action",
        _set("actions", ["microsoft.directory/users/pasword/update"]),
        (
            "users.reset-password",
            "unknown action 'microsoft.directory/users/pasword/update'",
            f"did you mean '{PWD}'",
        ),
    ),
    (
        "malformed action",
        _set("actions", ["users/password"]),
        ("malformed resource action 'users/password'",),
    ),
    ("duplicate action", _set("actions", [PWD, PWD]), ("listed twice",)),
    (
        "inexact row",
        _set("microsoft_task", {"area": "Users", "task": "Reset password of non-admin"}),
        ("is not an exact table row", "closest rows: 'Users | Reset password of non-admins'"),
    ),
    ("bad scope", _set("scopes", ["tenant", "tenantwide"]), ("unknown scope 'tenantwide'",)),
    ("no tenant scope", _set("scopes", ["administrative_unit"]), ("must include 'tenant'",)),
    ("scope twice", _set("scopes", ["tenant", "tenant"]), ("lists a scope twice",)),
    (
        "app scope on a user action",
        _set("scopes", ["tenant", "application"]),
        (f"{PWD!r} cannot be delegated at scope 'application'",),
    ),
    ("missing field", _drop("title"), ("missing field(s) title",)),
    ("misspelt field", _set("action", [PWD]), ("unknown field 'action'", "did you mean 'actions'")),
    ("bad id", _set("id", "Users.Reset"), ("id 'Users.Reset'",)),
    ("empty actions, no notes", _set("actions", []), ("'actions' is empty",)),
    ("read that writes", _set("reads", [PWD]), (f"{PWD!r} does not read",)),
    ("read also an action", _set("actions", [PWD, USER_READ]), ("in both 'actions' and 'reads'",)),
    (
        "unknown deviation kind",
        _set("deviation", {"kind": "narower_role", "reason": "x"}),
        ("unknown kind 'narower_role'", "did you mean 'narrower_role'"),
    ),
    ("deviation without reason", _set("deviation", {"kind": "tie"}), ("must be {kind, reason}",)),
    (
        "unknown target tier",
        _set("targets", "non_admin"),
        ("field 'targets': unknown tier 'non_admin'", "did you mean 'non_admins'"),
    ),
    (
        "admins as targets at AU scope",
        _set("targets", "limited_admins"),
        ("acting on admins cannot be delegated at scope 'administrative_unit'",),
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [(m, e) for _, m, e in BAD_ENTRIES],
    ids=[name for name, _, _ in BAD_ENTRIES],
)
def test_bad_entry_is_rejected_with_a_precise_message(
    tmp_path: Path, mutate: Callable[[list[dict[str, Any]]], None], expected: tuple[str, ...]
) -> None:
    entries = [_reset(), _disable()]
    mutate(entries)
    with pytest.raises(TaskCurationError) as info:
        _build(tmp_path, entries)
    message = str(info.value)
    assert isinstance(info.value, CatalogError)
    assert str(tmp_path / "tasks.yaml") in message and "task #1" in message
    for part in expected:
        assert part in message, message


def test_duplicate_id_is_rejected(tmp_path: Path) -> None:
    second = _disable() | {"id": "users.reset-password"}
    with pytest.raises(TaskCurationError, match=r"task #2: duplicate id 'users.reset-password'"):
        _build(tmp_path, [_reset(), second])


def test_two_tasks_for_one_row_are_rejected(tmp_path: Path) -> None:
    twin = _reset() | {"id": "users.reset-password-again"}
    with pytest.raises(
        TaskCurationError, match=r"already answered by task 'users\.reset-password'"
    ):
        _build(tmp_path, [_reset(), _disable(), twin])


def test_entra_row_left_without_task_is_reported(tmp_path: Path) -> None:
    with pytest.raises(TaskCurationError) as info:
        _build(tmp_path, [_reset()])
    assert "1 table row(s)" in str(info.value) and "Devices | Disable device" in str(info.value)
    assert "Read basic configuration" not in str(info.value)  # not an Entra-role row


def test_deviation_needs_a_microsoft_row(tmp_path: Path) -> None:
    extra = _extra() | {"deviation": {"kind": "tie", "reason": "x"}}
    with pytest.raises(
        TaskCurationError, match=r"apps\.manage-credentials.*explains a Microsoft row"
    ):
        _build(tmp_path, [_reset(), _disable(), extra])


def test_creating_an_app_cannot_be_scoped_to_one_app(tmp_path: Path) -> None:
    extra = _extra() | {"actions": [APP_CREATE]}
    with pytest.raises(
        TaskCurationError, match="createAsOwner' cannot be delegated at scope 'application'"
    ):
        _build(tmp_path, [_reset(), _disable(), extra])


def test_empty_actions_need_notes_and_then_pass(tmp_path: Path) -> None:
    extra = _extra() | {"actions": [], "scopes": ["tenant"], "notes": "approvers need no role"}
    rows = _build(tmp_path, [_reset(), _disable(), extra])
    assert rows[0]["actions"] == [] and rows[0]["notes"] == "approvers need no role"


def test_targets_need_an_action_the_matrix_restricts(tmp_path: Path) -> None:
    disable = _disable() | {"targets": "non_admins"}
    with pytest.raises(TaskCurationError, match=r"devices\.disable.*no action is restricted"):
        _build(tmp_path, [_reset(), disable])


def test_targets_and_alternatives_reach_the_record(tmp_path: Path) -> None:
    table = [dict(TABLE[0], additional_roles=["User Administrator"]), *TABLE[1:]]
    reset = _reset() | {"targets": "non_admins"}
    rows = _build(tmp_path, [reset, _disable()], table)
    assert rows[1]["targets"] == "non_admins" and rows[0]["targets"] is None
    assert rows[1]["microsoft_alternatives"] == ["User Administrator"]
    assert Task.from_dict(rows[1]).targets == "non_admins"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id: x", "expected a list of tasks, got dict"),
        ("- [unclosed", "invalid YAML"),
        ("- just a string", "task #1: expected a mapping, got str"),
    ],
)
def test_malformed_file_is_rejected(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(TaskCurationError, match=expected):
        _build(tmp_path, text)


@pytest.mark.parametrize(
    ("action", "scopes"),
    [
        (PWD, ("tenant", "administrative_unit")),
        ("microsoft.directory/users/create", ("tenant",)),
        (
            "microsoft.directory/users/authenticationMethods/create",
            ("tenant", "administrative_unit"),
        ),
        (DEVICE_DISABLE, ("tenant", "administrative_unit")),
        ("microsoft.directory/devices/basic/update", ("tenant",)),
        ("microsoft.directory/bitlockerKeys/key/read", ("tenant", "administrative_unit")),
        ("microsoft.directory/groups.security/members/update", ("tenant", "administrative_unit")),
        ("microsoft.directory/groupsAssignableToRoles/allProperties/update", ("tenant",)),
        (APP_CREDS, ("tenant", "application")),
        (
            "microsoft.directory/servicePrincipals/appRoleAssignedTo/update",
            ("tenant", "application"),
        ),
        (APP_CREATE, ("tenant",)),
    ],
)
def test_delegable_scopes_follow_entra_rules(action: str, scopes: tuple[str, ...]) -> None:
    assert delegable_scopes(action) == scopes


# --------------------------------------------------------------------------- the real curation


@pytest.fixture(scope="module")
def table(shared: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(
        (shared / "sources/entra/tasks_least_privileged.json").read_text()
    )
    return rows


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def built(table: list[dict[str, Any]], cat: Catalog) -> list[dict[str, Any]]:
    return build_tasks_data(CURATION, table, cat.actions)


def test_every_entra_role_row_has_exactly_one_task(
    table: list[dict[str, Any]], built: list[dict[str, Any]]
) -> None:
    entra = {
        MicrosoftTask(r["area"], r["task"])
        for r in table
        if r["least_privileged_role_kind"] == "entra_role"
    }
    answered = [MicrosoftTask(**r["microsoft_task"]) for r in built if r["microsoft_task"]]
    assert len(entra) == 158
    assert sorted(answered) == sorted(entra)
    assert len(built) > len(answered)  # plus additions the table lacks


def test_build_is_deterministic_and_committed(
    table: list[dict[str, Any]], cat: Catalog, built: list[dict[str, Any]]
) -> None:
    again = build_tasks_data(CURATION, list(reversed(table)), sorted(cat.actions, reverse=True))
    assert orjson.dumps(again) == orjson.dumps(built)
    committed = orjson.loads((DATA / "tasks.json").read_bytes())["tasks"]
    assert committed == built, "data/tasks.json is stale: run python -m permission_catalog.build"


def test_catalog_loads_the_tasks(cat: Catalog, built: list[dict[str, Any]]) -> None:
    assert {t.id: t for t in cat.tasks.values()} == {r["id"]: Task.from_dict(r) for r in built}
    for task in cat.tasks.values():
        assert Task.from_dict(task.to_dict()) == task
        assert list(task.actions) == sorted(task.actions) and set(task.scopes) <= set(SCOPES)


# --------------------------------------------------------------------------- invariants


@pytest.fixture(scope="module")
def checks(cat: Catalog) -> list[TaskCheck]:
    return check_tasks(cat)


@pytest.fixture(scope="module")
def rows(checks: list[TaskCheck]) -> list[TaskCheck]:
    return [c for c in checks if c.kind != "extra"]


def test_a_documented_role_covers_each_microsoft_row(rows: list[TaskCheck]) -> None:
    assert len(rows) == 158
    for c in rows:
        if c.kind == "not_covered":
            assert c.task.deviation is not None and c.task.deviation.kind == "source_gap", c.task.id
        else:
            assert c.documented_covers, c.task.id


def test_b_exact_rows_and_deviating_rows_are_told_apart(rows: list[TaskCheck]) -> None:
    for c in rows:
        assert (c.kind == "match") == (c.task.deviation is None), (
            c.task.id,
            c.kind,
            c.result.role_names,
        )
    assert any(c.kind == "match" for c in rows) and any(c.deviates for c in rows)


EXACT_FLOOR = 120
"""Rows whose computed answer is exactly Microsoft's documented role today: a regression floor."""


def test_b_exact_agreement_does_not_regress(rows: list[TaskCheck]) -> None:
    matched = sum(c.kind == "match" for c in rows)
    assert matched >= EXACT_FLOOR, f"{matched} exact rows, floor {EXACT_FLOOR}"


@pytest.mark.xfail(
    strict=True,
    reason=(
        "exact agreement is 120/158 (75.9%): 37 of the 38 deviating rows are narrower_role / "
        "read_only answers (the table predates or overlooks a less privileged role), service "
        "gates or source gaps, which no honest task or metric removes; see data/tasks_report.md"
    ),
)
def test_b_exact_agreement_reaches_ninety_percent(rows: list[TaskCheck]) -> None:
    assert sum(c.kind == "match" for c in rows) / len(rows) >= 0.9


def test_c_deviation_kinds_agree_with_the_computed_outcome(rows: list[TaskCheck]) -> None:
    expected = {
        "not_covered": {"source_gap"},
        "no_action": {"service_gate"},
        "tie": {"tie"},
        "narrower": {"narrower_role", "read_only", "metric_artifact", "service_gate"},
    }
    for c in rows:
        if c.deviates:
            assert c.task.deviation is not None
            assert c.task.deviation.kind in expected[c.kind], (c.task.id, c.kind)
            assert c.task.deviation.kind in DEVIATION_KINDS


def test_c_no_result_is_broader_than_the_documented_role(
    cat: Catalog, rows: list[TaskCheck]
) -> None:
    for c in rows:
        grants = [a for r in c.result.roles for a in r.actions if a.condition is None]
        assert cat.covers(grants, c.task.actions) and not c.result.uncoverable, c.task.id
        assert c.documented_cost is not None
        if c.documented_covers:
            assert c.result.cost <= c.documented_cost, c.task.id
        if c.task.deviation is not None and c.task.deviation.kind == "narrower_role":
            assert c.result.cost < c.documented_cost, c.task.id


def test_c_read_only_answers_change_nothing(cat: Catalog, rows: list[TaskCheck]) -> None:
    read_only = [c for c in rows if c.task.deviation and c.task.deviation.kind == "read_only"]
    assert read_only
    for c in read_only:
        assert all(cat.classify(a).plane == "read" for a in c.task.actions), c.task.id
        assert c.result.privilege.changes == 0, c.task.id
        assert c.documented_privilege is not None and c.documented_privilege.changes > 0


def test_c_strict_subset_is_metric_free(cat: Catalog, rows: list[TaskCheck]) -> None:
    subset = [c for c in rows if c.strict_subset]
    assert any(c.task.id == "company-branding.configure" for c in subset)
    for c in subset:
        ours = frozenset().union(*(cat.role_expansion(r.id) for r in c.result.roles))
        theirs = frozenset().union(*(cat.role_expansion(r.id) for r in c.documented))
        assert ours < theirs, c.task.id
    kept = next(c for c in rows if c.task.id == "app-proxy.read-configuration")
    assert not kept.strict_subset and "microsoft.directory/bitlockerKeys/key/read" in (
        kept.beyond_documented
    )


def test_targets_are_honoured_for_every_task(cat: Catalog, checks: list[TaskCheck]) -> None:
    from permission_catalog.lpb import target_matrix, target_rows

    tiered = [(c, c.task.targets) for c in checks if c.task.targets is not None]
    assert {t for _, t in tiered} == {"non_admins", "limited_admins", "privileged_admins"}
    for c, tier in tiered:
        rows = set(target_rows(cat, tier))
        for action in c.task.actions:
            matrix = target_matrix(action)
            if matrix is None:
                continue
            table = {r["target_role"]: set(r["actors"]) for r in cat.privileged_targets[matrix]}
            for role in c.result.covered_by[action]:
                assert all(role in table[row] for row in rows), (c.task.id, action, role)


def test_microsoft_alternatives_come_from_the_table(cat: Catalog) -> None:
    task = cat.task("devices.read-bitlocker-keys")
    assert task.microsoft_roles == ("Cloud Device Administrator",)
    assert "Security Reader" in task.microsoft_alternatives


def test_c_report_is_current_and_explains_every_deviation(
    cat: Catalog, checks: list[TaskCheck]
) -> None:
    text = render_tasks_report(cat, checks)
    assert (DATA / "tasks_report.md").read_text(encoding="utf-8") == text, (
        "data/tasks_report.md is stale: regenerate it with "
        "permission_catalog.tasks.write_tasks_report"
    )
    assert "**unexplained**" not in text and "**missing**" not in text
    for c in checks:
        if c.deviates:
            assert c.task.deviation is not None
            line = next(x for x in text.splitlines() if x.startswith(f"| `{c.task.id}` | "))
            assert " ".join(c.task.deviation.reason.split()) in line.replace("\\|", "|")


def test_every_task_is_feasible_with_built_in_roles(checks: list[TaskCheck]) -> None:
    for c in checks:
        assert not c.result.uncoverable, c.task.id
        assert bool(c.result.roles) == bool(c.task.actions), c.task.id


def test_scopes_agree_with_the_catalog(cat: Catalog) -> None:
    differ = {
        a
        for a in cat.actions
        if not cat.action(a).templated and delegable_scopes(a) != cat.action(a).scopes
    }
    # One rule for both: creating a sub-object (an authentication method) of an AU member is
    # delegable at AU scope; only creating a directory object is tenant-only.
    assert differ == set()
    for task in cat.tasks.values():
        for action in task.actions:
            assert set(task.scopes) <= set(delegable_scopes(action)), (task.id, action)


def test_reads_are_default_member_permissions(cat: Catalog) -> None:
    member = [a for a in cat.role_by_name("User").actions if a.condition is None]
    for task in cat.tasks.values():
        assert cat.covers(member, task.reads), task.id
        assert not set(task.reads) & set(task.actions), task.id
