"""Write every export format of a recommendation into one folder, byte-for-byte reproducibly.

``export(recommendation, folder)`` writes (by default all formats)::

    README.md                  what is here, in which order to apply it, notes, manual steps
    desired_state.json         the DesiredState (for Tenant.plan / Tenant.apply)      [graph]
    graph/NNN-<kind>-<name>.json   one Graph request per file, in order           [graph]
    graph/index.json           the sequence, placeholders explained                  [graph]
    terraform/*.tf, terraform/pim_policies/*.json                                [terraform]
    powershell/Apply-Recommendation.ps1                                          [powershell]
    report.md                                                                      [markdown]
    report.html                                                                        [html]
    entra-lp-export.json       manifest: formats and the SHA-256 of every file written

Code formats are checked first (:func:`~entra_lp.export.from_recommendation.prepare_export`):
a role breaking one of Entra's rules raises :class:`RecommendationError` before any file is
written. Reports can be pseudonymised (``pseudonymize_salt``); code needs the real ids and
never is. Same inputs → same bytes: no clock, sorted JSON keys, ``\\n`` line ends.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidValueError, RecommendationError
from ..recommendation import Recommendation
from .from_recommendation import (
    ExportPlan,
    GraphRequest,
    graph_requests,
    least_privileged_scopes,
    prepare_export,
)
from .html import to_html
from .markdown import to_markdown
from .powershell import powershell_script
from .terraform import terraform_files

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog import Catalog

    from ..validate import ValidationReport

__all__ = ["FORMATS", "MANIFEST", "ExportResult", "export", "graph_files"]

FORMATS: tuple[str, ...] = ("graph", "terraform", "powershell", "markdown", "html")
"""Every format :func:`export` can write."""
_CODE = frozenset({"graph", "terraform", "powershell"})
MANIFEST = "entra-lp-export.json"


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export` wrote: the folder, the files (relative, sorted) and the notes."""

    folder: Path
    files: tuple[str, ...]
    notes: tuple[str, ...]


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _slug(text: str, limit: int = 48) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "item"


def graph_files(plan: ExportPlan) -> dict[str, str]:
    """``graph/NNN-<kind>-<name>.json`` per request plus ``graph/index.json``."""
    requests = graph_requests(plan)
    out: dict[str, str] = {}
    index = []
    for req in requests:
        name = f"graph/{req.step:03d}-{req.kind.replace('_', '-')}-{_request_slug(plan, req)}.json"
        out[name] = _dump(req.to_file())
        index.append(
            {
                "step": req.step,
                "file": name.removeprefix("graph/"),
                "method": req.method,
                "description": req.description,
            }
        )
    out["graph/index.json"] = _dump(
        {
            "base_url": "https://graph.microsoft.com/v1.0",
            "placeholders": {
                "${role:<display name>}": "id in the response of the step that created the role",
                "${policy:<display name>}": "value[0].policyId in the response of the step that "
                "looked the role's PIM policy up",
            },
            "permissions": list(least_privileged_scopes(plan)),
            "requests": index,
        }
    )
    return out


def _request_slug(plan: ExportPlan, req: GraphRequest) -> str:
    if req.kind in ("eligible", "active") and req.body:
        pid = str(req.body.get("principalId", ""))
        who = plan.principal_name(pid).split("@")[0] or pid[:8]
        return f"{_slug(req.role, 32)}-{_slug(who, 24)}"
    if req.kind == "policy_rule":
        return f"{_slug(req.role, 32)}-{_slug(req.url.rsplit('/', 1)[-1], 40)}"
    return _slug(req.role)


def _readme(
    plan: ExportPlan | None, formats: Iterable[str], rec: Recommendation, salt: str | None
) -> str:
    chosen = set(formats)
    lines = [
        "# entra-lp export",
        "",
        f"Recommendation from catalog {rec.catalog_version} ({rec.source}). Nothing here has "
        "been applied. Review the report first.",
        "",
        "## What is here",
        "",
    ]
    what = {
        "graph": "`desired_state.json` (for `Tenant.plan` / `Tenant.apply`, which are idempotent "
        "and check the tenant first) and `graph/`: one Microsoft Graph request per file, in "
        "order; `graph/index.json` explains the `${role:…}` / `${policy:…}` placeholders.",
        "terraform": "`terraform/`: custom roles and assignments for the hashicorp/azuread "
        "provider; PIM policies in `terraform/pim_policies/` as Graph requests (the provider has "
        "no resource for them). The provider creates eligibilities and active assignments "
        "without an end date: use the Graph or PowerShell export where the proposed limits "
        "must hold from day one. Apply the PIM policies after `terraform apply`.",
        "powershell": "`powershell/Apply-Recommendation.ps1`: Microsoft Graph PowerShell; run "
        "it with `-DryRun` first. Safe to run twice.",
        "markdown": "`report.md`: the recommendation explained.",
        "html": "`report.html`: the same, self-contained (no network), with charts.",
    }
    lines += [f"- {what[f]}" for f in FORMATS if f in chosen]
    if salt and chosen & {"markdown", "html"}:
        lines.append(
            "- The reports use pseudonyms for principals"
            + ("; the code and this README hold the real object ids." if plan else ".")
        )
    if plan is not None:
        lines += [
            "",
            "## Order",
            "",
            "1. Create the custom roles.",
            "2. Set each role's PIM policy (before assigning: PIM checks new assignments "
            "against the policy).",
            "3. Request the eligible and active assignments.",
            "",
            "Delegated permissions needed: "
            + ", ".join(f"`{s}`" for s in least_privileged_scopes(plan))
            + " (the signed-in user must be a Privileged Role Administrator).",
        ]
        if plan.notes:
            lines += ["", "## Notes", "", *(f"- {n}" for n in plan.notes)]
        for step in plan.manual_steps:
            lines += ["", f"## Manual step: {step.title}", "", step.reason, ""]
            lines += [f"{i}. {s}" for i, s in enumerate(step.steps, 1)]
            lines += ["", "Principals: " + ", ".join(f"`{p}`" for p in step.principal_ids)]
    return "\n".join(lines) + "\n"


