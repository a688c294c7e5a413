"""least_privileged_builtin: the privilege metric, candidate rules, target tiers, and exactness
(brute force over every covering set of up to three roles finds nothing less privileged)."""

from __future__ import annotations

from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from permission_catalog import load_catalog
from permission_catalog.errors import InvalidValueError, UnknownNameError
from permission_catalog.lpb import (
    PRIVILEGED_WEIGHT,
    TARGET_TIERS,
    WORKLOAD_UNITS,
    Privilege,
    action_class,
    grant_items,
    least_privileged_builtin,
    privilege_of,
    set_cost,
    target_matrix,
    target_rows,
    uncovered_by,
)
from permission_catalog.roles import BuiltinRole

CAT = load_catalog()
D = "microsoft.directory"
PWD = f"{D}/users/password/update"
PASSWORDS = "who_can_reset_passwords"
SENSITIVE = "who_can_perform_sensitive_actions"
FOR_USERS = sorted(
    (r for r in CAT.roles.values() if r.assignable and not r.applications_only),
    key=lambda r: r.name,
)
GRANTED = sorted({a.name for r in FOR_USERS for a in r.actions if a.condition is None})


def _reach(role: str, matrix: str) -> set[str]:
    """Matrix rows (kinds of target user) a role may act on, read straight from the data."""
    return {r["target_role"] for r in CAT.privileged_targets[matrix] if role in r["actors"]}


# --------------------------------------------------------------------------- the metric


def test_password_reset_is_password_administrator() -> None:
    r = least_privileged_builtin(CAT, [PWD])
    assert r.role_names == ("Password Administrator",)
    assert r.cost == set_cost(CAT, r.roles) and r.privilege == privilege_of(CAT, r.roles)
    assert PWD not in r.extra_actions
    assert r.covered_by == {PWD: ("Password Administrator",)}
    assert not r.uncoverable and r.targets == () and r.for_principal == "user"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (f"{D}/groups/members/update", (0, 1)),  # a change
        (PWD, (0, PRIVILEGED_WEIGHT)),  # Microsoft labels it privileged
        (f"{D}/users/standard/read", (1, 1)),  # a read
        (f"{D}/bitlockerKeys/key/read", (1, PRIVILEGED_WEIGHT)),  # a privileged read
        ("microsoft.office365.sharePoint/allEntities/allTasks", (0, WORKLOAD_UNITS)),
        ("microsoft.office365.webPortal/allEntities/standard/read", (1, WORKLOAD_UNITS)),
        # requests to Microsoft and notices: nothing in the tenant changes
        ("microsoft.office365.supportTickets/allEntities/allTasks", (1, 1)),
        ("microsoft.azure.serviceHealth/allEntities/allTasks", (1, 1)),
    ],
)
def test_action_classes(action: str, expected: tuple[int, int]) -> None:
    assert action_class(CAT, action) == expected


def test_a_restricted_action_counts_once_per_reachable_kind_of_user() -> None:
    pa = CAT.role("Password Administrator")
    pra = CAT.role("Privileged Authentication Administrator")
    reach = _reach("Password Administrator", PASSWORDS)
    assert len(reach) == 4 and "User (no admin role)" in reach
    # Password Administrator grants one change (the reset) and one workload-wide read (the portal)
    assert {action_class(CAT, a)[0] for a in CAT.role_expansion(pa.id)} == {0, 1}
    assert privilege_of(CAT, [pa]) == Privilege(PRIVILEGED_WEIGHT * len(reach), WORKLOAD_UNITS)
    assert {f"{PWD}@{row}" for row in reach} <= grant_items(CAT, [pa])
    # the same action held by a role reaching every user weighs more
    assert {i for i in grant_items(CAT, [pra]) if i.startswith(f"{PWD}@")} == {
        f"{PWD}@{row}" for row in _reach(pra.name, PASSWORDS)
    }


def test_service_granted_administration_is_priced() -> None:
    # Kaizala Administrator changes nothing by its actions, but its description says it manages
    # a service: that unseen administration counts as a workload-wide change.
    kaizala = CAT.role("Kaizala Administrator")
    assert not any(action_class(CAT, a)[0] == 0 for a in CAT.role_expansion(kaizala.id))
    assert not kaizala.described_as_reader
    assert privilege_of(CAT, [kaizala]).changes == WORKLOAD_UNITS
    # readers stay at zero changes, Service Support Administrator included ("Can read ...")
    for name in ("Global Reader", "Security Reader", "Service Support Administrator"):
        assert CAT.role(name).described_as_reader
        assert privilege_of(CAT, [CAT.role(name)]).changes == 0, name


