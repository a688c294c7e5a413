"""The recommendation `entra-lp demo` reports on, built the same way for the report tests.

The bundled sample tenant is read (Graph form), split at its split time into a training window
and a later window, recommended on the first and validated on the second, exactly as
``entra_lp.cli.demo`` does before it writes ``report.html``. Built once per process (≈ 5 s).
"""

from __future__ import annotations

from functools import cache

from entra_lp.ingest import read_audit_logs
from entra_lp.recommend import recommend
from entra_lp.recommendation import Recommendation
from entra_lp.simulate import load_sample_tenant
from entra_lp.validate import ValidationReport, validate


@cache
def demo_validation() -> ValidationReport:
    """The demo's replay of the later window (real ingest, recommender and replay)."""
    sample = load_sample_tenant()
    split = str(sample.manifest["split_time"])
    train = read_audit_logs(sample.graph, until=split).usage()
    later = read_audit_logs(sample.graph, since=split).usage()
    rec = recommend(train, directory=sample.directory)
    return validate(rec, later, directory=sample.directory)


def demo_recommendation() -> Recommendation:
    """The validated recommendation of the demo."""
    return demo_validation().recommendation
