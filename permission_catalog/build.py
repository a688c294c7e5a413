"""Regenerate ``permission_catalog/data/`` from the upstream exports.

Usage::

    python -m permission_catalog.build [--sources DIR] [--out DIR]

``--sources`` defaults to ``../shared/sources/entra`` next to the repository; ``--out`` to this
package's ``data/``. Microsoft facts (actions, role contents, limits...) enter ``data/`` only
through this script, each output listed in ``manifest.json`` with the files it was built from:
sha256 of each input and its upstream repository / path / commit / date as recorded in the
sources' SOURCES.md. The output is deterministic (sorted keys and records, no timestamps), so a
rebuild from the same inputs changes no byte.

Outputs: ``actions.json`` (per-action facts), ``roles_<date>.json`` (one per Graph role export),
``scope_rules.json``, ``limits.json``, ``privileged_targets.json``, and, when the colleagues'
curation modules exist, ``tasks.json`` and ``audit_rules.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from . import DATA_DIR
from .actions import parse_action
from .errors import CatalogError
from .roles import compact_roles

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = DATA_DIR
DEFAULT_SOURCES = PACKAGE_DIR.parent.parent / "shared" / "sources" / "entra"
CURRENT_ROLES = "2026-05-04"
SCHEMA_VERSION = 1
_RBAC = "docs/identity/role-based-access-control/"
# Inputs whose rows do not name their article: the article SOURCES.md says they came from.
ROWLESS_ARTICLES: dict[str, tuple[str, ...]] = {
    "audit_activities.json": ("docs/identity/monitoring-health/reference-audit-activities.md",),
    "privileged_actions.json": (
        _RBAC + "permissions-reference.md",
        _RBAC + "privileged-roles-permissions.md",
    ),
}

# Our names for the limits the engine uses, each bound to the exact fact text of limits.json
# (a renamed fact upstream fails the build instead of silently dropping a limit).
NAMED_LIMITS: dict[str, str] = {
    "max_custom_roles": "Maximum custom roles per organization",
    "max_custom_role_assignments_per_principal": (
        "Maximum custom role assignments for one principal at any scope"
    ),
    "max_builtin_role_assignments_non_tenant_scope": (
        "Maximum built-in role assignments for one principal at non-tenant scope "
        "(no limit at tenant scope)"
    ),
    "role_change_propagation_minutes": (
        "Role membership changes may take effect only after up to this long (or sign-out/in)"
    ),
    "max_role_assignable_groups": "Maximum role-assignable groups per tenant",
    "max_aus_per_resource": "A resource can be a member of at most this many administrative units",
    "max_restricted_management_aus": (
        "Maximum restricted management administrative units per tenant"
    ),
    "max_conditional_access_policies": "Maximum Conditional Access policies per tenant",
    "max_owners_per_object": "Maximum owners of a single application / of a single group",
    "non_admin_object_quota": (
        "A non-admin user can create at most this many directory resources / groups"
    ),
    "pim_min_assignment_minutes": (
        "A PIM role assignment cannot be made for less than this duration"
    ),
    "pim_no_removal_minutes": (
        "A PIM role assignment cannot be removed within this time after it was made"
    ),
    "pim_activation_max_hours_range": "Activation maximum duration range",
    "pim_max_notification_recipients": "Maximum email notification recipients per PIM event",
    "pim_policy_rule_count": (
        "Each role management policy holds 17 predefined updatable rules; "
        "policies themselves read-only"
    ),
    "max_global_administrators_recommended": "Keep Global Administrators under this many",
    "max_privileged_assignments_recommended": "Keep privileged role assignments under this many",
}


def dumps(obj: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, 2-space indent, trailing newline."""
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


