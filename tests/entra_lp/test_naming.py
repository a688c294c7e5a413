"""Naming stage: intent and scope in names, uniqueness, determinism, limits, descriptions."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from entra_lp.errors import InvalidValueError, UnknownNameError
from entra_lp.naming import (
    NamingConvention,
    RoleNameRequest,
    name_roles,
    role_description,
    role_name,
)
from permission_catalog import load_catalog

PASSWORD = "microsoft.directory/users/password/update"
USER_READ = "microsoft.directory/users/standard/read"
USER_BASIC = "microsoft.directory/users/basic/update"
GROUP_MEMBERS = "microsoft.directory/groups/members/update"
DEVICE_DISABLE = "microsoft.directory/devices/disable"
CA_CREATE = "microsoft.directory/conditionalAccessPolicies/create"
CA_UPDATE = "microsoft.directory/conditionalAccessPolicies/basic/update"


@pytest.fixture(scope="module")
def catalog() -> Any:
    return load_catalog()


def _task(catalog: Any, task_id: str) -> Any:
    return catalog.task(task_id)


def _batch(catalog: Any) -> list[RoleNameRequest]:
    reset = _task(catalog, "users.reset-password-nonadmin")
    owners = _task(catalog, "groups.manage-owners")
    create = _task(catalog, "groups.create")
    return [
        RoleNameRequest(reset.actions, (reset.id,), "execution", "administrative_unit"),
        RoleNameRequest(reset.actions, (reset.id,), "execution", "tenant"),
        RoleNameRequest((CA_CREATE, CA_UPDATE), (), "configuration", "tenant"),
        RoleNameRequest((USER_BASIC, GROUP_MEMBERS), (), "execution", "tenant"),
        RoleNameRequest((USER_BASIC, DEVICE_DISABLE), (), "execution", "tenant"),
        RoleNameRequest((USER_READ,), (), "read", "tenant"),
        RoleNameRequest((USER_READ,), (), "read", "tenant"),  # identical twin
        RoleNameRequest(
            (*owners.actions, *create.actions), (owners.id, create.id), "execution", "tenant"
        ),
        RoleNameRequest((USER_BASIC,), (), "execution", "tenant"),
        RoleNameRequest((USER_BASIC, USER_READ), (), "execution", "tenant"),
    ]


def test_names_encode_intent_and_scope(catalog: Any) -> None:
    reset = _task(catalog, "users.reset-password-nonadmin")
    name = role_name(reset.actions, [reset.id], "execution", "administrative_unit", catalog)
    assert name.startswith("LP Users Reset Password")
    assert name.endswith("(AU)")
    ca = role_name([CA_CREATE, CA_UPDATE], [], "configuration", "tenant", catalog)
    assert ca == "LP Conditional Access Manage (Tenant)"  # two verbs: managed
    read = role_name([USER_READ], [], "read", "tenant", catalog)
    assert read == "LP Users Read (Tenant)"
    one_verb = role_name([USER_BASIC], [], "execution", "application", catalog)
    assert one_verb.startswith("LP Users Update") and one_verb.endswith("(App)")


def test_mixed_task_verbs_read_as_manage(catalog: Any) -> None:
    owners, create = _task(catalog, "groups.manage-owners"), _task(catalog, "groups.create")
    name = role_name(
        [*owners.actions, *create.actions], [owners.id, create.id], "execution", "tenant", catalog
    )
    assert name == "LP Groups Manage (Tenant)"


def test_names_are_unique_within_a_batch(catalog: Any) -> None:
    names = [n.display_name for n in name_roles(_batch(catalog), catalog)]
    assert len({n.casefold() for n in names}) == len(names)
    builtin = {r.name.casefold() for r in catalog.roles.values()}
    assert not builtin & {n.casefold() for n in names}


def test_disambiguation_is_deterministic_and_order_independent(catalog: Any) -> None:
    batch = _batch(catalog)
    reference = name_roles(batch, catalog)

    def pairs(reqs: list[RoleNameRequest], names: list[Any]) -> list[tuple[str, Any]]:
        # identical requests cannot be told apart, so compare (request, name) pairs as a set
        return sorted((repr(r), n) for r, n in zip(reqs, names, strict=True))

    for perm in itertools.islice(itertools.permutations(range(len(batch))), 0, 400, 37):
        shuffled = [batch[i] for i in perm]
        assert pairs(shuffled, name_roles(shuffled, catalog)) == pairs(batch, reference)
    assert name_roles(batch, catalog) == reference
    twins = [n.display_name for n in reference[5:7]]
    assert twins[0] == "LP Users Read (Tenant)" and twins[1] != twins[0]


def test_plane_tells_same_intent_roles_apart(catalog: Any) -> None:
    conv = NamingConvention(template="{prefix} {area} ({scope}) {intent}")
    reqs = [
        RoleNameRequest([USER_BASIC], [], "execution", "tenant"),
        RoleNameRequest([USER_BASIC], [], "configuration", "tenant"),
    ]
    a, b = (n.display_name for n in name_roles(reqs, catalog, conv))
    assert a != b
    assert a.endswith("Exec") and b.endswith("Config")


def test_taken_and_builtin_names_are_avoided(catalog: Any) -> None:
    plain = role_name([USER_READ], [], "read", "tenant", catalog)
    other = role_name([USER_READ], [], "read", "tenant", catalog, taken=[plain.upper()])
    assert other != plain and other.casefold() != plain.casefold()
    bare = NamingConvention(prefix="", template="{area} {intent}")
    clash = role_name(
        [USER_READ], [], "read", "tenant", catalog, convention=bare, taken=["Users Read"]
    )
    assert clash.casefold() != "users read"


def test_long_names_are_shortened_but_keep_scope_and_qualifier(catalog: Any) -> None:
    conv = NamingConvention(prefix="Contoso IAM", max_length=34)
    names = [n.display_name for n in name_roles(_batch(catalog), catalog, conv)]
    assert all(len(n) <= 34 for n in names)
    assert len(set(names)) == len(names)
    assert all(n.endswith(("(AU)", "(Tenant)")) for n in names)
    assert any("..." in n for n in names)
    too_tight = NamingConvention(prefix="Contoso Identity Least Privilege", max_length=30)
    with pytest.raises(InvalidValueError, match="max_length"):
        name_roles(_batch(catalog), catalog, too_tight)


def test_descriptions_state_plane_tier_tasks_and_scope(catalog: Any) -> None:
    reset = _task(catalog, "users.reset-password-nonadmin")
    text = role_description(reset.actions, [reset.id], "execution", "administrative_unit", catalog)
    assert text.startswith("Execution role (control tier) for: " + reset.title)
    assert "administrative-unit scope" in text
    no_tasks = role_description([CA_CREATE, CA_UPDATE], [], "configuration", "tenant", catalog)
    assert "granting 2 actions on Conditional Access" in no_tasks
    conv = NamingConvention(max_description_length=60)
    short = name_roles(
        [RoleNameRequest(reset.actions, [reset.id], "execution", "tenant")], catalog, conv
    )[0].description
    assert len(short) <= 60 and short.endswith("...")


def test_template_fields_are_checked(catalog: Any) -> None:
    with pytest.raises(UnknownNameError, match="scop"):
        NamingConvention(template="{prefix} {intent} {scop}")
    with pytest.raises(InvalidValueError, match="intent"):
        NamingConvention(template="{prefix} {area}")
    custom = NamingConvention(prefix="JIT", template="{prefix}-{tier}-{area}-{intent}")
    assert role_name([PASSWORD], [], "execution", "tenant", catalog, convention=custom).startswith(
        "JIT-control-Users-Update Password"
    )


def test_bad_requests_are_named(catalog: Any) -> None:
    with pytest.raises(UnknownNameError, match=r"users\.reset-pasword"):
        role_name([PASSWORD], ["users.reset-pasword-nonadmin"], "execution", "tenant", catalog)
    with pytest.raises(UnknownNameError, match="plane"):
        role_name([PASSWORD], [], "exec", "tenant", catalog)
    with pytest.raises(InvalidValueError):
        role_name([], [], "execution", "tenant", catalog)
