"""Small steps the endpoint tests repeat: create users, orgs, teams, dashboards, sessions."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import update
from starlette.testclient import TestClient

from handlers.store import Store
from handlers.store.schema import users as users_table

ADMIN = ("admin", "admin")
PASSWORD = "secret-pw"
JANE = ("jane", PASSWORD)
BASE_URL = "http://testserver"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
AVATAR = re.compile(r"^/avatar/[0-9a-f]{32}$")
UID = re.compile(r"^[a-z][a-z0-9]{13}$")
ACCESS_ERROR_ID = re.compile(r"^ACE\d{10}$")
JSON = dict[str, Any]


def message(text: str) -> JSON:
    return {"message": text}


def errutil(text: str, message_id: str, status: int) -> JSON:
    """The body of a Grafana errutil error."""
    return {"message": text, "messageId": message_id, "statusCode": status, "traceID": ""}


BAD_CREDENTIALS = errutil("Invalid username or password", "password-auth.failed", 401)
UNAUTHORIZED = message("Unauthorized")
BAD_REQUEST_DATA = message("bad request data")


def create_user(
    admin: TestClient,
    login: str,
    password: str = PASSWORD,
    *,
    email: str | None = None,
    name: str = "",
    org_id: int | None = None,
) -> int:
    """Create a user through the admin API; returns the new id."""
    body: JSON = {
        "login": login,
        "email": email if email is not None else f"{login}@example.com",
        "name": name,
        "password": password,
    }
    if org_id is not None:
        body["orgId"] = org_id
    response = admin.post("/api/admin/users", json=body)
    assert response.status_code == 200, response.text
    user_id: int = response.json()["id"]
    return user_id


def set_columns(store: Store, user_id: int, **values: Any) -> None:
    """Write a user row directly (states the API cannot produce, or old timestamps)."""
    with store.db.write() as conn:
        conn.execute(update(users_table).where(users_table.c.id == user_id).values(**values))


def new_client(app: Any) -> TestClient:
    """A client of its own (its own cookie jar), unauthenticated."""
    return TestClient(app, base_url=BASE_URL)


def log_in(
    client: TestClient, user: str, password: str = PASSWORD, user_agent: str | None = None
) -> str:
    """Form login; the client keeps the session cookie. Returns the cookie value."""
    headers = {"User-Agent": user_agent} if user_agent is not None else {}
    response = client.post("/login", json={"user": user, "password": password}, headers=headers)
    assert response.status_code == 200, response.text
    cookie: str = response.cookies["grafana_session"]
    return cookie


def session(
    app: Any, user: str, password: str = PASSWORD, user_agent: str | None = None
) -> TestClient:
    """A client logged in by form login (session cookie only, no basic auth)."""
    client = new_client(app)
    log_in(client, user, password, user_agent)
    return client


def create_org(client: TestClient, name: str) -> int:
    response = client.post("/api/orgs", json={"name": name})
    assert response.status_code == 200, response.text
    org_id: int = response.json()["orgId"]
    return org_id


def add_org_user(
    client: TestClient, org_id: int, login_or_email: str, role: str = "Viewer"
) -> None:
    response = client.post(
        f"/api/orgs/{org_id}/users", json={"loginOrEmail": login_or_email, "role": role}
    )
    assert response.status_code == 200, response.text


def create_team(client: TestClient, name: str, email: str = "") -> int:
    response = client.post("/api/teams", json={"name": name, "email": email})
    assert response.status_code == 200, response.text
    team_id: int = response.json()["teamId"]
    return team_id


def add_team_member(client: TestClient, team_id: int, user_id: int) -> None:
    response = client.post(f"/api/teams/{team_id}/members", json={"userId": user_id})
    assert response.status_code == 200, response.text


def create_dashboard(client: TestClient, title: str, uid: str | None = None) -> JSON:
    """Save a new dashboard; returns Grafana's answer (id, uid, url, ...)."""
    response = client.post(
        "/api/dashboards/db", json={"dashboard": {"id": None, "uid": uid, "title": title}}
    )
    assert response.status_code == 200, response.text
    saved: JSON = response.json()
    return saved


def create_service_account_token(
    admin: TestClient, name: str = "robot", role: str = "Viewer"
) -> tuple[int, str]:
    """A service account in the caller's org with one token: (account id, token)."""
    response = admin.post("/api/serviceaccounts", json={"name": name, "role": role})
    assert response.status_code == 201, response.text
    account_id: int = response.json()["id"]
    response = admin.post(
        f"/api/serviceaccounts/{account_id}/tokens", json={"name": f"{name}-token"}
    )
    assert response.status_code == 200, response.text
    key: str = response.json()["key"]
    return account_id, key


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_access_denied(response: Any, action: str) -> None:
    """Grafana's RBAC refusal: 403 with accessErrorId, message and title."""
    assert response.status_code == 403
    body = response.json()
    assert ACCESS_ERROR_ID.match(body.pop("accessErrorId"))
    assert body == {
        "message": "You'll need additional permissions to perform this action. "
        f"Permissions needed: {action}",
        "title": "Access denied",
    }


def assert_profile_times(body: JSON) -> JSON:
    """Check the timestamp fields' shape; return the body without them."""
    rest = dict(body)
    for key in ("createdAt", "updatedAt"):
        assert TIMESTAMP.match(rest.pop(key)), key
    return rest


# User agents of real browsers, for the session list's device and browser fields.
CHROME_ON_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_ON_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Safari/605.1.15"
)
SAFARI_ON_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
FIREFOX_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
)


def team_entry(team_id: int, name: str, email: str, avatar_url: str, members: int) -> JSON:
    """One team of a user's team list, as Grafana lists it (without the generated uid)."""
    return {
        "id": team_id,
        "orgId": 1,
        "name": name,
        "email": email,
        "externalUID": "",
        "isProvisioned": False,
        "avatarUrl": avatar_url,
        "memberCount": members,
        "permission": 0,
        "accessControl": None,
    }


def jane_profile(user_id: int) -> JSON:
    """The profile of the user `create_user(admin, "jane")` makes, without uid and times."""
    return {
        "id": user_id,
        "email": "jane@example.com",
        "name": "Jane Doe",
        "login": "jane",
        "theme": "",
        "orgId": 1,
        "isGrafanaAdmin": False,
        "isDisabled": False,
        "isExternal": False,
        "isExternallySynced": False,
        "isGrafanaAdminExternallySynced": False,
        "authLabels": [],
        "avatarUrl": "/avatar/9e26471d35a78862c17e467d87cddedf",
    }
