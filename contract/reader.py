"""Reads openapi.yaml once per path and turns its Grafana extensions into typed values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from contract.model import (
    DENIALS,
    ORG_ROLE,
    ORG_ROLES,
    USER,
    WHO,
    Access,
    Contract,
    ContractError,
    Operation,
    Refusal,
    Relaxation,
    Tolerance,
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
    # libyaml's parser when present: the same document ten times faster (start-up time).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loaded: Json = yaml.load(spec_text(path), Loader=loader)
    return loaded


def document(path: Path = SPEC_PATH) -> Json:
    """The parsed document, shared: callers that change it must copy it first."""
    return _document(path)


@cache
def load(path: Path = SPEC_PATH) -> Contract:
    """The contract at `path`, read once."""
    return parse(document(path))


def parse(raw: Json) -> Contract:
    """A contract from an already parsed document (tests build edited copies)."""
    tolerances = {
        name: _tolerance(name, body) for name, body in raw.get("x-grafana-tolerances", {}).items()
    }
    operations = tuple(
        _operation(raw, template, method, op, tolerances)
        for template, item in raw["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    )
    return Contract(raw=raw, operations=operations, tolerances=tolerances)


def _operation(
    raw: Json, template: str, method: str, op: Json, tolerances: Mapping[str, Tolerance]
) -> Operation:
    operation_id = op["operationId"]
    names = frozenset(op.get("x-grafana-tolerances", []))
    if unknown := names - set(tolerances):
        raise ContractError(f"{operation_id}: unknown tolerances {sorted(unknown)}")
    secured = op.get("security", raw.get("security")) != []
    if "x-grafana-access" not in op:
        raise ContractError(f"{operation_id}: no x-grafana-access")
    access = _access(operation_id, op["x-grafana-access"])
    parameters = tuple(
        _resolve(raw, p)
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
        tolerances=names,
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
        deprecated=bool(op.get("deprecated", False)),
        raw=op,
        pattern=_pattern(template),
    )


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


def _tolerance(name: str, body: Json) -> Tolerance:
    relaxes = body.get("relaxes") or {}
    known = {"check", "statuses", "required", "formats", "either403Body"}
    if not relaxes or set(relaxes) - known:
        raise ContractError(f"tolerance {name}: relaxes must use only {sorted(known)}")
    return Tolerance(
        name=name,
        description=" ".join(str(body["description"]).split()),
        relaxes=Relaxation(
            check=relaxes.get("check"),
            statuses=frozenset(int(s) for s in relaxes.get("statuses", [])),
            required={k: tuple(v) for k, v in relaxes.get("required", {}).items()},
            formats=dict(relaxes.get("formats", {})),
            either_403_body=bool(relaxes.get("either403Body", False)),
        ),
        versions=frozenset(str(v) for v in body.get("versions", [])),
    )


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


def _resolve(raw: Json, node: Any) -> Any:
    """A local `$ref` followed (once per level, as this document uses them)."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = raw
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _request_example(raw: Json, op: Json) -> Any:
    body = _resolve(raw, op.get("requestBody"))
    media = (body or {}).get("content", {}).get("application/json", {})
    if "example" in media:
        return media["example"]
    first = next(iter((media.get("examples") or {}).values()), None)
    return _resolve(raw, first).get("value") if isinstance(first, dict) else None


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    body = "".join("([^/]+)" if part.startswith("{") else re.escape(part) for part in parts)
    return re.compile(f"^{body}$")
