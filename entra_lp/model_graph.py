"""The permission model as a networkx graph: tasks, actions, resource types and built-in roles.

``build_graph(catalog)`` returns a :class:`networkx.DiGraph` whose nodes are keyed
``"task:<id>"``, ``"action:<name>"``, ``"resource:<namespace>/<resource>"`` and
``"role:<template id>"``, each with ``kind`` and ``label`` attributes. Edges carry ``rel``:

* ``requires``: task → action (the task's minimal actions);
* ``grants``: role → action (``condition`` attribute: None, ``$ResourceIsSelf``...);
* ``implies``: action → action, between catalog actions only. The relation is stored **in full,
  not transitively reduced** (it is already transitive), so "what does this allow" is one hop;
  self-loops are left out;
* ``acts_on``: action → resource type.

Queries work on the graph alone, so a saved graph (e.g. ``networkx.node_link_data``) answers them
without the catalog.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import networkx as nx

from permission_catalog.errors import UnknownNameError

if TYPE_CHECKING:  # pragma: no cover
    from permission_catalog.catalog import Catalog

__all__ = ["build_graph", "reachable", "roles_for_task", "tasks_for_role"]


def _action(name: str) -> str:
    return f"action:{name}"


def build_graph(catalog: Catalog) -> nx.DiGraph[str]:
    """Build the graph described in the module docstring (deterministic node/edge order)."""
    g: nx.DiGraph[str] = nx.DiGraph(version=catalog.version)
    for name, act in catalog.actions.items():
        resource = f"resource:{act.namespace}/{act.resource}"
        g.add_node(_action(name), kind="action", label=name)
        g.add_node(resource, kind="resource", label=f"{act.namespace}/{act.resource}")
        g.add_edge(_action(name), resource, rel="acts_on")
    for name in catalog.actions:
        for other in sorted(catalog.implied(name) - {name}):
            g.add_edge(_action(name), _action(other), rel="implies")
    for role in sorted(catalog.roles.values(), key=lambda r: r.name):
        g.add_node(f"role:{role.id}", kind="role", label=role.name, assignable=role.assignable)
        for ra in role.actions:
            g.add_edge(f"role:{role.id}", _action(ra.name), rel="grants", condition=ra.condition)
    for task_id in sorted(catalog.tasks):
        task = catalog.tasks[task_id]
        g.add_node(f"task:{task_id}", kind="task", label=str(getattr(task, "title", task_id)))
        for name in task.actions:
            g.add_edge(f"task:{task_id}", _action(name), rel="requires")
    return g


def _out(g: nx.DiGraph[str], node: str, rel: str) -> list[str]:
    return [v for _, v, d in g.out_edges(node, data=True) if d["rel"] == rel]


def _allowed(g: nx.DiGraph[str], role_node: str) -> set[str]:
    """Action nodes a role allows: unconditioned grants and everything they imply."""
    direct = [
        v
        for _, v, d in g.out_edges(role_node, data=True)
        if d["rel"] == "grants" and d.get("condition") is None
    ]
    out = set(direct)
    for node in direct:
        out.update(_out(g, node, "implies"))
    return out


def _role_node(g: nx.DiGraph[str], role: str) -> str:
    if g.has_node(f"role:{role}"):
        return f"role:{role}"
    wanted = role.strip().lower()
    for node, data in g.nodes(data=True):
        if data["kind"] == "role" and str(data["label"]).lower() == wanted:
            return str(node)
    names = [str(d["label"]) for _, d in g.nodes(data=True) if d["kind"] == "role"]
    raise UnknownNameError("built-in role", role, names)


def roles_for_task(g: nx.DiGraph[str], task_id: str) -> tuple[str, ...]:
    """Names of the roles whose unconditioned grants cover every action of the task (sorted)."""
    node = f"task:{task_id}"
    if not g.has_node(node):
        tasks = [str(n)[5:] for n, d in g.nodes(data=True) if d["kind"] == "task"]
        raise UnknownNameError("task", task_id, tasks)
    required = set(_out(g, node, "requires"))
    hits = [
        str(d["label"])
        for n, d in g.nodes(data=True)
        if d["kind"] == "role" and required <= _allowed(g, str(n))
    ]
    return tuple(sorted(hits))


def tasks_for_role(g: nx.DiGraph[str], role: str) -> tuple[str, ...]:
    """Ids of the tasks a role (template id or name) can do entirely (sorted)."""
    allowed = _allowed(g, _role_node(g, role))
    hits = [
        str(n)[5:]
        for n, d in g.nodes(data=True)
        if d["kind"] == "task" and set(_out(g, str(n), "requires")) <= allowed
    ]
    return tuple(sorted(hits))


def reachable(g: nx.DiGraph[str], actions: Iterable[str]) -> frozenset[str]:
    """Catalog actions allowed by granting ``actions`` (themselves included, via ``implies``)."""
    out: set[str] = set()
    for name in actions:
        node = _action(name)
        if not g.has_node(node):
            known = [str(d["label"]) for _, d in g.nodes(data=True) if d["kind"] == "action"]
            raise UnknownNameError("resource action", name, known)
        out.add(name)
        out.update(v[len("action:") :] for v in _out(g, node, "implies"))
    return frozenset(out)