def test_a_read_task_goes_to_a_read_only_role() -> None:
    needed = [f"{D}/organization/strongAuthentication/read"]
    lwa = CAT.role("Lifecycle Workflows Administrator")
    assert not uncovered_by(CAT, [lwa], needed)
    r = least_privileged_builtin(CAT, needed)
    # Lifecycle Workflows Administrator reads far less but changes something: changes come first
    assert privilege_of(CAT, [lwa]).reads < r.privilege.reads
    assert privilege_of(CAT, [lwa]).changes > 0 == r.privilege.changes
    assert r.role_names == ("Global Reader",)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(FOR_USERS), min_size=1, max_size=2),
       st.lists(st.sampled_from(FOR_USERS), min_size=1, max_size=2))
def test_cost_orders_like_the_privilege_vector(a: list[BuiltinRole], b: list[BuiltinRole]) -> None:
    pa, pb = privilege_of(CAT, a), privilege_of(CAT, b)
    ca, cb = set_cost(CAT, a), set_cost(CAT, b)
    assert (ca < cb) == (pa < pb) and (ca == cb) == (pa == pb)


def test_privilege_is_monotone_and_describes_itself() -> None:
    ua, ga = CAT.role("User Administrator"), CAT.role("Global Administrator")
    both = privilege_of(CAT, [ua, ga])
    assert both >= privilege_of(CAT, [ga]) and both.changes >= privilege_of(CAT, [ua]).changes
    assert Privilege(3, 12).describe() == "changes 3, reads 12 (weighted)"


# --------------------------------------------------------------------------- candidates


def test_applications_only_roles_are_proposed_for_applications_only() -> None:
    writers = CAT.role("Directory Writers")
    assert writers.applications_only and writers.assignable
    assert [r.name for r in CAT.roles.values() if r.applications_only] == ["Directory Writers"]
    user = least_privileged_builtin(CAT, [f"{D}/users/create"])
    app = least_privileged_builtin(CAT, [f"{D}/users/create"], for_principal="application")
    assert user.role_names == ("User Administrator",) and user.for_principal == "user"
    assert app.role_names == ("Directory Writers",) and app.privilege < user.privilege
    with pytest.raises(UnknownNameError, match="principal kind: 'robot'"):
        least_privileged_builtin(CAT, [PWD], for_principal="robot")


def test_uncoverable_actions_are_reported() -> None:
    # userInfos/* come only from the system-assigned User role (excluded; $ResourceIsSelf only)
    needed = [PWD, f"{D}/userInfos/email/read"]
    r = least_privileged_builtin(CAT, needed)
    assert r.uncoverable == {f"{D}/userInfos/email/read"}
    assert r.role_names == ("Password Administrator",)
    assert any(a.name == f"{D}/userInfos/email/read" for a in CAT.role("User").actions)


def test_only_assignable_roles_are_chosen() -> None:
    r = least_privileged_builtin(CAT, [f"{D}/groups/members/update", f"{D}/users/inviteGuest"])
    assert r.roles and all(role.assignable for role in r.roles)
    assert not {"Partner Tier2 Support", "Directory Synchronization Accounts"} & set(r.role_names)


def test_empty_request() -> None:
    r = least_privileged_builtin(CAT, [])
    assert r.roles == () and r.cost == 0 and r.privilege == Privilege(0, 0) and not r.uncoverable


def test_unknown_action_raises() -> None:
    with pytest.raises(UnknownNameError):
        least_privileged_builtin(CAT, [f"{D}/users/passwrd/update"])


def test_deterministic() -> None:
    needed = [f"{D}/groups/members/update", f"{D}/devices/disable", PWD]
    a = least_privileged_builtin(CAT, needed, targets="non_admins")
    b = least_privileged_builtin(CAT, list(reversed(needed)), targets="non_admins")
    assert a == b


# --------------------------------------------------------------------------- target tiers


@pytest.mark.parametrize(
    ("action", "matrix"),
    [
        (PWD, PASSWORDS),
        (f"{D}/users/invalidateAllRefreshTokens", PASSWORDS),
        (f"{D}/users/authenticationMethods/create", PASSWORDS),
        (f"{D}/users/authenticationMethods/standard/restrictedRead", PASSWORDS),
        (f"{D}/users/delete", SENSITIVE),
        (f"{D}/users/disable", SENSITIVE),
        (f"{D}/users/userPrincipalName/update", SENSITIVE),
        (f"{D}/deletedItems.users/restore", SENSITIVE),
        (f"{D}/users/basic/update", None),
        (f"{D}/users/standard/read", None),
        (f"{D}/groups/members/update", None),
        ("microsoft.office365.exchange/allEntities/basic/allTasks", None),
    ],
)
def test_target_matrix(action: str, matrix: str | None) -> None:
    assert target_matrix(action) == matrix


