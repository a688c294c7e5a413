"""Render planned events as Entra audit records in the three delivery forms.

Each template is compiled once per form into a ``%``-format string: the record is built as a
dict with sentinel strings (``"@@j_name@@"`` for a raw JSON value, ``@@name@@`` inside a string),
serialised with orjson, and the sentinels become ``%(name)s`` slots. Rendering a record is then
one dict of per-event values and one ``%`` per form, with no per-event JSON encoding; values are
plain ASCII identifiers and names that need no escaping at any nesting level.

Forms (../shared/reference/audit-log-formats.md): ``graph`` (Graph ``directoryAudit``, JSON
lines), ``log_analytics`` (portal CSV of the ``AuditLogs`` table, JSON inside string columns,
``" [UTC]"`` headers, ``M/D/YYYY, h:mm:ss.fff AM/PM`` times, ``(blank)`` reasons) and
``event_hub`` (diagnostic-settings records under ``properties`` in ``{"records": [...]}``
batches).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from .templates import KIND_TYPE, Prop, Template

__all__ = ["LA_HEADER", "Compiled", "compile_template", "initiator_json", "prop_values"]

LA_HEADER = (
    'TenantId,SourceSystem,"TimeGenerated [UTC]",ResourceId,OperationName,OperationVersion,'
    "Category,ResultType,ResultSignature,ResultDescription,DurationMs,CorrelationId,Resource,"
    "ResourceGroup,ResourceProvider,Identity,Level,Location,AdditionalDetails,Id,InitiatedBy,"
    "LoggedByService,Result,ResultReason,TargetResources,AADTenantId,ActivityDisplayName,"
    '"ActivityDateTime [UTC]",AADOperationType,Type'
)
"""The portal CSV header exactly as exported (note the quoted ``[UTC]`` columns)."""

_SLOT = re.compile(r'"@@(j_\w+)@@"|@@(\w+)@@')
_LICENSE = ("[SkuName=ENTERPRISEPACK, AccountId=@@tenant@@, SkuId=@@sku@@, "
            "DisabledPlans=[]]")


def _js(value: Any) -> str:
    """JSON text of a value (modified-property values are JSON inside a JSON string)."""
    return orjson.dumps(value).decode()


def prop_values(prop: Prop, removal: bool) -> tuple[str | None, str | None]:
    """(oldValue, newValue) JSON texts, with sentinels, for one modified property."""
    old, new = _VALUES.get(prop.value, _VALUES["text"])
    if removal and prop.value.startswith(("ctx_", "self_")):
        return new, None
    return old, new


_VALUES: dict[str, tuple[str | None, str | None]] = {
    "ctx_id": (None, _js("@@c_id@@")),
    "ctx_name": (None, _js("@@c_name@@")),
    "ctx_upn": (None, _js("@@c_upn@@")),
    "self_id": (None, _js("@@t_id@@")),
    "self_app_id": (None, _js("@@t_app@@")),
    "self_name": (None, _js(["@@t_name_s@@"])),
    "self_upn": (None, _js(["@@t_upn_s@@"])),
    "null": (None, None),
    "guid_zero": (None, _js("00000000-0000-0000-0000-000000000000")),
    "empty": (None, _js("")),
    "default_access": (None, _js("Default Access")),
    "key_description": (
        _js(["[KeyIdentifier=@@g2@@,KeyType=Password,KeyUsage=Verify,DisplayName=previous]"]),
        _js(["[KeyIdentifier=@@g2@@,KeyType=Password,KeyUsage=Verify,DisplayName=previous]",
             "[KeyIdentifier=@@g1@@,KeyType=Password,KeyUsage=Verify,DisplayName=rotated-@@ts_day@@]"]),
    ),
    "key_removed": (
        _js(["[KeyIdentifier=@@g2@@,KeyType=Password,KeyUsage=Verify,DisplayName=previous]",
             "[KeyIdentifier=@@g1@@,KeyType=AsymmetricX509Cert,KeyUsage=Verify,DisplayName=CN=old]"]),
        _js(["[KeyIdentifier=@@g2@@,KeyType=Password,KeyUsage=Verify,DisplayName=previous]"]),
    ),
    "timestamp": (_js(["@@ts_old@@"]), _js(["@@ts_new@@"])),
    "disable": (_js([True]), _js([False])),
    "enable": (_js([False]), _js([True])),
    "true": (_js([]), _js([True])),
    "false": (_js([True]), _js([False])),
    "true_text": (None, _js("True")),
    "member": (_js([]), _js(["Member"])),
    "nickname": (_js([]), _js(["@@t_name_s@@"])),
    "text": (_js(["previous value"]), _js(["updated value"])),
    "usage_location": (_js([]), _js(["@@t_country@@"])),
    "license": (_js([]), _js([_LICENSE])),
    "auth_methods": (_js([{"MethodType": 6, "Default": True}]),
                     _js([{"MethodType": 6, "Default": True}, {"MethodType": 7,
                                                                "Default": False}])),
    "private": (_js(["Public"]), _js(["Private"])),
    "resource_access": (_js([]), _js([{"ResourceAppId": "@@g2@@", "RequiredAppPermissions": [
        {"EntitlementId": "@@g1@@", "DirectAccessGrant": "false",
         "ImpersonationAccessGrants": ["@@g2@@"]}], "EncodingVersion": 1}])),
    "urls": (_js([]), _js(["https://@@t_name_s@@.@@domain@@/signin-oidc"])),
    "audience": (_js(["AzureADMyOrg"]), _js(["AzureADMultipleOrgs"])),
}

# Reference properties name related objects; "Included Updated Properties" lists only the
# object's own changed attributes.
_REFERENCE_PREFIXES = ("Group.", "Role.", "AppRole.", "User.", "ServicePrincipal.",
                       "Application.", "TargetId.", "ConsentContext.", "ConsentAction.")


def _modified(t: Template) -> list[dict[str, Any]]:
    props = [{"displayName": p.name, "oldValue": old, "newValue": new}
             for p in t.shape.props
             for old, new in (prop_values(p, t.shape.removal),)]
    own = [p.name for p in t.shape.props if not p.name.startswith(_REFERENCE_PREFIXES)]
    if t.shape.included and own:
        props.append({"displayName": "Included Updated Properties", "oldValue": None,
                      "newValue": _js(", ".join(own))})
    return props


def _target(kind: str, slot: str, props: list[dict[str, Any]], eh: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"@@{slot}_id@@", "displayName": f"@@j_{slot}_name@@", "type": KIND_TYPE[kind],
        "userPrincipalName": f"@@j_{slot}_upn@@", "groupType": None, "modifiedProperties": props,
    }
    if eh:
        out["administrativeUnits"] = []
    return out


def _targets(t: Template, eh: bool) -> list[dict[str, Any]]:
    out = [_target(t.shape.target, "t", _modified(t), eh)]
    if t.shape.second_target and t.shape.context:
        out.append(_target(t.shape.context, "c", [], eh))
    return out


def _details(t: Template) -> list[Any]:
    items: list[Any] = ["@@j_pd@@"]
    if t.service == "PIM" and t.shape.target == "role":
        items += [{"key": "RoleDefinitionOriginId", "value": "@@t_id@@"},
                  {"key": "RoleDefinitionOriginType", "value": "BuiltInRole"},
                  {"key": "TemplateId", "value": "@@t_id@@"},
                  {"key": "Justification", "value": "@@just@@"},
                  {"key": "RequestId", "value": "@@g1@@"}]
    return items


def _graph_record(t: Template, eh: bool) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": "@@id@@", "category": t.category, "correlationId": "@@corr@@",
        "result": "@@result@@", "resultReason": "@@reason@@",
        "activityDisplayName": "@@activity@@",
        "activityDateTime": "@@t_props@@" if eh else "@@t_graph@@",
        "loggedByService": t.service, "operationType": t.operation,
        "initiatedBy": "@@j_init_eh@@" if eh else "@@j_init@@",
        "userAgent": None if eh else "@@j_uagent@@",
        "targetResources": _targets(t, eh), "additionalDetails": _details(t),
    }
    if eh:
        record.update({"tenantId": "@@tenant@@",
                       "operationName": "@@activity@@", "identity": "@@ident@@",
                       "tenantGeo": "EU"})
    return record


def _event_hub(t: Template) -> dict[str, Any]:
    return {
        "time": "@@t_eh@@",
        "resourceId": "/tenants/@@tenant@@/providers/Microsoft.aadiam",
        "operationName": "@@activity@@", "operationVersion": "1.0", "category": "AuditLogs",
        "tenantId": "@@tenant@@", "resultSignature": "None", "durationMs": 0,
        "callerIpAddress": "@@ip@@", "correlationId": "@@corr@@", "identity": "@@ident@@",
        "Level": 4, "properties": _graph_record(t, eh=True),
    }


def _format(text: str) -> str:
    """Sentinels to ``%(name)s`` slots (literal ``%`` doubled)."""
    text = text.replace("%", "%%")
    return _SLOT.sub(lambda m: f"%({m.group(1) or m.group(2)})s", text)


@dataclass(frozen=True, slots=True)
class Compiled:
    """A template's ``%``-format strings for each form."""

    graph: str
    event_hub: str
    la_targets: str
    la_details: str
    la_static: tuple[str, ...]
    """(Category, LoggedByService, AADOperationType) as written in the CSV."""


def compile_template(t: Template) -> Compiled:
    """Compile one template for all forms."""
    return Compiled(
        graph=_format(_js(_graph_record(t, eh=False))),
        event_hub=_format(_js(_event_hub(t))),
        la_targets=_format(_js(_targets(t, eh=False))),
        la_details=_format(_js(_details(t))),
        la_static=(t.category, t.service, t.operation),
    )


def initiator_json(kind: str, ident: dict[str, Any], form: str) -> str:
    """``initiatedBy`` for one principal: ``kind`` ``user`` or ``app``; ``form`` ``graph``,
    ``event_hub`` or ``log_analytics`` (the latter two add ``roles: []`` to users and leave
    out the null side, as those exports do)."""
    if kind == "user":
        user = dict(ident)
        if form != "graph":
            user["roles"] = []
            return _js({"user": user})
        return _js({"user": user, "app": None})
    if form != "graph":
        return _js({"app": ident})
    return _js({"user": None, "app": ident})
