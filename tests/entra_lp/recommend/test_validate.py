"""Replay of a later window against the proposal, and task-based validation."""

from __future__ import annotations

from typing import Any

import pytest

from entra_lp.errors import RecommendationError, UnknownNameError
from entra_lp.recommend import UnknownPrincipalError, recommend
from entra_lp.recommendation import Recommendation
from entra_lp.usage import UsageMatrix
from entra_lp.validate import validate, validate_tasks

from . import cases
from .cases import pid


@pytest.fixture(scope="module")
def report(rec: Recommendation, later: UsageMatrix, catalog: Any, snapshot: Any) -> Any:
    return validate(rec, later, catalog, snapshot)


def test_counts_and_coverage(report: Any) -> None:
    # later_records(): 12 operations of one action each; the sync account's is excluded;
    # denied: helpdesk2 on an APAC user, grp2 on a group outside Finance, the newcomer, and
    # caadmin renaming an app
    assert report.total_operations == 12
    assert report.excluded_operations == 1
    assert report.allowed_operations == 7
    assert report.coverage == pytest.approx(7 / 11)
    assert report.new_principals == (pid("newcomer"),)


def test_denied_operations_say_why(report: Any) -> None:
    got = {(d.principal_id, d.action): (d.reason, d.count, d.example_targets)
           for d in report.denied}
    assert got == {
        (pid("helpdesk2"), "microsoft.directory/users/password/update"):
            ("outside_scope", 1, (cases.APAC_USERS[0],)),
        (pid("grp2"), "microsoft.directory/groups/members/update"):
            ("outside_scope", 1, (cases.OTHER_GROUP,)),
        (pid("newcomer"), "microsoft.directory/users/basic/update"):
            ("no_assignment", 1, (cases.EMEA_USERS[0],)),
        (pid("caadmin"), "microsoft.directory/applications/basic/update"):
            ("action_not_granted", 1, (cases.APPS[0],)),
    }
    assert report.denied_operations == 4
    frame = report.denied_frame()
    assert list(frame["principal_id"]) == [d.principal_id for d in report.denied]


def test_the_validated_recommendation_carries_coverage(report: Any, rec: Recommendation) -> None:
    m = report.recommendation.metrics
    assert m.proposed.coverage == report.coverage
    assert m.proposed.denied_operations == 4
    assert rec.metrics is not None and rec.metrics.proposed.coverage is None  # input untouched
    assert report.recommendation.roles == rec.roles


def test_replaying_the_training_window_allows_everything_but_the_one_off(
        rec: Recommendation, train: UsageMatrix, catalog: Any, snapshot: Any) -> None:
    rep = validate(rec, train, catalog, snapshot)
    assert [(d.principal_id, d.reason, d.count) for d in rep.denied] == [
        (pid("grp3"), "action_not_granted", 1)]


def test_au_assignments_need_the_directory(rec: Recommendation, later: UsageMatrix) -> None:
    with pytest.raises(RecommendationError, match="directory snapshot"):
        validate(rec, later)


def test_without_au_assignments_no_directory_is_needed(train: UsageMatrix, later: UsageMatrix,
                                                        catalog: Any) -> None:
    rec = recommend(train, catalog)
    rep = validate(rec, later, catalog)
    # tenant-wide helpdesk now allows the APAC reset, and grp2's group outside Finance
    denied = {(d.principal_id, d.reason) for d in rep.denied}
    assert (pid("helpdesk2"), "outside_scope") not in denied
    assert (pid("newcomer"), "no_assignment") in denied


def test_tasks(rec: Recommendation, catalog: Any) -> None:
    rep = validate_tasks(rec, {
        pid("helpdesk1"): ["users.reset-password-nonadmin"],
        pid("appowner"): ["app-registrations.manage-credentials"],
        pid("caadmin"): ["conditional-access.manage-policies", "users.create"],
    }, catalog)
    got = {(c.principal_id, c.task_id): c for c in rep.checks}
    assert got[(pid("helpdesk1"), "users.reset-password-nonadmin")].ok
    assert got[(pid("appowner"), "app-registrations.manage-credentials")].ok
    assert got[(pid("caadmin"), "conditional-access.manage-policies")].ok
    bad = got[(pid("caadmin"), "users.create")]
    assert not bad.ok and bad.missing_actions == ("microsoft.directory/users/create",)
    assert rep.failures == (bad,) and not rep.ok


def test_task_covered_only_at_a_scope_it_cannot_be_delegated_at(rec: Recommendation,
                                                                catalog: Any) -> None:
    # helpdesk1 resets passwords at its AU; resetting limited admins' passwords needs the same
    # action but can only be delegated tenant-wide
    task = catalog.task("users.reset-password-limited-admins")
    assert task.scopes == ("tenant",)
    (check,) = validate_tasks(rec, {pid("helpdesk1"): [task.id]}, catalog).checks
    assert not check.ok and "cannot be delegated" in check.detail


def test_task_validation_errors(rec: Recommendation, catalog: Any) -> None:
    with pytest.raises(UnknownNameError, match=r"users\.reset-password-nonadmin"):
        validate_tasks(rec, {pid("helpdesk1"): ["users.reset-pasword-nonadmin"]}, catalog)
    with pytest.raises(UnknownPrincipalError):
        validate_tasks(rec, {"nobody": ["users.reset-password-nonadmin"]}, catalog)
