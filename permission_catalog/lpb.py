"""Least-privileged built-in roles: the exact least privileged set of built-in roles for actions.

What "least privileged" means
-----------------------------
A role set grants *grant items*: every catalog action one of its grants implies (the expanded
union, each action once, conditioned grants included), with two refinements below. Each item is a
change or a read (:func:`action_class`) and has a weight: :data:`PRIVILEGED_WEIGHT` when Microsoft
labels the action privileged (our control tier where it gives no label, ``Catalog.is_privileged``),
else 1.

The privilege of a role set is :class:`Privilege` ``(changes, reads)``: the summed weights of its
change items and of its read items, compared lexicographically. Any extra change outweighs any
number of reads, so a read task goes to a role that only reads whenever one covers it; among
change-equal sets the one reading less wins. Among sets of equal privilege, fewer roles win, then
the sorted names that come first. ``LeastPrivilegedResult.cost`` is the same pair as one integer
(mixed radix over the catalog's totals, :func:`set_cost`): integer order is privilege order.

Grants are priced as what they grant:

* Workload-wide grants. Outside ``microsoft.directory`` an ``allEntities`` action
  (``microsoft.office365.sharePoint/allEntities/allTasks``) administers or reads a whole Microsoft
  service whose actions the catalog cannot enumerate: it weighs :data:`WORKLOAD_UNITS` times more.
  Operational workloads (support tickets, service health, messages:
  ``classify.OPERATIONAL_WORKLOADS``) are requests to Microsoft and notices that change nothing in
  the tenant: they count as one read.
* Target reach. Entra decides per *role* which users a holder may act on with some actions
  (:func:`target_matrix`: password reset, refresh tokens and authentication methods follow
  Microsoft's password-reset matrix; disable, enable, delete, restore and user principal name
  follow its sensitive-action matrix; both are ``Catalog.privileged_targets``). Such an action
  counts once per matrix row (kind of target user) the role may act on: resetting every password,
  Global Administrators' included, is more than resetting non-admins' passwords.
* Unseen administration. A role whose actions change nothing, yet whose description does not
  present it as a reader (``BuiltinRole.described_as_reader``), holds power a service grants
  outside its actions (Kaizala Administrator, Azure AD Joined Device Local Administrator): one
  extra change item of weight :data:`WORKLOAD_UNITS`.

Candidates
----------
Only assignable roles (``BuiltinRole.assignable``, see :mod:`permission_catalog.roles`): not
system-assigned, disabled, deprecated or reserved for a Microsoft service, and granting something.
``for_principal="user"`` (the default) also leaves out roles Microsoft describes as meant for
applications and not for users (``BuiltinRole.applications_only``: Directory Writers);
``for_principal="application"`` keeps them.

Target tiers (``targets=``)
---------------------------
With ``targets`` given, a role covers a target-restricted action only when its matrix lets it act
on every kind of user in the targets (:func:`target_rows`):

* ``"non_admins"``: users without an admin role;
* ``"limited_admins"``: those, and holders of the roles the matrix names that Microsoft does not
  label privileged (Directory Readers, Groups Administrator, Guest Inviter...);
* ``"privileged_admins"``: every row: holders of privileged roles or of roles the matrix does not
  name, members of role-assignable groups, admins of restricted-management administrative units;
* or an iterable of matrix row names (``["Helpdesk Administrator"]``).

``targets=None`` (the default) restricts nothing. The matrices describe tenant-scope assignments:
at administrative-unit scope Entra refuses these actions on every admin.

Exact solution
--------------
A 0-1 integer programme solved by HiGHS (``scipy.optimize.milp``): x_r ∈ {0,1} per candidate
role, y_i ∈ [0,1] per grant item, y_i ≥ x_r for every item of role r, Σ_{r covers n} x_r ≥ 1 per
needed action n. It is solved lexicographically, one integer objective at a time (change weight,
read weight, number of roles), each stage keeping the optima of the previous ones, so no objective
mixes magnitudes. All optimal sets are then enumerated with no-good cuts and the first by sorted
role names wins: the answer never depends on the solver's path.

Before solving, roles that cannot be in an optimum are dropped: a role covering nothing needed; a
role more privileged alone than the least privileged single role covering everything (a set is at
least as privileged as each member); a duplicate (same coverage and items) of a role with a
smaller name.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .actions import parse_action
from .classify import OPERATIONAL_WORKLOADS
from .errors import CatalogError, InvalidValueError, UnknownNameError

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog
    from .roles import BuiltinRole

__all__ = [
    "PRINCIPALS",
    "PRIVILEGED_WEIGHT",
    "PRIVILEGE_CLASSES",
    "TARGET_TIERS",
    "WORKLOAD_UNITS",
    "LeastPrivilegedResult",
    "Privilege",
    "action_class",
    "grant_items",
    "least_privileged_builtin",
    "privilege_of",
    "roles_acting_on",
    "set_cost",
    "target_matrix",
    "target_rows",
    "uncovered_by",
]

PRIVILEGE_CLASSES = ("changes", "reads")
"""Classes of grant items, most significant first (module docstring)."""

PRIVILEGED_WEIGHT = 5
"""Weight of an action Microsoft labels privileged (our control tier where it gives no label)."""

WORKLOAD_UNITS = 10
"""Weight multiplier of a workload-wide grant, which stands for a whole service."""

PRINCIPALS = ("user", "application")
"""Kinds of principal a role set is proposed for (``for_principal``)."""

PASSWORD_MATRIX = "who_can_reset_passwords"
SENSITIVE_MATRIX = "who_can_perform_sensitive_actions"
NON_ADMIN_ROW = "User (no admin role)"
TARGET_TIERS = ("non_admins", "limited_admins", "privileged_admins")
"""Target tiers, each including the ones before it (module docstring)."""

MAX_TIES = 200
_DIRECTORY = "microsoft.directory"
_SENSITIVE_VERBS = frozenset({"disable", "enable", "delete", "restore"})


class Privilege(NamedTuple):
    """Weighted counts of the changes and the reads a role set grants (module docstring);
    tuple order is privilege order."""

    changes: int
    reads: int

    def describe(self) -> str:
        """One line for people, e.g. ``"changes 37, reads 12 (weighted)"``."""
        return f"changes {self.changes}, reads {self.reads} (weighted)"


_NOTHING = Privilege(0, 0)


@dataclass(frozen=True, slots=True)
class LeastPrivilegedResult:
    """Answer of :func:`least_privileged_builtin` (``Catalog.least_privileged_builtin``).

    ``cost`` is ``privilege`` as one order-preserving integer (:func:`set_cost`); ``targets`` are
    the matrix rows the roles had to be able to act on (empty: no restriction).
    """

    needed: tuple[str, ...]
    roles: tuple[BuiltinRole, ...]
    cost: int
    extra_actions: frozenset[str]
    uncoverable: frozenset[str]
    covered_by: dict[str, tuple[str, ...]]
    privilege: Privilege = _NOTHING
    targets: tuple[str, ...] = ()
    for_principal: str = "user"

    @property
    def role_names(self) -> tuple[str, ...]:
        """Names of the chosen roles (sorted)."""
        return tuple(r.name for r in self.roles)


# --------------------------------------------------------------------------- privilege


def action_class(cat: Catalog, name: str) -> tuple[int, int]:
    """(index into :data:`PRIVILEGE_CLASSES`, weight) of one catalog action (module docstring)."""
    p = parse_action(name)
    if p.namespace != _DIRECTORY and p.namespace.rsplit(".", 1)[-1] in OPERATIONAL_WORKLOADS:
        return 1, 1  # requests to Microsoft and notices: nothing in the tenant changes
    units = WORKLOAD_UNITS if p.namespace != _DIRECTORY and p.resource == "allEntities" else 1
    weight = PRIVILEGED_WEIGHT if cat.is_privileged(name) else 1
    return (1 if cat.classify(name).plane == "read" else 0), weight * units


@dataclass(frozen=True, slots=True)
class _Profile:
    """Every possible grant item of a catalog with its class and weight, and each role's items
    (built once per catalog)."""

    items: tuple[str, ...]
    pos: dict[str, int]
    klass: np.ndarray
    weight: np.ndarray
    radix: tuple[int, ...]
    role_items: dict[str, frozenset[int]]


_PROFILES: weakref.WeakKeyDictionary[Catalog, _Profile] = weakref.WeakKeyDictionary()


def _unseen(role: BuiltinRole) -> str:
    """The item standing for the administration a service grants a role outside its actions."""
    return f"unseen-administration@{role.id}"


def _item_names(cat: Catalog, role: BuiltinRole) -> list[str]:
    reach = {m: [r["target_role"] for r in cat.privileged_targets[m] if role.name in r["actors"]]
             for m in (PASSWORD_MATRIX, SENSITIVE_MATRIX)}
    expansion = sorted(cat.role_expansion(role.id))
    out: list[str] = []
    for action in expansion:
        matrix = target_matrix(action)
        rows = reach[matrix] if matrix is not None else []
        out.extend([f"{action}@{row}" for row in rows] if rows else [action])
    changes = any(action_class(cat, a)[0] == 0 for a in expansion)
    if not changes and not role.described_as_reader:
        out.append(_unseen(role))
    return out


def _profile(cat: Catalog) -> _Profile:
    hit = _PROFILES.get(cat)
    if hit is not None:
        return hit
    rows = _matrix_rows(cat)
    names: list[str] = []
    pairs: list[tuple[int, int]] = []
    for action in sorted(cat.actions):
        variants = [action] + ([f"{action}@{r}" for r in rows] if target_matrix(action) else [])
        names += variants
        pairs += [action_class(cat, action)] * len(variants)
    for role in sorted(cat.roles.values(), key=lambda r: r.id):
        names.append(_unseen(role))
        pairs.append((0, WORKLOAD_UNITS))
    pos = {n: i for i, n in enumerate(names)}
    klass = np.array([k for k, _ in pairs], dtype=np.int64)
    weight = np.array([w for _, w in pairs], dtype=np.int64)
    total_reads = int(weight[klass == 1].sum())
    role_items = {
        rid: frozenset(pos[n] for n in _item_names(cat, role) if n in pos)
        for rid, role in cat.roles.items()
    }
    hit = _Profile(tuple(names), pos, klass, weight, (total_reads + 1, 1), role_items)
    _PROFILES[cat] = hit
    return hit


def _vector(prof: _Profile, indices: Iterable[int]) -> Privilege:
    idx = np.fromiter(indices, dtype=np.int64)
    sums = np.bincount(prof.klass[idx], weights=prof.weight[idx], minlength=2)
    return Privilege(round(sums[0]), round(sums[1]))


def _scalar(prof: _Profile, vector: Privilege) -> int:
    return sum(n * w for n, w in zip(vector, prof.radix, strict=True))


def privilege_of(cat: Catalog, roles: Iterable[BuiltinRole]) -> Privilege:
    """Privilege of a role set (module docstring)."""
    prof = _profile(cat)
    union: set[int] = set()
    for role in roles:
        union |= prof.role_items[role.id]
    return _vector(prof, sorted(union))


def grant_items(cat: Catalog, roles: Iterable[BuiltinRole]) -> frozenset[str]:
    """What a role set grants, as the search counts it: catalog actions, ``action@row`` for a
    target-restricted action (one per matrix row a holder may act on) and
    ``unseen-administration@<role id>`` (module docstring)."""
    prof = _profile(cat)
    return frozenset(prof.items[i] for role in roles for i in prof.role_items[role.id])


def set_cost(cat: Catalog, roles: Iterable[BuiltinRole]) -> int:
    """Privilege of a role set as one integer ordered like :func:`privilege_of`:
    ``changes × (total read weight of the catalog + 1) + reads``."""
    return _scalar(_profile(cat), privilege_of(cat, roles))


# --------------------------------------------------------------------------- target tiers


def target_matrix(action: str) -> str | None:
    """Key of the ``Catalog.privileged_targets`` matrix that decides whom ``action`` may act on,
    or None when the target's roles do not restrict it."""
    p = parse_action(action)
    head = p.property_path[0] if p.property_path else ""
    if p.namespace != _DIRECTORY:
        return None
    if p.resource == "users" and head == "authenticationMethods":
        return PASSWORD_MATRIX  # reading a user's methods is restricted too, not only changing
    if p.reads:
        return None
    if p.resource == "users":
        if head == "password" or p.verb == "invalidateAllRefreshTokens":
            return PASSWORD_MATRIX
        if head == "userPrincipalName" or (not head and p.verb in _SENSITIVE_VERBS):
            return SENSITIVE_MATRIX
    if p.resource == "deletedItems" and p.subtype == "users" and p.verb == "restore":
        return SENSITIVE_MATRIX
    return None


