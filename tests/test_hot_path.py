"""The per-request reads answer exactly what the general store methods answer.

`Store.credentials()` (basic auth's one read) must equal find_user + org_role +
failed_logins_since; get_user's compiled statement must read what a plain Core query
reads (same values, same types). On both backends.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from handlers.store import Store, UserNotFound
from handlers.store.schema import users
from handlers.store.users import to_user


def _users(store: Store) -> dict[str, int]:
    ids = {}
    for login, email in [
        ("kim", "kim@example.com"),
        ("lee@example.com", "lee.other@example.com"),  # a login that looks like an e-mail
        ("max", "lee@example.net"),
        ("noorg", "noorg@example.com"),
    ]:
        ids[login] = store.create_user(
            login=login, email=email, name=login.title(), password_hash="h", salt="s"
        ).id
    store.create_user(
        login="robot", email="robot@example.com", name="Robot", password_hash="", salt="",
        service_account=True,
    )  # fmt: skip
    return ids


@pytest.mark.parametrize(
    "value",
    ["kim", "KIM", "kim@example.com", "Kim@Example.Com", "lee@example.com", "max",
     "lee@example.net", "noorg", "robot", "robot@example.com", "nobody", "", "admin"],
)  # fmt: skip
def test_credentials_equal_find_user_org_role_and_the_failure_count(
    store: Store, value: str
) -> None:
    _users(store)
    now = int(time.time())
    store.record_failed_login(value or "x", "127.0.0.1", now)
    try:
        expected = store.find_user(value)
    except UserNotFound:
        expected = None
    user, role, failures = store.credentials(value, failures_since=now - 300)
    assert user == (None if expected is None else store.get_user(expected.id))
    if expected is not None:
        assert role == store.org_role(expected.id, expected.org_id)
    assert failures == store.failed_logins_since(value, now - 300)
    assert store.credentials(value, failures_since=None)[2] == 0


def test_a_user_without_a_membership_in_their_org_has_no_role(store: Store) -> None:
    ids = _users(store)
    store.set_active_org_unchecked(ids["noorg"], 99)
    user, role, _ = store.credentials("noorg", failures_since=None)
    assert user is not None and user.org_id == 99 and role is None


def test_credentials_read_the_user_get_user_reads_latest_auth_label_included(
    store: Store,
) -> None:
    """GET /api/user answers from the row basic auth read: it must be get_user's row."""
    ids = _users(store)
    store.link_external(ids["kim"], "ldap", "kim-ldap")
    store.link_external(ids["kim"], "oauth_github", "kim-gh")
    for login in ("kim", "max"):
        user, _, _ = store.credentials(login, failures_since=None)
        assert user == store.get_user(ids[login])
    assert store.get_user(ids["kim"]).auth_labels == ("GitHub",)


def test_get_user_reads_what_a_plain_core_query_reads_with_its_latest_auth_label(
    store: Store,
) -> None:
    ids = _users(store)
    store.link_external(ids["kim"], "ldap", "kim-ldap")
    store.link_external(ids["kim"], "oauth_github", "kim-gh")
    with store.db.read() as conn:  # the reference: SQLAlchemy's own execution and types
        rows = {r.login: r for r in conn.execute(select(users)).all()}
    assert store.get_user(ids["kim"]) == to_user(rows["kim"], ("GitHub",))
    assert store.get_user(ids["max"]) == to_user(rows["max"])
    assert isinstance(store.get_user(ids["max"]).created, type(rows["max"].created))
    assert store.find_user("kim") == store.get_user(ids["kim"])
    with pytest.raises(UserNotFound):
        store.get_user(10**12)


def test_service_accounts_are_read_only_when_asked_for(store: Store) -> None:
    _users(store)
    with store.db.read() as conn:
        robot_id = conn.execute(select(users.c.id).where(users.c.login == "robot")).scalar_one()
    assert store.get_user(robot_id, service_accounts=True).is_service_account
    with pytest.raises(UserNotFound):
        store.get_user(robot_id)
    with pytest.raises(UserNotFound):
        store.find_user("robot")
