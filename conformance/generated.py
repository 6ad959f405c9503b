"""schemathesis, set up for this contract: configuration, identities and one checked call."""

from __future__ import annotations

import base64
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup

import contract
from conformance import checks, logins, tolerances
from conformance.guard import Guard
from conformance.options import RunOptions
from conformance.recorder import Deviation, Recorder
from conformance.renewal import ActorSession
from conformance.target import SESSION_COOKIE, Credentials, Target
from conformance.world import World

ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
# Callers the contract lets in only with rights: generated requests go out as the run's
# throwaway Grafana Admin; everything else as the throwaway actor.
NEEDS_RIGHTS = {contract.ORG_ROLE, contract.GRAFANA_ADMIN}


def config_for(options: RunOptions) -> SchemathesisConfig:
    spec = options.contract
    # Statuses the contract documents for requests the schema cannot tell from valid ones
    # (no login or e-mail, password policy, unknown org, name taken...).
    overrides: list[dict[str, Any]] = [
        {
            "include-operation-id": [op.operation_id],
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": [*ACCEPTED, *map(str, sorted(op.semantic_statuses))]
                }
            },
        }
        for op in spec.operations
        if op.semantic_statuses
    ]
    if options.operations:
        # Disabled in the configuration rather than filtered out: schemathesis then does
        # not build their coverage cases at collection, which is the slow part.
        others = [
            op.operation_id for op in spec.operations if op.operation_id not in options.operations
        ]
        if others:
            overrides.append({"include-operation-id": others, "enabled": False})
    return SchemathesisConfig.from_dict(
        {
            "seed": options.seed,
            "generation": {
                "max-examples": options.budget.contract_examples,
                "database": "none",
                "no-shrink": not options.budget.shrink,
            },
            # Replaced by checks.undeclared_methods_answer_404: Grafana's router has no 405.
            "checks": {
                "unsupported_method": {"enabled": False},
                # Replaced by the auth matrix (anonymous, invalid token, disabled user and
                # revoked session on every operation): its probe signs in as a made-up
                # basic-auth user, a failed login that Grafana may count against the
                # client's address.
                "ignored_auth": {"enabled": False},
                # Replaced by checks.server_error_check: some releases answer 500 by design.
                "not_a_server_error": {"enabled": False},
                "positive_data_acceptance": {"expected-statuses": ACCEPTED},
            },
            "request-timeout": options.request_timeout,
            "operations": overrides,
        }
    )


def load_schema(options: RunOptions) -> schemathesis.BaseSchema:
    """The contract (with schema-level tolerances applied) as a schemathesis schema."""
    spec = options.contract
    raw = tolerances.patch_spec(dict(spec.raw), spec, options.tolerances)
    return schemathesis.openapi.from_dict(raw, config=config_for(options))


def uses_session(operation: contract.Operation) -> bool:
    """Whether generated requests for the operation go out with the actor's session."""
    return operation.secured and operation.access.who not in NEEDS_RIGHTS


def identity_for(
    operation: contract.Operation, world: World, actor: ActorSession
) -> Credentials | None:
    """Who sends generated requests: throwaway accounts only, never the real admin."""
    if not operation.secured:
        return None
    if operation.access.who in NEEDS_RIGHTS:
        return world.root.basic
    # A session cookie survives the fuzzer changing the actor's login.
    return actor.credentials


def without_password(headers: object) -> None:
    """Generated Basic credentials (a case that negates the security scheme) keep their
    user name but lose the password: a password login with a made-up name is a failed
    login that Grafana may count against the client's address; one without a password is
    refused before any is counted."""
    if not isinstance(headers, MutableMapping):
        return
    for name in [n for n in headers if str(n).lower() == "authorization"]:
        attempt = logins.basic_attempt(str(headers[name]))
        if attempt is not None:
            token = base64.b64encode(f"{attempt.login}:".encode()).decode()
            headers[name] = f"Basic {token}"


