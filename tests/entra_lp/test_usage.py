"""Stage 2: usage rows mapped through the real permission catalog into a UsageMatrix."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from entra_lp.errors import UnknownNameError
from entra_lp.ingest import read_audit_logs
from entra_lp.usage import UsageMatrix
from permission_catalog import load_catalog

from .ingest.records import ADMIN, AUTOMATION, GROUP, HELPDESK, USER_T, prop, record, sample


@pytest.fixture(scope="module")
def catalog() -> Any:
    return load_catalog()


def _records() -> list[dict[str, Any]]:
    recs = sample()
    recs.append(record("Directory_9", "Frobnicate the directory", user=HELPDESK,
                       when="2025-05-16T00:00:00Z"))
    recs.append(record("Directory_10", "Add member to group", op="Assign",
                       category="GroupManagement", user=HELPDESK, result="failure",
                       when="2025-05-16T01:00:00Z", props=[prop("Group.ObjectID", "g-2")]))
    return recs


@pytest.fixture(scope="module")
def matrix(catalog: Any) -> UsageMatrix:
    return read_audit_logs(_records()).usage(catalog)


def _expected(catalog: Any, activity: str, category: str, props: str, target: str = "User"
              ) -> tuple[str, ...]:
    return tuple(catalog.map_activity("Core Directory", category, activity, props, target).actions)


def test_principals_exclude_system_initiators(matrix: UsageMatrix) -> None:
    assert matrix.principals["principal_id"].tolist() == sorted(
        [ADMIN["id"], HELPDESK["id"], AUTOMATION["servicePrincipalId"],
         "b0000000-0000-4000-8000-000000000002"])
    assert "MS-PIM" not in set(matrix.principals["name"])
    assert set(matrix.principals["kind"]) == {"user", "service_principal", "managed_identity"}
    assert matrix.counts.shape == (4, len(matrix.actions))
    assert list(matrix.actions) == sorted(matrix.actions)


def test_evidence_matches_the_catalog_mapping(matrix: UsageMatrix, catalog: Any) -> None:
    admin = matrix.evidence[matrix.evidence["principal_id"] == ADMIN["id"]]
    expected = _expected(catalog, "Update user", "UserManagement", "AccountEnabled|JobTitle")
    assert expected, "the catalog maps Update user"
    assert tuple(admin["action"]) == tuple(sorted(expected))
    assert set(admin["count"]) == {2}
    assert set(admin["n_targets"]) == {1}
    # both records fall in one usage row, whose example is the earliest record
    assert all(ids == ("Directory_1",) for ids in admin["example_ids"])
    row = matrix.principal_index(ADMIN["id"])
    cols = [matrix.actions.index(a) for a in expected]
    assert matrix.counts[row, cols].toarray().ravel().tolist() == [2] * len(expected)
    assert int(matrix.counts.sum()) == int(matrix.evidence["count"].sum())
    assert matrix.to_bool().dtype == np.bool_
    assert matrix.to_bool().nnz == matrix.counts.nnz


def test_group_membership_targets_the_group(matrix: UsageMatrix, catalog: Any) -> None:
    helpdesk = matrix.targets[matrix.targets["principal_id"] == HELPDESK["id"]]
    member_actions = set(_expected(catalog, "Add member to group", "GroupManagement",
                                   "Group.DisplayName|Group.ObjectID"))
    assert member_actions
    on_groups = helpdesk[helpdesk["action"].isin(member_actions)]
    assert set(on_groups["target_id"]) == {GROUP}
    assert set(on_groups["target_type"]) == {"Group"}
    assert USER_T not in set(on_groups["target_id"])


def _failed_admin(catalog: Any) -> int:
    """Failed records of HELPDESK whose activity the catalog maps to admin actions."""
    n = 0
    for rec in _records():
        if rec["result"] == "failure" and rec["initiatedBy"]["user"] == HELPDESK:
            target = rec["targetResources"][0]
            props = sorted(p["displayName"] for p in target["modifiedProperties"])
            n += catalog.map_activity("Core Directory", rec["category"],
                                      rec["activityDisplayName"], "|".join(props), "User",
                                      self_initiated=False).kind == "admin"
    return n


def test_failures_are_kept_apart(matrix: UsageMatrix, catalog: Any) -> None:
    failed = matrix.failed[matrix.failed["principal_id"] == HELPDESK["id"]]
    assert failed["count"].sum() == _failed_admin(catalog) >= 1
    ok_examples = {i for ids in matrix.evidence["example_ids"] for i in ids}
    assert {"Directory_6", "Directory_10"}.isdisjoint(ok_examples)


def test_unmapped_and_risk_and_unobservable(matrix: UsageMatrix, catalog: Any) -> None:
    unmapped = matrix.unmapped.set_index("activity")
    assert unmapped.loc["Frobnicate the directory", "count"] == 1
    assert unmapped.loc["Frobnicate the directory", "example_id"] == "Directory_9"
    assert matrix.risk_weights.tolist() == [catalog.risk_weight(a) for a in matrix.actions]
    assert matrix.unobservable == catalog.unobservable_actions
    assert matrix.window[0] is not None and matrix.window[0] < matrix.window[1]


def test_each_distinct_signature_is_mapped_once(catalog: Any) -> None:
    calls: list[tuple[Any, ...]] = []

    class Counting:
        """Delegates to the real catalog and records every map_activity call."""

        def __getattr__(self, name: str) -> Any:
            return getattr(catalog, name)

        def map_activity(self, *args: Any, **kwargs: Any) -> Any:
            calls.append((*args, tuple(sorted(kwargs.items()))))
            return catalog.map_activity(*args, **kwargs)

    recs = [record(f"Directory_{i}", when=f"2025-05-12T08:{i:02d}:00Z",
                   target=f"c0000000-0000-4000-8000-{i:012d}",
                   props=[prop("Included Updated Properties", "JobTitle")]) for i in range(40)]
    log = read_audit_logs(recs)
    assert len(log.rows) == 40
    log.usage(Counting())
    assert len(calls) == len(set(calls)) == 1


def test_subset_summary_and_principal_index(matrix: UsageMatrix, catalog: Any) -> None:
    part = matrix.subset(principals=[HELPDESK["id"]])
    assert part.principals["principal_id"].tolist() == [HELPDESK["id"]]
    assert set(part.evidence["principal_id"]) == {HELPDESK["id"]}
    assert part.actions == matrix.actions
    one = matrix.subset(actions=[matrix.actions[0]])
    assert one.actions == (matrix.actions[0],)
    assert one.counts.shape == (4, 1)
    assert one.risk_weights.tolist() == [matrix.risk_weights[0]]
    summary = matrix.summary()
    assert summary["operations"].tolist() == sorted(summary["operations"], reverse=True)
    assert int(summary["operations"].sum()) == int(matrix.counts.sum())
    assert summary.set_index("principal_id").loc[HELPDESK["id"], "failed"] == _failed_admin(
        catalog)
    with pytest.raises(UnknownNameError, match="a0000000-0000-4000-8000-000000000001"):
        matrix.principal_index("a0000000-0000-4000-8000-00000000000l")
    with pytest.raises(UnknownNameError):
        matrix.subset(actions=["microsoft.directory/users/nonsense"])


def test_empty_log_gives_an_empty_matrix(catalog: Any) -> None:
    empty = read_audit_logs([]).usage(catalog)
    assert empty.shape == (0, 0)
    assert empty.evidence.empty and empty.unmapped.empty


def test_examples_and_targets_on_many_rows(catalog: Any) -> None:
    # 12 rows of one signature: same first_seen for the first five, so the example ids are
    # decided by the id order; two rows share a group, so n_targets counts 11 objects.
    recs = [record(f"Directory_{c}", when="2025-05-12T08:00:00Z" if i < 5
                   else f"2025-05-12T09:{i:02d}:00Z",
                   target=f"c0000000-0000-4000-8000-{i:012d}", op="Assign",
                   activity="Add member to group", category="GroupManagement",
                   props=[prop("Group.ObjectID", f"g-{min(i, 10)}")])
            for i, c in enumerate("kjihgfedcbaz")]
    matrix = read_audit_logs(recs).usage(catalog)
    assert len(matrix.evidence) >= 1
    for row in matrix.evidence.itertuples():
        assert row.example_ids == ("Directory_g", "Directory_h", "Directory_i")
        assert row.count == 12 and row.n_targets == 11
    groups = matrix.targets.groupby("action")["target_id"].apply(list)
    assert all(ids == sorted(f"g-{i}" for i in range(11)) for ids in groups)
    assert set(matrix.targets["target_type"]) == {"Group"}
