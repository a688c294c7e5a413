"""Day-by-day rendering: planned counts to time-ordered records in every delivery form.

For each day the engine lays out the day's operations (numbers only: time, principal,
template, status), sorts them by time and renders them one by one, so memory holds one day's
small arrays and never the records. Times follow each persona's clock: office workers in
sessions during their region's working hours, automation in hourly runs, the sync account in
30-minute cycles. Operations of one request share a correlation id (PIM twins written by
``MS-PIM``, credential companions).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np

from . import _rand
from .plan import PrincipalPlan
from .render import Compiled, compile_template, initiator_json
from .templates import ROLE_REF, Shape, Template, TemplateLibrary, id_prefix, membership
from .world import MS_PIM, Objects, Principal, World

__all__ = ["ACTIVATION", "FAILED", "NOISE", "OK", "DayEngine", "Record"]

OK, FAILED, NOISE, ACTIVATION, EXPIRY = 0, 1, 2, 3, 4
US = 1_000_000
DAY_US = 86_400 * US
_SCOPED_REASON = "Insufficient privileges to complete the operation."
_REASONS = {
    "Add": "Another object with the same value for property proxyAddresses already exists.",
    "Assign": "One or more added object references already exist for the following modified "
              "properties: 'members'.",
    "Unassign": "Resource does not exist or one of its queried reference-property objects are "
                "not present.",
    "Delete": "Resource does not exist or one of its queried reference-property objects are "
              "not present.",
    "Update": "Invalid value specified for property 'usageLocation' of resource 'User'.",
    "Get": _SCOPED_REASON,
}
_EH_BATCH = 40


@dataclass(frozen=True, slots=True)
class Record:
    """One rendered record in the requested forms (``None`` for forms not asked for)."""

    graph: str | None
    event_hub: str | None
    log_analytics: list[str] | None


@dataclass(frozen=True, slots=True)
class _PimChains:
    activation: Template
    expiry: Template | None


class DayEngine:
    """Renders the records of one day at a time (see the module docstring)."""

    def __init__(self, world: World, plans: list[PrincipalPlan], library: TemplateLibrary,
                 seed: int) -> None:
        self.world, self.plans, self.seed = world, plans, seed
        self.table: list[Template] = []
        self._ids: dict[str, int] = {}
        self.compiled: list[Compiled] = []
        self.plan_ids = [np.asarray([self._intern(t) for t in plan.templates], dtype=np.int64)
                         for plan in plans]
        self.noise_ids = [[(d, self._intern(t)) for d, t in plan.noise] for plan in plans]
        self.chains = _pim_chains(library)
        self.chain_ids = (None if self.chains is None else
                          (self._intern(self.chains.activation),
                           None if self.chains.expiry is None
                           else self._intern(self.chains.expiry)))
        # Scopes often share one pool array (tenant-wide users...): convert each array once.
        as_list: dict[int, list[int]] = {}
        self.pools = {}
        for key, array in world.pools.items():
            if id(array) not in as_list:
                as_list[id(array)] = array.tolist()
            self.pools[key] = as_list[id(array)]
        admins = [p for p in world.principals if p.principal_type == "user"]
        self.admin_pool = list(range(len(admins)))
        self.admins = admins
        self.values = [self._principal_values(p) for p in world.principals]
        self.pim_values = self._pim_values()
        self._scoped: list[dict[str, tuple[list[int], list[int]]]] | None = None
        self._countries = [r.country for r in world.profile.regions]
        self._rendered: dict[str, list[_Obj]] = {}

    # ---- templates ----------------------------------------------------------------------
    def _intern(self, t: Template) -> int:
        key = t.key
        hit = self._ids.get(key)
        if hit is None:
            hit = self._ids[key] = len(self.table)
            self.table.append(t)
            self.compiled.append(compile_template(t))
            for c in t.companions:
                self._intern(c)
        return hit

    # ---- per-principal constant values --------------------------------------------------
    def _base(self) -> dict[str, str]:
        w = self.world
        return {"tenant": w.tenant_id, "domain": w.profile.domain, "sku": w.workspace_id,
                "j_uagent": "null"}

    def _principal_values(self, p: Principal) -> dict[str, str]:
        v = self._base()
        if p.principal_type == "user":
            ident = {"id": p.id, "displayName": None, "userPrincipalName": p.name,
                     "ipAddress": p.ip}
            pd = f'{{"key":"User-Agent","value":"{p.user_agent}"}}'
            v["j_uagent"] = f'"{p.user_agent}"' if p.user_agent else "null"
        else:
            ident = {"appId": None, "displayName": p.name, "servicePrincipalId": p.id,
                     "servicePrincipalName": None}
            pd = (f'{{"key":"User-Agent","value":"{p.user_agent}"}},'
                  f'{{"key":"AppId","value":"{p.app_id}"}}')
        v.update({
            "j_init": initiator_json(p.principal_type, ident, "graph"),
            "j_init_eh": initiator_json(p.principal_type, ident, "event_hub"),
            "la_init": initiator_json(p.principal_type, ident, "log_analytics"),
            "j_pd": pd, "ip": p.ip or "20.190.128.10", "ident": p.name,
        })
        return v

    def _pim_values(self) -> dict[str, str]:
        v = self._base()
        ident = {"appId": None, "displayName": MS_PIM,
                 "servicePrincipalId": self.world.pim_id, "servicePrincipalName": None}
        v.update({
            "j_init": initiator_json("app", ident, "graph"),
            "j_init_eh": initiator_json("app", ident, "event_hub"),
            "la_init": initiator_json("app", ident, "log_analytics"),
            "j_pd": '{"key":"User-Agent","value":"Microsoft Azure Graph Client Library 1.0"}',
            "ip": "20.190.128.10", "ident": MS_PIM,
        })
        return v

    # ---- laying out a day ---------------------------------------------------------------
    def day_ops(self, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(time_us, principal, template id, status) of the day's operations, time-sorted."""
        rng = _rand.stream(self.seed, _rand.DAY, day, 0)
        day_start = _epoch_us(self.world, day)
        parts: list[tuple[np.ndarray, ...]] = []
        for i, plan in enumerate(self.plans):
            laid = self._principal_day(i, plan, day, day_start, rng)
            if laid is not None:
                parts.append(laid)
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty
        times, who, tmpl, status = (np.concatenate(c) for c in zip(*parts, strict=True))
        order = np.lexsort((np.arange(len(times)), times))
        return times[order], who[order], tmpl[order], status[order]

    def _principal_day(self, i: int, plan: PrincipalPlan, day: int, day_start: int,
                       rng: np.random.Generator) -> tuple[np.ndarray, ...] | None:
        succ, fail = plan.succ[day], plan.fail[day]
        total = succ + fail
        n = int(total.sum())
        noise = [tid for d, tid in self.noise_ids[i] if d == day]
        activate = plan.activations is not None and bool(plan.activations[day]) \
            and self.chain_ids is not None
        if n == 0 and not noise and not activate:
            return None
        local = np.repeat(np.arange(len(total)), total)
        starts = np.concatenate(([0], np.cumsum(total)[:-1]))
        status = np.where(np.arange(n) - starts[local] >= succ[local], FAILED, OK)
        tmpl = self.plan_ids[i][local]
        perm = rng.permutation(n)
        tmpl, status = tmpl[perm], status[perm]
        if noise:
            tmpl = np.concatenate((tmpl, np.asarray(noise, dtype=np.int64)))
            status = np.concatenate((status, np.full(len(noise), NOISE)))
            mix = rng.permutation(len(tmpl))
            tmpl, status = tmpl[mix], status[mix]
        times = self._times(self.world.principals[i], len(tmpl), day_start, rng)
        if activate:
            assert self.chain_ids is not None
            first = int(times[0]) if len(times) else day_start + 9 * 3600 * US
            at = max(day_start, first - int(rng.integers(60, 300)) * US)
            hours = 8
            extra_t = [at]
            extra_id = [self.chain_ids[0]]
            extra_s = [ACTIVATION]
            if self.chain_ids[1] is not None:
                extra_t.append(min(at + hours * 3600 * US, day_start + DAY_US - 5 * US))
                extra_id.append(self.chain_ids[1])
                extra_s.append(EXPIRY)
            times = np.concatenate((np.asarray(extra_t, dtype=np.int64), times))
            tmpl = np.concatenate((np.asarray(extra_id, dtype=np.int64), tmpl))
            status = np.concatenate((np.asarray(extra_s, dtype=np.int64), status))
        who = np.full(len(times), i, dtype=np.int64)
        return times, who, tmpl.astype(np.int64), status.astype(np.int64)

    def _times(self, p: Principal, m: int, day_start: int, rng: np.random.Generator
               ) -> np.ndarray:
        """``m`` sorted times (epoch us) within the day, on the persona's clock."""
        if m == 0:
            return np.zeros(0, dtype=np.int64)
        schedule = p.persona.schedule
        offset = self.world.profile.regions[p.region].utc_offset_hours
        if schedule == "office":
            k = 1 + int(rng.poisson((m - 1) / max(p.persona.session_size, 1.0)))
            morning = rng.random(k) < 0.55
            hours = np.where(morning, rng.normal(9.8, 1.0, k), rng.normal(14.5, 1.3, k))
            hours = np.clip(hours, 7.0, 19.0) - offset
            starts = np.clip((hours * 3600 * US).astype(np.int64), 0, DAY_US - 4 * 3600 * US)
            gap_mean = 45.0
        else:
            cycle = 30 if schedule == "sync" else 60
            runs = (24 * 60) // cycle
            minute = (p.index * 7) % cycle
            chosen = rng.integers(0, runs, max(1, min(runs, m)))
            starts = ((np.unique(chosen) * cycle + minute) * 60 * US).astype(np.int64)
            k = len(starts)
            gap_mean = 0.5 if schedule == "sync" else 3.0
        session = rng.integers(0, k, m)
        gaps = (rng.exponential(gap_mean, m) * US).astype(np.int64) + 1000
        order = np.argsort(session, kind="stable")
        sess_sorted = session[order]
        csum = np.cumsum(gaps[order])
        first = np.searchsorted(sess_sorted, np.arange(k))
        base = np.concatenate(([0], csum))[first]
        within = csum - base[sess_sorted]
        t = starts[sess_sorted] + within
        t = np.minimum(t, DAY_US - US - rng.integers(0, US, m))
        return np.sort(day_start + t)

    # ---- rendering ----------------------------------------------------------------------
    def _principal_pools(self, p: Principal) -> dict[str, tuple[list[int], list[int]]]:
        """Object kind -> (in-scope pool, out-of-scope pool) for one principal."""
        out: dict[str, tuple[list[int], list[int]]] = {}
        for kind in self.world.objects:
            tenant = self.pools[("tenant", kind)]
            pool = self.pools.get((p.scope_key, kind)) or tenant
            outside = self.pools.get((f"out:{p.scope_key}", kind)) or []
            out[kind] = (pool, outside)
        out["*tenant"] = ([], [])
        return out

    def records(self, day: int, forms: frozenset[str]) -> Iterator[Record]:
        """The day's records in time order, rendered in ``forms``."""
        times, who, tmpl, status = self.day_ops(day)
        n = len(times)
        if n == 0:
            return
        rng = _rand.stream(self.seed, _rand.DAY, day, 1)
        corr, g1, g2 = _rand.guids(rng, n), _rand.guids(rng, n), _rand.guids(rng, n)
        codes = _rand.codes(rng, 3 * n)
        ints = rng.integers(10**8, 10**9, n).tolist()
        u = rng.random((n, 2)).tolist()
        clock = _Clock(self.world, day)
        stamps = np.datetime_as_string(times.astype("datetime64[us]"), unit="us").tolist()
        if self._scoped is None:
            self._scoped = [self._principal_pools(p) for p in self.world.principals]
        la = "log_analytics" in forms
        for j, (when, pi, tid, st) in enumerate(zip(times.tolist(), who.tolist(), tmpl.tolist(),
                                                    status.tolist(), strict=True)):
            ev = _Event(when, pi, tid, st, corr[j], g1[j], g2[j], codes[3 * j: 3 * j + 3],
                        ints[j], u[j])
            t = self.table[tid]
            bag = self._objects(t, ev)
            yield self._one(t, ev, 0, when, f"{stamps[j]}{ev.ints % 10}", clock=clock,
                            bag=bag, forms=forms, la=la)
            for step, companion in enumerate(t.companions, 1):
                at = when + step * (1_200_000 + ev.ints % 900_000)
                yield self._one(companion, ev, step, at, clock.graph(at, ev.ints),
                                clock=clock, bag=bag, forms=forms, la=la)

    def _one(self, t: Template, ev: _Event, step: int, when: int, stamp: str, *,
             clock: _Clock, bag: dict[str, _Obj], forms: frozenset[str], la: bool) -> Record:
        v = dict(self.pim_values if t.initiator == MS_PIM else self.values[ev.principal])
        shape = t.shape
        target = bag.get(shape.target) or self._obj("other", 0)
        ctx = (bag.get(shape.context) if shape.context else None) or target
        failed = ev.status == FAILED
        v["id"] = f"{id_prefix(t.service)}_{ev.corr}_{ev.codes[step]}_" \
                  f"{ev.ints + step}"
        v["corr"] = ev.corr
        if failed:
            reason = self._reason(t, ev)
            v["result"], v["reason"], v["reason_la"] = "failure", reason, reason
        else:
            v["result"], v["reason"], v["reason_la"] = "success", "", "(blank)"
        v["activity"] = _spelling(t, ev.ints) if t.spellings else t.activity
        v["t_id"], v["j_t_name"], v["j_t_upn"], v["t_app"], plain = target
        v["c_id"], v["j_c_name"], v["j_c_upn"], _, ctx_plain = ctx
        v["g1"], v["g2"] = ev.g1, ev.g2
        v["t_graph"] = v["t_eh"] = stamp + "Z"
        v["t_props"] = stamp + "+00:00"
        if shape.props:  # values only modified properties use
            v["t_name_s"], v["c_name"] = plain, ctx_plain
            v["t_upn_s"] = target[2].strip('"')
            v["c_upn"] = ctx[2].strip('"')
            v["t_country"] = self._countries[ev.principal % len(self._countries)]
            v["ts_new"], v["ts_old"] = clock.iso(when)
            v["ts_day"] = clock.iso_date
        if t.service == "PIM":
            v["just"] = f"Ticket INC{ev.ints % 10_000_000:07d}"
        if la:
            v["t_la"], v["t_gen"] = clock.la(when, ev.ints)
        return self._emit(self._ids[t.key], v, forms)

    def _objects(self, t: Template, ev: _Event) -> dict[str, _Obj]:
        """(id, JSON display name, JSON UPN, app id) per object kind ``ev``'s records name."""
        if ev.status >= ACTIVATION:
            p = self.world.principals[ev.principal]
            roles = self.world.eligible_roles.get(p.id) or [0]
            return {"role": self._obj("role", roles[int(ev.u[0] * len(roles))]),
                    "user": (p.id, "null", f'"{p.name}"', "", p.name)}
        shape = t.shape
        bag: dict[str, _Obj] = {}
        target, context = shape.target, shape.context
        if context == "role" or target == "role":
            # Role changes point at administrators, not at ordinary users.
            bag["user"] = self._admin(ev.principal, ev.u[1 if target == "role" else 0])
        if target not in bag:
            bag[target] = self._obj(target, self._pick(target, ev, ev.u[0]))
        if context is not None and context not in bag:
            bag[context] = self._obj(context, self._pick(context, ev, ev.u[1]))
        return bag

    def _admin(self, principal: int, u: float) -> _Obj:
        me = self.world.principals[principal].id
        k = int(u * len(self.admins))
        other = self.admins[k] if self.admins[k].id != me else self.admins[(k + 1) %
                                                                           len(self.admins)]
        return other.id, "null", f'"{other.name}"', "", other.name

    def _pick(self, kind: str, ev: _Event, u: float) -> int:
        pools = self._scoped[ev.principal] if self._scoped is not None else {}
        if ev.status == NOISE:
            pool = self.pools[("tenant", kind)]
        else:
            pool, outside = pools[kind]
            if ev.status == FAILED and outside:
                pool = outside
        return pool[int(u * len(pool))]

    def _obj(self, kind: str, k: int) -> _Obj:
        table = self._rendered.get(kind)
        if table is None:
            table = self._rendered[kind] = _rendered_objects(kind, self.world.objects[kind])
        return table[k]

    def _reason(self, t: Template, ev: _Event) -> str:
        p = self.world.principals[ev.principal]
        if p.scope_key != "tenant":
            return _SCOPED_REASON
        return _REASONS.get(t.operation, _REASONS["Update"])

    def _emit(self, tid: int, v: dict[str, str], forms: frozenset[str]) -> Record:
        c = self.compiled[tid]
        graph = c.graph % v if "graph" in forms else None
        eh = c.event_hub % v if "event_hub" in forms else None
        la = None
        if "log_analytics" in forms:
            category, service, operation = c.la_static
            la = [self.world.workspace_id, "Azure AD", v["t_gen"],
                  f"/tenants/{v['tenant']}/providers/Microsoft.aadiam", v["activity"], "1.0",
                  category, "", "None", "", "0", v["corr"], "Microsoft.aadiam",
                  "Microsoft.aadiam", "Microsoft.aadiam", v["ident"], "4", "",
                  c.la_details % v, v["id"], v["la_init"], service, v["result"],
                  v["reason_la"], c.la_targets % v, v["tenant"], v["activity"], v["t_la"],
                  operation, "AuditLogs"]
        return Record(graph, eh, la)