def _tier_of_row(cat: Catalog, row: str) -> int:
    """0 non-admins, 1 limited admins (a named role not labelled privileged), 2 the rest."""
    if row == NON_ADMIN_ROW:
        return 0
    named = [r for r in cat.roles.values() if r.name == row]
    return 1 if named and named[0].is_privileged is False else 2


def _matrix_rows(cat: Catalog) -> list[str]:
    return sorted({r["target_role"] for m in (PASSWORD_MATRIX, SENSITIVE_MATRIX)
                   for r in cat.privileged_targets[m]})


def target_rows(cat: Catalog, targets: str | Iterable[str]) -> tuple[str, ...]:
    """Matrix rows (kinds of target user) that a tier of :data:`TARGET_TIERS`, or an explicit
    list of rows, stands for; sorted."""
    rows = _matrix_rows(cat)
    if isinstance(targets, str):
        if targets not in TARGET_TIERS:
            raise UnknownNameError("target tier", targets, TARGET_TIERS,
                                   hint="or pass a list of matrix rows")
        top = TARGET_TIERS.index(targets)
        return tuple(r for r in rows if _tier_of_row(cat, r) <= top)
    chosen = sorted(set(targets))
    if not chosen:
        raise InvalidValueError("targets: give a tier or at least one matrix row")
    for row in chosen:
        if row not in rows:
            raise UnknownNameError("password-reset / sensitive-action matrix row", row, rows)
    return tuple(chosen)


