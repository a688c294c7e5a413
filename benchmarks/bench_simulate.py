"""Benchmark the tenant simulator: records per second and peak memory at two sizes.

Each size runs in its own child process (so peak RSS is that size's alone): it simulates the
tenant, streams the whole Graph-form log to disk (gzip level 1) and reports its throughput.
In the same child, a baseline measures what merely serialising and compressing already-built
records costs (``orjson.dumps`` of Graph dicts + gzip level 1 of the same bytes): the ratio
``simulate / baseline`` says how close generation gets to pure serialisation. The ratio of
peak RSS between ``short`` and ``large`` (same tenant, ten times the days), against the ratio
of their record counts, shows memory staying flat while records stream.

Usage: ``python benchmarks/bench_simulate.py [--quick]`` (``--quick``: smaller sizes).
Writes ``benchmarks/results/simulate.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SIZES = {"small": (500, 30), "short": (5000, 9), "large": (5000, 90)}
QUICK = {"small": (100, 14), "short": (1000, 3), "large": (1000, 30)}
BASELINE_RECORDS = 20_000


def child(admins: int, days: int) -> dict[str, Any]:
    """Simulate and write one size; measure the serialisation baseline in this process."""
    import orjson

    from entra_lp.simulate import simulate_tenant

    started = time.perf_counter()
    tenant = simulate_tenant(admins=admins, days=days, seed=1)
    truth = tenant.ground_truth
    built = time.perf_counter() - started
    folder = Path(tempfile.mkdtemp(prefix="bench_simulate_"))
    try:
        started = time.perf_counter()
        result = tenant.write(folder, formats=("graph",), gzip=True, compresslevel=1,
                              snapshot=False, truth=False)
        wrote = time.perf_counter() - started
        size = result.files["graph"].stat().st_size
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    sample = list(islice(tenant.events(), BASELINE_RECORDS))
    started = time.perf_counter()
    data = b"".join(orjson.dumps(r) + b"\n" for r in sample)
    gzip.compress(data, compresslevel=1, mtime=0)
    baseline = len(sample) / (time.perf_counter() - started)
    rate = result.records / wrote
    return {
        "admins": admins, "days": days, "records": result.records,
        "principals": len(truth.principals), "build_s": round(built, 2),
        "write_s": round(wrote, 2), "records_per_s": round(rate),
        "baseline_records_per_s": round(baseline), "ratio_vs_baseline": round(rate / baseline, 3),
        "gzip_bytes": size, "bytes_per_record": round(size / max(result.records, 1), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run(sizes: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """Every size in its own process; the table and the JSON results."""
    rows: dict[str, Any] = {}
    for name, (admins, days) in sizes.items():
        done = subprocess.run([sys.executable, __file__, "--child", str(admins), str(days)],
                              check=True, capture_output=True, text=True)
        rows[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{name}: {rows[name]}", file=sys.stderr, flush=True)
    small, short, large = rows["small"], rows["short"], rows["large"]
    return {
        "benchmark": "simulate",
        "command": "python benchmarks/bench_simulate.py" + (" --quick" if sizes == QUICK else ""),
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "sizes": rows,
        "records_ratio_large_over_small": round(large["records"] / small["records"], 2),
        "rss_ratio_large_over_small": round(large["peak_rss_mb"] / small["peak_rss_mb"], 2),
        # Same tenant, ten times the window: memory must not follow the record count.
        "records_ratio_large_over_short": round(large["records"] / short["records"], 2),
        "rss_ratio_large_over_short": round(large["peak_rss_mb"] / short["peak_rss_mb"], 2),
    }


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


def table(results: dict[str, Any]) -> str:
    """The printed summary."""
    head = (f"{'size':<6} {'admins':>6} {'days':>4} {'records':>10} {'rec/s':>8} "
            f"{'baseline/s':>10} {'ratio':>6} {'B/rec':>6} {'peak RSS MB':>11}")
    lines = [head, "-" * len(head)]
    for name, r in results["sizes"].items():
        lines.append(f"{name:<6} {r['admins']:>6} {r['days']:>4} {r['records']:>10,} "
                     f"{r['records_per_s']:>8,} {r['baseline_records_per_s']:>10,} "
                     f"{r['ratio_vs_baseline']:>6.2f} {r['bytes_per_record']:>6.0f} "
                     f"{r['peak_rss_mb']:>11.0f}")
    lines.append(f"large/small: records x{results['records_ratio_large_over_small']}, peak RSS "
                 f"x{results['rss_ratio_large_over_small']} (the tenant is 10x larger)")
    lines.append(f"large/short (same tenant): records x{results['records_ratio_large_over_short']}"
                 f", peak RSS x{results['rss_ratio_large_over_short']}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--child", nargs=2, type=int, metavar=("ADMINS", "DAYS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    results = run(QUICK if args.quick else SIZES)
    out = HERE / "results" / "simulate.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
