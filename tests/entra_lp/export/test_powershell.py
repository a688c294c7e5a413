"""PowerShell export: the right cmdlets with the right ids, bodies equal to the builders'
(read back from the hashtable literals), idempotent guards, dry run, least-privileged scopes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from entra_lp.export.from_recommendation import least_privileged_scopes, prepare_export
from entra_lp.export.graph import policy_rule_bodies, role_definition_body, schedule_request_body
from entra_lp.export.powershell import ps_literal, ps_string, to_powershell
from permission_catalog import load_catalog

from . import samples as s

CAT = load_catalog()


# ---- reading PowerShell literals back ---------------------------------------------------------
def read_literal(text: str, pos: int) -> tuple[Any, int]:
    """Parse the literal starting at ``pos``; returns (value, end)."""
    while text[pos] in " \t\r\n":
        pos += 1
    if text.startswith("@{", pos):
        out: dict[str, Any] = {}
        pos += 2
        while True:
            while text[pos] in " \t\r\n":
                pos += 1
            if text[pos] == "}":
                return out, pos + 1
            key, pos = read_literal(text, pos)
            m = re.compile(r"\s*=\s*").match(text, pos)
            assert m, text[pos : pos + 30]
            out[key], pos = read_literal(text, m.end())
    if text.startswith("@(", pos):
        items: list[Any] = []
        pos += 2
        while True:
            while text[pos] in " \t\r\n":
                pos += 1
            if text[pos] == ")":
                return items, pos + 1
            item, pos = read_literal(text, pos)
            items.append(item)
    if text[pos] == "'":
        m = re.compile(r"'((?:[^']|'')*)'").match(text, pos)
        assert m
        return m[1].replace("''", "'"), m.end()
    m = re.compile(r"\$RoleIds\['((?:[^']|'')*)'\]").match(text, pos)
    if m:
        return "${role:" + m[1].replace("''", "'") + "}", m.end()
    for word, value in (("$true", True), ("$false", False), ("$null", None)):
        if text.startswith(word, pos):
            return value, pos + len(word)
    m = re.compile(r"-?\d+(?:\.\d+)?").match(text, pos)
    assert m, f"unreadable literal at {text[pos : pos + 30]!r}"
    return (float(m[0]) if "." in m[0] else int(m[0])), m.end()


def calls(script: str, command: str) -> list[tuple[dict[str, str], Any]]:
    """Each call of ``command``: its simple -Name 'value' parameters and its -Body literal."""
    out = []
    for m in re.finditer(rf"^\s*(?:\$RoleIds\[[^\]]*\] = )?{command} (.*?)-Body ", script, re.M):
        params = dict(re.findall(r"-(\w+) ('(?:[^']|'')*'|\$\w+(?:\[[^\]]*\])?)", m[1]))
        body, _ = read_literal(script, m.end())
        out.append(
            (
                {k: read_literal(v, 0)[0] if v.startswith("'") else v for k, v in params.items()},
                body,
            )
        )
    return out


@pytest.fixture(scope="module")
def script() -> str:
    return to_powershell(s.recommendation(), CAT)


def test_role_definitions_are_created_idempotently(script: str) -> None:
    plan = prepare_export(s.recommendation(), CAT)
    made = calls(script, "Set-LpCustomRole")
    assert [p["DisplayName"] for p, _ in made] == [r.display_name for r in plan.desired.roles]
    assert [b for _, b in made] == [role_definition_body(r) for r in plan.desired.roles]
    # the guard: look the role up by display name before any New-
    helper = script[
        script.index("function Set-LpCustomRole") : script.index("function Get-LpPolicyId")
    ]
    assert helper.index("Get-LpRoleDefinitionId") < helper.index(
        "New-MgRoleManagementDirectoryRoleDefinition -BodyParameter $Body"
    )
    assert "Update-MgRoleManagementDirectoryRoleDefinition" in helper
    assert (
        "Get-MgRoleManagementDirectoryRoleDefinition -Filter \"displayName eq '$name'\"" in script
    )


def test_policy_rules_use_update_cmdlet_with_builder_bodies(script: str) -> None:
    plan = prepare_export(s.recommendation(), CAT)
    updates = calls(script, "Set-LpPolicyRule")
    for policy in plan.desired.policies:
        mine = {p["RuleId"]: b for p, b in updates if p["RoleName"] == policy.role_display_name}
        assert mine == policy_rule_bodies(policy.settings)
    assert (
        "Update-MgPolicyRoleManagementPolicyRule -UnifiedRoleManagementPolicyId $PolicyId" in script
    )
    assert "-UnifiedRoleManagementPolicyRuleId $RuleId -BodyParameter $Body" in script
    assert "Get-MgPolicyRoleManagementPolicyAssignment -Filter $filter" in script
    assert "scopeType eq 'DirectoryRole'" in script


def test_assignments_carry_the_right_ids(script: str) -> None:
    plan = prepare_export(s.recommendation(), CAT)
    requests = calls(script, "Add-LpAssignment")
    assert len(requests) == len(plan.desired.assignments)
    for (params, body), spec in zip(requests, plan.desired.assignments, strict=True):
        assert params["Kind"] == spec.kind and params["RoleName"] == spec.role_display_name
        assert body == schedule_request_body(spec, plan.role_id(spec.role_display_name))
    bodies = [b for _, b in requests]
    assert {b["principalId"] for b in bodies} == {a.principal_id for a in plan.desired.assignments}
    assert f"$RoleIds['Password Administrator'] = '{s.PASSWORD_ADMIN}'" in script
    assert (
        "New-MgRoleManagementDirectoryRoleEligibilityScheduleRequest -BodyParameter $Body" in script
    )
    assert (
        "New-MgRoleManagementDirectoryRoleAssignmentScheduleRequest -BodyParameter $Body" in script
    )
    # guards: existing schedules are looked up before requesting
    assert "Get-MgRoleManagementDirectoryRoleEligibilitySchedule -Filter $filter -All" in script
    assert "Get-MgRoleManagementDirectoryRoleAssignmentSchedule -Filter $filter -All" in script


def test_dry_run_and_least_privileged_sign_in(script: str) -> None:
    assert "[CmdletBinding(SupportsShouldProcess = $true)]" in script
    assert "[switch] $DryRun" in script and "if ($DryRun) { $WhatIfPreference = $true }" in script
    writes = re.findall(r"^\s*(?:\$\w+ = )?((?:New|Update)-Mg\w+)", script, re.M)
    assert len(writes) == 4
    # every write sits inside a ShouldProcess branch
    for fn in re.split(r"\nfunction ", script)[1:]:
        for write in re.findall(r"(?:New|Update)-Mg\w+ ", fn):
            assert fn.index("$PSCmdlet.ShouldProcess") < fn.index(write)
    scopes = re.search(r"\$Scopes = @\((.*)\)", script)
    assert scopes is not None
    listed = tuple(read_literal(x.strip(), 0)[0] for x in scopes[1].split(","))
    assert listed == least_privileged_scopes(prepare_export(s.recommendation(), CAT))
    assert "Connect-MgGraph -Scopes $Scopes" in script
    assert "Directory.ReadWrite.All" not in script


def test_manual_steps_and_notes_are_visible(script: str) -> None:
    assert (
        "Write-Warning 'Manual step left to do: PIM for Groups: Authentication methods support'"
        in script
    )
    assert "# NOTE: Built-in role 'Password Administrator'" in script


def test_literals_escape_quotes_and_never_expand() -> None:
    assert ps_string("it's $env:PATH") == "'it''s $env:PATH'"
    assert ps_string("curly \u2019 quote") == "'curly '' quote'"
    value = {"a": [1, True, None, "x'y"], "b": {}, "c": [], "d": "${role:R'1}"}
    text = ps_literal(value)
    assert read_literal(text, 0)[0] == value
    assert "$RoleIds['R''1']" in text


def test_deterministic(script: str) -> None:
    assert to_powershell(s.recommendation(), CAT) == script