def test_tiers_are_nested_and_read_from_the_matrix() -> None:
    non, limited, everyone = (set(target_rows(CAT, t)) for t in TARGET_TIERS)
    assert non == {"User (no admin role)"}
    assert non < limited < everyone
    assert everyone == {r["target_role"] for r in CAT.privileged_targets[PASSWORDS]}
    for row in limited - non:  # named roles Microsoft does not label privileged
        assert CAT.role_by_name(row).is_privileged is False, row
    assert "Helpdesk Administrator" in everyone - limited  # a privileged role


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        (None, "Password Administrator"),
        ("non_admins", "Password Administrator"),
        ("limited_admins", "User Administrator"),
        ("privileged_admins", "Privileged Authentication Administrator"),
        (["Helpdesk Administrator"], "Helpdesk Administrator"),
    ],
)
def test_targets_restrict_password_reset(targets: str | list[str] | None, expected: str) -> None:
    r = least_privileged_builtin(CAT, [PWD], targets=targets)
    assert r.role_names == (expected,) and r.covered_by == {PWD: (expected,)}
    rows = () if targets is None else target_rows(CAT, targets)
    assert r.targets == rows and set(rows) <= _reach(expected, PASSWORDS)


def test_targets_leave_unrestricted_actions_alone() -> None:
    needed = [f"{D}/groups/members/update"]
    assert least_privileged_builtin(CAT, needed, targets="privileged_admins").role_names == (
        least_privileged_builtin(CAT, needed).role_names
    )


def test_documented_answers_are_checked_against_the_targets() -> None:
    pa = CAT.role("Password Administrator")
    assert uncovered_by(CAT, [pa], [PWD]) == frozenset()
    assert uncovered_by(CAT, [pa], [PWD], targets="non_admins") == frozenset()
    assert uncovered_by(CAT, [pa], [PWD], targets="limited_admins") == {PWD}


@pytest.mark.parametrize(
    ("targets", "error", "message"),
    [
        ("limited_admin", UnknownNameError, "did you mean 'limited_admins'"),
        (["Helpdesk Admin"], UnknownNameError, "did you mean 'Helpdesk Administrator'"),
        ([], InvalidValueError, "at least one matrix row"),
    ],
)
def test_bad_targets_are_rejected(targets: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        least_privileged_builtin(CAT, [PWD], targets=targets)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- exactness


def _brute_force(
    needed: list[str], targets: str | None, max_size: int = 3
) -> tuple[Privilege, int, tuple[str, ...]] | None:
    """Best (privilege, size, names) over every covering set of at most max_size roles."""
    covers = {
        r.name: frozenset(needed) - uncovered_by(CAT, [r], needed, targets=targets)
        for r in FOR_USERS
    }
    cands = sorted((r for r in FOR_USERS if covers[r.name]), key=lambda r: privilege_of(CAT, [r]))
    alone = {r.name: privilege_of(CAT, [r]) for r in cands}
    best: tuple[Privilege, int, tuple[str, ...]] | None = None
    for k in range(1, max_size + 1):
        for combo in combinations(cands, k):
            # a set is at least as privileged as each member: skip hopeless sets early
            if best is not None and max(alone[r.name] for r in combo) > best[0]:
                continue
            if len(frozenset().union(*(covers[r.name] for r in combo))) == len(needed):
                key = (privilege_of(CAT, combo), k, tuple(sorted(r.name for r in combo)))
                best = key if best is None or key < best else best
    return best


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.sampled_from(GRANTED), min_size=1, max_size=3, unique=True),
    st.sampled_from([None, *TARGET_TIERS]),
)
def test_result_covers_and_no_less_privileged_set_exists(
    needed: list[str], targets: str | None
) -> None:
    r = least_privileged_builtin(CAT, needed, targets=targets)
    coverable = [n for n in needed if n not in r.uncoverable]
    assert not uncovered_by(CAT, r.roles, coverable, targets=targets)
    assert all(not role.applications_only for role in r.roles)
    best = _brute_force(coverable, targets) if coverable else None
    if best is not None:
        assert r.privilege <= best[0]
        if len(r.roles) <= 3:
            assert (r.privilege, len(r.roles), r.role_names) == best


def test_exact_on_a_task_whose_answer_needs_two_roles() -> None:
    needed = [f"{D}/userCredentialPolicies/basic/update", f"{D}/users/authenticationMethods/create"]
    r = least_privileged_builtin(CAT, needed, targets="privileged_admins")
    assert r.role_names == (
        "Authentication Policy Administrator",
        "Privileged Authentication Administrator",
    )
    best = _brute_force(sorted(needed), "privileged_admins")
    assert best is not None and (r.privilege, 2, r.role_names) == best


def test_catalog_method_passes_targets_through() -> None:
    """The Catalog method honours target tiers exactly like the module function."""
    from permission_catalog import load_catalog
    from permission_catalog.lpb import least_privileged_builtin as module_lpb

    cat = load_catalog()
    need = ["microsoft.directory/users/password/update"]
    for tier in ("non_admins", "limited_admins", "privileged_admins"):
        via_method = cat.least_privileged_builtin(need, targets=tier)
        assert via_method.role_names == module_lpb(cat, need, targets=tier).role_names
    assert (
        cat.least_privileged_builtin(need, targets="privileged_admins").role_names
        != cat.least_privileged_builtin(need).role_names
    )
