"""The sample tenant shipped with the package, and how to regenerate it.

``entra_lp/sample_data/contoso/`` holds one small simulated tenant for the demo, the notebooks
and the docs: ``directory.json``, ``ground_truth.json``, the whole audit log in the Graph form
(``graph/directoryAudits.jsonl.gz``), short excerpts (first days) in the Log Analytics and
Event Hub forms, and ``manifest.json`` (seed, parameters, catalog version, sha256 of every
file). ``python -m entra_lp.simulate.sample [FOLDER]`` regenerates it byte for byte from its
seed (into the package folder by default).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from entra_lp.directory import DirectorySnapshot
from entra_lp.errors import EntraLPError

from .truth import GroundTruth

__all__ = ["SAMPLE_DIR", "SAMPLE_PARAMS", "SampleTenant", "load_sample_tenant", "regenerate"]

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data" / "contoso"
"""Where the shipped sample lives."""

SAMPLE_PARAMS: dict[str, Any] = {
    "admins": 30, "days": 90, "seed": 20250303, "profile": "contoso", "volume": 0.15,
}
"""``simulate_tenant`` arguments of the shipped sample."""

EXCERPT_DAYS = 3
"""Days of the Log Analytics and Event Hub excerpts."""


@dataclass(frozen=True)
class SampleTenant:
    """Paths and parsed metadata of a written sample tenant (see the module docstring)."""

    folder: Path

    @property
    def graph(self) -> Path:
        """The full audit log, Graph form (gzip JSON lines)."""
        return self.folder / "graph" / "directoryAudits.jsonl.gz"

    @property
    def log_analytics(self) -> Path:
        """Excerpt (first days): Log Analytics portal CSV."""
        return self.folder / "log_analytics" / "AuditLogs.csv.gz"

    @property
    def event_hub(self) -> Path:
        """Excerpt (first days): Event Hub ``{"records": [...]}`` batches."""
        return self.folder / "event_hub" / "insights-logs-auditlogs.jsonl.gz"

    @cached_property
    def manifest(self) -> dict[str, Any]:
        """Seed, parameters, catalog version, record counts and sha256 per file."""
        path = self.folder / "manifest.json"
        try:
            data: dict[str, Any] = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise EntraLPError(f"{path}: cannot read the sample manifest: {exc}") from exc
        return data

    @cached_property
    def directory(self) -> DirectorySnapshot:
        """The directory snapshot."""
        return DirectorySnapshot.load(self.folder / "directory.json")

    @cached_property
    def ground_truth(self) -> GroundTruth:
        """The ground truth."""
        return GroundTruth.load(self.folder / "ground_truth.json")


def load_sample_tenant(folder: str | Path | None = None) -> SampleTenant:
    """The shipped sample tenant (or one regenerated into ``folder``)."""
    root = Path(folder) if folder is not None else SAMPLE_DIR
    if not (root / "manifest.json").is_file():
        raise EntraLPError(f"{root}: no sample tenant here (manifest.json missing); "
                           "run `python -m entra_lp.simulate.sample` to generate it")
    return SampleTenant(root)


def regenerate(folder: str | Path | None = None) -> SampleTenant:
    """Write the sample tenant into ``folder`` (default: the package's sample folder)."""
    from .tenant import simulate_tenant

    root = Path(folder) if folder is not None else SAMPLE_DIR
    tenant = simulate_tenant(**SAMPLE_PARAMS)
    full = tenant.write(root, formats=("graph",), gzip=True, compresslevel=9)
    excerpt = tenant.write(root, formats=("log_analytics", "event_hub"), gzip=True,
                           compresslevel=9, snapshot=False, truth=False,
                           first_days=EXCERPT_DAYS)
    files = {**full.sha256, **excerpt.sha256}
    manifest = {
        "generator": "entra_lp.simulate.sample",
        "regenerate": "python -m entra_lp.simulate.sample",
        "params": SAMPLE_PARAMS,
        "catalog_version": tenant.ground_truth.catalog_version,
        "start": tenant.start.isoformat(),
        "end": tenant.end.isoformat(),
        "split_time": tenant.split_time.isoformat(),
        "records": {"graph": full.records, "excerpts": excerpt.records},
        "excerpt_days": EXCERPT_DAYS,
        "files": dict(sorted(files.items())),
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n",
                                        encoding="utf-8")
    return SampleTenant(root)


def main(argv: list[str] | None = None) -> int:
    """``python -m entra_lp.simulate.sample [FOLDER]``."""
    args = sys.argv[1:] if argv is None else argv
    sample = regenerate(args[0] if args else None)
    total = sum(p.stat().st_size for p in sample.folder.rglob("*") if p.is_file())
    print(f"sample tenant written to {sample.folder} ({total / 1e6:.2f} MB, "
          f"{sample.manifest['records']['graph']} records)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
