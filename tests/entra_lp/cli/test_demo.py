"""``entra-lp demo`` end to end: the installed console script, then a re-run in process."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from entra_lp.cli import app
from entra_lp.recommendation import Recommendation

SCRIPT = Path(sys.executable).with_name("entra-lp")


def test_demo_writes_report_and_exports_and_reruns_identically(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(SCRIPT), "demo", "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
    )
    assert proc.returncode == 0, proc.stderr  # the demo reports coverage; it gates only on request
    assert proc.stderr == ""  # not a terminal: no progress bars, no notes
    data = json.loads(proc.stdout)

    rec = Recommendation.load(out / "recommendation.json")
    assert rec.metrics is not None and rec.metrics.current is not None
    coverage = rec.metrics.proposed.coverage
    assert coverage is not None and data["validation"]["coverage"] == coverage
    assert data["validation"]["passed"] == (coverage >= 0.995)
    assert data["report"] == str(out / "report.html")
    roles = data["recommendation"]["roles"]
    assert sum(roles.values()) == len(rec.roles)
    before, after = data["recommendation"]["before_after"]["over_privilege"]
    assert before == rec.metrics.current.over_privilege
    assert after == rec.metrics.proposed.over_privilege

    html = (out / "report.html").read_text(encoding="utf-8")
    assert all(r.display_name.replace("&", "&amp;") in html for r in rec.roles)
    # the reports list what the replay denied, and the summary counts distinct rights
    denied = data["validation"]["denied"]
    assert f'<h2>Denied on replay ({data["validation"]["denied_operations"]})</h2>' in html
    md = (out / "report.md").read_text(encoding="utf-8")
    assert all(f"`{d['action']}`" in md.split("## Denied on replay", 1)[1] for d in denied)
    rights = {(i.principal_id, i.action if i.action != "*" else i.held_via)
              for i in rec.attestation}
    assert data["recommendation"]["attestation"] == len(rights)
    manifest = json.loads((out / "entra-lp-export.json").read_text(encoding="utf-8"))
    assert set(manifest["formats"]) == {"graph", "terraform", "powershell", "markdown", "html"}
    for rel, digest in manifest["sha256"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest
    first = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    # Same inputs, same folder: the human summary, and byte-identical files.
    gate = f"{min(coverage + 0.0001, 1.0):.6f}"  # a threshold just above: a finding, exit 1
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--min-coverage", gate],
                             env={"COLUMNS": "200"})
    assert res.exit_code == (1 if coverage < 1.0 else 0), res.output
    assert "coverage" in res.stdout and str(out / "report.html") in res.stdout
    assert f"{coverage:.2%}" in res.stdout
    again = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert again == first