_Obj = tuple[str, str, str, str, str]
"""(id, JSON display name, JSON UPN, app id, plain display name) of a target object."""


@dataclass(frozen=True, slots=True)
class _Event:
    time: int
    principal: int
    template: int
    status: int
    corr: str
    g1: str
    g2: str
    codes: list[str]
    ints: int
    u: list[float]


class _Clock:
    """Timestamp text for one day in each form's style."""

    def __init__(self, world: World, day: int) -> None:
        self.start = _epoch_us(world, day)
        date = world.start + timedelta(days=day)
        self.iso_date = date.strftime("%Y-%m-%d")
        self.old_date = (date - timedelta(days=30)).strftime("%Y-%m-%d")
        self.us_date = f"{date.month}/{date.day}/{date.year}"

    def _parts(self, when: int) -> tuple[int, int, int, int]:
        sod = min(max(when - self.start, 0), DAY_US - 1)
        secs, frac = divmod(sod, US)
        hh, rem = divmod(secs, 3600)
        mm, ss = divmod(rem, 60)
        return hh, mm, ss, frac

    def graph(self, when: int, salt: int) -> str:
        """Graph time without its ``Z``: 7 fractional digits, as Entra writes them."""
        hh, mm, ss, frac = self._parts(when)
        return f"{self.iso_date}T{hh:02d}:{mm:02d}:{ss:02d}.{frac:06d}{salt % 10}"

    def la(self, when: int, salt: int) -> tuple[str, str]:
        """(ActivityDateTime, TimeGenerated) in the portal CSV's US style, milliseconds."""
        return (self._la(*self._parts(when)),
                self._la(*self._parts(when + (20 + salt % 90) * US)))

    def _la(self, hh: int, mm: int, ss: int, frac: int) -> str:
        h12 = hh % 12 or 12
        return f"{self.us_date}, {h12}:{mm:02d}:{ss:02d}.{frac // 1000:03d} " \
               f"{'PM' if hh >= 12 else 'AM'}"

    def iso(self, when: int) -> tuple[str, str]:
        """Second-precision ISO times (how Entra writes timestamps inside properties): the
        moment itself and the same time 30 days earlier (a previous value)."""
        hh, mm, ss, _ = self._parts(when)
        clock = f"T{hh:02d}:{mm:02d}:{ss:02d}Z"
        return self.iso_date + clock, self.old_date + clock