def roles_acting_on(cat: Catalog, matrix: str, rows: Iterable[str]) -> frozenset[str]:
    """Names of the roles the ``matrix`` lets act on every one of ``rows``."""
    table = {r["target_role"]: frozenset(r["actors"]) for r in cat.privileged_targets[matrix]}
    out: frozenset[str] | None = None
    for row in rows:
        actors = table.get(row, frozenset())
        out = actors if out is None else out & actors
    return out if out is not None else frozenset()


def _allowed(cat: Catalog, needed: list[str], rows: tuple[str, ...]) -> list[frozenset[str] | None]:
    """Per needed action, the role names allowed to cover it for these targets (None: any)."""
    out: list[frozenset[str] | None] = []
    for name in needed:
        matrix = target_matrix(name) if rows else None
        out.append(None if matrix is None else roles_acting_on(cat, matrix, rows))
    return out


def _may_cover(allowed: frozenset[str] | None, role: BuiltinRole) -> bool:
    return allowed is None or role.name in allowed


def uncovered_by(
    cat: Catalog,
    roles: Iterable[BuiltinRole],
    actions: Iterable[str],
    *,
    targets: str | Iterable[str] | None = None,
) -> frozenset[str]:
    """The ``actions`` a role set does not cover (unconditioned grants only), honouring
    ``targets`` as the search does; used to check a documented answer."""
    from .catalog import _GrantIndex

    needed = sorted({cat.action(a).name for a in actions})
    rows = () if targets is None else target_rows(cat, targets)
    indices = [(r, _GrantIndex(a.grant for a in r.actions if a.condition is None)) for r in roles]
    return frozenset(
        n for n, ok in zip(needed, _allowed(cat, needed, rows), strict=True)
        if not any(_may_cover(ok, role) and index.covers(n) for role, index in indices)
    )


