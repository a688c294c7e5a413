"""The stage-1 memory tool still finds every engine step it wraps and charges samples to them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(),
                                reason="the tool reads /proc (Linux only)")


def test_ingest_phases_reports_the_steps(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    subprocess.run([sys.executable, str(ROOT / "benchmarks/gen_audit_records.py"), str(log),
                    "--records", "3000", "--seed", "5"], check=True, capture_output=True)
    out = tmp_path / "phases.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks/ingest_phases.py"), str(log),
                    "--json", str(out)], check=True, capture_output=True)
    figures = json.loads(out.read_text("utf-8"))
    assert figures["records"] == 3000 and figures["usage_rows"] > 0
    steps = {s["step"]: s for s in figures["steps"]}
    assert "outside the steps" in steps and "returned" in steps
    assert all(s["anon_mb"] > 0 and s["file_mb"] > 0 for s in steps.values())
    assert figures["peak_rss_mb"] >= max(s["anon_mb"] + s["file_mb"] for s in steps.values())