def _rendered_objects(kind: str, objs: Objects) -> list[_Obj]:
    """(id, JSON display name, JSON UPN, app id) of every object of a kind, rendered once."""
    apps = objs.app_ids or [""] * len(objs.ids)
    if kind == "user":  # user targets carry a null displayName, as real records do
        return [(i, "null", f'"{u}"', a, n) for i, u, a, n in zip(objs.ids, objs.upns, apps,
                                                                   objs.names, strict=True)]
    return [(i, f'"{n}"', "null", a, n) for i, n, a in zip(objs.ids, objs.names, apps,
                                                           strict=True)]


def _epoch_us(world: World, day: int) -> int:
    return int((world.start + timedelta(days=day)).timestamp()) * US


def _spelling(t: Template, salt: int) -> str:
    """Now and then the activity is written in one of its other real spellings."""
    if t.spellings and salt % 10 < 3:
        name = t.spellings[salt % len(t.spellings)]
        return name + " " if salt % 2 else name
    return t.activity


def _pim_chains(library: TemplateLibrary) -> _PimChains | None:
    """Self-activation (requested -> completed -> MS-PIM twin) and expiry (PIM -> twin)."""
    role_first = Shape("role", "user", True, operation="Add")
    requested = library.system_template(
        "pim:activation:requested", "PIM", "Add member to role requested (PIM activation)",
        role_first, category="RoleManagement", expect=("self_service",))
    completed = library.system_template(
        "pim:activation:completed", "PIM", "Add member to role completed (PIM activation)",
        role_first, category="RoleManagement", expect=("self_service",))
    twin = library.system_template(
        "pim:activation:twin", "Core Directory", "Add member to role",
        membership("user", "role", ROLE_REF, removal=False), initiator=MS_PIM,
        category="RoleManagement", expect=("system",))
    if requested is None or completed is None or twin is None:
        return None
    activation = replace(requested, companions=(completed, twin))
    expired = library.system_template(
        "pim:activation:expired", "PIM", "Remove member from role (PIM activation expired)",
        replace(role_first, operation="Delete"), initiator=MS_PIM, category="RoleManagement",
        expect=("system",))
    untwin = library.system_template(
        "pim:activation:untwin", "Core Directory", "Remove member from role",
        membership("user", "role", ROLE_REF, removal=True), initiator=MS_PIM,
        category="RoleManagement", expect=("system",))
    expiry = None if expired is None or untwin is None else replace(expired,
                                                                    companions=(untwin,))
    return _PimChains(activation, expiry)


def write_event_hub_batches(records: list[str]) -> str:
    """Event Hub messages: ``{"records": [...]}`` lines of up to 40 records."""
    lines = []
    for k in range(0, len(records), _EH_BATCH):
        lines.append('{"records":[' + ",".join(records[k:k + _EH_BATCH]) + "]}\n")
    return "".join(lines)
