"""Layer 3: who can get in - sessions, revocation, logout, disabling and deleting users."""

from __future__ import annotations

import httpx

from conformance.fresh import Fresh
from conformance.options import RunOptions
from conformance.target import Credentials, Target
from conformance.world import World

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"


def _status(target: Target, credentials: Credentials, path: str = "/api/user") -> int:
    with target.session(credentials) as client:
        return client.get(path).status_code


def test_a_login_session_is_listed_and_authenticates(target: Target, fresh: Fresh) -> None:
    user = fresh.user("session")
    cookie = fresh.session(user, CHROME)
    with target.session(Credentials(session=cookie)) as me:
        assert me.get("/api/user").json()["id"] == user.id
        tokens = me.get("/api/user/auth-tokens").json()
    assert len(tokens) == 1 and tokens[0]["isActive"] is True
    assert (tokens[0]["browser"], tokens[0]["os"]) == ("Chrome", "Linux")
    with target.session(user.basic) as me:
        assert [t["isActive"] for t in me.get("/api/user/auth-tokens").json()] == [False]


def test_a_revoked_session_is_rejected_and_disappears_from_the_list(
    target: Target, fresh: Fresh
) -> None:
    user = fresh.user("revoke")
    kept, doomed = fresh.session(user, CHROME), fresh.session(user, FIREFOX)
    with target.session(Credentials(session=kept)) as me:
        tokens = me.get("/api/user/auth-tokens").json()
        assert sorted(t["isActive"] for t in tokens) == [False, True]
        current = next(t["id"] for t in tokens if t["isActive"])
        other = next(t["id"] for t in tokens if not t["isActive"])
        revoked = me.post("/api/user/revoke-auth-token", json={"authTokenId": other})
        assert revoked.status_code == 200 and revoked.json()["message"] == (
            "User auth token revoked"
        )
        assert _status(target, Credentials(session=doomed)) == 401, "revoked session still works"
        assert [t["id"] for t in me.get("/api/user/auth-tokens").json()] == [current]
        again = me.post("/api/user/revoke-auth-token", json={"authTokenId": other})
        assert again.status_code == 404 and again.json()["message"] == "User auth token not found"
        own = me.post("/api/user/revoke-auth-token", json={"authTokenId": current})
        assert own.status_code == 400 and own.json()["message"] == (
            "Cannot revoke active user auth token"
        )
        assert me.get("/api/user").status_code == 200


def test_another_users_session_cannot_be_revoked(target: Target, fresh: Fresh) -> None:
    owner, stranger = fresh.user("owner"), fresh.user("stranger")
    cookie = fresh.session(owner)
    with target.session(Credentials(session=cookie)) as me:
        token_id = me.get("/api/user/auth-tokens").json()[0]["id"]
    with target.session(stranger.basic) as them:
        response = them.post("/api/user/revoke-auth-token", json={"authTokenId": token_id})
    assert response.status_code == 404
    assert _status(target, Credentials(session=cookie)) == 200


def test_logout_ends_the_session(target: Target, fresh: Fresh) -> None:
    user = fresh.user("logout")
    cookie = fresh.session(user)
    with target.session(Credentials(session=cookie)) as me:
        assert me.get("/logout").status_code == 302
    assert _status(target, Credentials(session=cookie)) == 401, "session alive after logout"


def test_a_disabled_user_cannot_authenticate_until_enabled_again(
    target: Target, as_root: httpx.Client, fresh: Fresh
) -> None:
    user = fresh.user("disable")
    cookie = fresh.session(user)
    assert as_root.post(f"/api/admin/users/{user.id}/disable").status_code == 200
    assert _status(target, user.basic) == 401, "a disabled user authenticated"
    assert _status(target, Credentials(session=cookie)) == 401, "disabling kept the session"
    hits = as_root.get("/api/users/search", params={"query": user.login}).json()["users"]
    assert [(h["id"], h["isDisabled"]) for h in hits] == [(user.id, True)]
    assert as_root.get(f"/api/users/{user.id}").json()["isDisabled"] is True
    assert as_root.post(f"/api/admin/users/{user.id}/enable").status_code == 200
    assert _status(target, user.basic) == 200, "an enabled user cannot authenticate"


def test_a_deleted_user_is_gone_everywhere(
    target: Target, as_root: httpx.Client, fresh: Fresh
) -> None:
    user = fresh.user("delete")
    cookie = fresh.session(user)
    assert as_root.delete(f"/api/admin/users/{user.id}").status_code == 200
    missing = as_root.get(f"/api/users/{user.id}")
    assert missing.status_code == 404 and missing.json()["message"] == "user not found"
    lookup = as_root.get("/api/users/lookup", params={"loginOrEmail": user.login})
    assert lookup.status_code == 404
    assert as_root.get("/api/users/search", params={"query": user.login}).json()["users"] == []
    # Its session, not its password: a password for a name nobody has is a failed login
    # that some Grafana releases count against the client's address.
    assert _status(target, Credentials(session=cookie)) == 401, "a deleted user's session works"
    assert as_root.delete(f"/api/admin/users/{user.id}").status_code == 404


def test_basic_auth_takes_the_email_as_well_as_the_login(target: Target, fresh: Fresh) -> None:
    user = fresh.user("email-auth")
    for name in (user.email, user.email.upper(), user.login.upper()):
        with target.session(Credentials(basic=(name, user.password))) as me:
            response = me.get("/api/user")
        assert response.status_code == 200 and response.json()["id"] == user.id, name


def test_creating_a_user_with_a_taken_login_is_412(
    as_root: httpx.Client, fresh: Fresh, world: World, conformance_options: RunOptions
) -> None:
    user = fresh.user("taken")
    response = as_root.post(
        "/api/admin/users", json={"login": user.login.upper(), "password": "another-pass"}
    )
    creating = conformance_options.contract["adminCreateUser"]
    world.ledger.adopt(creating, response.status_code, response.json())
    assert response.status_code == 412, response.text
