"""The networkx model of tasks, actions, resources and roles."""

from __future__ import annotations

import networkx as nx
import pytest

from entra_lp.model_graph import build_graph, reachable, roles_for_task, tasks_for_role
from permission_catalog import load_catalog
from permission_catalog.errors import UnknownNameError

CAT = load_catalog()
G = build_graph(CAT)
D = "microsoft.directory"


def test_nodes_and_edges() -> None:
    kinds = nx.get_node_attributes(G, "kind")
    assert sum(1 for k in kinds.values() if k == "action") == len(CAT.actions)
    assert sum(1 for k in kinds.values() if k == "role") == len(CAT.roles)
    assert sum(1 for k in kinds.values() if k == "task") == len(CAT.tasks)
    assert G.edges[f"action:{D}/users/password/update", f"resource:{D}/users"]["rel"] == "acts_on"
    pa = CAT.role("Password Administrator").id
    assert G.edges[f"role:{pa}", f"action:{D}/users/password/update"]["rel"] == "grants"
    implies = [(u, v) for u, v, d in G.edges(data=True) if d["rel"] == "implies"]
    assert all(CAT.implies(u[7:], v[7:]) and u != v for u, v in implies)
    assert sum(len(CAT.implied(a)) - 1 for a in CAT.actions) == len(
        implies
    )  # full relation, no loops


def test_reachable() -> None:
    got = reachable(G, [f"{D}/applications/allProperties/update"])
    assert got == CAT.expand([f"{D}/applications/allProperties/update"])
    with pytest.raises(UnknownNameError):
        reachable(G, [f"{D}/nope/read"])


def test_role_and_task_queries_on_a_graph_with_tasks() -> None:
    g = G.copy()
    g.add_node("task:t.reset", kind="task", label="Reset a password")
    g.add_edge("task:t.reset", f"action:{D}/users/password/update", rel="requires")
    roles = roles_for_task(g, "t.reset")
    assert {"Password Administrator", "Helpdesk Administrator", "Global Administrator"} <= set(
        roles
    )
    assert "Global Reader" not in roles
    expected = {r.name for r in CAT.roles_covering([f"{D}/users/password/update"])}
    assert set(roles) == expected
    assert "t.reset" in tasks_for_role(g, "Password Administrator")
    assert "t.reset" not in tasks_for_role(g, "Global Reader")
    with pytest.raises(UnknownNameError):
        roles_for_task(g, "t.nope")
    with pytest.raises(UnknownNameError):
        tasks_for_role(g, "Password Admin")


def test_curated_tasks_match_catalog_coverage() -> None:
    for task_id in sorted(CAT.tasks)[:20]:
        expected = {r.name for r in CAT.roles_covering(CAT.task(task_id).actions)}
        assert set(roles_for_task(G, task_id)) == expected
