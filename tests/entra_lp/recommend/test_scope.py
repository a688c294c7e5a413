"""Scope inference: smallest AU cover, AU share, app scope, tenant reasons, explanations."""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from entra_lp.scope import ScopeResolver, directory_scope_id, min_cover

from . import cases

RESET = "microsoft.directory/users/password/update"
MEMBERS = "microsoft.directory/groups/members/update"
CREDS = "microsoft.directory/applications/credentials/update"
SP_OWNERS = "microsoft.directory/servicePrincipals/owners/update"
CREATE = "microsoft.directory/users/create"


def _targets(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["action", "target_type", "target_id", "count"])


# ----------------------------------------------------------------------------- min_cover
def test_min_cover_prefers_fewest_sets_then_narrowest() -> None:
    sets = {"big": frozenset("abcdef"), "left": frozenset("abc"), "right": frozenset("def"),
            "mid": frozenset("cd")}
    assert min_cover("abcdef", sets, 5, {k: len(v) for k, v in sets.items()}) == ("big",)
    assert min_cover("abc", sets, 5, {k: len(v) for k, v in sets.items()}) == ("left",)
    without_big = {k: v for k, v in sets.items() if k != "big"}
    assert min_cover("abcdef", without_big, 5) == ("left", "right")
    assert min_cover("abcdef", without_big, 1) is None
    assert min_cover("xyz", sets, 5) is None
    assert min_cover("", sets, 5) == ()


@given(st.lists(st.frozensets(st.integers(0, 7), min_size=1), min_size=1, max_size=6),
       st.integers(1, 4))
def test_min_cover_is_minimum_by_brute_force(family: list[frozenset[int]], limit: int) -> None:
    sets = {f"s{i}": frozenset(str(x) for x in s) for i, s in enumerate(family)}
    universe = frozenset().union(*sets.values())
    best = None
    for k in range(1, limit + 1):
        if any(frozenset().union(*(sets[x] for x in c)) == universe
               for c in itertools.combinations(sorted(sets), k)):
            best = k
            break
    got = min_cover(universe, sets, limit)
    if best is None:
        assert got is None
    else:
        assert got is not None and len(got) == best
        assert frozenset().union(*(sets[x] for x in got)) == universe


# ----------------------------------------------------------------------------- resolver
@pytest.fixture(scope="module")
def resolver(catalog: Any, snapshot: Any) -> ScopeResolver:
    return ScopeResolver(catalog, snapshot, max_scoped_assignments=2)


def test_au_scope_when_every_target_is_in_a_small_cover(resolver: ScopeResolver) -> None:
    t = _targets([(RESET, "User", u, 2) for u in cases.EMEA_USERS[:3]])
    sc = resolver.resolve("p", [RESET], t)
    assert sc.actions[RESET].kind == "administrative_unit"
    assert sc.au_ids == (cases.AU_EMEA,)
    choice = resolver.choice(sc, "administrative_unit", cases.AU_EMEA, [RESET])
    assert choice.directory_scope_id == f"/administrativeUnits/{cases.AU_EMEA}"
    assert choice.display_name == "EMEA" and choice.denied_by_narrower == {"without EMEA": 6}


def test_tenant_when_a_target_is_outside_every_au(resolver: ScopeResolver) -> None:
    t = _targets([(RESET, "User", cases.EMEA_USERS[0], 3), (RESET, "User", cases.LONE_USER, 1)])
    sc = resolver.resolve("p", [RESET], t)
    assert sc.actions[RESET].kind == "tenant"
    choice = resolver.choice(sc, "tenant", "", [RESET])
    assert choice.denied_by_narrower == {"administrative units": 1}
    assert "outside every administrative unit" in choice.reason