class Sources:
    """Reads input files once, remembering the sha256 of each for the manifest."""

    def __init__(self, root: Path) -> None:
        if not (root / "SOURCES.md").is_file():
            raise CatalogError(
                f"{root}: no SOURCES.md here; pass --sources <dir of the Entra exports>"
            )
        self.root = root
        self.sha256: dict[str, str] = {}
        self._articles = _article_table((root / "SOURCES.md").read_text(encoding="utf-8"))
        self.graph_commits = _graph_export_commits(
            (root / "SOURCES.md").read_text(encoding="utf-8")
        )

    def load(self, name: str) -> Any:
        path = self.root / name
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CatalogError(f"{path}: cannot read source ({exc.strerror})") from exc
        self.sha256[name] = hashlib.sha256(raw).hexdigest()
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise CatalogError(f"{path}: invalid JSON ({exc})") from exc

    def provenance(self, name: str, data: Any) -> dict[str, Any]:
        """Upstream origin of one input file (repo, article/path, commit, date)."""
        match = re.match(r"graph_roleDefinitions_beta_(\d{4}-\d{2}-\d{2})\.json$", name)
        if match:
            upstream = [
                {
                    "repo": "jlaundry/aadinfo",
                    "path": "info/roles.graph.json",
                    "commit": self.graph_commits.get(match.group(1)),
                    "date": match.group(1),
                }
            ]
        else:
            upstream = self._doc_provenance(name, data)
        return {"sha256": self.sha256[name], "upstream": upstream}

    def _doc_provenance(self, name: str, data: Any) -> list[dict[str, Any]]:
        pairs: set[tuple[str, str | None]] = set()
        for row in _rows(data):
            article = (
                row.get("source_article") or row.get("path") or row.get("actions_source_article")
            )
            if isinstance(article, str):
                pairs.add((article, row.get("source_commit") or row.get("commit")))
        for article in ROWLESS_ARTICLES.get(name, ()):
            pairs.add((article, self._article(article)[0]))
        return [
            {
                "repo": "MicrosoftDocs/entra-docs",
                "path": a,
                "commit": c,
                "ms_date": self._article(a)[1],
            }
            for a, c in sorted(pairs, key=lambda p: (p[0], p[1] or ""))
        ]

    def _article(self, article: str) -> tuple[str | None, str | None]:
        """(commit, ms.date) of an article in the SOURCES.md tables (include paths are relative)."""
        for path, found in self._articles.items():
            if article.startswith(path) or article.endswith("/" + path) or article == path:
                return found
        return (None, None)


