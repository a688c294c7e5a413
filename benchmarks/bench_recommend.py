"""End-to-end benchmark: ingest → usage → recommend → validate on a large simulated tenant.

The simulator writes a tenant (default 2,000 admins over 121 days, about 5M Graph records,
gzip JSON lines) to a cache folder once; later runs reuse it. A fresh child process then runs,
in order, each stage on it and records its wall time and the process's peak RSS after it:

1. ingest of both windows in one scan (``read_audit_logs(..., split_at=split)``: the training
   window before the split, the later window after it);
2. usage of the training window (stage 2: activity signatures mapped, matrix built);
3. ``recommend`` (with the directory snapshot);
4. usage of the later window;
5. ``validate`` (replay of the later window).

Baseline, measured in the same process: ``orjson.loads`` over every line of the same file (the
parse floor); every stage is also given as a ratio to it. Goal (docs/dev/recommender.md):
the whole chain under 60 s and 2 GiB peak on the 2-core benchmark machine. Ingest and usage are
the ingest engineer's; recommend and validate the recommender's, reported apart so the
bottleneck shows. The load average at the start and end of the child is recorded.

Usage: ``python benchmarks/bench_recommend.py [--admins N] [--days D] [--seed S]
[--data DIR] [--out FILE]``. Writes ``benchmarks/results/recommend.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

GOAL_SECONDS = 60.0
GOAL_RSS_MB = 2048.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _orjson_floor(path: Path) -> float:
    import orjson

    started = time.perf_counter()
    with gzip.open(path, "rb") as fh:
        for line in fh:
            orjson.loads(line)
    return time.perf_counter() - started


def generate(folder: Path, admins: int, days: int, seed: int) -> dict[str, Any]:
    """Write the simulated tenant once (``manifest.json`` marks a finished folder)."""
    manifest = folder / "manifest.json"
    params = {"admins": admins, "days": days, "seed": seed}
    if manifest.exists() and json.loads(manifest.read_text())["params"] == params:
        return dict(json.loads(manifest.read_text()))
    from entra_lp.simulate import simulate_tenant

    started = time.perf_counter()
    tenant = simulate_tenant(admins=admins, days=days, seed=seed)
    result = tenant.write(folder, formats=("graph",), gzip=True, compresslevel=1)
    info = {"params": params, "records": result.records,
            "split_time": tenant.split_time.isoformat(),
            "persona_roles": tenant.ground_truth.n_persona_roles,
            "write_s": round(time.perf_counter() - started, 1)}
    manifest.write_text(json.dumps(info, indent=1) + "\n")
    return info


def child(folder: Path) -> dict[str, Any]:
    """Run and time every stage in this (fresh) process."""
    from entra_lp.directory import DirectorySnapshot
    from entra_lp.ingest import read_audit_logs
    from entra_lp.recommend import recommend
    from entra_lp.validate import validate
    from permission_catalog import load_catalog

    info = json.loads((folder / "manifest.json").read_text())
    path = folder / "graph" / "directoryAudits.jsonl.gz"
    catalog = load_catalog()
    directory = DirectorySnapshot.load(folder / "directory.json")
    floor = _orjson_floor(path)
    stages: list[dict[str, Any]] = []

    def run(name: str, owner: str, fn: Any) -> Any:
        started = time.perf_counter()
        out = fn()
        stages.append({"stage": name, "owner": owner,
                       "seconds": round(time.perf_counter() - started, 2),
                       "peak_rss_mb": round(_peak_mb(), 1)})
        return out

    inner: dict[str, float] = {}

    class _Stages(logging.Handler):  # recommend(progress=True) logs each of its stages
        def emit(self, record: logging.LogRecord) -> None:
            name, seconds = record.args  # type: ignore[misc]
            inner[str(name)] = round(float(seconds), 2)

    rec_log = logging.getLogger("entra_lp.recommend")
    rec_log.setLevel(logging.INFO)
    rec_log.addHandler(_Stages())
    split = info["split_time"]
    load_start = os.getloadavg()[0]
    log, later_log = run("ingest (both)", "ingest",
                         lambda: read_audit_logs(path, split_at=split))
    usage = run("usage (train)", "usage", lambda log=log: log.usage(catalog))
    del log
    rec = run("recommend", "recommender",
              lambda: recommend(usage, catalog, directory, progress=True))
    later = run("usage (later)", "usage", lambda log=later_log: log.usage(catalog))
    del later_log
    report = run("validate", "recommender", lambda: validate(rec, later, catalog, directory))
    for s in stages:
        s["ratio_to_orjson_floor"] = round(s["seconds"] / floor, 3)
    m = rec.metrics
    assert m is not None
    return {
        "records": info["records"], "admins": info["params"]["admins"],
        "days": info["params"]["days"], "orjson_floor_s": round(floor, 2), "stages": stages,
        "load_avg": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "total_s": round(sum(s["seconds"] for s in stages), 2),
        "recommender_s": round(sum(s["seconds"] for s in stages
                                   if s["owner"] == "recommender"), 2),
        "peak_rss_mb": round(_peak_mb(), 1),
        "recommend_stages_s": inner,
        "principals": int(usage.shape[0]), "actions": int(usage.shape[1]),
        "roles": len(rec.roles), "role_definitions": m.proposed.n_roles,
        "persona_roles": info["persona_roles"], "assignments": len(rec.assignments),
        "coverage": round(report.coverage, 5),
        "over_privilege": {"proposed": m.proposed.over_privilege,
                           "least_privileged_builtin":
                               m.baselines["least_privileged_builtin"].over_privilege,
                           "current": m.current.over_privilege if m.current else None},
    }


def _table(r: dict[str, Any]) -> None:
    print(f"{r['records']:,} records, {r['admins']} admins, {r['days']} days; "
          f"orjson floor {r['orjson_floor_s']} s; load average {r['load_avg']}")
    print(f"{'stage':<16} | {'owner':<11} | {'seconds':>8} | {'x floor':>8} | {'peak RSS MB':>11}")
    for s in r["stages"]:
        print(f"{s['stage']:<16} | {s['owner']:<11} | {s['seconds']:>8} | "
              f"{s['ratio_to_orjson_floor']:>8} | {s['peak_rss_mb']:>11}")
    print(f"total {r['total_s']} s (goal {GOAL_SECONDS:g}), recommender stages "
          f"{r['recommender_s']} s, peak RSS {r['peak_rss_mb']} MB (goal {GOAL_RSS_MB:g})")
    print("recommend stages (s): " + ", ".join(f"{k} {v}" for k, v in
                                              r["recommend_stages_s"].items()))
    print(f"roles {r['roles']} ({r['role_definitions']} definitions; persona roles "
          f"{r['persona_roles']}), coverage {r['coverage']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--admins", type=int, default=2000)
    ap.add_argument("--days", type=int, default=121)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", type=Path, default=None,
                    help="cache folder of the simulated tenant (default: under the temp dir)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "recommend.json")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return 0
    folder = args.data or Path(tempfile.gettempdir()) / "entra-lp-bench" / (
        f"recommend-{args.admins}x{args.days}-s{args.seed}")
    folder.mkdir(parents=True, exist_ok=True)
    info = generate(folder, args.admins, args.days, args.seed)
    done = subprocess.run([sys.executable, __file__, "--child", str(folder)], check=True,
                          capture_output=True, text=True, env={**os.environ})
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["generate_write_s"] = info.get("write_s")
    _table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "recommend",
        "command": "python benchmarks/bench_recommend.py " + " ".join(sys.argv[1:]),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "goal": {"seconds": GOAL_SECONDS, "peak_rss_mb": GOAL_RSS_MB},
        "result": result,
    }, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
