"""How much each principal does, per day and per template: drawn once, before rendering.

The plan fixes every principal's daily record counts per template (successes and failures),
its one-off noise operations and its PIM activations. The ground truth is computed from the
plan alone, so it is exact and available without generating a single record; rendering then
only decides times and targets, day by day, and never changes a count.

Model: an office persona works on ~90% of weekdays and rarely at weekends; its volume varies
per person (log-normal) and per day (gamma). Regular tasks are picked with Zipf-like weights by
rank; ``rare`` tasks come about once a quarter; a few percent of attempts fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from . import _rand
from .templates import Template, TemplateLibrary
from .world import Principal

__all__ = ["PrincipalPlan", "make_plan", "weekdays_from"]

ZIPF_S = 1.1
RARE_PER_DAY = 1.0 / 90.0
FAIL_HUMAN = 0.03
FAIL_AUTOMATION = 0.005


@dataclass
class PrincipalPlan:
    """One principal's planned activity over the whole window."""

    templates: tuple[Template, ...]
    succ: np.ndarray
    """(days, templates) successful records."""
    fail: np.ndarray
    """(days, templates) failed records."""
    noise: list[tuple[int, Template]] = field(default_factory=list)
    """(day, template) one-off successful operations outside the persona."""
    activations: np.ndarray | None = None
    """(days,) bool: the principal activates its eligible roles in PIM that day."""

    def day_total(self, day: int) -> int:
        """Records the principal initiates on ``day`` (noise and activations excluded)."""
        return int(self.succ[day].sum() + self.fail[day].sum())


def _active_days(principal: Principal, weekdays: np.ndarray, rng: np.random.Generator
                 ) -> np.ndarray:
    schedule = principal.persona.schedule
    if schedule == "never":
        return np.zeros(len(weekdays), dtype=bool)
    if schedule in ("automation", "sync"):
        return np.ones(len(weekdays), dtype=bool)
    odds = np.where(weekdays < 5, 0.9, 0.03)
    return rng.random(len(weekdays)) < odds


def _weights(principal: Principal, library: TemplateLibrary
             ) -> tuple[list[Template], np.ndarray, list[Template]]:
    """Regular templates with their probabilities, and the rare tasks' templates."""
    regular: list[Template] = []
    probs: list[float] = []
    for rank, task_id in enumerate(principal.persona.tasks):
        templates = library.for_task(task_id)
        total = sum(t.weight for t in templates)
        for t in templates:
            regular.append(t)
            probs.append(t.weight / total / (rank + 1) ** ZIPF_S)
    rare = [t for task_id in principal.persona.rare for t in library.for_task(task_id)]
    p = np.asarray(probs, dtype=np.float64)
    return regular, (p / p.sum() if len(p) else p), rare


def make_plan(principal: Principal, library: TemplateLibrary, weekdays: np.ndarray, seed: int,
              *, volume: float, noise_templates: list[Template]) -> PrincipalPlan:
    """Draw one principal's plan (reproducible from ``seed`` and the principal's index)."""
    rng = _rand.stream(seed, _rand.PLAN, principal.index)
    persona = principal.persona
    days = len(weekdays)
    regular, probs, rare = _weights(principal, library)
    templates = tuple(regular + [t for t in rare if t not in regular])
    succ = np.zeros((days, len(templates)), dtype=np.int32)
    active = _active_days(principal, weekdays, rng)
    if regular and persona.events_per_day > 0:
        person = rng.lognormal(0.0, 0.3)
        daily = rng.gamma(3.0, 1.0 / 3.0, size=days)
        lam = persona.events_per_day * volume * person * daily * active
        n = rng.poisson(lam)
        succ[:, : len(regular)] = rng.multinomial(n, probs)
    _add_rare(succ, templates, rare, active, rng)
    automated = persona.schedule in ("automation", "sync")
    fail = rng.binomial(succ, FAIL_AUTOMATION if automated else FAIL_HUMAN).astype(np.int32)
    succ -= fail
    plan = PrincipalPlan(templates, succ, fail)
    plan.noise = _noise(principal, templates, noise_templates, active, rng)
    return plan


def _add_rare(counts: np.ndarray, templates: tuple[Template, ...], rare: list[Template],
              active: np.ndarray, rng: np.random.Generator) -> None:
    """Rare tasks: about once a quarter each, on a day the principal works."""
    if not rare:
        return
    days = counts.shape[0]
    work_days = np.flatnonzero(active)
    if len(work_days) == 0:
        return
    by_task: dict[str, list[Template]] = {}
    for t in rare:
        by_task.setdefault(t.task_id, []).append(t)
    for task_id in sorted(by_task):
        group = by_task[task_id]
        weights = np.asarray([t.weight for t in group])
        for _ in range(int(rng.poisson(days * RARE_PER_DAY))):
            day = int(work_days[rng.integers(len(work_days))])
            pick = group[int(rng.choice(len(group), p=weights / weights.sum()))]
            counts[day, templates.index(pick)] += 1


def _noise(principal: Principal, templates: tuple[Template, ...], candidates: list[Template],
           active: np.ndarray, rng: np.random.Generator) -> list[tuple[int, Template]]:
    """One-off operations from tasks outside the persona whose actions it never shows."""
    own_tasks = set(principal.persona.all_tasks)
    own_actions = {a for t in templates for a in t.actions}
    pool = [t for t in candidates
            if t.task_id not in own_tasks and not set(t.actions) <= own_actions]
    work_days = np.flatnonzero(active)
    rate = principal.persona.noise_rate * len(active) / 90.0
    if not pool or len(work_days) == 0 or rate <= 0:
        return []
    out = []
    for _ in range(int(rng.poisson(rate))):
        day = int(work_days[rng.integers(len(work_days))])
        out.append((day, pool[int(rng.integers(len(pool)))]))
    return sorted(out, key=lambda item: (item[0], item[1].key))


def weekdays_from(start: datetime, days: int) -> np.ndarray:
    """Weekday number (Monday = 0) of each simulated day."""
    return (np.arange(days) + start.weekday()) % 7
