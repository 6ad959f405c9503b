"""schemathesis, set up for this contract: configuration, identities and one checked call."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import ignored_auth

import contract
from conformance import checks, tolerances
from conformance.guard import Guard
from conformance.options import RunOptions
from conformance.recorder import Deviation, Recorder
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
    for check, operation_ids in tolerances.checks_off(spec, options.tolerances).items():
        overrides.append(
            {"include-operation-id": operation_ids, "checks": {check: {"enabled": False}}}
        )
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


def identity_for(operation: contract.Operation, world: World) -> Credentials | None:
    """Who sends generated requests: throwaway accounts only, never the real admin."""
    if not operation.secured:
        return None
    if operation.access.who in NEEDS_RIGHTS:
        return world.root.basic
    return world.actor_credentials


class ContractRun:
    """Sends one generated case as the right throwaway identity, then runs every check."""

    def __init__(
        self, target: Target, world: World, recorder: Recorder, options: RunOptions
    ) -> None:
        self.contract = options.contract
        self.target, self.world, self.recorder = target, world, recorder
        self.guard = Guard(world)
        self.checks = checks.contract_checks(self.contract, options.tolerances)
        self.transport: dict[str, Any] = (
            {"app": target.app} if target.in_process else {"base_url": target.base_url}
        )
        self.auth_confirmed: set[str] = set()

    def _identity(
        self, case: schemathesis.Case[Any], operation: contract.Operation
    ) -> dict[str, str] | None:
        """Credentials for the case, unless it deliberately goes without (a negative case)."""
        credentials = identity_for(operation, self.world)
        if credentials is None or case.operation.schema.is_security_param_negated(case):
            return None
        # Drop the placeholder credentials generated from the security schemes.
        headers, cookies = case.headers, case.cookies
        if isinstance(headers, MutableMapping):
            for name in [n for n in headers if n.lower() in ("authorization", "cookie")]:
                del headers[name]
        if isinstance(cookies, MutableMapping):
            cookies.pop(SESSION_COOKIE, None)
        return credentials.headers()

    def run(self, case: schemathesis.Case[Any], test: str) -> None:
        operation = self.contract[str(case.operation.definition.raw["operationId"])]
        if self.target.in_process:
            # The collected operations hang off a copy of the module's schema; its probes
            # (ignored_auth re-sends without credentials) need the app there too.
            case.operation.schema.app = self.target.app
        else:
            case.operation.schema.config.update(base_url=self.target.base_url)
        self.guard.apply(operation, case.path_parameters, case.body)
        headers = self._identity(case, operation)
        # Credentials given as call headers count as explicit for the auth checks.
        transport = {**self.transport, "headers": headers} if headers else dict(self.transport)
        response = case.call(**transport)
        self.recorder.observe_operation(operation.operation_id, response.status_code)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        self.world.ledger.adopt(operation, response.status_code, payload)
        # ignored_auth re-sends every successful request without and with bad credentials;
        # as schemathesis's CLI does, one confirmation per operation is enough (the auth
        # matrix covers every operation and kind of caller anyway).
        excluded = [ignored_auth] if operation.operation_id in self.auth_confirmed else []
        if 200 <= response.status_code < 300:
            self.auth_confirmed.add(operation.operation_id)
        try:
            case.validate_response(
                response,
                headers=headers,
                additional_checks=self.checks,
                excluded_checks=excluded,
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
