"""Failed logins: every password the run sends that is not the account's current one.

Grafana locks a login after 5 failed attempts in 5 minutes, and - when IP protection is
enabled - every password login from the client's address after 5 failed attempts from it
in 5 minutes, the admin's included. Depending on the release, an attempt counts only for
an existing user with a wrong password, or for any failed password login (an unknown name
too). The suite therefore counts, from the requests themselves, every password it sends
for a name whose current password it does not know it is sending: a wrong password, or
any password for an unknown name. Tests that send one on purpose ask `allow` first, and a
run never goes past its limit (4 by default: below both of Grafana's limits of 5).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from conformance.text import go_lower, json_key

GRAFANA_LIMIT = 5  # failed attempts in 5 minutes that lock a login (and an address)
PER_LOGIN = GRAFANA_LIMIT - 1  # the run's most wrong passwords for any one name
DEFAULT_LIMIT = GRAFANA_LIMIT - 1  # the run's most wrong passwords in total, by default


@dataclass(frozen=True)
class Attempt:
    login: str  # the name as sent
    password: str


@dataclass(frozen=True)
class FailedLogin:
    login: str  # lower-cased, as Grafana counts it
    request: str  # method and path
    status: int
    test: str


class OverBudget(RuntimeError):
    """Sending this wrong password would take the run past its failed-login limit."""


def basic_attempt(authorization: str | None) -> Attempt | None:
    """The login and password of a Basic Authorization header that carries a password."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=False).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    login, sep, password = decoded.partition(":")
    return Attempt(login, password) if sep and password else None


def form_attempt(body: object) -> Attempt | None:
    """The login and password of a POST /login body that carries a password (keys read as
    Go's encoding/json reads them: case-insensitively, the last one winning)."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if not isinstance(body, Mapping):
        return None
    values: dict[str, object] = {}
    for key, value in body.items():
        values[json_key(str(key))] = value
    login, password = values.get("USER"), values.get("PASSWORD")
    if isinstance(login, str) and isinstance(password, str) and password:
        return Attempt(login, password)
    return None


def attempt_of(
    method: str, path: str, headers: Mapping[str, str], body: object, login_path: str = "/login"
) -> Attempt | None:
    """The password login a request makes, if any: Basic credentials, or the login form."""
    authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    found = basic_attempt(authorization)
    if found is None and method.upper() == "POST" and path == login_path:
        found = form_attempt(body)
    return found


@dataclass
class FailedLogins:
    """The run's failed password logins, counted from the requests it sent."""

    limit: int = DEFAULT_LIMIT
    per_login: int = PER_LOGIN
    current: dict[str, str] = field(default_factory=dict)  # lower-cased name -> its password
    unconfirmed: set[str] = field(default_factory=set)  # told, not yet accepted by the server
    failed: list[FailedLogin] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # wrong passwords the run did not send

    def learn(self, password: str, *names: str, confirmed: bool = True) -> None:
        """These names (a login and its e-mail) now sign in with this password. One the
        run was told (the admin's) is unconfirmed until the server first accepts it."""
        for name in names:
            if name:
                self.current[go_lower(name)] = password
                if confirmed:
                    self.unconfirmed.discard(go_lower(name))
                else:
                    self.unconfirmed.add(go_lower(name))

    def confirmed(self, name: str) -> bool:
        """Whether the server accepted the name's known password at least once."""
        return go_lower(name) in self.current and go_lower(name) not in self.unconfirmed

    def is_wrong(self, attempt: Attempt) -> bool:
        """Not the name's known password, or one the server never accepted yet."""
        name = go_lower(attempt.login)
        return self.current.get(name) != attempt.password or name in self.unconfirmed

    def count_for(self, login: str) -> int:
        name = go_lower(login)
        return sum(1 for f in self.failed if f.login == name)

    def allow(self, login: str, why: str) -> None:
        """Before sending a wrong password on purpose: OverBudget when it would take the run
        past its limit, in total or for this name."""
        if len(self.failed) >= self.limit or self.count_for(login) >= min(
            self.per_login, self.limit
        ):
            reason = (
                f"not sent: a wrong password for {login!r} ({why}) would be failed login "
                f"{len(self.failed) + 1} of the run (limit {self.limit}, "
                f"{min(self.per_login, self.limit)} per login)"
            )
            self.refused.append(reason)
            raise OverBudget(reason)

    def observe(self, attempt: Attempt | None, request: str, status: int, test: str) -> None:
        """Count an answered password login that failed with a password not known to be
        the name's current one."""
        if attempt is None:
            return
        name = go_lower(attempt.login)
        if status < 400:
            if self.current.get(name) == attempt.password:
                self.unconfirmed.discard(name)
            return
        if self.is_wrong(attempt):
            self.failed.append(FailedLogin(name, request, status, test))
