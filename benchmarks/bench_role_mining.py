"""Role-mining benchmark: HP Labs relations + synthetic scale cases.

Usage: python benchmarks/bench_role_mining.py [DATASET_DIR] [--repeat N] [--skip-baseline]

For each relation: exact mode (roles, lower bound, proven?, time), heuristic mode (roles,
time), exact with each ILP backend (HiGHS, CP-SAT), and the straightforward baseline
(all maximal bicliques of the raw relation, then one set-cover ILP with HiGHS) measured in
the same process. Times are medians of ``--repeat`` runs. Writes
benchmarks/results/role_mining.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from entra_lp.mining import RoleMiner, pareto_front, read_upa  # noqa: E402

HP = {  # name: (file, known minimum)
    "healthcare": ("hc.txt", 14),
    "domino": ("domino.txt", 20),
    "emea": ("emea.txt", 34),
    "firewall1": ("fire1.txt", 64),
    "americas_small": ("americas_small.txt", 178),
}
BASELINE_LIMIT = 120.0  # seconds granted to the baseline ILP
CPSAT_LIMIT = 60.0  # seconds granted to CP-SAT runs


def planted_relation(
    n_users: int, n_perms: int, n_roles: int, *, seed: int, min_roles: int, extra_roles: float,
    role_size: tuple[int, int] = (3, 20),
) -> sp.csr_matrix:
    """Users x permissions from hidden roles: permissions and roles drawn with Zipf-like
    popularity, each user holding ``min_roles + Poisson(extra_roles)`` roles."""
    rng = np.random.default_rng(seed)
    perm_pop = 1.0 / np.arange(1, n_perms + 1) ** 0.6
    perm_pop /= perm_pop.sum()
    shuffle = rng.permutation(n_perms)
    roles = [
        shuffle[rng.choice(n_perms, size=int(rng.integers(*role_size, endpoint=True)),
                           replace=False, p=perm_pop)]
        for _ in range(n_roles)
    ]
    role_pop = 1.0 / np.arange(1, n_roles + 1) ** 0.8
    role_pop /= role_pop.sum()
    rows, cols = [], []
    for u in range(n_users):
        k = min(n_roles, min_roles + int(rng.poisson(extra_roles)))
        held = rng.choice(n_roles, k, replace=False, p=role_pop)
        perms = np.unique(np.concatenate([roles[r] for r in held]))
        rows.append(np.full(perms.size, u))
        cols.append(perms)
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.ones(r.size, bool), (r, c)), shape=(n_users, n_perms))


SYNTHETIC = {
    # 10k x 10k, ~240k assignments; some users hold a single role.
    "synthetic_10k": {"n_users": 10_000, "n_perms": 10_000, "n_roles": 800, "seed": 1,
                      "min_roles": 1, "extra_roles": 1.0},
    # No user holds a single role: the union reductions cannot peel roles off.
    "synthetic_2k_no_pure": {"n_users": 2_000, "n_perms": 1_000, "n_roles": 150, "seed": 2,
                             "min_roles": 2, "extra_roles": 1.0},
}


# -- the straightforward baseline ---------------------------------------------------------


def baseline_cover_matrix(X: sp.csr_matrix) -> sp.csr_matrix:
    """Edge x maximal-biclique incidence of the raw relation (closure of the user sets
    under intersection, no reduction)."""
    X = X.tocsr()
    rows = []
    for i in range(X.shape[0]):
        b = 0
        for j in X.indices[X.indptr[i] : X.indptr[i + 1]].tolist():
            b |= 1 << j
        if b:
            rows.append(b)
    seen, order = set(rows), list(dict.fromkeys(rows))
    k = 0
    while k < len(order):
        c = order[k]
        k += 1
        for r in rows:
            x = c & r
            if x and x not in seen:
                seen.add(x)
                order.append(x)
    dense = X.toarray()
    edge = np.full(X.shape, -1, dtype=np.int64)
    nz = np.nonzero(dense)
    edge[nz] = np.arange(nz[0].size)
    nbytes = (X.shape[1] + 7) // 8
    edges, cols = [], []
    for j, c in enumerate(order):
        bits = np.unpackbits(np.frombuffer(c.to_bytes(nbytes, "little"), np.uint8),
                             bitorder="little")[: X.shape[1]]
        perms = np.flatnonzero(bits)
        users = np.flatnonzero(dense[:, perms].all(axis=1))
        e = edge[np.ix_(users, perms)].ravel()
        edges.append(e)
        cols.append(np.full(e.size, j))
    flat = np.concatenate(edges)
    return sp.csr_matrix((np.ones(flat.size), (flat, np.concatenate(cols))),
                         shape=(nz[0].size, len(order)))


def solve_highs(A: sp.csr_matrix, time_limit: float) -> tuple[int | None, bool]:
    """Set cover ILP with HiGHS (SciPy). Returns (roles, proven optimal)."""
    n = A.shape[1]
    res = milp(np.ones(n), constraints=LinearConstraint(A, lb=1, ub=np.inf),
               integrality=np.ones(n, dtype=np.int64), bounds=Bounds(0, 1),
               options={"time_limit": time_limit})
    if res.x is None:
        return None, False
    return round(float(res.x.sum())), res.status == 0


def solve_cpsat(A: sp.csr_matrix, time_limit: float) -> tuple[int | None, bool]:
    """Set cover with OR-Tools CP-SAT (one worker, as the library runs it)."""
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    x = [model.new_bool_var(f"r{j}") for j in range(A.shape[1])]
    for i in range(A.shape[0]):
        model.add_bool_or([x[j] for j in A.indices[A.indptr[i] : A.indptr[i + 1]]])
    model.minimize(sum(x))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = 1
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, False
    return round(solver.objective_value), status == cp_model.OPTIMAL


# -- measurement ----------------------------------------------------------------------------


def timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, float, list[float]]:
    """Run ``fn`` ``repeat`` times; its last result, the median and all times."""
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, statistics.median(times), times


def bench_relation(name: str, X: sp.csr_matrix, known: int | None, repeat: int,
                   baseline: bool) -> dict[str, Any]:
    exact, t_exact, all_exact = timed(lambda: RoleMiner(solver="exact").fit(X), repeat)
    heur, t_heur, _ = timed(lambda: RoleMiner(solver="heuristic").fit(X), repeat)
    cpsat, t_cpsat, _ = timed(
        lambda: RoleMiner(solver="exact", ilp_backend="cpsat", time_limit=CPSAT_LIMIT).fit(X), 1
    )
    row: dict[str, Any] = {
        "dataset": name, "users": X.shape[0], "permissions": X.shape[1], "upa": int(X.nnz),
        "known_optimum": known, "roles_exact": exact.n_roles_, "lower_bound": exact.lower_bound_,
        "optimal": exact.is_optimal_, "time_exact_s": t_exact, "times_exact_s": all_exact,
        "reduced_shape": list(exact.reduced_shape_), "components": exact.n_components_,
        "roles_heuristic": heur.n_roles_, "heuristic_lower_bound": heur.lower_bound_,
        "time_heuristic_s": t_heur, "roles_exact_cpsat": cpsat.n_roles_,
        "optimal_cpsat": cpsat.is_optimal_, "time_exact_cpsat_s": t_cpsat,
        "wsc": exact.wsc_,
    }
    if baseline:
        A, t_enum, _ = timed(lambda: baseline_cover_matrix(X), 1)
        (roles, proven), t_ilp, _ = timed(lambda: solve_highs(A, BASELINE_LIMIT), 1)
        (c_roles, c_proven), t_cp, _ = timed(lambda: solve_cpsat(A, CPSAT_LIMIT), 1)
        t_base = t_enum + t_ilp
        row.update(baseline_bicliques=A.shape[1], baseline_roles=roles, baseline_optimal=proven,
                   time_baseline_s=t_base, time_baseline_enum_s=t_enum,
                   time_baseline_ilp_highs_s=t_ilp, baseline_cpsat_roles=c_roles,
                   baseline_cpsat_optimal=c_proven, time_baseline_ilp_cpsat_s=t_cp,
                   speedup_vs_baseline=t_base / t_exact if t_exact > 0 else None)
    print(f"  {name}: done", file=sys.stderr, flush=True)
    return row


PARETO_LAMS = (0.001, 0.01, 0.1, 1.0, 10.0)


def bench_pareto(name: str, X: sp.csr_matrix, repeat: int) -> dict[str, Any]:
    """Risk-weighted trade-off: weights uniform in [0, 3) (seed 0), cap 2.0."""
    w = np.random.default_rng(0).uniform(0.0, 3.0, X.shape[1])
    pts, t, _ = timed(lambda: pareto_front(X, PARETO_LAMS, risk_weights=w, max_over_risk=2.0),
                      repeat)
    points = [(p.lam, p.n_roles, round(p.weighted_over_assignment, 3)) for p in pts]
    print(f"  pareto {name}: {t:.3f} s  (lam, roles, weighted over) {points}", flush=True)
    return {"dataset": name, "time_s": t, "points": points}


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (f"{'dataset':<22}{'users':>7}{'perms':>7}{'|UPA|':>8}{'roles':>7}{'LB':>6}{'opt':>5}"
            f"{'exact s':>9}{'cpsat s':>9}{'heur':>6}{'heur s':>8}{'base s':>9}{'x base':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        base = r.get("time_baseline_s")
        ratio = r.get("speedup_vs_baseline")
        print(f"{r['dataset']:<22}{r['users']:>7}{r['permissions']:>7}{r['upa']:>8}"
              f"{r['roles_exact']:>7}{r['lower_bound']:>6}{'yes' if r['optimal'] else 'no':>5}"
              f"{r['time_exact_s']:>9.3f}{r['time_exact_cpsat_s']:>9.3f}{r['roles_heuristic']:>6}"
              f"{r['time_heuristic_s']:>8.3f}{'-' if base is None else f'{base:.2f}':>9}"
              f"{'-' if ratio is None else f'{ratio:.0f}x':>8}")


def print_solver_table(rows: list[dict[str, Any]]) -> None:
    """The baseline ILP (all maximal bicliques, no reduction) under both solvers."""
    rows = [r for r in rows if "time_baseline_ilp_highs_s" in r]
    if not rows:
        return
    print(f"\n{'baseline ILP':<22}{'bicliques':>10}{'HiGHS s':>9}{'opt':>5}"
          f"{'CP-SAT s':>10}{'opt':>5}")
    for r in rows:
        print(f"{r['dataset']:<22}{r['baseline_bicliques']:>10}"
              f"{r['time_baseline_ilp_highs_s']:>9.3f}{'yes' if r['baseline_optimal'] else 'no':>5}"
              f"{r['time_baseline_ilp_cpsat_s']:>10.3f}"
              f"{'yes' if r['baseline_cpsat_optimal'] else 'no':>5}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = REPO.parent / "shared" / "datasets" / "rolemining"
    parser.add_argument("folder", nargs="?", default=str(default))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    if folder.is_dir():
        for name, (file, known) in HP.items():
            X = read_upa(folder / file)
            rows.append(bench_relation(name, X, known, args.repeat, not args.skip_baseline))
    else:
        print(f"{folder} not found: HP relations skipped", file=sys.stderr)
    if not args.skip_synthetic:
        for name, params in SYNTHETIC.items():
            X = planted_relation(**params)  # type: ignore[arg-type]
            rows.append(bench_relation(name, X, None, args.repeat, baseline=False))
    print_table(rows)
    print_solver_table(rows)
    pareto = []
    if folder.is_dir():
        pareto.append(bench_pareto("americas_small", read_upa(folder / "americas_small.txt"),
                                   args.repeat))
    if not args.skip_synthetic:
        pareto.append(bench_pareto("synthetic_10k", planted_relation(**SYNTHETIC["synthetic_10k"]),
                                   1))
    hp_rows = [r for r in rows if r["dataset"] in HP]
    summary = {
        "hp_exact_total_s": sum(r["time_exact_s"] for r in hp_rows),
        "hp_exact_cpsat_total_s": sum(r["time_exact_cpsat_s"] for r in hp_rows),
        "hp_all_proven": all(
            r["optimal"] and r["roles_exact"] == r["known_optimum"] for r in hp_rows
        ),
        "hp_baseline_total_s": sum(r.get("time_baseline_s", 0.0) for r in hp_rows),
        "hp_heuristic_max_gap": max(
            (r["roles_heuristic"] / r["known_optimum"] - 1 for r in hp_rows), default=None),
        "hp_heuristic_max_s": max((r["time_heuristic_s"] for r in hp_rows), default=None),
    }
    print(json.dumps(summary, indent=1))
    out = {
        "summary": summary, "rows": rows, "pareto": pareto, "repeat": args.repeat,
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    path = REPO / "benchmarks" / "results" / "role_mining.json"
    path.write_text(json.dumps(out, indent=1, default=float) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