def _contents(
    rec: Recommendation,
    formats: tuple[str, ...],
    catalog: Catalog | None,
    salt: str | None,
    validation: ValidationReport | None = None,
) -> tuple[dict[str, str], tuple[str, ...]]:
    plan = prepare_export(rec, catalog) if _CODE & set(formats) else None
    out: dict[str, str] = {}
    if plan is not None:
        if "graph" in formats:
            out["desired_state.json"] = plan.desired.to_json() + "\n"
            out.update(graph_files(plan))
        if "terraform" in formats:
            out.update({f"terraform/{k}": v for k, v in terraform_files(plan).items()})
        if "powershell" in formats:
            out["powershell/Apply-Recommendation.ps1"] = powershell_script(plan)
    if "markdown" in formats:
        out["report.md"] = to_markdown(rec, pseudonymize_salt=salt, catalog=catalog,
                                       validation=validation)
    if "html" in formats:
        out["report.html"] = to_html(rec, pseudonymize_salt=salt, catalog=catalog,
                                     validation=validation)
    out["README.md"] = _readme(plan, formats, rec, salt)
    return out, plan.notes if plan is not None else ()


def _check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(formats))
    for f in chosen:
        if f not in FORMATS:
            from ..errors import UnknownNameError

            raise UnknownNameError("export format", f, FORMATS)
    if not chosen:
        raise InvalidValueError(f"formats: choose at least one of {', '.join(FORMATS)}")
    return chosen


def _clear_previous(folder: Path, overwrite: bool) -> None:
    """Remove what an earlier export wrote; never touch files entra-lp did not write."""
    if not folder.exists() or not any(folder.iterdir()):
        return
    manifest = folder / MANIFEST
    if not overwrite:
        raise RecommendationError(
            f"{folder}: folder is not empty; pass overwrite=True to replace an earlier export"
        )
    if not manifest.is_file():
        raise RecommendationError(
            f"{folder}: holds files entra-lp did not write (no {MANIFEST}); choose an empty folder"
        )
    try:
        previous = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RecommendationError(f"{manifest}: unreadable export manifest: {exc}") from exc
    for rel in [*previous, MANIFEST]:
        path = (folder / rel).resolve()
        if folder.resolve() in path.parents and path.is_file():
            path.unlink()


def export(
    recommendation: Recommendation,
    folder: str | Path,
    formats: Iterable[str] = FORMATS,
    *,
    catalog: Catalog | None = None,
    pseudonymize_salt: str | None = None,
    overwrite: bool = False,
    validation: ValidationReport | None = None,
) -> ExportResult:
    """Write the chosen ``formats`` of ``recommendation`` into ``folder``.

    ``validation`` (the report of :func:`~entra_lp.validate.validate` on this recommendation)
    makes the reports list its denied operations.

    Raises :class:`RecommendationError` (nothing written) when a code format is asked for and
    a role breaks one of Entra's rules, or when ``folder`` holds files (pass ``overwrite=True``
    to replace an earlier export; files entra-lp did not write are never deleted).
    """
    chosen = _check_formats(formats)
    contents, notes = _contents(recommendation, chosen, catalog, pseudonymize_salt, validation)
    root = Path(folder)
    _clear_previous(root, overwrite)
    for rel, text in sorted(contents.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    (root / MANIFEST).write_bytes(_dump(_manifest(contents, chosen, recommendation)).encode())
    return ExportResult(root, tuple(sorted(contents)), notes)


def _manifest(contents: Mapping[str, str], formats: tuple[str, ...], rec: Recommendation) -> Any:
    return {
        "catalog_version": rec.catalog_version,
        "files": sorted(contents),
        "formats": list(formats),
        "sha256": {
            k: hashlib.sha256(v.encode("utf-8")).hexdigest() for k, v in sorted(contents.items())
        },
        "tool": "entra-lp",
    }
