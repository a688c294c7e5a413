"""RoleMiner: exactness, optimality against brute force, properties, risk-weighted mode."""

from __future__ import annotations

from itertools import combinations, pairwise

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from entra_lp.errors import EntraLPError, MiningError
from entra_lp.mining import RoleMiner, pareto_front

# -- helpers (independent of the package) ---------------------------------------------


def granted_dense(miner: RoleMiner, shape: tuple[int, int]) -> np.ndarray:
    """What the fitted roles grant, rebuilt from roles_ and assignment_ alone."""
    out = np.zeros(shape, dtype=bool)
    for u, held in enumerate(miner.assignment_):
        for r in held:
            out[u, miner.roles_[int(r)]] = True
    return out


def brute_force_rank(X: np.ndarray) -> int:
    """Minimum number of all-ones rectangles covering the ones of X, by exhaustive search
    over the maximal rectangles (closures of row subsets)."""
    m, n = X.shape
    rects = set()
    for mask in range(1, 2**m):
        rows = [i for i in range(m) if mask >> i & 1]
        cols = tuple(j for j in range(n) if X[rows, j].all())
        if cols:
            full_rows = tuple(i for i in range(m) if X[i, list(cols)].all())
            rects.add((full_rows, cols))
    ones = {(int(i), int(j)) for i, j in zip(*np.nonzero(X), strict=True)}
    cells = [{(i, j) for i in r for j in c} for r, c in sorted(rects)]
    for k in range(len(ones) + 1):
        for combo in combinations(cells, k):
            if set().union(*combo) >= ones:
                return k
    raise AssertionError("unreachable: the single cells always cover")


@st.composite
def relations(draw: st.DrawFn, max_rows: int = 9, max_cols: int = 9) -> np.ndarray:
    """Random relations: half planted (users x roles x permissions), half plain noise."""
    m = draw(st.integers(1, max_rows))
    n = draw(st.integers(1, max_cols))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):
        k = draw(st.integers(1, 5))
        ua = rng.random((m, k)) < 0.4
        pa = rng.random((k, n)) < 0.4
        return np.asarray((ua.astype(int) @ pa.astype(int)) > 0, dtype=bool)
    return np.asarray(rng.random((m, n)) < draw(st.floats(0.1, 0.9)), dtype=bool)


# -- exact mode -----------------------------------------------------------------------


@given(relations(max_rows=5, max_cols=5))
@settings(max_examples=60)
def test_exact_matches_brute_force_on_small_relations(X: np.ndarray) -> None:
    miner = RoleMiner(solver="exact").fit(X)
    assert miner.n_roles_ == brute_force_rank(X)
    assert miner.is_optimal_ and miner.lower_bound_ == miner.n_roles_


@given(relations())
def test_exact_reproduces_x_and_bounds_hold(X: np.ndarray) -> None:
    miner = RoleMiner(solver="exact").fit(X)
    assert np.array_equal(granted_dense(miner, X.shape), X)
    assert miner.over_assignment_ == 0 and miner.under_assignment_ == 0
    assert 0 <= miner.lower_bound_ <= miner.n_roles_
    assert all(np.all(np.diff(r) > 0) for r in miner.roles_)  # sorted, no duplicates


@given(relations(), st.integers(0, 2**32 - 1))
def test_permuting_rows_and_columns_keeps_the_optimum(X: np.ndarray, seed: int) -> None:
    rng = np.random.default_rng(seed)
    shuffled = X[rng.permutation(X.shape[0])][:, rng.permutation(X.shape[1])]
    a = RoleMiner(solver="exact").fit(X)
    b = RoleMiner(solver="exact").fit(shuffled)
    assert a.is_optimal_ and b.is_optimal_
    assert a.n_roles_ == b.n_roles_


@given(relations())
def test_heuristic_covers_exactly_and_never_beats_the_optimum(X: np.ndarray) -> None:
    heur = RoleMiner(solver="heuristic", random_state=3).fit(X)
    exact = RoleMiner(solver="exact").fit(X)
    assert np.array_equal(granted_dense(heur, X.shape), X)
    assert heur.n_roles_ >= exact.n_roles_ >= heur.lower_bound_


def test_sparse_and_dense_inputs_agree() -> None:
    rng = np.random.default_rng(7)
    X = (rng.random((30, 12)) < 0.3).astype(np.int64)
    dense = RoleMiner().fit(X)
    sparse = RoleMiner().fit(sp.csc_matrix(X))
    assert [r.tolist() for r in dense.roles_] == [r.tolist() for r in sparse.roles_]


