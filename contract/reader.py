"""Reads openapi.yaml once per path and turns its Grafana extensions into typed values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from contract import parsed
from contract.model import (
    DENIALS,
    ORG_ROLE,
    ORG_ROLES,
    USER,
    WHO,
    Access,
    Answer,
    Contract,
    ContractError,
    Difference,
    GrafanaRelease,
    Operation,
    Refusal,
    Relaxation,
    Versions,
    release,
)

_HERE = Path(__file__).resolve().parent
# The repository's openapi.yaml; an installed wheel carries its copy inside this package.
SPEC_PATH = next(
    (p for p in (_HERE.parent / "openapi.yaml", _HERE / "openapi.yaml") if p.is_file()),
    _HERE.parent / "openapi.yaml",
)
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
Json = dict[str, Any]


@cache
def spec_text(path: Path = SPEC_PATH) -> str:
    return path.read_text(encoding="utf-8")


@cache
def _document(path: Path) -> Json:
    # A wheel's openapi.yaml comes parsed already (contract/parsed.py: start-up time).
    text = spec_text(path)
    found = parsed.read(path, text)
    return found if found is not None else parsed.parse_yaml(text)


def document(path: Path = SPEC_PATH) -> Json:
    """The parsed document, shared: callers that change it must copy it first."""
    return _document(path)


@cache
def load(path: Path = SPEC_PATH, version: str | None = None) -> Contract:
    """The contract at `path`, read once, as Grafana `version` answers it (None: the
    newest release it describes; ValueError for a version it does not describe)."""
    if version is not None:
        return load(path).as_version(version)
    return parse(document(path))


def parse(raw: Json) -> Contract:
    """A contract from an already parsed document (tests build edited copies)."""
    versions = _versions(raw.get("x-grafana-versions") or {})
    differences = {
        name: _difference(name, body, versions)
        for name, body in raw.get("x-grafana-differences", {}).items()
    }
    operations = tuple(
        _operation(raw, template, method, op, differences)
        for template, item in raw["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    )
    written = Contract(
        raw=raw,
        operations=operations,
        differences=differences,
        versions=versions,
        version=versions.newest,
    )
    return written.as_version(None)


def _versions(body: Json) -> Versions:
    releases = tuple(
        GrafanaRelease(
            version=str(entry["version"]),
            health=str(entry["health"]),
            source=" ".join(str(entry.get("source", "")).split()),
        )
        for entry in body.get("releases", [])
    )
    if not releases:
        raise ContractError("x-grafana-versions lists no releases")
    ordered = sorted(releases, key=lambda r: release(r.version))
    if list(releases) != ordered or len({r.version for r in releases}) != len(releases):
        raise ContractError("x-grafana-versions.releases must be listed oldest first, once each")
    return Versions(releases=releases)


def _operation(
    raw: Json, template: str, method: str, op: Json, differences: Mapping[str, Difference]
) -> Operation:
    operation_id = op["operationId"]
    names = frozenset(op.get("x-grafana-differences", []))
    if unknown := names - set(differences):
        raise ContractError(f"{operation_id}: unknown differences {sorted(unknown)}")
    secured = op.get("security", raw.get("security")) != []
    if "x-grafana-access" not in op:
        raise ContractError(f"{operation_id}: no x-grafana-access")
    access = _access(operation_id, op["x-grafana-access"])
    by_difference = {
        name: _access(operation_id, {**op["x-grafana-access"], **differences[name].access})
        for name in sorted(names)
        if differences[name].access
    }
    parameters = tuple(
        resolve_ref(raw, p)
        for p in [*raw["paths"][template].get("parameters", []), *op.get("parameters", [])]
    )
    if secured != access.needs_credentials:
        raise ContractError(f"{operation_id}: security and x-grafana-access disagree")
    return Operation(
        operation_id=operation_id,
        method=method.upper(),
        path=template,
        tag=op["tags"][0],
        statuses=frozenset(int(code) for code in op["responses"] if code.isdigit()),
        access=access,
        differences=names,
        semantic_statuses=frozenset(int(s) for s in op.get("x-grafana-semantic-statuses", [])),
        created=_created(op, method),
        thin_profile=bool(op.get("x-grafana-thin-profile", False)),
        parameters=parameters,
        request_example=_request_example(raw, op),
        invalid={
            str(p["name"]): (
                str(p["x-grafana-invalid"]["message"]),
                p["x-grafana-invalid"].get("messageId"),
            )
            for p in parameters
            if "x-grafana-invalid" in p
        },
        lenient=frozenset(str(p["name"]) for p in parameters if p.get("x-grafana-lenient")),
        deprecated=bool(op.get("deprecated", False)),
        raw=op,
        pattern=_pattern(template),
        access_by_difference=by_difference,
        written_access=access,
        server_errors=_server_errors(operation_id, op.get("x-grafana-server-errors", [])),
    )


def _server_errors(operation_id: str, entries: list[Json]) -> frozenset[tuple[int, str]]:
    found = set()
    for entry in entries:
        status, message = int(entry.get("status", 0)), entry.get("message")
        if status < 500 or not message or not entry.get("when"):
            raise ContractError(
                f"{operation_id}: x-grafana-server-errors entries need a 5xx status, "
                "a message and when Grafana answers it"
            )
        found.add((status, str(message)))
    return frozenset(found)


def _access(operation_id: str, body: Json) -> Access:
    who = body.get("who")
    if who not in WHO:
        raise ContractError(f"{operation_id}: x-grafana-access.who {who!r} is not one of {WHO}")
    denial = body.get("denial", "plain")
    if denial not in DENIALS:
        raise ContractError(f"{operation_id}: denial {denial!r} is not one of {DENIALS}")
    role = body.get("orgRole")
    if (who == ORG_ROLE) != (role in ORG_ROLES):
        raise ContractError(f"{operation_id}: orgRole goes with who: org-role, and only there")
    non_user = body.get("nonUser")
    if (who == USER) != (non_user is not None):
        raise ContractError(f"{operation_id}: nonUser goes with who: user, and only there")
    if denial == "rbac" and not body.get("action"):
        raise ContractError(f"{operation_id}: a role-based denial names its action")
    if not body.get("source"):
        raise ContractError(f"{operation_id}: x-grafana-access names no Grafana source")
    return Access(
        who=who,
        source=str(body["source"]),
        org_role=role,
        org_parameter=body.get("orgParameter"),
        action=body.get("action"),
        scope=body.get("scope"),
        denial=denial,
        denial_message=str(body.get("message", "Permission denied")),
        non_user=Refusal(int(non_user["status"]), non_user.get("message")) if non_user else None,
    )


def _difference(name: str, body: Json, versions: Versions) -> Difference:
    relaxes = body.get("relaxes") or {}
    known = {"statuses", "required", "either403Body"}
    if set(relaxes) - known:
        raise ContractError(f"difference {name}: relaxes must use only {sorted(known)}")
    span = body.get("versions") or {}
    if set(span) - {"since", "until"} or not span:
        raise ContractError(f"difference {name}: versions needs since and/or until")
    for bound in span.values():
        if str(bound) not in versions.names:
            raise ContractError(f"difference {name}: {bound} is not a listed release")
    if not body.get("source"):
        raise ContractError(f"difference {name}: names no Grafana source")
    return Difference(
        name=name,
        description=" ".join(str(body["description"]).split()),
        source=" ".join(str(body["source"]).split()),
        since=str(span["since"]) if "since" in span else None,
        until=str(span["until"]) if "until" in span else None,
        relaxes=Relaxation(
            statuses=frozenset(int(s) for s in relaxes.get("statuses", [])),
            required={k: tuple(v) for k, v in relaxes.get("required", {}).items()},
            either_403_body=bool(relaxes.get("either403Body", False)),
        ),
        answer=_answer(body.get("answer")),
        otherwise=_answer(body.get("otherwise")),
        access=dict(body.get("access") or {}),
        absent=bool(body.get("absent", False)),
        resolves_uids=bool(body.get("resolvesUids", False)),
    )


def _answer(body: Json | None) -> Answer | None:
    if body is None:
        return None
    message = body.get("message")
    return Answer(status=int(body["status"]), message=None if message is None else str(message))


def _created(op: Json, method: str) -> dict[str, str]:
    """What a create operation made: for a POST, the parameters that the links of its 2xx
    response fill from the body (`user_id` from `/id`, ...)."""
    found: dict[str, str] = {}
    if method != "post":
        return found
    for code, response in op["responses"].items():
        for link in response.get("links", {}).values() if code.startswith("2") else ():
            for parameter, expression in link.get("parameters", {}).items():
                if str(expression).startswith("$response.body#"):
                    found[parameter] = str(expression).removeprefix("$response.body#")
    return found


def resolve_ref(raw: Json, node: Any) -> Any:
    """A local `$ref` followed (once per level, as this document uses them)."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = raw
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _request_example(raw: Json, op: Json) -> Any:
    body = resolve_ref(raw, op.get("requestBody"))
    media = (body or {}).get("content", {}).get("application/json", {})
    if "example" in media:
        return media["example"]
    first = next(iter((media.get("examples") or {}).values()), None)
    return resolve_ref(raw, first).get("value") if isinstance(first, dict) else None


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    body = "".join("([^/]+)" if part.startswith("{") else re.escape(part) for part in parts)
    return re.compile(f"^{body}$")