class ContractRun:
    """Sends one generated case as the right throwaway identity, then runs every check."""

    def __init__(
        self,
        target: Target,
        world: World,
        recorder: Recorder,
        options: RunOptions,
        actor: ActorSession,
    ) -> None:
        self.contract = options.contract
        self.target, self.world, self.recorder, self.actor = target, world, recorder, actor
        self.guard = Guard(world, self.contract)
        self.checks = checks.contract_checks(self.contract, options.tolerances)
        self.transport: dict[str, Any] = (
            {"app": target.app} if target.in_process else {"base_url": target.base_url}
        )

    def _identity(
        self, case: schemathesis.Case[Any], operation: contract.Operation
    ) -> dict[str, str] | None:
        """Credentials for the case, unless it deliberately goes without (a negative case)."""
        credentials = identity_for(operation, self.world, self.actor)
        if credentials is None or case.operation.schema.is_security_param_negated(case):
            without_password(case.headers)
            return None
        # Drop the placeholder credentials generated from the security schemes.
        headers, cookies = case.headers, case.cookies
        if isinstance(headers, MutableMapping):
            for name in [n for n in headers if n.lower() in ("authorization", "cookie")]:
                del headers[name]
        if isinstance(cookies, MutableMapping):
            cookies.pop(SESSION_COOKIE, None)
        return credentials.headers()

    def _send(
        self, case: schemathesis.Case[Any], operation: contract.Operation
    ) -> tuple[Any, dict[str, str] | None, dict[str, Any]]:
        """Send the case; with the actor's session, follow a Set-Cookie that replaces it,
        and renew it (then send once more) when it stopped working."""
        headers = self._identity(case, operation)
        # Credentials given as call headers count as explicit for the auth checks.
        transport = {**self.transport, "headers": headers} if headers else dict(self.transport)
        response = case.call(**transport)
        self._count_login(response)
        with_session = headers is not None and uses_session(operation)
        if not with_session:
            return response, headers, transport
        self.actor.follow(_set_cookies(response))
        if response.status_code == 401 and self.actor.expired():
            reason = f"{operation.label} answered 401 and the session no longer signed in"
            if self.actor.renew(reason):
                self.recorder.observe_operation(operation.operation_id, response.status_code)
                headers = self.actor.credentials.headers()
                transport = {**self.transport, "headers": headers}
                response = case.call(**transport)
                self._count_login(response)
                self.actor.follow(_set_cookies(response))
        return response, headers, transport

    def _count_login(self, response: Any) -> None:
        request = response.request
        path = urlsplit(str(request.url)).path.removeprefix(self.target.base_path)
        headers = {str(k): str(v) for k, v in dict(request.headers).items()}
        self.target.observe_login(str(request.method), path, headers, request.body, response)

    def run(self, case: schemathesis.Case[Any], test: str) -> None:
        operation = self.contract[str(case.operation.definition.raw["operationId"])]
        if self.target.in_process:
            # The collected operations hang off a copy of the module's schema; probes need
            # the app there too.
            case.operation.schema.app = self.target.app
        else:
            case.operation.schema.config.update(base_url=self.target.base_url)
        self.guard.apply(operation, case.path_parameters, case.body, case.query)
        response, headers, transport = self._send(case, operation)
        self.recorder.observe_operation(operation.operation_id, response.status_code)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        self.world.ledger.adopt(operation, response.status_code, payload)
        try:
            case.validate_response(
                response,
                headers=headers,
                additional_checks=self.checks,
                transport_kwargs=transport,
            )
        except FailureGroup as group:
            url = urlsplit(str(response.request.url))
            sent = f"{response.request.method} {url.path}{'?' if url.query else ''}{url.query}"
            for failure in group.exceptions:
                self.recorder.deviate(
                    Deviation(
                        operation=operation.operation_id,
                        status=response.status_code,
                        field=_field(failure),
                        check=str(getattr(failure, "title", "?")),
                        detail=f"{_first_line(getattr(failure, 'message', ''))} ({sent})",
                        test=test,
                    )
                )
            raise


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0][:200] if lines else "-"


def _field(failure: BaseException) -> str:
    path = getattr(failure, "instance_path", None)
    if path is None:
        return "-"
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _set_cookies(response: Any) -> list[str]:
    """The Set-Cookie headers of a schemathesis response (lower-case names, value lists)."""
    values = response.headers.get("set-cookie") or []
    return [values] if isinstance(values, str) else [str(v) for v in values]