def test_fit_is_deterministic() -> None:
    rng = np.random.default_rng(11)
    X = ((rng.random((60, 5)) < 0.5).astype(int) @ (rng.random((5, 40)) < 0.3).astype(int)) > 0
    runs = [RoleMiner(solver=s, random_state=5).fit(X) for s in ("heuristic", "heuristic")]
    assert [r.tolist() for r in runs[0].roles_] == [r.tolist() for r in runs[1].roles_]
    assert [a.tolist() for a in runs[0].assignment_] == [a.tolist() for a in runs[1].assignment_]


def test_unions_duplicates_and_components_are_handled() -> None:
    # Two blocks (components); in the first, user 2 is the union of users 0 and 1, and
    # permissions 0/1 are duplicates. Optimum: 2 roles in block one, 1 in block two.
    X = np.zeros((5, 6), dtype=bool)
    X[0, [0, 1]] = True
    X[1, [2]] = True
    X[2, [0, 1, 2]] = True
    X[3:5, 4:6] = True
    miner = RoleMiner(solver="exact").fit(X)
    assert miner.n_roles_ == 3 and miner.is_optimal_
    # Dropping user 2 (a union) splits block one: three components remain to solve.
    assert miner.n_components_ == 3
    assert miner.reduced_shape_ == (3, 3)
    assert sorted(r.tolist() for r in miner.roles_) == [[0, 1], [2], [4, 5]]
    assert [a.tolist() for a in miner.assignment_] == [[0], [1], [0, 1], [2], [2]]


def test_empty_rows_columns_and_all_zero_relation() -> None:
    X = np.zeros((4, 3), dtype=bool)
    X[1, 2] = True
    miner = RoleMiner().fit(X)
    assert miner.n_roles_ == 1 and [a.tolist() for a in miner.assignment_] == [[], [0], [], []]
    zero = RoleMiner().fit(np.zeros((3, 3), dtype=bool))
    assert zero.n_roles_ == 0 and zero.is_optimal_ and zero.score(np.zeros((3, 3))) == 1.0


@pytest.mark.parametrize("backend", ["highs", "cpsat"])
def test_ilp_backends_solve_set_cover_exactly(backend: str) -> None:
    if backend == "cpsat":
        pytest.importorskip("ortools")
    from entra_lp.mining._setcover import solve_ilp

    rng = np.random.default_rng(21)
    for _ in range(5):
        A = rng.random((14, 10)) < 0.3
        A[np.arange(14), rng.integers(0, 10, 14)] = True  # every row coverable
        best = next(
            k for k in range(11)
            for combo in combinations(range(10), k) if A[:, list(combo)].any(axis=1).all()
        )
        out = solve_ilp(sp.csc_matrix(A), 30.0, backend, seed=0)
        assert out.optimal and out.chosen is not None
        assert out.chosen.size == best == out.bound
        assert A[:, out.chosen].any(axis=1).all()
        # A cut-off below the optimum is infeasible, which proves the optimum.
        cut = solve_ilp(sp.csc_matrix(A), 30.0, backend, seed=0, max_size=best - 1)
        assert cut.chosen is None and cut.optimal


def test_cpsat_backend_agrees_with_highs() -> None:
    pytest.importorskip("ortools")
    rng = np.random.default_rng(2)
    for _ in range(5):
        X = rng.random((12, 10)) < 0.5
        a = RoleMiner(solver="exact", ilp_backend="highs").fit(X)
        b = RoleMiner(solver="exact", ilp_backend="cpsat").fit(X)
        assert a.is_optimal_ and b.is_optimal_ and a.n_roles_ == b.n_roles_


def test_biclique_cap_falls_back_to_a_bounded_heuristic() -> None:
    rng = np.random.default_rng(4)
    X = rng.random((14, 14)) < 0.5
    capped = RoleMiner(solver="exact", max_bicliques=5).fit(X)
    full = RoleMiner(solver="exact").fit(X)
    assert np.array_equal(granted_dense(capped, X.shape), X)
    assert 1 <= capped.lower_bound_ <= full.n_roles_ <= capped.n_roles_


