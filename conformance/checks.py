"""Checks for rules the contract states in prose, added to schemathesis's built-in ones.

They are passed to each call rather than registered globally, so they judge only this
suite's runs. Each raises AssertionError with a message someone can act on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import schemathesis
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario

from conformance.text import go_lower
from contract import Contract

Check = Callable[
    [schemathesis.CheckContext, schemathesis.Response, schemathesis.Case[Any]], bool | None
]

AGE_IN_WORDS = re.compile(
    r"^(< 1 minute|1 (year|month|day|hour|minute)|([2-9]|[1-9]\d+) (year|month|day|hour|minute)s)$"
)


def _json(response: schemathesis.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


@dataclass(frozen=True)
class People:
    """Which operations answer user profiles and which search hits, read from the contract
    (the component schema of their 200 body)."""

    profiles: frozenset[str]
    searches: frozenset[str]

    @classmethod
    def of(cls, spec: Contract) -> People:
        def answering(*schemas: str) -> frozenset[str]:
            return frozenset(
                op.operation_id
                for op in spec.operations
                if spec.body_schema(op) in schemas and not op.thin_profile
            )

        return cls(
            profiles=answering("UserProfile"),
            searches=answering("[UserSearchHit]", "SearchUserQueryResult"),
        )

    def search_hits(self, operation_id: str, body: Any) -> Iterator[dict[str, Any]]:
        hits = body.get("users") if isinstance(body, dict) else body
        if operation_id in self.searches and isinstance(hits, list):
            yield from (hit for hit in hits if isinstance(hit, dict))


def error_bodies_are_grafana_messages(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> None:
    """Every error, documented or not, is a JSON object with a string `message` - except
    Grafana's 404 web page for a path outside /api."""
    if response.status_code < 400:
        return
    path = urlsplit(str(response.request.url)).path
    web_page = str(response.headers.get("content-type", [""])[0]).startswith("text/html")
    if response.status_code == 404 and web_page and not path.startswith("/api/"):
        return
    body = _json(response)
    if not (isinstance(body, dict) and isinstance(body.get("message"), str)):
        raise AssertionError(
            f'{response.status_code} body is not {{"message": str}}: {response.text[:200]!r}'
        )


def undeclared_method_check(spec: Contract) -> Check:
    """Grafana's router has no 405: a method a path does not serve is 404 "Not found" -
    unless another route serves that method on a pattern the path matches (PUT
    /api/users/lookup is PUT /api/users/{user_id}, answered as that operation is)."""

    def undeclared_methods_answer_404(
        ctx: schemathesis.CheckContext,
        response: schemathesis.Response,
        case: schemathesis.Case[Any],
    ) -> None:
        meta = case.meta
        data = meta.phase.data if meta is not None else None
        if not isinstance(data, CoveragePhaseData):
            return
        if data.scenario != CoverageScenario.UNSPECIFIED_HTTP_METHOD:
            return
        method = str(response.request.method)
        routed = spec.match(method, urlsplit(str(response.request.url)).path)
        if routed is not None and routed.served:
            return
        if response.status_code != 404:
            raise AssertionError(
                f"{method} {case.formatted_path} answered {response.status_code}; the "
                "contract says 404 for a method a path does not serve"
            )

    return undeclared_methods_answer_404


def avatar_check(people: People) -> Check:
    def avatar_urls_hash_the_email(
        ctx: schemathesis.CheckContext,
        response: schemathesis.Response,
        case: schemathesis.Case[Any],
    ) -> None:
        """avatarUrl is /avatar/<md5 of the e-mail lower-cased as Go does> (or Grafana's
        placeholder)."""
        operation_id = case.operation.definition.raw.get("operationId", "")
        body = _json(response)
        if response.status_code != 200 or body is None:
            return
        found = list(people.search_hits(operation_id, body))
        if operation_id in people.profiles and isinstance(body, dict) and body.get("id"):
            found.append(body)
        for person in found:
            email, url = person.get("email"), person.get("avatarUrl")
            if not isinstance(email, str) or not isinstance(url, str) or not email:
                continue
            digest = hashlib.md5(go_lower(email).encode()).hexdigest()
            if not (
                url.endswith(f"/avatar/{digest}") or url.endswith("/public/img/user_profile.png")
            ):
                raise AssertionError(
                    f"avatarUrl of {email!r} is {url!r}, expected /avatar/{digest}"
                )

    return avatar_urls_hash_the_email


def last_seen_age_check(people: People) -> Check:
    def last_seen_age_is_in_words(
        ctx: schemathesis.CheckContext,
        response: schemathesis.Response,
        case: schemathesis.Case[Any],
    ) -> None:
        """lastSeenAtAge reads "10 years", "2 minutes", "< 1 minute"..."""
        operation_id = case.operation.definition.raw.get("operationId", "")
        for hit in people.search_hits(operation_id, _json(response)):
            age = hit.get("lastSeenAtAge")
            if isinstance(age, str) and not AGE_IN_WORDS.match(age):
                raise AssertionError(
                    f"lastSeenAtAge {age!r} of {hit.get('login')!r} is not in words"
                )

    return last_seen_age_is_in_words


def server_error_check(spec: Contract, applied: frozenset[str]) -> Check:
    """Replaces schemathesis's not_a_server_error: a 5xx is a deviation unless a version
    difference of the operation states exactly that answer (status and message) for the
    expected release, as some Grafana releases answer 500 by design."""

    def server_errors_are_the_stated_ones(
        ctx: schemathesis.CheckContext,
        response: schemathesis.Response,
        case: schemathesis.Case[Any],
    ) -> None:
        if response.status_code < 500:
            return
        body = _json(response)
        message = body.get("message") if isinstance(body, dict) else None
        operation = spec[str(case.operation.definition.raw["operationId"])]
        if (response.status_code, message) in spec.stated(operation, applied):
            return
        raise AssertionError(
            f"server error {response.status_code} {message!r}: no version difference of "
            f"{operation.operation_id} states it for this Grafana release"
        )

    return server_errors_are_the_stated_ones


def contract_checks(spec: Contract, applied: frozenset[str]) -> list[Check]:
    people = People.of(spec)
    return [
        error_bodies_are_grafana_messages,
        server_error_check(spec, applied),
        undeclared_method_check(spec),
        avatar_check(people),
        last_seen_age_check(people),
    ]
