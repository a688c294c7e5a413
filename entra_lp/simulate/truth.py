"""Ground truth of a simulated tenant: what each principal really does and needs.

Computed from the plan (never from rendered records), so it holds exactly for every delivery
form. JSON round-trip: ``GroundTruth.from_json(truth.to_json()) == truth``.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from entra_lp._models import FrozenModel, JsonDocument

__all__ = ["GroundTruth", "NoiseOperation", "PersonaRole", "PrincipalTruth", "TruthScope"]




class TruthScope(FrozenModel):
    """Where a principal's work happens: the tenant, administrative units or applications."""

    kind: Literal["tenant", "administrative_unit", "application"]
    ids: tuple[str, ...] = ()
    """AU object ids, or app registration / service principal object ids."""

    @property
    def directory_scope_ids(self) -> tuple[str, ...]:
        """The ``directoryScopeId`` values of role assignments at this scope."""
        if self.kind == "tenant":
            return ("/",)
        if self.kind == "administrative_unit":
            return tuple(f"/administrativeUnits/{i}" for i in self.ids)
        return tuple(f"/{i}" for i in self.ids)


class NoiseOperation(FrozenModel):
    """A one-off operation outside the principal's persona."""

    day: int
    task_id: str
    activity: str
    actions: tuple[str, ...]


class PrincipalTruth(FrozenModel):
    """Everything known about one principal of the simulated log."""

    principal_id: str
    principal_name: str
    """As ingest reports it: the UPN of a user, the display name of an app."""
    principal_type: Literal["user", "app"]
    kind: Literal["user", "service_principal", "managed_identity", "sync_account"]
    persona: str
    tasks: tuple[str, ...]
    """The persona's catalog tasks: what the principal's job needs."""
    scope: TruthScope
    observable_actions: tuple[str, ...]
    """Actions the persona's tasks can show in audit records."""
    unobservable_actions: tuple[str, ...]
    """Task actions no audit record shows (reads, actions without a rule)."""
    exercised_actions: tuple[str, ...]
    """Persona actions with at least one successful record in the window."""
    noise: tuple[NoiseOperation, ...] = ()
    noise_actions: tuple[str, ...] = ()
    failed_actions: tuple[str, ...] = ()
    """Actions of the failed attempts (ingest keeps them apart from successes)."""
    train_actions: tuple[str, ...] = ()
    """Actions with a successful record before ``split_time`` (persona and noise)."""
    test_actions: tuple[str, ...] = ()
    """Actions with a successful record at or after ``split_time``."""
    records: int = 0
    """Records this principal initiates (successes, failures, noise, PIM self-activation)."""
    failures: int = 0
    pim_activations: int = 0

    @property
    def used_actions(self) -> frozenset[str]:
        """Every action a successful record of this principal exercised."""
        return frozenset(self.exercised_actions) | frozenset(self.noise_actions)


class PersonaRole(FrozenModel):
    """A distinct task set (the role a perfect miner would find), with its members."""

    persona: str
    tasks: tuple[str, ...]
    actions: tuple[str, ...]
    """All task actions (observable or not)."""
    principals: tuple[str, ...]


class GroundTruth(JsonDocument):
    """The simulated tenant's right answer (see the module docstring)."""

    document_kind: ClassVar[str] = "ground truth"
    profile: str
    seed: int
    admins: int
    days: int
    start: datetime
    end: datetime
    split_time: datetime
    """Train on records before it, replay-validate on the rest."""
    catalog_version: str
    tenant_id: str
    principals: tuple[PrincipalTruth, ...]
    persona_roles: tuple[PersonaRole, ...]
    system_principals: tuple[str, ...] = ()
    """Initiator names of Microsoft's own services in the log (e.g. ``MS-PIM``)."""

    @property
    def n_persona_roles(self) -> int:
        """Number of distinct persona task sets among principals with work."""
        return len(self.persona_roles)

    def principal(self, principal_id: str) -> PrincipalTruth:
        """One principal's truth by id."""
        for p in self.principals:
            if p.principal_id == principal_id:
                return p
        from entra_lp.errors import UnknownNameError

        raise UnknownNameError("principal id", principal_id,
                               [p.principal_id for p in self.principals])