def test_wsc_follows_the_documented_formula() -> None:
    rng = np.random.default_rng(9)
    X = rng.random((20, 15)) < 0.3
    weights = (2.0, 0.5, 0.25, 1.0, 1.0)
    miner = RoleMiner(wsc_weights=weights).fit(X)
    n_ua = sum(len(a) for a in miner.assignment_)
    n_pa = sum(len(r) for r in miner.roles_)
    assert miner.wsc_ == 2.0 * miner.n_roles_ + 0.5 * n_ua + 0.25 * n_pa


# -- score ------------------------------------------------------------------------------


def test_score_is_the_share_of_later_pairs_allowed() -> None:
    X = np.array([[1, 1, 0], [0, 1, 1], [1, 1, 1]], dtype=bool)
    miner = RoleMiner().fit(X)
    assert miner.score(X) == 1.0
    later = X.copy()
    later[0, 2] = True  # principal 0 now uses permission 2, which its roles do not grant
    assert miner.score(later) == pytest.approx(7 / 8)


class _Usage:
    """Duck-typed UsageMatrix: to_bool(), risk_weights, actions, principals."""

    def __init__(self, dense: np.ndarray, actions: list[str], principals: list[str],
                 weights: np.ndarray) -> None:
        self._dense = dense
        self.actions = tuple(actions)
        self.risk_weights = weights
        import pandas as pd

        self.principals = pd.DataFrame({"principal_id": principals})

    def to_bool(self) -> sp.csr_matrix:
        return sp.csr_matrix(self._dense)


def test_usage_matrix_input_and_score_by_name() -> None:
    X = np.array([[1, 1, 0], [0, 0, 1]], dtype=bool)
    fitted = RoleMiner().fit(_Usage(X, ["a", "b", "c"], ["p1", "p2"], np.ones(3)))
    assert fitted.actions_ == ("a", "b", "c")
    assert sorted(fitted.role_actions_ or []) == [("a", "b"), ("c",)]
    # Later window: columns and rows reordered, one new action and one new principal.
    later = np.array([[1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 0, 1]], dtype=bool)
    usage = _Usage(later, ["c", "a", "b", "z"], ["p2", "p1", "p9"], np.ones(4))
    # Allowed: p2-c, p1-a, p1-b. Denied: p2-z (unknown action), p9-z (unknown principal).
    assert fitted.score(usage) == pytest.approx(3 / 5)


def test_usage_matrix_risk_weights_are_used() -> None:
    X = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=bool)
    # Cheap permission 0 and 1, expensive 2: merging may only over-assign 0 or 1.
    weights = np.array([0.1, 0.1, 5.0])
    miner = RoleMiner(objective="risk_weighted", lam=1.0, max_over_risk=1.0).fit(
        _Usage(X, ["a", "b", "c"], ["x", "y", "z"], weights)
    )
    over = granted_dense(miner, X.shape) & ~X
    assert not over[:, 2].any()
    assert miner.n_roles_ < RoleMiner().fit(X).n_roles_


# -- risk-weighted ----------------------------------------------------------------------


@given(relations(), st.integers(0, 2**32 - 1), st.floats(0.0, 2.0), st.floats(0.0, 3.0))
def test_risk_weighted_never_over_assigns_above_the_cap(
    X: np.ndarray, seed: int, lam: float, cap: float
) -> None:
    w = np.asarray(np.random.default_rng(seed).uniform(0, 3, X.shape[1]), dtype=float)
    miner = RoleMiner(objective="risk_weighted", lam=lam, risk_weights=w, max_over_risk=cap)
    miner.fit(X)
    G = granted_dense(miner, X.shape)
    assert not (X & ~G).any()  # nothing used is denied
    over = G & ~X
    assert (w[np.nonzero(over)[1]] <= cap).all()
    assert miner.weighted_over_assignment_ == pytest.approx(float(w[np.nonzero(over)[1]].sum()))
    assert miner.objective_value_ <= RoleMiner(solver="exact").fit(X).n_roles_ + 1e-9


