"""Benchmark the permission catalog: cold load, implication closure, least-privileged search.

Cold load runs in fresh interpreters (``python -c``) so nothing is cached; its baseline is the
bare stdlib ``json`` parse of the same data files in that same fresh interpreter, so the ratio
says what building the catalog costs on top of reading its bytes. The target is an absolute
< 200 ms cold load (reported, not asserted). Writes ``benchmarks/results/catalog.json``.

    python benchmarks/bench_catalog.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_COLD = """
import time, json, pathlib
t0 = time.perf_counter()
for name in ("manifest.json", "roles_2026-05-04.json", "actions.json", "scope_rules.json"):
    json.loads((pathlib.Path({data!r}) / name).read_text())
t1 = time.perf_counter()
from permission_catalog import load_catalog
cat = load_catalog()
t2 = time.perf_counter()
print(t1 - t0, t2 - t1, len(cat.actions))
"""


def cold_load(repeat: int) -> tuple[float, float]:
    """Median (baseline json parse, catalog import + load) seconds over fresh interpreters."""
    data = str(ROOT / "permission_catalog" / "data")
    base, load = [], []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", _COLD.format(data=data)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.split()
        base.append(float(out[0]))
        load.append(float(out[1]))
    return statistics.median(base), statistics.median(load)


def timed(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0


def warm_queries() -> dict[str, float]:
    """In-process timings: implication closure, classification, least-privileged searches."""
    from permission_catalog.catalog import Catalog

    cat = Catalog.from_data_dir()
    names = list(cat.actions)
    out = {"implied_closure_all_s": timed(lambda: [cat.implied(n) for n in names])}
    out["classify_all_s"] = timed(lambda: [cat.classify(n) for n in names])
    out["lpb_first_call_s"] = timed(lambda: cat.least_privileged_builtin([names[0]]))
    tasks = [list(t.actions) for t in cat.tasks.values()] or [[n] for n in names[:50]]
    per = [timed(lambda a=a: cat.least_privileged_builtin(a)) for a in tasks]
    out["lpb_tasks"] = float(len(per))
    out["lpb_median_s"] = statistics.median(per)
    out["lpb_max_s"] = max(per)
    big = sorted(
        {
            a.name
            for r in cat.roles.values()
            if r.assignable
            for a in r.actions
            if a.name.startswith("microsoft.directory/") and a.condition is None
        }
    )[::12]
    out["lpb_big_request_actions"] = float(len(big))
    out["lpb_big_request_s"] = timed(lambda: cat.least_privileged_builtin(big))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    base, load = cold_load(args.repeat)
    results: dict[str, float] = {
        "cold_json_parse_baseline_s": base,
        "cold_load_s": load,
        "cold_load_ratio_vs_json_parse": load / base,
    }
    results.update(warm_queries())
    print(f"{'measure':<34}{'value':>14}")
    for key, value in results.items():
        shown = f"{value * 1000:10.1f} ms" if key.endswith("_s") else f"{value:13.2f}"
        print(f"{key:<34}{shown:>14}")
    print(f"cold load < 200 ms: {'yes' if load < 0.2 else 'NO'}")
    out = HERE / "results" / "catalog.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