def test_tenant_when_the_cover_needs_too_many_aus(catalog: Any, snapshot: Any) -> None:
    t = _targets([(RESET, "User", cases.EMEA_USERS[0], 1), (RESET, "User", cases.APAC_USERS[0], 1)])
    one = ScopeResolver(catalog, snapshot, max_scoped_assignments=1)
    assert one.resolve("p", [RESET], t).actions[RESET].kind == "tenant"
    two = ScopeResolver(catalog, snapshot, max_scoped_assignments=2)
    sc = two.resolve("p", [RESET], t)
    assert sc.au_ids == tuple(sorted((cases.AU_EMEA, cases.AU_APAC)))


def test_tenant_when_the_aus_hold_most_of_the_tenant(catalog: Any, snapshot: Any) -> None:
    t = _targets([(RESET, "User", cases.EMEA_USERS[0], 1), (RESET, "User", cases.APAC_USERS[0], 1)])
    users = len(snapshot.users)
    share = (len(cases.EMEA_USERS) + len(cases.APAC_USERS)) / users
    strict = ScopeResolver(catalog, snapshot, max_scoped_assignments=5, max_au_share=share - 0.01)
    sc = strict.resolve("p", [RESET], t)
    assert sc.actions[RESET].kind == "tenant" and "max_au_share" in sc.actions[RESET].reason
    loose = ScopeResolver(catalog, snapshot, max_scoped_assignments=5, max_au_share=share + 0.01)
    assert loose.resolve("p", [RESET], t).actions[RESET].kind == "administrative_unit"


def test_creates_never_go_below_tenant(resolver: ScopeResolver) -> None:
    sc = resolver.resolve("p", [CREATE], _targets([(CREATE, "User", cases.EMEA_USERS[0], 4)]))
    assert sc.actions[CREATE].kind == "tenant"
    assert sc.actions[CREATE].reason == "this action can only be assigned tenant-wide"


def test_app_scope_needs_targets_of_the_actions_own_kind(resolver: ScopeResolver) -> None:
    t = _targets([(CREDS, "Application", cases.APPS[0], 2),
                  (CREDS, "Application", cases.APPS[1], 1)])
    sc = resolver.resolve("p", [CREDS], t)
    assert sc.actions[CREDS].kind == "application" and sc.app_ids == tuple(cases.APPS[:2])
    # a servicePrincipals action whose records name an app registration cannot be scoped to it
    t2 = _targets([(SP_OWNERS, "Application", cases.APPS[0], 2)])
    assert resolver.resolve("p", [SP_OWNERS], t2).actions[SP_OWNERS].kind == "tenant"
    # more apps than max_scoped_assignments (2): tenant, and the reason says so
    t3 = _targets([(CREDS, "Application", a, 1) for a in cases.APPS])
    sc3 = resolver.resolve("p", [CREDS], t3)
    assert sc3.actions[CREDS].kind == "tenant" and "3 apps" in sc3.actions[CREDS].reason


def test_without_directory_aus_are_unknown_but_apps_are_named_by_the_log(catalog: Any) -> None:
    r = ScopeResolver(catalog, None)
    sc = r.resolve("p", [RESET, CREDS], _targets([(RESET, "User", cases.EMEA_USERS[0], 1),
                                                  (CREDS, "Application", "obj-1", 1)]))
    assert sc.actions[RESET].kind == "tenant"
    assert "no directory snapshot" in sc.actions[RESET].reason
    assert sc.actions[CREDS].kind == "application" and sc.app_ids == ("obj-1",)


def test_task_added_action_follows_its_tasks_scope(resolver: ScopeResolver) -> None:
    read = "microsoft.directory/users/authenticationMethods/standard/restrictedRead"
    t = _targets([(RESET, "User", cases.EMEA_USERS[0], 3)])
    sc = resolver.resolve("p", [RESET, read], t, follow={read: (RESET,)})
    assert sc.actions[read].kind == "administrative_unit"
    assert sc.actions[read].ids == sc.actions[RESET].ids


def test_directory_scope_ids() -> None:
    assert directory_scope_id("tenant") == "/"
    assert directory_scope_id("administrative_unit", "x") == "/administrativeUnits/x"
    assert directory_scope_id("application", "y") == "/y"