# --------------------------------------------------------------------------- candidates


@dataclass(frozen=True, slots=True)
class _Candidate:
    role: BuiltinRole
    covers: frozenset[int]
    items: frozenset[int]
    privilege: Privilege


def _candidates(
    cat: Catalog, needed: list[str], rows: tuple[str, ...], for_principal: str
) -> list[_Candidate]:
    from .catalog import _GrantIndex

    prof = _profile(cat)
    allowed = _allowed(cat, needed, rows)
    out: list[_Candidate] = []
    for role in sorted(cat.roles.values(), key=lambda r: r.name):
        if not role.assignable or (role.applications_only and for_principal == "user"):
            continue
        index = _GrantIndex(a.grant for a in role.actions if a.condition is None)
        covers = frozenset(
            i for i, n in enumerate(needed) if _may_cover(allowed[i], role) and index.covers(n)
        )
        if covers:
            items = prof.role_items[role.id]
            out.append(_Candidate(role, covers, items, _vector(prof, sorted(items))))
    return out


def _prune(cands: list[_Candidate], n_needed: int) -> list[_Candidate]:
    full = set(range(n_needed))
    singles = [c.privilege for c in cands if c.covers == full]
    if singles:
        bound = min(singles)
        cands = [c for c in cands
                 if c.privilege < bound or (c.privilege == bound and c.covers == full)]
    seen: set[tuple[frozenset[int], frozenset[int]]] = set()
    kept: list[_Candidate] = []
    for c in cands:  # sorted by name: the first of identical roles wins the tie-break anyway
        key = (c.covers, c.items)
        if key not in seen:
            seen.add(key)
            kept.append(c)
    return kept


