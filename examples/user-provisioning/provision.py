"""Provision Grafana users from a file: create the missing ones, bring the others' e-mail,
name and Grafana Admin flag in line, re-enable disabled ones; run it twice, nothing changes.
`--dormant DAYS` lists the users not seen for that long instead.

    GRAFANA_URL=http://admin:admin@localhost:3000 python provision.py users.yaml

An example of testing Grafana automation against grafana_userapi's fake Grafana: see
tests/test_provision.py.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import niquests
import yaml
from grafana_client import GrafanaApi
from grafana_client.client import (
    GrafanaClientError,
    GrafanaException,
    GrafanaServerError,
    GrafanaUnauthorizedError,
)

T = TypeVar("T")
PAUSE = 0.5  # seconds before the first retry; the next waits twice as long, and so on
DAYS = {"year": 365, "month": 30, "day": 1}


class ProvisioningError(Exception):
    """Something the operator must fix; the message says what."""


@dataclass
class Report:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def retrying(
    call: Callable[[], T],
    *,
    attempts: int = 3,
    pause: float = PAUSE,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`call()`, again after a server error or a lost connection (not after a 4xx)."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except GrafanaClientError:
            raise
        except (GrafanaServerError, GrafanaException, niquests.ConnectionError) as exc:
            if attempt == attempts:
                raise ProvisioningError(
                    f"Grafana did not answer after {attempts} attempts: {exc}"
                ) from exc
            sleep(pause * attempt)
    raise AssertionError("unreachable")


def find(api: GrafanaApi, login: str, pause: float = PAUSE) -> dict[str, Any] | None:
    try:
        return retrying(lambda: api.users.find_user(login), pause=pause)
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return None
        raise


def provision(api: GrafanaApi, users: Sequence[dict[str, Any]], *, pause: float = PAUSE) -> Report:
    """Make Grafana hold `users` (login, email, name, password, admin); returns what changed.
    Server errors and lost connections are retried after `pause`, 2 * `pause` seconds."""
    report = Report()
    try:
        for wanted in users:
            login = wanted["login"]
            try:
                _one(api, wanted, report, pause)
            except GrafanaUnauthorizedError:
                raise
            except GrafanaClientError as exc:
                raise ProvisioningError(
                    f"user {login!r}: Grafana refused it ({exc.status_code}): {exc.message}"
                ) from exc
    except GrafanaUnauthorizedError as exc:
        raise ProvisioningError(
            "Grafana refused the credentials (401): check GRAFANA_URL's user and password"
        ) from exc
    return report


def _one(api: GrafanaApi, wanted: dict[str, Any], report: Report, pause: float) -> None:
    login = wanted["login"]
    email, name, admin = wanted.get("email", ""), wanted.get("name", ""), bool(wanted.get("admin"))
    current = find(api, login, pause)
    if current is None:
        body = {
            "login": login,
            "email": email,
            "name": name,
            "password": wanted.get("password") or secrets.token_urlsafe(16),
        }
        try:
            created = retrying(lambda: api.admin.create_user(body), pause=pause)
        except GrafanaClientError as exc:
            # A lost answer to a create that happened: the retry finds the user there.
            if exc.status_code not in (409, 412) or (current := find(api, login, pause)) is None:
                raise
        else:
            if admin:
                retrying(
                    lambda: api.admin.change_user_permissions(created["id"], admin), pause=pause
                )
            report.created.append(login)
            return
    assert current is not None
    user_id, changed = current["id"], False
    if (current["email"], current["name"]) != (email or current["email"], name):
        retrying(
            lambda: api.users.update_user(
                user_id, {"login": login, "email": email or current["email"], "name": name}
            ),
            pause=pause,
        )
        changed = True
    if current["isGrafanaAdmin"] != admin:
        retrying(lambda: api.admin.change_user_permissions(user_id, admin), pause=pause)
        changed = True
    if current["isDisabled"]:
        retrying(lambda: api.admin.set_user_enabled(user_id, True), pause=pause)
        changed = True
    (report.updated if changed else report.unchanged).append(login)


def _all_users(api: GrafanaApi) -> Iterator[dict[str, Any]]:
    page = 1
    while True:
        found = retrying(lambda page=page: api.users.search_users(page=page, perpage=500))
        yield from found
        if len(found) < 500:
            return
        page += 1


def age_in_days(age: str) -> int:
    """Grafana's lastSeenAtAge ("3 days", "1 month", "10 years", "< 1 minute") in days."""
    count, _, unit = age.partition(" ")
    if not count.isdigit():
        return 0
    return int(count) * DAYS.get(unit.rstrip("s"), 0)


def dormant(api: GrafanaApi, days: int) -> list[str]:
    """Logins of the users Grafana has not seen for `days` days or more (ages as Grafana
    states them, so the script's own clock does not matter)."""
    return sorted(u["login"] for u in _all_users(api) if age_in_days(u["lastSeenAtAge"]) >= days)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "users", nargs="?", help="YAML file: a list of users (login, email, name, password, admin)"
    )
    parser.add_argument(
        "--dormant", type=int, metavar="DAYS", help="list users not seen for DAYS days"
    )
    args = parser.parse_args(argv)
    api = GrafanaApi.from_url(os.environ.get("GRAFANA_URL", "http://admin:admin@localhost:3000"))
    try:
        if args.dormant is not None:
            print("\n".join(dormant(api, args.dormant)))
            return 0
        with open(args.users, encoding="utf-8") as file:
            report = provision(api, yaml.safe_load(file) or [])
    except ProvisioningError as exc:
        print(f"provision: {exc}", file=sys.stderr)
        return 1
    counts = (len(report.created), len(report.updated), len(report.unchanged))
    print("created {}, updated {}, unchanged {}".format(*counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
