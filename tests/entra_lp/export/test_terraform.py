"""Terraform export: parsed back with a small HCL reader, checked with `terraform fmt` when the
binary is installed, policy requests equal to the builders' bodies."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from entra_lp.errors import RecommendationError
from entra_lp.export.from_recommendation import prepare_export
from entra_lp.export.graph import policy_rule_bodies
from entra_lp.export.terraform import hcl_string, to_terraform
from permission_catalog import load_catalog

from . import samples as s

CAT = load_catalog()

# ---- a small HCL reader (enough for blocks, attributes, strings, lists, maps, references) ----
_TOKEN = re.compile(
    r'\s*(?:(#[^\n]*)|("(?:[^"\\]|\\.)*")|([A-Za-z_][\w.\-]*(?:\[[^\]]*\])?(?:\.[\w]+)*)'
    r"|([{}\[\]=,()])|(-?\d+(?:\.\d+)?))"
)


def tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        assert m, f"cannot read HCL at {text[pos : pos + 40]!r}"
        pos = m.end()
        comment, string, ident, punct, number = m.groups()
        if comment is None:
            out.append(
                ("str", json.loads(string))
                if string
                else ("id", ident)
                if ident
                else ("p", punct)
                if punct
                else ("num", number)
            )
    return out


class Reader:
    def __init__(self, text: str) -> None:
        self.toks, self.i = tokens(text), 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("eof", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        assert value is None or tok[1] == value, f"expected {value!r}, got {tok!r}"
        self.i += 1
        return tok

    def body(self) -> list[tuple[str, Any]]:
        items: list[tuple[str, Any]] = []
        while self.peek()[1] != "}" and self.peek()[0] != "eof":
            _, name = self.take()
            if self.peek()[1] == "=":
                self.take("=")
                items.append((name, self.value()))
                continue
            labels = []
            while self.peek()[0] == "str":
                labels.append(self.take()[1])
            self.take("{")
            items.append((name, {"labels": labels, "body": self.body()}))
            self.take("}")
        return items

    def value(self) -> Any:
        kind, tok = self.take()
        if tok == "[":
            out = []
            while self.peek()[1] != "]":
                out.append(self.value())
                if self.peek()[1] == ",":
                    self.take(",")
            self.take("]")
            return out
        if tok == "{":
            obj = {}
            while self.peek()[1] != "}":
                key = self.take()[1]
                self.take("=")
                obj[key] = self.value()
            self.take("}")
            return obj
        if kind == "id" and self.peek()[1] == "(":  # map(string)
            self.take("(")
            inner = self.take()[1]
            self.take(")")
            return f"{tok}({inner})"
        return (
            {"ref": tok}
            if kind == "id" and tok not in ("true", "false")
            else (tok == "true" if tok in ("true", "false") else tok)
        )


def blocks(text: str, kind: str) -> dict[tuple[str, ...], dict[str, Any]]:
    out = {}
    for name, item in Reader(text).body():
        if name == kind:
            out[tuple(item["labels"])] = dict(item["body"])
            out[tuple(item["labels"])]["__blocks__"] = [
                (k, dict(v["body"]))
                for k, v in item["body"]
                if isinstance(v, dict) and "labels" in v
            ]
    return out


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return to_terraform(s.recommendation(), CAT)


def test_custom_roles_have_the_documented_arguments(files: dict[str, str]) -> None:
    rec = s.recommendation()
    roles = {
        k[1]: v
        for k, v in blocks(files["main.tf"], "resource").items()
        if k[0] == "azuread_custom_directory_role"
    }
    custom = [r for r in rec.roles if r.kind == "custom"]
    assert sorted(r["display_name"] for r in roles.values()) == sorted(
        r.display_name for r in custom
    )
    for proposal in custom:
        (block,) = [b for b in roles.values() if b["display_name"] == proposal.display_name]
        assert block["description"] == proposal.description
        assert block["enabled"] is True and block["version"] == rec.catalog_version
        (perm,) = [b for name, b in block["__blocks__"] if name == "permissions"]
        assert perm["allowed_resource_actions"] == sorted(proposal.actions)


def test_assignments_reference_roles_and_principal_variables(files: dict[str, str]) -> None:
    plan = prepare_export(s.recommendation(), CAT)
    res = blocks(files["main.tf"], "resource")
    eligible = [
        v for k, v in res.items() if k[0] == "azuread_directory_role_eligibility_schedule_request"
    ]
    active = [v for k, v in res.items() if k[0] == "azuread_directory_role_assignment"]
    assert len(eligible) == sum(a.kind == "eligible" for a in plan.desired.assignments)
    assert len(active) == 1
    variables = blocks(files["variables.tf"], "variable")[("principal_ids",)]["default"]
    assert set(variables.values()) == {a.principal_id for a in plan.desired.assignments}
    role_names = {k[1] for k in res if k[0] == "azuread_custom_directory_role"}
    for b in eligible:
        assert set(b) - {"__blocks__"} == {
            "role_definition_id",
            "principal_id",
            "directory_scope_id",
            "justification",
        }
        key = re.fullmatch(r'var\.principal_ids\["(\w+)"\]', b["principal_id"]["ref"])
        assert key and key[1] in variables
        ref = b["role_definition_id"]
        if isinstance(ref, dict):
            m = re.fullmatch(r"azuread_custom_directory_role\.(\w+)\.object_id", ref["ref"])
            assert m and m[1] in role_names
        else:
            assert ref == s.PASSWORD_ADMIN  # built-in roles by template id
    (sp,) = active
    assert set(sp) - {"__blocks__"} == {"role_id", "principal_object_id", "directory_scope_id"}
    assert sp["directory_scope_id"] == s.APP_PAY[0]
    assert variables[re.findall(r'"(\w+)"', sp["principal_object_id"]["ref"])[0]] == s.DEPLOY_SP[0]
    assert "MANUAL STEP" in files["main.tf"] and "PIM for Groups" in files["main.tf"]


def test_pim_policies_are_graph_requests_next_to_the_config(files: dict[str, str]) -> None:
    plan = prepare_export(s.recommendation(), CAT)
    policy_files = {k: json.loads(v) for k, v in files.items() if k.startswith("pim_policies/")}
    comments = " ".join(line[2:] for line in files["main.tf"].splitlines() if line.startswith("# "))
    assert len(policy_files) == len(plan.desired.policies)
    for path, doc in policy_files.items():
        spec = plan.desired.policy(doc["role"])
        assert spec is not None
        assert f"apply {path} after `terraform apply`" in comments
        patches = {
            r["url"].rsplit("/", 1)[-1]: r["body"]
            for r in doc["requests"]
            if r["method"] == "PATCH"
        }
        assert patches == policy_rule_bodies(spec.settings)
        assert doc["requests"][0]["method"] == "GET"


def test_provider_requirement_and_output(files: dict[str, str]) -> None:
    tf = blocks(files["versions.tf"], "terraform")[()]
    (req,) = [b for name, b in tf["__blocks__"] if name == "required_providers"]
    assert req["azuread"]["source"] == "hashicorp/azuread"
    out = blocks(files["main.tf"], "output")[("custom_role_ids",)]
    assert len(out["value"]) == 4


def test_strings_never_become_templates() -> None:
    assert hcl_string('a "b" ${x} %{y} \\ \n') == '"a \\"b\\" $${x} %%{y} \\\\ \\n"'
    rec = s.recommendation()
    roles = tuple(
        r.model_copy(update={"description": 'Use ${var.x} and "quotes"'})
        if r.key == "app-config"
        else r
        for r in rec.roles
    )
    main = to_terraform(rec.model_copy(update={"roles": roles}), CAT)["main.tf"]
    parsed = [
        v for k, v in blocks(main, "resource").items() if k[0] == "azuread_custom_directory_role"
    ]
    assert 'Use $${var.x} and "quotes"' in [b["description"] for b in parsed]


def test_refuses_invalid_roles() -> None:
    rec = s.recommendation()
    roles = tuple(
        r.model_copy(update={"actions": (f"{s.D}/users/password/update",)})
        if r.key == "app-config"
        else r
        for r in rec.roles
    )
    with pytest.raises(RecommendationError, match="not_allowed_in_custom_roles"):
        to_terraform(rec.model_copy(update={"roles": roles}), CAT)


def test_deterministic(files: dict[str, str]) -> None:
    assert to_terraform(s.recommendation(), CAT) == files


def test_terraform_fmt_accepts_the_files(files: dict[str, str], tmp_path: Path) -> None:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not installed; the structural tests above still ran")
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    done = subprocess.run(
        [binary, "fmt", "-check", "-diff", "-recursive", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