# --------------------------------------------------------------------------- entry point


def least_privileged_builtin(
    cat: Catalog,
    actions: Iterable[str],
    *,
    targets: str | Iterable[str] | None = None,
    for_principal: str = "user",
) -> LeastPrivilegedResult:
    """The least privileged set of built-in roles covering ``actions`` (module docstring).

    ``targets``: a tier of :data:`TARGET_TIERS` or matrix rows the roles must be able to act on
    (None: no restriction). ``for_principal``: ``"user"`` or ``"application"``. Actions no
    eligible role covers are returned in ``uncoverable``; every other action is covered.
    """
    if for_principal not in PRINCIPALS:
        raise UnknownNameError("principal kind", for_principal, PRINCIPALS)
    needed = sorted({cat.action(a).name for a in actions})
    rows = () if targets is None else target_rows(cat, targets)
    cands = _candidates(cat, needed, rows, for_principal)
    coverable = sorted({i for c in cands for i in c.covers})
    uncoverable = frozenset(needed[i] for i in range(len(needed)) if i not in set(coverable))
    if not coverable:
        return LeastPrivilegedResult(tuple(needed), (), 0, frozenset(), uncoverable, {},
                                     _NOTHING, rows, for_principal)
    remap = {old: new for new, old in enumerate(coverable)}
    cands = [
        _Candidate(c.role, frozenset(remap[i] for i in c.covers), c.items, c.privilege)
        for c in cands
    ]
    chosen = _solve(_prune(cands, len(coverable)), len(coverable), _profile(cat))
    roles = tuple(sorted((c.role for c in chosen), key=lambda r: r.name))
    return _result(cat, needed, roles, uncoverable=uncoverable, rows=rows,
                   for_principal=for_principal)


def _result(
    cat: Catalog,
    needed: list[str],
    roles: tuple[BuiltinRole, ...],
    *,
    uncoverable: frozenset[str],
    rows: tuple[str, ...],
    for_principal: str,
) -> LeastPrivilegedResult:
    from .catalog import _GrantIndex

    granted = frozenset(a for r in roles for a in cat.role_expansion(r.id))
    indices = [(r, _GrantIndex(a.grant for a in r.actions if a.condition is None)) for r in roles]
    covered_by = {
        n: tuple(r.name for r, index in indices if _may_cover(ok, r) and index.covers(n))
        for n, ok in zip(needed, _allowed(cat, needed, rows), strict=True)
        if n not in uncoverable
    }
    vector = privilege_of(cat, roles)
    return LeastPrivilegedResult(
        needed=tuple(needed),
        roles=roles,
        cost=_scalar(_profile(cat), vector),
        extra_actions=granted - cat.expand(needed),
        uncoverable=uncoverable,
        covered_by=covered_by,
        privilege=vector,
        targets=rows,
        for_principal=for_principal,
    )


# --------------------------------------------------------------------------- the MILP


