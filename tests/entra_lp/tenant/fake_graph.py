"""A Microsoft Graph-shaped fake server on 127.0.0.1 for the tenant tests.

A threaded ``http.server`` that serves paged collections (absolute loopback
``@odata.nextLink``), evaluates the small ``$filter`` / ``$expand`` subset entra-lp uses,
implements the write endpoints (role definitions, schedule requests, policy-rule PATCH)
with Graph's validation where it matters (ISO 8601 durations, ``@odata.type`` on rules),
and injects faults on demand: status storms with ``Retry-After``, torn JSON, dropped
connections, expired tokens. Every request is recorded (method, route, decoded query,
parsed body, headers) so tests assert on exactly what the real msgraph-sdk client sent.

All data here is synthetic (made-up ids and names), shaped like Graph's documented bodies.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from azure.core.credentials import AccessToken

GRAPH = "#microsoft.graph."
TENANT = "aaaaaaaa-0000-4000-8000-000000000001"
_ISO = re.compile(r"^P(?:\d+W)?(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$")


@dataclass
class Recorded:
    """One request as the server received it."""

    method: str
    version: str
    route: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]

    @property
    def token(self) -> str:
        return self.headers.get("authorization", "").removeprefix("Bearer ")


@dataclass
class Fault:
    """A scripted failure for requests matching ``method`` and ``route`` (prefix)."""

    route: str
    method: str = "GET"
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = "status"  # status | malformed | drop | body
    body: Any = None
    times: int = 1
    when: Callable[[Recorded], bool] | None = None

    def matches(self, req: Recorded) -> bool:
        return (
            self.times > 0
            and req.method == self.method
            and req.route.startswith(self.route)
            and (self.when is None or self.when(req))
        )


def graph_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "innerError": {"request-id": "fake"}}}


def _target(caller: str, level: str) -> dict[str, Any]:
    return {
        "caller": caller,
        "operations": ["all"],
        "level": level,
        "inheritableSettings": [],
        "enforcedSettings": [],
    }


def default_rules() -> list[dict[str, Any]]:
    """A synthetic set of the 17 PIM rules, shaped like Graph's."""
    rules: list[dict[str, Any]] = []
    for caller, level, exp_req, exp_max, enabled in (
        ("Admin", "Eligibility", False, "P365D", []),
        ("Admin", "Assignment", False, "P180D", ["Justification"]),
        ("EndUser", "Assignment", True, "PT8H", ["MultiFactorAuthentication", "Justification"]),
    ):
        suffix = f"{caller}_{level}"
        rules.append(
            {
                "@odata.type": GRAPH + "unifiedRoleManagementPolicyExpirationRule",
                "id": f"Expiration_{suffix}",
                "isExpirationRequired": exp_req,
                "maximumDuration": exp_max,
                "target": _target(caller, level),
            }
        )
        rules.append(
            {
                "@odata.type": GRAPH + "unifiedRoleManagementPolicyEnablementRule",
                "id": f"Enablement_{suffix}",
                "enabledRules": enabled,
                "target": _target(caller, level),
            }
        )
        for who in ("Admin", "Requestor", "Approver"):
            rules.append(
                {
                    "@odata.type": GRAPH + "unifiedRoleManagementPolicyNotificationRule",
                    "id": f"Notification_{who}_{suffix}",
                    "notificationType": "Email",
                    "recipientType": who,
                    "notificationLevel": "All",
                    "isDefaultRecipientsEnabled": True,
                    "notificationRecipients": [],
                    "target": _target(caller, level),
                }
            )
    rules = [r for r in rules if r["id"] != "Enablement_EndUser_Assignment"] + [
        {
            "@odata.type": GRAPH + "unifiedRoleManagementPolicyEnablementRule",
            "id": "Enablement_EndUser_Assignment",
            "enabledRules": ["MultiFactorAuthentication", "Justification"],
            "target": _target("EndUser", "Assignment"),
        },
        {
            "@odata.type": GRAPH + "unifiedRoleManagementPolicyApprovalRule",
            "id": "Approval_EndUser_Assignment",
            "target": _target("EndUser", "Assignment"),
            "setting": {
                "isApprovalRequired": False,
                "isApprovalRequiredForExtension": False,
                "isRequestorJustificationRequired": True,
                "approvalMode": "SingleStage",
                "approvalStages": [
                    {
                        "approvalStageTimeOutInDays": 1,
                        "isApproverJustificationRequired": True,
                        "escalationTimeInMinutes": 0,
                        "isEscalationEnabled": False,
                        "primaryApprovers": [],
                        "escalationApprovers": [],
                    }
                ],
            },
        },
        {
            "@odata.type": GRAPH + "unifiedRoleManagementPolicyAuthenticationContextRule",
            "id": "AuthenticationContext_EndUser_Assignment",
            "isEnabled": False,
            "claimValue": None,
            "target": _target("EndUser", "Assignment"),
        },
    ]
    return rules


