"""Run every ``benchmarks/bench_*.py`` script in turn (``make bench``).

Each script writes ``benchmarks/results/<topic>.json`` and prints its own table; this
runner only sequences them and stops on the first failure.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    for script in scripts:
        print(f"== {script.name}", flush=True)
        done = subprocess.run([sys.executable, str(script), *sys.argv[1:]], check=False)
        if done.returncode != 0:
            print(f"{script.name} failed with exit code {done.returncode}", file=sys.stderr)
            return done.returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
