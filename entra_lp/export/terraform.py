"""Terraform (hashicorp/azuread provider) for a recommendation.

Written files (relative paths → text, see :func:`to_terraform`):

- ``versions.tf``: the provider requirement;
- ``variables.tf``: ``principal_ids`` (a map, defaulting to the recommendation's object ids, so
  one configuration serves a test and a production tenant);
- ``main.tf``: ``azuread_custom_directory_role`` per custom role (one ``permissions`` block,
  ``allowed_resource_actions``, ``version``, ``enabled``, ``description``),
  ``azuread_directory_role_eligibility_schedule_request`` per eligible assignment and
  ``azuread_directory_role_assignment`` per active one; an ``output`` with the new role ids;
- ``pim_policies/<role>.json``: the PIM policy of each role as the Graph requests that set it,
  because the provider has no resource for Entra role PIM policies (each role block says so).

The resource schemas follow the provider's documentation (``custom_directory_role``,
``directory_role_eligibility_schedule_request``, ``directory_role_assignment``). Two limits of
the provider are stated in the files rather than hidden: it requests eligibility with no end
date, and its role assignments are standing, not time-bound. Output is ``terraform fmt`` clean.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from ..recommendation import Recommendation
from .desired import AssignmentSpec
from .from_recommendation import ExportPlan, GraphRequest, graph_requests, prepare_export

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog import Catalog

__all__ = ["hcl_string", "terraform_files", "to_terraform"]

PROVIDER_VERSION = ">= 2.47.0"
"""A provider release that has every resource used here (v3 included)."""


# ---- HCL primitives -------------------------------------------------------------------------
def hcl_string(value: str) -> str:
    """A quoted HCL string; ``${`` and ``%{`` are escaped so no text is read as a template."""
    text = value.replace("\\", "\\\\").replace('"', '\\"')
    text = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return '"' + text.replace("${", "$${").replace("%{", "%%{") + '"'


def _ident(text: str, used: set[str]) -> str:
    """A unique Terraform name: lower-case letters, digits and ``_``, starting with a letter."""
    base = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "item"
    if not base[0].isalpha():
        base = "r_" + base
    name, n = base, 2
    while name in used:
        name, n = f"{base}_{n}", n + 1
    used.add(name)
    return name


def _attributes(pairs: Iterable[tuple[str, str]], indent: str = "  ") -> list[str]:
    """Single-line attributes aligned on ``=`` as ``terraform fmt`` does."""
    items = list(pairs)
    width = max((len(k) for k, _ in items), default=0)
    return [f"{indent}{k.ljust(width)} = {v}" for k, v in items]


def _list(name: str, values: Iterable[str], indent: str = "  ") -> list[str]:
    return [f"{indent}{name} = [", *(f"{indent}  {v}," for v in values), f"{indent}]"]


def _comment(text: str, indent: str = "") -> list[str]:
    """A ``#`` comment, wrapped at ~96 columns."""
    out: list[str] = []
    line = ""
    for word in text.split():
        if line and len(indent) + len(line) + len(word) + 3 > 96:
            out.append(f"{indent}# {line}")
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        out.append(f"{indent}# {line}")
    return out


# ---- files ----------------------------------------------------------------------------------
def to_terraform(recommendation: Recommendation, catalog: Catalog | None = None) -> dict[str, str]:
    """Terraform files for ``recommendation`` (relative path → text, sorted by path).

    Raises :class:`~entra_lp.errors.RecommendationError` when a role breaks Entra's rules.
    """
    return terraform_files(prepare_export(recommendation, catalog))


def terraform_files(plan: ExportPlan) -> dict[str, str]:
    """Terraform files for an already prepared :class:`ExportPlan`."""
    names = _Names(plan)
    files = {
        "versions.tf": _versions(),
        "variables.tf": _variables(plan, names),
        "main.tf": _main(plan, names),
    }
    files.update(_policy_files(plan, names))
    return dict(sorted(files.items()))


class _Names:
    """Stable, unique Terraform names for roles, principals and assignments."""

    def __init__(self, plan: ExportPlan) -> None:
        used_roles: set[str] = set()
        self.roles = {
            r.display_name: _ident(r.display_name, used_roles) for r in plan.desired.roles
        }
        used_principals: set[str] = set()
        self.principals: dict[str, str] = {}
        for spec in plan.desired.assignments:
            pid = spec.principal_id
            if pid not in self.principals:
                label = plan.principal_name(pid).split("@")[0] or pid[:8]
                self.principals[pid] = _ident(label, used_principals)
        self.files = {
            p.role_display_name: _ident(p.role_display_name, set()) for p in plan.desired.policies
        }
        used_assignments: set[str] = set()
        self.assignments = [
            _ident(
                f"{self.principals[a.principal_id]}_{a.role_display_name}_"
                + plan.scope_name(a.directory_scope_id),
                used_assignments,
            )
            for a in plan.desired.assignments
        ]

    def role_ref(self, plan: ExportPlan, display_name: str) -> str:
        if plan.is_builtin(display_name):
            return hcl_string(plan.role_id(display_name))
        return f"azuread_custom_directory_role.{self.roles[display_name]}.object_id"


def _versions() -> str:
    lines = [
        "terraform {",
        "  required_providers {",
        "    azuread = {",
        *_attributes(
            [("source", '"hashicorp/azuread"'), ("version", f'"{PROVIDER_VERSION}"')], "      "
        ),
        "    }",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _variables(plan: ExportPlan, names: _Names) -> str:
    lines = [
        *_comment(
            "Object ids of the principals the recommendation assigns roles to. Override "
            "them per environment (e.g. a test tenant) in a .tfvars file."
        ),
        'variable "principal_ids" {',
        *_attributes(
            [
                (
                    "description",
                    hcl_string("Principal object id by name, as in the recommendation"),
                ),
                ("type", "map(string)"),
            ]
        ),
        "  default = {",
    ]
    entries = sorted((name, pid) for pid, name in names.principals.items())
    lines += _attributes(((name, hcl_string(pid)) for name, pid in entries), "    ")
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def _main(plan: ExportPlan, names: _Names) -> str:
    rec = plan.recommendation
    blocks: list[list[str]] = [
        _comment(
            f"Generated by entra-lp from a recommendation (catalog {rec.catalog_version}, "
            f"source {rec.source}). Review before applying; see README in the export folder."
        )
        + _comment(
            "Run as a Privileged Role Administrator (the provider needs "
            "RoleManagement.ReadWrite.Directory and RoleEligibilitySchedule.ReadWrite."
            "Directory for an application identity)."
        )
    ]
    for role in plan.desired.roles:
        blocks.append(_role_block(plan, names, role.display_name))
    for policy in plan.desired.policies:
        name = policy.role_display_name
        if plan.is_builtin(name):
            text = (
                f"PIM policy of built-in role {name!r} ({plan.role_id(name)}): apply "
                f"pim_policies/{names.files[name]}.json after `terraform apply`. It applies "
                "to every holder of the role in the tenant."
            )
            blocks.append(["", *_comment(text)])
    for i, spec in enumerate(plan.desired.assignments):
        blocks.append(_assignment_block(plan, names, spec, names.assignments[i]))
    for step in plan.manual_steps:
        blocks.append(_comment(f"MANUAL STEP (not expressible here): {step.title}. {step.reason}"))
    if plan.desired.roles:
        blocks.append(_output(names))
    return "\n".join("\n".join(b) for b in blocks) + "\n"


def _role_block(plan: ExportPlan, names: _Names, display_name: str) -> list[str]:
    role = plan.desired.role(display_name)
    assert role is not None
    policy_file = f"pim_policies/{names.files[display_name]}.json"
    return [
        "",
        *_comment(
            f"PIM policy: apply {policy_file} after `terraform apply` (the azuread "
            "provider has no resource for the PIM policy of an Entra role)."
        ),
        f'resource "azuread_custom_directory_role" "{names.roles[display_name]}" {{',
        *_attributes(
            [
                ("display_name", hcl_string(role.display_name)),
                ("description", hcl_string(role.description)),
                ("enabled", "true" if role.is_enabled else "false"),
                ("version", hcl_string(plan.recommendation.catalog_version or "1.0")),
            ]
        ),
        "",
        "  permissions {",
        *_list("allowed_resource_actions", (hcl_string(a) for a in role.actions), "    "),
        "  }",
        "}",
    ]


def _assignment_block(
    plan: ExportPlan, names: _Names, spec: AssignmentSpec, name: str
) -> list[str]:
    principal = f'var.principal_ids["{names.principals[spec.principal_id]}"]'
    role = names.role_ref(plan, spec.role_display_name)
    where = plan.scope_name(spec.directory_scope_id)
    note = [f"{spec.kind.capitalize()} assignment of {spec.role_display_name!r} at {where}."]
    if spec.kind == "eligible":
        kind = "azuread_directory_role_eligibility_schedule_request"
        attrs = [
            ("role_definition_id", role),
            ("principal_id", principal),
            ("directory_scope_id", hcl_string(spec.directory_scope_id)),
            ("justification", hcl_string(spec.justification)),
        ]
        if spec.duration is not None:
            note.append(
                "The provider requests eligibility without an end date, so the proposed "
                f"limit of {spec.duration.days} days is not applied here: use the Graph "
                "bundle or PowerShell export for a time-bound eligibility."
            )
    else:
        kind = "azuread_directory_role_assignment"
        attrs = [
            ("role_id", role),
            ("principal_object_id", principal),
            ("directory_scope_id", hcl_string(spec.directory_scope_id)),
        ]
        note.append(
            "The provider creates a standing assignment without an end date"
            + (
                f" (proposed: {spec.duration.days} days; use the Graph bundle or "
                "PowerShell export for a time-bound one)."
                if spec.duration
                else "."
            )
        )
    return [
        "",
        *_comment(" ".join(note)),
        f'resource "{kind}" "{name}" {{',
        *_attributes(attrs),
        "}",
    ]


def _output(names: _Names) -> list[str]:
    entries = sorted(names.roles.items())
    return [
        "",
        *_comment(
            "Ids of the custom roles created here (they fill ${role:<name>} in the "
            "pim_policies files)."
        ),
        'output "custom_role_ids" {',
        *_attributes(
            [("description", hcl_string("Object id of each custom role, by display name"))]
        ),
        "  value = {",
        *_attributes(
            (
                (hcl_string(display), f"azuread_custom_directory_role.{ident}.object_id")
                for display, ident in entries
            ),
            "    ",
        ),
        "  }",
        "}",
    ]


def _policy_files(plan: ExportPlan, names: _Names) -> Mapping[str, str]:
    by_role: dict[str, list[GraphRequest]] = {}
    for req in graph_requests(plan):
        if req.kind in ("find_policy", "policy_rule"):
            by_role.setdefault(req.role, []).append(req)
    out = {}
    for display, reqs in by_role.items():
        doc = {
            "role": display,
            "role_definition_id": plan.role_id(display),
            "note": "The azuread provider has no resource for Entra role PIM policies: send "
            "these requests in order after terraform apply. ${role:<name>} is the role's id "
            "(terraform output custom_role_ids); ${policy:<name>} is value[0].policyId of the "
            "first request's response.",
            "requests": [r.to_file() for r in reqs],
        }
        text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        out[f"pim_policies/{names.files[display]}.json"] = text
    return out