def _parse_time(text: str) -> datetime:
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _lookup(item: Any, path: str) -> Any:
    for part in path.split("/"):
        item = item.get(part) if isinstance(item, dict) else None
    return item


_CLAUSE = re.compile(r"^([\w/]+) (eq|ne|ge|le) (.+)$")


def _split_and(text: str) -> list[str]:
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and text.startswith(" and ", i):
            parts.append(text[start:i])
            start = i = i + 5
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def matches_filter(item: dict[str, Any], text: str) -> bool:
    """Evaluate the ``and``-joined ``eq/ne/ge/le`` subset of OData ``$filter``."""
    for part in _split_and(text):
        clause = part
        while clause.startswith("(") and clause.endswith(")"):
            clause = clause[1:-1].strip()
        if " and " in clause:
            if not matches_filter(item, clause):
                return False
            continue
        m = _CLAUSE.match(clause)
        if not m:
            raise ValueError(f"unsupported $filter clause: {clause!r}")
        field_path, op, raw = m.groups()
        have = _lookup(item, field_path)
        if raw.startswith("'") and raw.endswith("'"):
            want: Any = raw[1:-1]
        elif raw in ("true", "false"):
            want = raw == "true"
        else:
            want = raw
        if op in ("ge", "le"):
            if have is None:
                return False
            a, b = _parse_time(str(have)), _parse_time(str(want))
            if (op == "ge" and a < b) or (op == "le" and a > b):
                return False
        elif (op == "eq") != (have == want):
            return False
    return True


