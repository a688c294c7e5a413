"""Property: an exported custom role passes ``check_custom_role`` at every scope it is assigned
at, and a role that breaks a rule is refused with a RecommendationError naming the rule."""

from __future__ import annotations

from hypothesis import event, given, settings
from hypothesis import strategies as st

from entra_lp.errors import RecommendationError
from entra_lp.export.from_recommendation import prepare_export
from entra_lp.recommendation import Recommendation, RiskSummary, RoleProposal
from permission_catalog import load_catalog

from . import samples as s

CAT = load_catalog()
ELIGIBLE = sorted(a.name for a in CAT.actions.values() if a.custom_role_ok and not a.templated)
NOT_ELIGIBLE = sorted(a.name for a in CAT.actions.values() if not a.custom_role_ok)[:40]
BY_SCOPE = {
    scope: [
        a
        for a in ELIGIBLE
        if scope in CAT.scopes_of(a) and not a.endswith(("/create", "/createAsOwner"))
    ]
    for scope in ("tenant", "administrative_unit", "application")
}
SCOPES = {
    "tenant": s.TENANT,
    "administrative_unit": s.AU_NORTH,
    "application": s.APP_HR,
}


@st.composite
def role_specs(draw: st.DrawFn) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(actions, assigned scope kinds): mostly actions meant for the first scope, sometimes any
    custom-role-eligible action, sometimes one no custom role may hold."""
    scopes = draw(st.lists(st.sampled_from(sorted(SCOPES)), min_size=1, max_size=2, unique=True))
    pool = BY_SCOPE[scopes[0]] if draw(st.booleans()) else ELIGIBLE
    actions = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=6, unique=True))
    if draw(st.integers(0, 9)) == 0:
        actions.append(draw(st.sampled_from(NOT_ELIGIBLE)))
    return tuple(actions), tuple(sorted(scopes))


def build(specs: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> Recommendation:
    roles, assignments = [], []
    for i, (actions, scopes) in enumerate(specs):
        key = f"role-{i}"
        roles.append(
            RoleProposal(
                key=key,
                display_name=f"Generated role {i}",
                description="generated",
                kind="custom",
                actions=actions,
                plane="execution",
                assignable_scopes=scopes,
                risk=RiskSummary(tier="management", plane="execution", score=1.0),
                pim=s.pim("management", 4),
            )
        )
        assignments += [s.assign(s.ALICE, key, SCOPES[scope]) for scope in scopes]
    return Recommendation(
        catalog_version=CAT.version,
        source="design",
        roles=tuple(roles),
        assignments=tuple(assignments),
    )


def errors_of(actions: tuple[str, ...], scope: str) -> list[str]:
    return [v.rule for v in CAT.check_custom_role(actions, scope) if v.severity == "error"]


@settings(max_examples=120)
@given(st.lists(role_specs(), min_size=1, max_size=4))
def test_exported_roles_pass_the_catalog_rules(
    specs: list[tuple[tuple[str, ...], tuple[str, ...]]],
) -> None:
    rec = build(specs)
    broken = [
        (i, scope, errors_of(actions, scope))
        for i, (actions, scopes) in enumerate(specs)
        for scope in scopes
        if errors_of(actions, scope)
    ]
    event("refused" if broken else "exported")
    if broken:
        try:
            prepare_export(rec, CAT)
        except RecommendationError as exc:
            first_role, _, rules = broken[0]
            assert f"role-{first_role}" in str(exc) and rules[0] in str(exc)
            return
        raise AssertionError(f"a role breaking {broken} was exported")
    plan = prepare_export(rec, CAT)
    assert len(plan.desired.roles) == len(specs)
    for role in plan.desired.roles:
        scopes = {
            a.scope for a in plan.desired.assignments if a.role_display_name == role.display_name
        }
        assert scopes
        for scope in scopes:
            assert errors_of(role.actions, scope) == []


def test_the_generator_reaches_both_outcomes() -> None:
    """Guard against a vacuous property: some generated roles are valid, some are not."""
    valid = (f"{s.D}/users/basic/update",), ("administrative_unit", "tenant")
    invalid = (f"{s.D}/applications/create",), ("application",)
    prepare_export(build([valid]), CAT)
    try:
        prepare_export(build([valid, invalid]), CAT)
    except RecommendationError as exc:
        assert "role-1" in str(exc) and "create_at_non_tenant_scope" in str(exc)
    else:
        raise AssertionError("an invalid role was exported")
