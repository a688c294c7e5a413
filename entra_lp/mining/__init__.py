"""Role mining: from a principals x permissions relation to a small set of roles.

``RoleMiner`` finds the minimum number of roles reproducing a relation exactly (with a
proof of optimality, or a cover and its gap under a time limit), a fast near-optimal cover,
or a risk-weighted trade-off between roles and over-assignment; ``pareto_front`` traces
that trade-off for a notebook plot.

How the exact mode works (each step keeps the optimum):

1. reductions: empty and duplicate rows/columns, rows (columns) equal to the union of the
   rows (columns) inside them, then connected components, each solved on its own;
2. all maximal bicliques (formal concepts) of each reduced component, enumerated over its
   shorter side, and the set-cover reductions on them (forced and dominated candidates);
3. the LP relaxation over all candidates, solved by column generation (HiGHS), gives the
   lower bound; greedy and LP-rounding covers give the upper bound;
4. if a gap remains, an ILP (HiGHS, optionally OR-Tools CP-SAT) over only the candidates
   whose reduced cost lets them appear in a better cover closes it.

Every result is checked to reproduce the relation exactly before it is returned.
"""

from __future__ import annotations

from ._datasets import read_upa
from .miner import ParetoPoint, RoleMiner, pareto_front

__all__ = ["ParetoPoint", "RoleMiner", "pareto_front", "read_upa"]
