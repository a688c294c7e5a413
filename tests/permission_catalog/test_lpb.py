"""least_privileged_builtin: always covers, and brute force finds nothing cheaper."""

from __future__ import annotations

from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from permission_catalog import load_catalog
from permission_catalog.lpb import PRIVILEGED_WEIGHT, set_cost
from permission_catalog.roles import BuiltinRole

CAT = load_catalog()
D = "microsoft.directory"
ASSIGNABLE = sorted((r for r in CAT.roles.values() if r.assignable), key=lambda r: r.name)
WEIGHT = {a: PRIVILEGED_WEIGHT if CAT.is_privileged(a) else 1 for a in CAT.actions}
GRANTED = sorted({a.name for r in ASSIGNABLE for a in r.actions if a.condition is None})


def _unconditioned(role: BuiltinRole) -> list[str]:
    return [a.name for a in role.actions if a.condition is None]


def _brute_force(needed: list[str], max_size: int = 3) -> tuple[int, int, tuple[str, ...]] | None:
    """Best (cost, size, names) over every covering set of at most max_size assignable roles."""
    covers = {
        r.name: frozenset(n for n in needed if CAT.covers(_unconditioned(r), [n]))
        for r in ASSIGNABLE
    }
    cands = [r for r in ASSIGNABLE if covers[r.name]]
    best: tuple[int, int, tuple[str, ...]] | None = None
    for k in range(1, max_size + 1):
        for combo in combinations(cands, k):
            if len(frozenset().union(*(covers[r.name] for r in combo))) == len(needed):
                union = frozenset().union(*(CAT.role_expansion(r.id) for r in combo))
                cost = sum(WEIGHT[a] for a in union if a in WEIGHT)
                key = (cost, k, tuple(sorted(r.name for r in combo)))
                best = key if best is None or key < best else best
    return best


def test_password_reset_is_password_administrator() -> None:
    r = CAT.least_privileged_builtin([f"{D}/users/password/update"])
    assert r.role_names == ("Password Administrator",)
    assert r.cost == set_cost(CAT, r.roles)
    assert f"{D}/users/password/update" not in r.extra_actions
    assert r.covered_by == {f"{D}/users/password/update": ("Password Administrator",)}
    assert not r.uncoverable


def test_cost_definition() -> None:
    pa = CAT.role("Password Administrator")
    expanded = CAT.role_expansion(pa.id)
    expected = sum(PRIVILEGED_WEIGHT if CAT.is_privileged(a) else 1 for a in expanded)
    assert set_cost(CAT, [pa]) == expected


def test_uncoverable_actions_are_reported() -> None:
    # userInfos/* come only from the system-assigned User role (excluded; $ResourceIsSelf only)
    needed = [f"{D}/users/password/update", f"{D}/userInfos/email/read"]
    r = CAT.least_privileged_builtin(needed)
    assert r.uncoverable == {f"{D}/userInfos/email/read"}
    assert r.role_names == ("Password Administrator",)
    assert any(a.name == f"{D}/userInfos/email/read" for a in CAT.role("User").actions)


def test_only_assignable_roles_are_chosen() -> None:
    r = CAT.least_privileged_builtin([f"{D}/groups/members/update", f"{D}/users/inviteGuest"])
    assert r.roles and all(role.assignable for role in r.roles)
    assert not {"Partner Tier2 Support", "Directory Synchronization Accounts"} & set(r.role_names)


def test_empty_request() -> None:
    r = CAT.least_privileged_builtin([])
    assert r.roles == () and r.cost == 0 and not r.uncoverable


def test_unknown_action_raises() -> None:
    from permission_catalog.errors import UnknownNameError

    with pytest.raises(UnknownNameError):
        CAT.least_privileged_builtin([f"{D}/users/passwrd/update"])


def test_deterministic() -> None:
    needed = [f"{D}/groups/members/update", f"{D}/devices/disable", f"{D}/users/password/update"]
    a = CAT.least_privileged_builtin(needed)
    b = CAT.least_privileged_builtin(list(reversed(needed)))
    assert a == b


@settings(max_examples=25)
@given(st.lists(st.sampled_from(GRANTED), min_size=1, max_size=3, unique=True))
def test_result_covers_and_no_cheaper_set_exists(needed: list[str]) -> None:
    r = CAT.least_privileged_builtin(needed)
    assert not r.uncoverable
    assert CAT.covers([a for role in r.roles for a in _unconditioned(role)], needed)
    best = _brute_force(needed)
    if best is not None:
        assert r.cost <= best[0]
        if len(r.roles) <= 3:
            assert (r.cost, len(r.roles), r.role_names) == best
