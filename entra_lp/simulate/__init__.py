"""Synthetic Entra tenants with ground truth: directory, personas, audit logs in three forms.

``simulate_tenant(admins=..., days=..., seed=...)`` returns a :class:`SimulatedTenant` whose
``directory`` is a :class:`~entra_lp.directory.DirectorySnapshot`, whose ``ground_truth`` says
what every principal really does, and whose records (Graph, Log Analytics portal CSV, Event Hub)
are rendered lazily from the catalog's audit rules. ``load_sample_tenant()`` opens the small
tenant shipped in ``entra_lp/sample_data/contoso``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .profiles import PROFILES, Persona, Profile, Region, RoleGrant, get_profile
from .templates import Template, TemplateError, TemplateLibrary
from .tenant import FILE_NAMES, FORMS, SimulatedTenant, WriteResult, simulate_tenant
from .truth import GroundTruth, NoiseOperation, PersonaRole, PrincipalTruth, TruthScope

__all__ = [
    "FILE_NAMES",
    "FORMS",
    "PROFILES",
    "GroundTruth",
    "NoiseOperation",
    "Persona",
    "PersonaRole",
    "PrincipalTruth",
    "Profile",
    "Region",
    "RoleGrant",
    "SampleTenant",
    "SimulatedTenant",
    "Template",
    "TemplateError",
    "TemplateLibrary",
    "TruthScope",
    "WriteResult",
    "get_profile",
    "load_sample_tenant",
    "simulate_tenant",
]

if TYPE_CHECKING:  # pragma: no cover
    from .sample import SampleTenant, load_sample_tenant


def __getattr__(name: str) -> Any:
    # ``sample`` is also run as ``python -m entra_lp.simulate.sample``: importing it here
    # eagerly would make runpy warn about a module imported twice.
    if name in ("SampleTenant", "load_sample_tenant"):
        from . import sample

        return getattr(sample, name)
    raise AttributeError(f"module 'entra_lp.simulate' has no attribute {name!r}")