class _Model:
    """The covering programme of the module docstring, solved one objective at a time."""

    def __init__(self, cands: list[_Candidate], n_needed: int, prof: _Profile) -> None:
        from scipy.sparse import coo_array

        self.cands, self.prof = cands, prof
        self.items = np.array(sorted({i for c in cands for i in c.items}), dtype=np.int64)
        col = {int(a): len(cands) + j for j, a in enumerate(self.items)}
        self.n_r, self.n_var = len(cands), len(cands) + len(self.items)
        rows: list[int] = []
        cols: list[int] = []
        for k in range(n_needed):  # cover: Σ x_r ≥ 1
            for r, c in enumerate(cands):
                if k in c.covers:
                    rows.append(k)
                    cols.append(r)
        vals = [1.0] * len(rows)
        link = n_needed
        for r, c in enumerate(cands):  # y_i - x_r ≥ 0
            for item in sorted(c.items):
                rows += [link, link]
                cols += [col[item], r]
                vals += [1.0, -1.0]
                link += 1
        self.base = coo_array((vals, (rows, cols)), shape=(link, self.n_var)).tocsr()
        self.lower = np.concatenate([np.ones(n_needed), np.zeros(link - n_needed)])
        self.integrality = np.concatenate([np.ones(self.n_r), np.zeros(len(self.items))])
        self.extra: list[np.ndarray] = []  # rows of "≤ bound" constraints: stage optima, cuts
        self.extra_ub: list[float] = []

    def class_objective(self, klass: int) -> np.ndarray:
        weights = np.where(self.prof.klass[self.items] == klass, self.prof.weight[self.items], 0)
        return np.concatenate([np.zeros(self.n_r), weights.astype(float)])

    def roles_objective(self) -> np.ndarray:
        return np.concatenate([np.ones(self.n_r), np.zeros(len(self.items))])

    def solve(self, objective: np.ndarray) -> np.ndarray | None:
        from scipy.optimize import Bounds, LinearConstraint, milp

        constraints = [LinearConstraint(self.base, self.lower, np.inf)]
        if self.extra:
            constraints.append(
                LinearConstraint(np.vstack(self.extra), -np.inf, np.array(self.extra_ub)))
        res = milp(
            objective,
            integrality=self.integrality,
            bounds=Bounds(0, 1),
            constraints=constraints,
            options={"mip_rel_gap": 0.0, "presolve": True},
        )
        return None if res.x is None else np.asarray(res.x)

    def keep_optimum(self, objective: np.ndarray, x: np.ndarray) -> None:
        """Later stages keep this stage's optimum (integral: + 0.5 absorbs float noise)."""
        self.extra.append(objective)
        self.extra_ub.append(float(round(float(objective @ x))) + 0.5)

    def picked(self, x: np.ndarray) -> list[_Candidate]:
        return [self.cands[r] for r in range(self.n_r) if x[r] > 0.5]

    def cut(self, x: np.ndarray) -> None:
        """No-good cut: forbid exactly this role set from now on."""
        chosen = [r for r in range(self.n_r) if x[r] > 0.5]
        row = np.zeros(self.n_var)
        row[: self.n_r] = -1.0
        row[chosen] = 1.0
        self.extra.append(row)
        self.extra_ub.append(len(chosen) - 0.5)


def _solve(cands: list[_Candidate], n_needed: int, prof: _Profile) -> list[_Candidate]:
    """Lexicographic optimum (change weight, read weight, number of roles); every optimum is
    enumerated and the first by sorted role names returned."""
    full = frozenset(range(n_needed))
    if all(c.covers == full for c in cands):
        # any set of two or more is at least as privileged as its members and larger
        return [min(cands, key=lambda c: (c.privilege, c.role.name))]
    model = _Model(cands, n_needed, prof)
    objectives = [model.class_objective(k) for k in range(len(PRIVILEGE_CLASSES))]
    for objective in [o for o in objectives if o.any()] + [model.roles_objective()]:
        x = model.solve(objective)
        if x is None:
            raise CatalogError("least-privileged search: no covering role set (solver failure)")
        model.keep_optimum(objective, x)
    optima: list[list[_Candidate]] = []
    best: tuple[Privilege, int] | None = None
    x_next: np.ndarray | None = x
    while x_next is not None and len(optima) < MAX_TIES:
        picked = model.picked(x_next)
        key = (_vector(prof, sorted({i for c in picked for i in c.items})), len(picked))
        if best is None or key < best:  # every solution now ties the first; guards float noise
            best, optima = key, []
        if key == best:
            optima.append(picked)
        model.cut(x_next)
        x_next = model.solve(model.roles_objective())
    return min(optima, key=lambda s: tuple(sorted(c.role.name for c in s)))
