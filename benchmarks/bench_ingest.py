"""Ingest benchmark: stage 1 on Graph JSON lines against the orjson parse floor.

Two inputs: ``realistic`` (the tenant simulator, ``entra_lp.simulate``: a finite directory,
personas, PIM chains) and ``adversarial`` (``benchmarks/gen_audit_records.py``: every record
a fresh target, ~78% distinct usage rows). For each input and size, each repeat runs in a
fresh child process: the time of ``orjson.loads`` over every line (the floor, best of a run
before and after), the time of ``read_audit_logs`` on the same file, events/s, bytes/s and
the child's peak RSS. Medians over repeats go to ``benchmarks/results/ingest.json`` and a
table. The machine is shared: the load average is recorded with every measurement.

Usage: ``python benchmarks/bench_ingest.py [--records N] [--large M[,M2...]] [--repeats R]
[--large-repeats R]
[--inputs realistic,adversarial] [--engine auto|duckdb|python] [--data DIR] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

# Simulator records per administrator per day at volume 1.0 (measured with 2,000 admins over
# 30 days: volume 0.39 gave 505,204 records).
_PER_ADMIN_DAY = 21.6
_ADMINS, _DAYS = 2000, 30


def _baseline(path: Path) -> float:
    import orjson

    started = time.perf_counter()
    with path.open("rb") as fh:
        for line in fh:
            orjson.loads(line)
    return time.perf_counter() - started


def child(path: Path, engine: str, usage: bool = False) -> dict[str, Any]:
    """Measure one file in this (fresh) process (and stage 2 after it when ``usage``)."""
    from entra_lp.ingest import read_audit_logs
    from permission_catalog import load_catalog

    catalog = load_catalog() if usage else None

    base = _baseline(path)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    log = read_audit_logs(path, engine=engine)
    ingest = time.perf_counter() - started
    base = min(base, _baseline(path))  # before and after, so load spikes hit both sides
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    records, size = log.report.records_read, path.stat().st_size
    extra: dict[str, Any] = {}
    if usage:
        started = time.perf_counter()
        matrix = log.usage(catalog)
        extra = {"usage_s": round(time.perf_counter() - started, 3),
                 "matrix": list(matrix.shape), "targets_rows": len(matrix.targets),
                 "peak_rss_after_usage_mb": round(
                     resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    return {**extra,
        "records": records, "bytes": size, "usage_rows": len(log.table),
        "engine": log.report.engine, "notes": log.report.notes,
        "orjson_s": round(base, 3), "ingest_s": round(ingest, 3),
        "ratio": round(ingest / base, 2), "events_per_s": round(records / ingest),
        "mb_per_s": round(size / ingest / 1e6, 1), "peak_rss_mb": round(peak / 2**20, 1),
        "load_avg": round(load, 2),
    }


def _generate(kind: str, n: int, folder: Path) -> Path:
    """The input file (reused when ``folder`` already has it: generation is deterministic)."""
    if kind == "adversarial":
        from gen_audit_records import write_jsonl

        path = folder / f"adversarial_{n}.jsonl"
        if not path.exists():
            write_jsonl(path, n)
        return path
    from entra_lp.simulate import simulate_tenant
    from entra_lp.simulate.tenant import FILE_NAMES

    path = folder / f"realistic_{n}" / FILE_NAMES["graph"]
    if not path.exists():
        volume = n / (_ADMINS * _DAYS * _PER_ADMIN_DAY)
        tenant = simulate_tenant(admins=_ADMINS, days=_DAYS, seed=7, volume=volume)
        tenant.write(folder / f"realistic_{n}", formats=("graph",))
    return path


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out = dict(runs[0])
    for key in ("orjson_s", "ingest_s", "ratio", "events_per_s", "mb_per_s", "peak_rss_mb",
                "load_avg"):
        out[key] = statistics.median(r[key] for r in runs)
    out["repeats"] = len(runs)
    out["ratios"] = [r["ratio"] for r in runs]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--large", default="0",
                    help="larger sizes, comma-separated, run --large-repeats times (0: none)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--large-repeats", type=int, default=1)
    ap.add_argument("--inputs", default="realistic,adversarial")
    ap.add_argument("--engine", default="auto")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "ingest.json")
    ap.add_argument("--data", type=Path, help="keep (and reuse) the generated inputs here")
    ap.add_argument("--usage", action="store_true", help="also time log.usage() (stage 2)")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.engine, args.usage)))
        return 0
    results = []
    sizes = [args.records] + [int(n) for n in args.large.split(",") if int(n)]
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        folder = args.data or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for kind in args.inputs.split(","):
            for n in sizes:
                path = _generate(kind, n, folder)
                runs = []
                for _ in range(args.repeats if n == args.records else args.large_repeats):
                    done = subprocess.run(
                        [sys.executable, __file__, "--child", str(path), "--engine",
                         args.engine, *(["--usage"] if args.usage else [])],
                        check=True, capture_output=True, text=True)
                    runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
                results.append({"input": kind, **_median(runs)})
                if args.data is None:
                    path.unlink()
    header = ("input", "records", "MB", "rows", "orjson s", "ingest s", "ratio", "events/s",
              "MB/s", "peak RSS MB", "load")
    print(" | ".join(f"{h:>11}" for h in header))
    for r in results:
        cells = (r["input"], r["records"], round(r["bytes"] / 1e6), r["usage_rows"],
                 r["orjson_s"], r["ingest_s"], r["ratio"], r["events_per_s"], r["mb_per_s"],
                 r["peak_rss_mb"], r["load_avg"])
        print(" | ".join(f"{c:>11}" for c in cells))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "ingest", "goal_ratio": 1.5, "engine": args.engine,
        "cpus": os.cpu_count(), "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