@given(relations(), st.integers(0, 2**32 - 1))
def test_pareto_front_is_monotone_and_deterministic(X: np.ndarray, seed: int) -> None:
    w = np.asarray(np.random.default_rng(seed).uniform(0, 2, X.shape[1]), dtype=float)
    lams = [0.0, 0.05, 0.2, 1.0, 5.0, 100.0]
    pts = pareto_front(X, lams, risk_weights=w)
    again = pareto_front(X, list(reversed(lams)), risk_weights=w)
    assert [p.lam for p in pts] == lams
    assert [(p.n_roles, p.weighted_over_assignment) for p in pts] == [
        (p.n_roles, p.weighted_over_assignment) for p in again
    ]
    for a, b in pairwise(pts):
        assert a.n_roles <= b.n_roles
        assert a.weighted_over_assignment >= b.weighted_over_assignment - 1e-9
    # A large price of over-assignment returns an exact cover with the minimum role count.
    assert pts[-1].weighted_over_assignment == 0.0
    assert pts[-1].n_roles == RoleMiner(solver="exact").fit(X).n_roles_


# -- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("X", "needle"),
    [
        (np.array([1, 0, 1]), "2-D"),
        (np.zeros((2, 2, 2)), "2-D"),
        (np.zeros((0, 3)), "non-empty"),
        (np.array([[1, 2], [0, 1]]), "non-boolean value 2 at (row 0, column 1)"),
        (np.array([[1.0, 0.5]]), "non-boolean value 0.5"),
        (np.array([[1.0, np.nan]]), "non-boolean"),
        (np.array([["a", "b"]], dtype=object), "dtype object"),
    ],
)
def test_bad_relations_raise_mining_error(X: np.ndarray, needle: str) -> None:
    with pytest.raises(MiningError, match=None) as info:
        RoleMiner().fit(X)
    assert needle in str(info.value)
    assert isinstance(info.value, EntraLPError)


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"objective": "min_role"}, "did you mean 'min_roles'"),
        ({"solver": "exakt"}, "did you mean 'exact'"),
        ({"ilp_backend": "gurobi"}, "unknown ilp_backend"),
        ({"lam": -1.0}, "lam must be"),
        ({"lam": float("inf")}, "lam must be"),
        ({"time_limit": 0}, "time_limit"),
        ({"max_over_risk": -2}, "max_over_risk"),
        ({"wsc_weights": (1, 1, 1)}, "wsc_weights"),
        ({"max_bicliques": 0}, "max_bicliques"),
        ({"n_iter": 1.5}, "n_iter"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_bad_parameters_raise_mining_error(params: dict[str, object], needle: str) -> None:
    with pytest.raises(MiningError) as info:
        RoleMiner(**params).fit(np.eye(3, dtype=bool))  # type: ignore[arg-type]
    assert needle in str(info.value)


def test_bad_risk_weights_and_scores() -> None:
    X = np.eye(3, dtype=bool)
    with pytest.raises(MiningError, match="one value per permission"):
        RoleMiner(objective="risk_weighted", risk_weights=[1.0, 2.0]).fit(X)
    with pytest.raises(MiningError, match="risk weight of permission 1"):
        RoleMiner(objective="risk_weighted", risk_weights=[1.0, -2.0, 0.0]).fit(X)
    with pytest.raises(MiningError, match="not fitted"):
        RoleMiner().score(X)
    with pytest.raises(MiningError, match="4 principals but the miner was fitted on 3"):
        RoleMiner().fit(X).score(np.eye(4, 3, dtype=bool))


def test_sklearn_parameter_protocol() -> None:
    miner = RoleMiner(solver="heuristic", lam=0.5)
    params = miner.get_params()
    assert params["solver"] == "heuristic" and params["lam"] == 0.5
    clone = RoleMiner(**params)
    assert clone.get_params() == params
    assert clone.set_params(lam=2.0) is clone and clone.lam == 2.0
    with pytest.raises(MiningError, match="did you mean 'lam'"):
        clone.set_params(lamb=1.0)
    assert not hasattr(RoleMiner(), "roles_")  # the constructor learns nothing
    fitted = RoleMiner()
    assert fitted.fit(np.eye(2, dtype=bool)) is fitted
    assert "solver='heuristic'" in repr(miner)


def test_time_limit_returns_a_cover_with_an_honest_gap() -> None:
    rng = np.random.default_rng(12)
    X = rng.random((22, 22)) < 0.5  # random relations are the hard case for proofs
    miner = RoleMiner(solver="exact", time_limit=0.5).fit(X)
    assert np.array_equal(granted_dense(miner, X.shape), X)
    assert 1 <= miner.lower_bound_ <= miner.n_roles_ <= 22  # never worse than one per user
    assert miner.is_optimal_ == (miner.lower_bound_ == miner.n_roles_)
    assert miner.gap_ == miner.n_roles_ - miner.lower_bound_
