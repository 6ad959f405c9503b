"""The HTTP calls of Ansible's community.grafana organization, organization-user and team
modules, replayed against the server in the order the modules make them (read from the
collection's plugins/modules/grafana_organization*.py and grafana_team.py), with the
decisions the modules take on each answer: each run reports `changed` as the module
would, and a second run changes nothing. Ansible itself is not installed: what matters
to the server is the calls, their statuses and the fields the modules read back."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.testclient import TestClient

from tests.support.api import create_user

JSON = dict[str, Any]


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def organization_present(api: TestClient, name: str) -> tuple[bool, int]:
    """grafana_organization, state present: look the org up by name, create it if absent."""
    found = api.get(f"/api/orgs/name/{quote(name)}")
    if found.status_code == 200:
        return False, int(found.json()["id"])
    assert found.status_code == 404, found.text
    return True, int(_ok(api.post("/api/orgs", json={"name": name}))["orgId"])


def organization_absent(api: TestClient, name: str) -> bool:
    found = api.get(f"/api/orgs/name/{quote(name)}")
    if found.status_code == 404:
        return False
    _ok(api.delete(f"/api/orgs/{found.json()['id']}"))
    return True


def _org_user(api: TestClient, org_id: int, login: str) -> JSON | None:
    users = _ok(api.get(f"/api/orgs/{org_id}/users"))
    return next((u for u in users if login in (u["login"], u["email"])), None)


def org_user_present(api: TestClient, org_id: int, login: str, role: str) -> bool:
    """grafana_organization_user, state present: add; on 409 (already a member) compare
    the role read from the org's user list and PATCH it when it differs."""
    added = api.post(f"/api/orgs/{org_id}/users", json={"loginOrEmail": login, "role": role})
    if added.status_code == 200:
        return True
    assert added.status_code == 409, added.text
    user = _org_user(api, org_id, login)
    assert user is not None, "a 409 means the user is a member"
    if user["role"] == role:
        return False
    _ok(api.patch(f"/api/orgs/{org_id}/users/{user['userId']}", json={"role": role}))
    return True


def org_user_absent(api: TestClient, org_id: int, login: str) -> bool:
    user = _org_user(api, org_id, login)
    if user is None:
        return False
    _ok(api.delete(f"/api/orgs/{org_id}/users/{user['userId']}"))
    return True


def _team(api: TestClient, name: str) -> JSON | None:
    found = _ok(api.get(f"/api/teams/search?name={quote(name)}"))
    assert found["totalCount"] <= 1
    return found["teams"][0] if found["teams"] else None


def _member_emails(api: TestClient, team_id: int) -> list[str]:
    return [m["email"] for m in _ok(api.get(f"/api/teams/{team_id}/members"))]


def _user_id(api: TestClient, email: str) -> int:
    return int(_ok(api.get(f"/api/users/lookup?loginOrEmail={quote(email)}"))["id"])


def team_present(
    api: TestClient, name: str, email: str, members: list[str], enforce: bool
) -> tuple[bool, JSON]:
    """grafana_team, state present: find by name, create if absent, add the missing
    members (by e-mail, looked up), with enforce_members remove the others; the result
    carries the members read back."""
    changed = False
    team = _team(api, name)
    if team is None:
        _ok(api.post("/api/teams", json={"name": name, "email": email}))
        team, changed = _team(api, name), True
    assert team is not None
    current = _member_emails(api, team["id"])
    for member in [m for m in members if m not in current]:
        _ok(api.post(f"/api/teams/{team['id']}/members", json={"userId": _user_id(api, member)}))
        changed = True
    if enforce:
        for member in [m for m in current if m not in members]:
            _ok(api.delete(f"/api/teams/{team['id']}/members/{_user_id(api, member)}"))
            changed = True
    team = _team(api, name)
    assert team is not None
    return changed, {**team, "members": _member_emails(api, team["id"])}


def team_absent(api: TestClient, name: str) -> bool:
    team = _team(api, name)
    if team is None:
        return False
    _ok(api.delete(f"/api/teams/{team['id']}"))
    return True


def test_the_organization_and_organization_user_modules_converge(admin: TestClient) -> None:
    create_user(admin, "jane")
    assert organization_present(admin, "Ops Org.")[0] is True
    changed, org_id = organization_present(admin, "Ops Org.")
    assert changed is False
    assert org_user_present(admin, org_id, "jane", "Viewer") is True
    assert org_user_present(admin, org_id, "jane", "Viewer") is False
    assert org_user_present(admin, org_id, "jane@example.com", "Editor") is True
    assert _org_user(admin, org_id, "jane") is not None
    assert _org_user(admin, org_id, "jane")["role"] == "Editor"  # type: ignore[index]
    assert org_user_absent(admin, org_id, "jane") is True
    assert org_user_absent(admin, org_id, "jane") is False
    assert organization_absent(admin, "Ops Org.") is True
    assert organization_absent(admin, "Ops Org.") is False


def test_the_team_module_converges_with_and_without_enforced_members(admin: TestClient) -> None:
    for login in ("jane", "bob", "amy"):
        create_user(admin, login)
    wanted = ["jane@example.com", "bob@example.com"]
    changed, team = team_present(admin, "Ops", "ops@example.com", wanted, enforce=False)
    assert changed is True
    # The team's creator (the admin) is a member too, as in Grafana.
    assert sorted(team["members"]) == sorted(["admin@localhost", *wanted])
    assert team_present(admin, "Ops", "ops@example.com", wanted, enforce=False)[0] is False
    changed, team = team_present(admin, "Ops", "ops@example.com", ["amy@example.com"], True)
    assert (changed, team["members"], team["memberCount"]) == (True, ["amy@example.com"], 1)
    assert team_present(admin, "Ops", "ops@example.com", ["amy@example.com"], True)[0] is False
    assert team_absent(admin, "Ops") is True
    assert team_absent(admin, "Ops") is False
