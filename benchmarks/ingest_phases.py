"""Where stage 1's memory goes: peak RSS (anonymous and file-backed) per step of a DuckDB ingest.

A sampler thread reads ``/proc/self/status`` every 50 ms while ``read_audit_logs`` runs; each
step of the DuckDB engine (``entra_lp.ingest._duck`` / ``_group``) is wrapped so that every
sample is charged to the step running at that moment. Linux only (it reads ``/proc``).

Usage: ``python benchmarks/ingest_phases.py FILE_OR_FOLDER [--json OUT]``. This is a
development tool: it wraps private functions by name and is not a timed benchmark (the
sampling itself costs a little).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

_STEPS = {
    "entra_lp.ingest._duck:DuckRun": ("scan", "duplicate_hashes", "locate", "buckets", "tables"),
    "entra_lp.ingest._scan:Records": ("finish",),
    "entra_lp.ingest._group": ("_partition", "_group_slice", "_join"),
    "entra_lp.ingest.log": ("principals_frame",),
}


def _status() -> tuple[int, int]:
    """(anonymous, file-backed) resident MB of this process."""
    anon = file = 0
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                anon = int(line.split()[1]) // 1024
            elif line.startswith("RssFile:"):
                file = int(line.split()[1]) // 1024
    return anon, file


def _stack(frame: Any) -> list[str]:
    """``module:function:line`` of the project's frames, innermost last."""
    out: list[str] = []
    while frame is not None:
        code = frame.f_code
        if "entra_lp" in code.co_filename and "benchmarks" not in code.co_filename:
            name = code.co_filename.rsplit("entra_lp", 1)[1].lstrip("/")
            out.append(f"{name}:{code.co_name}:{frame.f_lineno}")
        frame = frame.f_back
    return out[::-1]


class Phases:
    """Peak (anonymous + file) RSS per step, charged to the innermost step running."""

    def __init__(self) -> None:
        self.current = ["outside the steps"]
        self.peaks: dict[str, tuple[int, int]] = {}
        self.order: list[str] = []
        self.peak_stack: list[str] = []  # where the main thread was at the overall peak
        self._peak = 0
        self._main = threading.get_ident()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            anon, file = _status()
            step = self.current[-1]
            if step not in self.peaks:
                self.order.append(step)
            if sum(self.peaks.get(step, (0, 0))) < anon + file:
                self.peaks[step] = (anon, file)
            if anon + file > self._peak:
                self._peak = anon + file
                self.peak_stack = _stack(sys._current_frames().get(self._main))
            time.sleep(0.05)

    def wrap(self, owner: Any, name: str) -> None:
        """Charge the samples taken while ``owner.name`` runs to ``name``."""
        original: Callable[..., Any] = getattr(owner, name)

        def step(*args: Any, **kwargs: Any) -> Any:
            self.current.append(name.lstrip("_"))
            try:
                return original(*args, **kwargs)
            finally:
                self.current.pop()

        setattr(owner, name, step)

    def __enter__(self) -> Phases:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.current.append("returned")
        time.sleep(0.2)
        self._stop.set()
        self._thread.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    import importlib

    from entra_lp.ingest import read_audit_logs

    phases = Phases()
    for where, names in _STEPS.items():
        module, _, cls = where.partition(":")
        owner = importlib.import_module(module)
        owner = getattr(owner, cls) if cls else owner
        for name in names:
            phases.wrap(owner, name)
    with phases:
        started = time.perf_counter()
        log = read_audit_logs(args.source, engine="duckdb")
        seconds = time.perf_counter() - started
    rows: list[dict[str, Any]] = [
        {"step": s, "anon_mb": phases.peaks[s][0], "file_mb": phases.peaks[s][1]}
        for s in phases.order]
    print(f"{'step':18} {'RSS MB':>8} {'anon':>6} {'file':>6}")
    for r in rows:
        print(f"{r['step']:18} {r['anon_mb'] + r['file_mb']:8d} {r['anon_mb']:6d} "
              f"{r['file_mb']:6d}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = {"records": log.report.records_read, "usage_rows": len(log.table),
               "seconds": round(seconds, 1), "peak_rss_mb": round(peak, 1), "steps": rows}
    summary["peak_at"] = phases.peak_stack
    print({k: v for k, v in summary.items() if k != "steps"})
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