class FakeGraph:
    """The fake server and its state; use as a context manager."""

    def __init__(self, *, page_size: int = 2, tokens: tuple[str, ...] = ("test-token",)) -> None:
        self.page_size = page_size
        self.valid_tokens = set(tokens)
        self.collections: dict[str, list[dict[str, Any]]] = {}
        self.objects: dict[str, dict[str, Any]] = {}
        self.policies: dict[str, dict[str, Any]] = {}
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.post_status: dict[str, int] = {}
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # ---- lifecycle --------------------------------------------------------------------
    def __enter__(self) -> FakeGraph:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def root(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def v1(self) -> str:
        return self.root + "/v1.0"

    @property
    def beta(self) -> str:
        return self.root + "/beta"

    # ---- state helpers ----------------------------------------------------------------
    def add(self, route: str, *items: dict[str, Any]) -> None:
        with self._lock:
            self.collections.setdefault(route, []).extend(items)

    def add_object(self, kind: str, obj_id: str, **props: Any) -> dict[str, Any]:
        obj = {"@odata.type": GRAPH + kind, "id": obj_id, **props}
        with self._lock:
            self.objects[obj_id] = obj
        return obj

    def add_role(self, role_id: str, name: str, actions: list[str], *, builtin: bool) -> str:
        self.add(
            "/roleManagement/directory/roleDefinitions",
            {
                "id": role_id,
                "displayName": name,
                "description": f"{name} (synthetic)",
                "isBuiltIn": builtin,
                "isEnabled": True,
                "templateId": role_id,
                "version": None,
                "rolePermissions": [{"allowedResourceActions": list(actions), "condition": None}],
            },
        )
        return self.add_policy(role_id)

    def add_policy(self, role_id: str) -> str:
        with self._lock:
            policy_id = f"DirectoryRole_{TENANT}_{len(self.policies) + 1:04d}"
            self.policies[policy_id] = {
                "id": policy_id,
                "displayName": "DirectoryRole",
                "description": "DirectoryRole",
                "isOrganizationDefault": False,
                "scopeId": "/",
                "scopeType": "DirectoryRole",
                "rules": default_rules(),
            }
            self.add(
                "/policies/roleManagementPolicyAssignments",
                {
                    "id": f"{policy_id}_{role_id}",
                    "policyId": policy_id,
                    "scopeId": "/",
                    "scopeType": "DirectoryRole",
                    "roleDefinitionId": role_id,
                },
            )
        return policy_id

    def policy_of(self, role_id: str) -> dict[str, Any]:
        for a in self.collections.get("/policies/roleManagementPolicyAssignments", []):
            if a["roleDefinitionId"] == role_id:
                return self.policies[a["policyId"]]
        raise KeyError(role_id)

    def role_named(self, name: str) -> dict[str, Any]:
        return next(
            d
            for d in self.collections["/roleManagement/directory/roleDefinitions"]
            if d["displayName"] == name
        )

    def fail(
        self,
        route: str,
        status: int = 503,
        *,
        method: str = "GET",
        times: int = 1,
        retry_after: str | None = None,
        kind: str = "status",
        when: Callable[[Recorded], bool] | None = None,
        body: Any = None,
    ) -> Fault:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        fault = Fault(route, method, status, headers, kind, body, times, when)
        with self._lock:
            self.faults.append(fault)
        return fault

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    def gets(self, route: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == "GET" and r.route == route]

    # ---- dispatch -----------------------------------------------------------------------
    def handle(self, h: _Handler) -> None:
        req = self._record(h)
        if req.token not in self.valid_tokens:
            h.reply(
                401,
                graph_error(
                    "InvalidAuthenticationToken", "Access token has expired or is not yet valid."
                ),
            )
            return
        with self._lock:
            fault = next((f for f in self.faults if f.matches(req)), None)
            if fault is not None:
                fault.times -= 1
        if fault is not None:
            self._inject(h, fault)
            return
        try:
            status, body = self._route(req)
        except ValueError as exc:
            status, body = 400, graph_error("BadRequest", str(exc))
        h.reply(status, body)

    def _record(self, h: _Handler) -> Recorded:
        parts = urlsplit(h.path)
        path = re.sub("/+", "/", parts.path)
        version, _, rest = path.lstrip("/").partition("/")
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        req = Recorded(
            h.command,
            version,
            "/" + rest,
            query,
            body,
            {k.lower(): v for k, v in h.headers.items()},
        )
        with self._lock:
            self.requests.append(req)
        return req

    def _inject(self, h: _Handler, fault: Fault) -> None:
        if fault.kind == "drop":
            h.close_connection = True
            return
        if fault.kind == "body":
            h.reply(fault.status, fault.body, fault.headers)
            return
        if fault.kind == "malformed":
            h.reply_raw(200, b'{"value": [{"id": "torn"', "application/json")
            return
        h.reply(
            fault.status,
            graph_error(
                "TooManyRequests" if fault.status == 429 else "ServiceUnavailable", "injected fault"
            ),
            fault.headers,
        )

    def _route(self, req: Recorded) -> tuple[int, Any]:
        handler = getattr(self, f"_{req.method.lower()}", None)
        if handler is None:
            return 405, graph_error("MethodNotAllowed", req.method)
        result: tuple[int, Any] = handler(req)
        return result

    # ---- GET ------------------------------------------------------------------------------
    def _get(self, req: Recorded) -> tuple[int, Any]:
        route = req.route
        m = re.fullmatch(r"/directoryObjects/([^/]+)", route)
        if m:
            obj = self.objects.get(m[1])
            if obj is None:
                return 404, graph_error("Request_ResourceNotFound", f"{m[1]} does not exist")
            return 200, obj
        if route == "/policies/roleManagementPolicyAssignments":
            items = [
                self._expand_policy(a, req.query.get("$expand", ""))
                for a in self.collections.get(route, [])
            ]
            return 200, self._page(req, items)
        if route not in self.collections:
            return 404, graph_error("Request_ResourceNotFound", f"no resource {route}")
        items = [
            self._expand_principal(i, req.query.get("$expand", "")) for i in self.collections[route]
        ]
        return 200, self._page(req, items)

    def _expand_policy(self, item: dict[str, Any], expand: str) -> dict[str, Any]:
        if not expand:
            return dict(item)
        if expand != "policy($expand=rules)":
            raise ValueError(f"unsupported $expand {expand!r}")
        return {**item, "policy": json.loads(json.dumps(self.policies[item["policyId"]]))}

    def _expand_principal(self, item: dict[str, Any], expand: str) -> dict[str, Any]:
        if expand == "principal":
            return {**item, "principal": self.objects.get(item.get("principalId", ""))}
        return item

    def _page(self, req: Recorded, items: list[dict[str, Any]]) -> dict[str, Any]:
        if "$filter" in req.query:
            items = [i for i in items if matches_filter(i, req.query["$filter"])]
        skip = int(req.query.get("$skiptoken", "0"))
        top = int(req.query.get("$top", self.page_size))
        out: dict[str, Any] = {
            "@odata.context": f"{self.root}/{req.version}/$metadata",
            "value": items[skip : skip + top],
        }
        if skip + top < len(items):
            query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = str(skip + top)
            out["@odata.nextLink"] = f"{self.root}/{req.version}{req.route}?" + urlencode(
                query, quote_via=quote
            )
        return out

    # ---- POST -----------------------------------------------------------------------------
    def _post(self, req: Recorded) -> tuple[int, Any]:
        body = req.body or {}
        if req.route == "/roleManagement/directory/roleDefinitions":
            return self._create_role(body)
        m = re.fullmatch(
            r"/roleManagement/directory/role(Eligibility|Assignment)ScheduleRequests", req.route
        )
        if m:
            return self._schedule_request(m[1], body)
        return 404, graph_error("Request_ResourceNotFound", req.route)

    def _create_role(self, body: dict[str, Any]) -> tuple[int, Any]:
        for key in ("displayName", "isEnabled", "rolePermissions"):
            if key not in body:
                raise ValueError(f"missing required property {key}")
        defs = self.collections.setdefault("/roleManagement/directory/roleDefinitions", [])
        if any(d["displayName"] == body["displayName"] for d in defs):
            return 409, graph_error("Conflict", "a role with this display name exists")
        role_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "role:" + body["displayName"]))
        role = {
            "id": role_id,
            "description": body.get("description", ""),
            "displayName": body["displayName"],
            "isBuiltIn": False,
            "isEnabled": body["isEnabled"],
            "templateId": body.get("templateId", role_id),
            "version": None,
            "rolePermissions": body["rolePermissions"],
        }
        defs.append(role)
        self.add_policy(role_id)
        return 201, {"@odata.context": "x", **role}

    def _schedule_request(self, kind: str, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("action") != "adminAssign":
            raise ValueError("only adminAssign is implemented")
        if body.get("principalId") not in self.objects:
            raise ValueError(f"principal {body.get('principalId')} not found")
        if not any(
            d["id"] == body.get("roleDefinitionId")
            for d in self.collections.get("/roleManagement/directory/roleDefinitions", [])
        ):
            raise ValueError(f"role definition {body.get('roleDefinitionId')} not found")
        expiration = (body.get("scheduleInfo") or {}).get("expiration") or {}
        if "duration" in expiration and not _ISO.match(str(expiration["duration"])):
            raise ValueError(f"duration {expiration['duration']!r} is not ISO 8601")
        schedule = {
            "id": str(uuid.uuid4()),
            "principalId": body["principalId"],
            "roleDefinitionId": body["roleDefinitionId"],
            "directoryScopeId": body.get("directoryScopeId", "/"),
            "memberType": "Direct",
            "status": "Provisioned",
            "scheduleInfo": body.get("scheduleInfo"),
        }
        self.add(f"/roleManagement/directory/role{kind}Schedules", schedule)
        return 201, {"id": schedule["id"], "status": "Provisioned", **body}

    # ---- PATCH ----------------------------------------------------------------------------
    def _patch(self, req: Recorded) -> tuple[int, Any]:
        body = req.body or {}
        m = re.fullmatch(r"/roleManagement/directory/roleDefinitions/([^/]+)", req.route)
        if m:
            role = next(
                (
                    d
                    for d in self.collections.get("/roleManagement/directory/roleDefinitions", [])
                    if d["id"] == m[1]
                ),
                None,
            )
            if role is None:
                return 404, graph_error("Request_ResourceNotFound", m[1])
            if role["isBuiltIn"]:
                return 403, graph_error("Authorization_RequestDenied", "built-in role")
            role.update({k: v for k, v in body.items() if k != "templateId"})
            return 204, None
        m = re.fullmatch(r"/policies/roleManagementPolicies/([^/]+)/rules/([^/]+)", req.route)
        if m:
            return self._patch_rule(m[1], m[2], body)
        return 404, graph_error("Request_ResourceNotFound", req.route)

    def _patch_rule(self, policy_id: str, rule_id: str, body: dict[str, Any]) -> tuple[int, Any]:
        policy = self.policies.get(policy_id)
        rule = next((r for r in policy["rules"] if r["id"] == rule_id), None) if policy else None
        if rule is None:
            return 404, graph_error("Request_ResourceNotFound", f"{policy_id}/{rule_id}")
        if body.get("@odata.type") != rule["@odata.type"]:
            raise ValueError(f"@odata.type must be {rule['@odata.type']}")
        duration = body.get("maximumDuration")
        if duration is not None and not _ISO.match(str(duration)):
            raise ValueError(f"maximumDuration {duration!r} is not ISO 8601")
        rule.clear()
        rule.update(json.loads(json.dumps(body)))
        return 204, None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # closed keep-alive connections are expected noise


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeGraph

    def do_GET(self) -> None:
        self.fake.handle(self)

    do_POST = do_PATCH = do_GET

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.reply_raw(status, data, "application/json", headers)

    def reply_raw(
        self, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", "fake-request-id")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


# ---- a synthetic tenant -----------------------------------------------------------------
BUILTIN_READER = "00000000-0000-4000-8000-0000000000b1"
BUILTIN_ADMIN = "00000000-0000-4000-8000-0000000000b2"
CUSTOM_EXISTING = "00000000-0000-4000-8000-0000000000c1"
USER_1 = "10000000-0000-4000-8000-000000000001"
USER_2 = "10000000-0000-4000-8000-000000000002"
APPROVER = "10000000-0000-4000-8000-000000000003"
GROUP_OK = "20000000-0000-4000-8000-000000000001"
GROUP_PLAIN = "20000000-0000-4000-8000-000000000002"
AU_1 = "30000000-0000-4000-8000-000000000001"
APP_1 = "40000000-0000-4000-8000-000000000001"


class StaticCredential:
    """An azure-core TokenCredential handing out fixed tokens (one per call, last repeats)."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens) or ["test-token"]
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        token = self.tokens[min(self.calls, len(self.tokens)) - 1]
        return AccessToken(token, int(time.time()) + 3600)


class Sleeps(list[float]):
    """Stands in for asyncio.sleep: records each delay, returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def seed(fake: FakeGraph) -> None:
    """A small synthetic tenant: roles with PIM policies, principals, an AU, schedules."""
    fake.add_role(
        BUILTIN_READER,
        "Synthetic Directory Reader",
        ["microsoft.directory/users/standard/read"],
        builtin=True,
    )
    fake.add_role(
        BUILTIN_ADMIN,
        "Synthetic User Administrator",
        ["microsoft.directory/users/allProperties/allTasks"],
        builtin=True,
    )
    fake.add_role(
        CUSTOM_EXISTING,
        "Existing Helpdesk",
        ["microsoft.directory/users/password/update"],
        builtin=False,
    )
    fake.add_object("user", USER_1, userPrincipalName="ada@example.test", displayName="Ada")
    fake.add_object("user", USER_2, userPrincipalName="bob@example.test", displayName="Bob")
    fake.add_object("user", APPROVER, userPrincipalName="cy@example.test", displayName="Cy")
    fake.add_object("group", GROUP_OK, displayName="Tier 1 admins", isAssignableToRole=True)
    fake.add_object("group", GROUP_PLAIN, displayName="Everyone", isAssignableToRole=False)
    fake.add(
        "/roleManagement/directory/roleEligibilitySchedules",
        {
            "id": "e1",
            "principalId": USER_1,
            "roleDefinitionId": BUILTIN_ADMIN,
            "directoryScopeId": "/",
            "memberType": "Direct",
            "status": "Provisioned",
            "scheduleInfo": {
                "startDateTime": "2025-01-01T00:00:00Z",
                "expiration": {"type": "afterDateTime", "endDateTime": "2026-01-01T00:00:00Z"},
            },
        },
    )
    fake.add(
        "/roleManagement/directory/roleAssignmentSchedules",
        {
            "id": "a1",
            "principalId": USER_2,
            "roleDefinitionId": BUILTIN_READER,
            "directoryScopeId": "/",
            "memberType": "Direct",
            "status": "Provisioned",
        },
    )
    fake.add(
        "/roleManagement/directory/roleAssignmentScheduleInstances",
        {
            "id": "i1",
            "principalId": USER_2,
            "roleDefinitionId": BUILTIN_READER,
            "directoryScopeId": "/",
            "assignmentType": "Assigned",
            "memberType": "Direct",
            "startDateTime": None,
            "endDateTime": None,
        },
        {
            "id": "i2",
            "principalId": USER_1,
            "roleDefinitionId": BUILTIN_ADMIN,
            "directoryScopeId": "/",
            "assignmentType": "Activated",
            "memberType": "Direct",
            "startDateTime": "2025-03-01T09:00:00Z",
            "endDateTime": "2025-03-01T11:00:00Z",
        },
    )
    fake.add(
        "/roleManagement/directory/roleAssignments",
        {
            "id": "ra1",
            "principalId": USER_2,
            "roleDefinitionId": BUILTIN_READER,
            "directoryScopeId": "/",
        },
    )
    fake.add(
        "/roleManagement/directory/roleAssignmentScheduleRequests",
        {
            "id": "req-1",
            "action": "selfActivate",
            "principalId": USER_1,
            "roleDefinitionId": BUILTIN_ADMIN,
            "directoryScopeId": "/",
            "status": "Provisioned",
            "createdDateTime": "2025-03-01T08:59:00Z",
            "justification": "INC-42 <urgent>",
            "scheduleInfo": {
                "startDateTime": "2025-03-01T09:00:00Z",
                "expiration": {"type": "afterDuration", "duration": "PT2H"},
            },
        },
    )
    fake.add(
        "/users",
        {
            "id": USER_1,
            "userPrincipalName": "ada@example.test",
            "displayName": "Ada",
            "accountEnabled": True,
            "onPremisesSyncEnabled": None,
            "userType": "Member",
        },
        {
            "id": USER_2,
            "userPrincipalName": "bob@example.test",
            "displayName": "Bob",
            "accountEnabled": False,
            "onPremisesSyncEnabled": True,
            "userType": "Guest",
        },
    )
    fake.add(
        "/groups",
        {"id": GROUP_OK, "displayName": "Tier 1 admins", "isAssignableToRole": True},
        {"id": GROUP_PLAIN, "displayName": "Everyone", "isAssignableToRole": False},
    )
    fake.add(f"/groups/{GROUP_OK}/members", {"@odata.type": "#microsoft.graph.user", "id": USER_1})
    fake.add("/devices", {"id": "d1", "displayName": "laptop-1"})
    fake.add(
        "/applications",
        {
            "id": APP_1,
            "appId": "app-id-1",
            "displayName": "Payroll",
            "owners": [{"@odata.type": "#microsoft.graph.user", "id": USER_2}],
        },
    )
    fake.add(
        "/servicePrincipals",
        {
            "id": "sp1",
            "appId": "app-id-1",
            "displayName": "Payroll",
            "servicePrincipalType": "Application",
            "owners": [],
        },
    )
    fake.add(
        "/directory/administrativeUnits",
        {"id": AU_1, "displayName": "Paris", "isMemberManagementRestricted": False},
    )
    fake.add(
        f"/directory/administrativeUnits/{AU_1}/members",
        {"@odata.type": "#microsoft.graph.user", "id": USER_1},
        {"@odata.type": "#microsoft.graph.group", "id": GROUP_PLAIN},
        {"@odata.type": "#microsoft.graph.device", "id": "d1"},
    )
    fake.add("/organization", {"id": "aaaaaaaa-0000-4000-8000-000000000001"})


def audit_record(
    i: int,
    when: datetime,
    *,
    service: str = "Core Directory",
    activity: str = "Update user",
    details: list[dict[str, str]] | None = None,
    targets: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A synthetic directory-audit record in Graph's shape."""
    return {
        "id": f"Directory_{i:08d}-0000-4000-8000-000000000000_SYN{i % 97:02d}_{1000 + i}",
        "category": "UserManagement",
        "correlationId": f"{i:08d}-0000-4000-8000-000000000000",
        "result": "success",
        "resultReason": "",
        "activityDisplayName": activity,
        "activityDateTime": when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
        "loggedByService": service,
        "operationType": "Update",
        "initiatedBy": {
            "user": {
                "id": USER_1,
                "displayName": None,
                "userPrincipalName": "ada@example.test",
                "ipAddress": None,
            },
            "app": None,
        },
        "targetResources": targets
        or [
            {
                "id": USER_2,
                "displayName": None,
                "type": "User",
                "userPrincipalName": "bob@example.test",
                "modifiedProperties": [
                    {"displayName": "AccountEnabled", "oldValue": "[true]", "newValue": "[false]"}
                ],
            }
        ],
        "additionalDetails": details or [],
    }


def add_audits(fake: FakeGraph, n: int, start: datetime) -> list[dict[str, Any]]:
    """``n`` records one minute apart, served newest first as Graph does."""
    from datetime import timedelta

    records = [audit_record(i, start + timedelta(minutes=i)) for i in range(n)]
    records.reverse()
    fake.add("/auditLogs/directoryAudits", *records)
    return records