def _rows(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    if isinstance(data, dict):
        rows = [data]
        for value in data.values():
            if isinstance(value, list):
                rows.extend(r for r in value if isinstance(r, dict))
        return rows
    return []


def _article_table(text: str) -> dict[str, tuple[str | None, str]]:
    """``| path | commit | ms.date |`` rows of SOURCES.md → {path: (commit, ms.date)}."""
    out: dict[str, tuple[str | None, str]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].endswith(".md") and re.match(r"\d\d/\d\d/\d{4}$", cells[2]):
            commit = cells[1] if re.fullmatch(r"[0-9a-f]{40}", cells[1]) else None
            out[cells[0]] = (commit, cells[2])
    return out


def _graph_export_commits(text: str) -> dict[str, str]:
    """{snapshot date: aadinfo commit}: the first commit named after the file on the same line."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        for m in re.finditer(r"graph_roleDefinitions_beta_(\d{4}-\d{2}-\d{2})\.json", line):
            sha = re.search(r"`([0-9a-f]{40})`", line[m.end() :])
            if sha and m.group(1) not in out:
                out[m.group(1)] = sha.group(1)
    return out


def all_role_actions(values: list[dict[str, Any]]) -> set[str]:
    """Every action string granted by a list of Graph role definitions."""
    return {
        a
        for v in values
        for p in v.get("rolePermissions") or []
        for a in p.get("allowedResourceActions") or []
    }


def build_actions(
    custom: list[dict[str, Any]],
    privileged: list[dict[str, Any]],
    labelled: list[dict[str, Any]],
    role_actions: set[str],
) -> list[dict[str, Any]]:
    """Per-action facts: custom-role pages, documented description, Microsoft's privileged label."""
    facts: dict[str, dict[str, Any]] = {}
    for name in sorted(role_actions | {row["action"] for row in custom}):
        parse_action(name)  # a malformed upstream action stops the build here
        facts[name] = {
            "name": name,
            "custom_role_ok": False,
            "custom_role_pages": [],
            "description": None,
            "is_privileged": None,
            "privileged_sources": [],
            "app_registration_scope": None,
        }
    for row in custom:
        fact = facts[row["action"]]
        fact["custom_role_ok"] = True
        fact["custom_role_pages"] = sorted({*fact["custom_role_pages"], row["source_article"]})
        fact["description"] = fact["description"] or row.get("description")
        if row.get("usable_at_app_registration_scope") is not None:
            fact["app_registration_scope"] = row["usable_at_app_registration_scope"]
    for name, source in _privileged_labels(privileged, labelled):
        if name in facts:
            facts[name]["is_privileged"] = True
            facts[name]["privileged_sources"] = sorted({*facts[name]["privileged_sources"], source})
    return list(facts.values())


def _privileged_labels(
    privileged: list[dict[str, Any]], labelled: list[dict[str, Any]]
) -> list[tuple[str, str]]:
    """(action, source) for every PRIVILEGED label in the docs extraction. An unlabelled action
    stays None (unknown), not False: the label is preview and not applied consistently."""
    out = [(row["action"], "privileged_actions.json") for row in privileged]
    for role in labelled:
        for name in role.get("privileged_labelled_actions") or []:
            out.append((name, "builtin_roles.json"))
    return out


def build_limits(facts: list[dict[str, Any]]) -> dict[str, Any]:
    """All limit facts, plus the named ones the engine reads (see NAMED_LIMITS)."""
    by_fact = {row["fact"]: row for row in facts}
    named: dict[str, Any] = {}
    for key, text in NAMED_LIMITS.items():
        row = by_fact.get(text)
        if row is None:
            raise CatalogError(f"limits.json: fact for {key!r} not found (expected text {text!r})")
        named[key] = {
            k: row.get(k)
            for k in ("value", "unit", "fact", "topic", "source_article", "source_commit")
        }
    return {"named": named, "facts": facts}


def build_scope_rules(au: dict[str, Any]) -> dict[str, Any]:
    """AU-scopable built-in roles and the entity types an AU can hold."""
    return {
        "au_member_types": sorted(au["au_supported_member_types"]),
        "au_scopable_roles": sorted(
            ({"id": r["template_id"], "name": r["name"]} for r in au["roles"]),
            key=lambda r: r["name"],
        ),
        "directory_scope_id_format": {
            "administrative_unit": au["directory_scope_id_format"],
            "tenant": "/",
            "application": "/<objectId>",
        },
    }


Hook = Callable[..., list[dict[str, Any]]]


def _hook(module: str, func: str) -> Hook | None:
    """A colleague's build hook, or None while their module does not exist yet."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise
    hook: Hook | None = getattr(mod, func, None)
    return hook


def build(sources_dir: Path, out_dir: Path, log: Callable[[str], None] = print) -> dict[str, bytes]:
    """Build every output into ``out_dir``; return {file name: bytes written}."""
    src = Sources(sources_dir)
    current = src.load(f"graph_roleDefinitions_beta_{CURRENT_ROLES}.json")["value"]
    older = src.load("graph_roleDefinitions_beta_2025-03-10.json")["value"]
    custom = src.load("custom_role_actions.json")
    au = src.load("au_scopable_roles.json")
    au_ids = [r["template_id"] for r in au["roles"]]
    outputs: dict[str, tuple[Any, list[str]]] = {}
    actions = build_actions(
        custom,
        src.load("privileged_actions.json"),
        src.load("builtin_roles.json"),
        all_role_actions(current) | all_role_actions(older),
    )
    outputs["actions.json"] = (
        {"actions": actions},
        [
            "custom_role_actions.json",
            "privileged_actions.json",
            "builtin_roles.json",
            f"graph_roleDefinitions_beta_{CURRENT_ROLES}.json",
            "graph_roleDefinitions_beta_2025-03-10.json",
        ],
    )
    for date, values in ((CURRENT_ROLES, current), ("2025-03-10", older)):
        name = f"graph_roleDefinitions_beta_{date}.json"
        outputs[f"roles_{date}.json"] = (
            {"version": date, "roles": compact_roles(values, au_ids)},
            [name, "au_scopable_roles.json"],
        )
    outputs["scope_rules.json"] = (build_scope_rules(au), ["au_scopable_roles.json"])
    outputs["limits.json"] = (build_limits(src.load("limits.json")), ["limits.json"])
    outputs["privileged_targets.json"] = (
        _privileged_targets(src.load("password_reset_and_sensitive_actions.json")),
        ["password_reset_and_sensitive_actions.json"],
    )
    known = frozenset(a["name"] for a in actions)
    _run_hooks(src, outputs, known, log)
    return _write(src, outputs, out_dir)


def _privileged_targets(data: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "who_can_reset_passwords",
        "who_can_perform_sensitive_actions",
        "sensitive_properties",
        "scope_note",
    )
    return {k: data[k] for k in keys}


def _run_hooks(
    src: Sources,
    outputs: dict[str, tuple[Any, list[str]]],
    known: frozenset[str],
    log: Callable[[str], None],
) -> None:
    curation = PACKAGE_DIR / "curation"
    tasks_hook = _hook("permission_catalog.tasks", "build_tasks_data")
    if tasks_hook is None:
        log("note: permission_catalog.tasks not found; data/tasks.json not built")
    else:
        rows = tasks_hook(curation / "tasks.yaml", src.load("tasks_least_privileged.json"), known)
        outputs["tasks.json"] = (
            {"tasks": rows},
            ["tasks_least_privileged.json", "curation/tasks.yaml"],
        )
    rules_hook = _hook("permission_catalog.audit_rules", "build_audit_rules_data")
    if rules_hook is None:
        log("note: permission_catalog.audit_rules not found; data/audit_rules.json not built")
    else:
        rows = rules_hook(curation / "audit_rules", src.load("audit_activities.json"), known)
        outputs["audit_rules.json"] = (
            {"rules": rows},
            ["audit_activities.json", "curation/audit_rules/"],
        )


def _write(
    src: Sources, outputs: dict[str, tuple[Any, list[str]]], out_dir: Path
) -> dict[str, bytes]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, bytes] = {}
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generator": "permission_catalog.build",
        "current_roles": CURRENT_ROLES,
        "outputs": {},
        "inputs": {},
    }
    for name, (payload, inputs) in sorted(outputs.items()):
        blob = dumps({"schema_version": SCHEMA_VERSION, **payload})
        written[name] = blob
        manifest["outputs"][name] = {
            "sha256": hashlib.sha256(blob).hexdigest(),
            "inputs": sorted(inputs),
        }
    for name in sorted(src.sha256):
        manifest["inputs"][name] = src.provenance(
            name, orjson.loads((src.root / name).read_bytes())
        )
    manifest["inputs"].update(_curation_inputs())
    written["manifest.json"] = dumps(manifest)
    for name, blob in written.items():
        (out_dir / name).write_bytes(blob)
    return written


def _curation_inputs() -> dict[str, Any]:
    """sha256 of our own curated YAML (hand-written inputs merged by the hooks)."""
    out: dict[str, Any] = {}
    curation = PACKAGE_DIR / "curation"
    for path in sorted(curation.rglob("*.yaml")):
        rel = path.relative_to(PACKAGE_DIR).as_posix()
        out[rel] = {
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "upstream": "entra-lp curation",
        }
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m permission_catalog.build", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--sources", type=Path, default=DEFAULT_SOURCES, help="folder of the Entra exports"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: data/)"
    )
    args = parser.parse_args(argv)
    try:
        written = build(args.sources, args.out)
    except CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, blob in sorted(written.items()):
        print(f"wrote {args.out / name} ({len(blob):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
