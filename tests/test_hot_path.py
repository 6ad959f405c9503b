"""The per-request reads answer exactly what the general store methods answer.

`Store.credentials()` (basic auth's one read) must equal find_user + org_role +
failed_logins_since; get_user's compiled statement must read what a plain Core query
reads (same values, same types). On both backends.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select, update

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


def test_session_credentials_equal_the_session_its_user_and_their_role(store: Store) -> None:
    """Cookie authentication's one read answers what the session row, get_user and
    org_role answer, and nothing for a session that is revoked, too old, idle, or whose
    user is gone (a revoked session is deleted here)."""
    ids = _users(store)
    store.link_external(ids["kim"], "oauth_github", "kim-gh")
    made = {
        login: store.create_session(
            ids[login], f"hash-{login}", user_agent="ua", client_ip="10.0.0.1", now=1000
        )
        for login in ("kim", "noorg")
    }
    store.set_active_org_unchecked(ids["noorg"], 99)
    for login, expected_role in (("kim", store.org_role(ids["kim"], 1)), ("noorg", None)):
        found = store.session_credentials(f"hash-{login}", created_after=999, seen_after=999)
        assert found == (made[login], store.get_user(ids[login]), expected_role)
    assert found is not None and found[1].auth_labels == ()
    kim = store.session_credentials("hash-kim", created_after=0, seen_after=0)
    assert kim is not None and kim[1].auth_labels == ("GitHub",)
    assert store.session_credentials("hash-kim", created_after=1000, seen_after=0) is None
    assert store.session_credentials("hash-kim", created_after=0, seen_after=1000) is None
    assert store.session_credentials("hash-nobody", created_after=0, seen_after=0) is None
    store.delete_session(made["kim"].id)
    assert store.session_credentials("hash-kim", created_after=0, seen_after=0) is None
    store.delete_user(ids["noorg"])
    assert store.session_credentials("hash-noorg", created_after=0, seen_after=0) is None


def test_token_identity_reads_the_token_and_its_account(store: Store) -> None:
    account = store.create_service_account(1, name="Robot two", role="Editor", is_disabled=False)
    store.add_token(1, account.id, name="t1", key_hash="key-1", expires=None)
    store.add_token(1, account.id, name="t2", key_hash="key-2", expires=2000)
    found = store.identity_for_key("key-1", 5000)
    assert found is not None
    assert (found.kind, found.user_id, found.login, found.org_id, found.org_role) == (
        "service_account", account.id, account.login, 1, "Editor",
    )  # fmt: skip
    assert found.is_admin is False
    assert store.identity_for_key("key-2", 1999) is not None
    assert store.identity_for_key("key-2", 2000) is None  # expired
    assert store.identity_for_key("key-3", 1000) is None
    with store.db.write() as conn:  # a disabled account's tokens authenticate nobody
        conn.execute(update(users).where(users.c.id == account.id).values(is_disabled=True))
    assert store.identity_for_key("key-1", 5000) is None
