"""Layer 3: a change is really applied - reading back after update, password, org and stars."""

from __future__ import annotations

import httpx
import pytest

from conformance.conftest import PasswordChange
from conformance.fresh import Fresh
from conformance.logins import OverBudget
from conformance.options import RunOptions
from conformance.recorder import Recorder
from conformance.target import Credentials, Target
from conformance.world import World


def _extra(options: RunOptions, operation_id: str) -> frozenset[int]:
    """Statuses the run's tolerances accept for an operation besides the contract's."""
    return options.contract.extra_statuses(operation_id, options.tolerances)


def _ok(response: httpx.Response, message: str | None = None) -> None:
    assert response.status_code == 200, (
        f"{response.request.method} {response.request.url.path}: "
        f"{response.status_code} {response.text[:200]}"
    )
    if message is not None:
        assert response.json()["message"] == message


def test_an_update_reads_back_through_get_by_id_lookup_and_search(
    as_root: httpx.Client, fresh: Fresh, world: World
) -> None:
    user = fresh.user("update")
    login, email = (
        f"{world.prefix}renamed-{user.id}",
        f"{world.prefix}renamed-{user.id}@example.org",
    )
    changes = {
        "login": f"  {login.upper()} ",
        "email": email.upper(),
        "name": "Renamed Person",
        "theme": "dark",
    }
    _ok(as_root.put(f"/api/users/{user.id}", json=changes), "User updated")
    profile = as_root.get(f"/api/users/{user.id}").json()
    expected = {"login": login, "email": email, "name": "Renamed Person", "theme": "dark"}
    assert {key: profile[key] for key in expected} == expected, "trimmed, lower-cased, applied"
    for key in (login, email, login.upper()):
        found = as_root.get("/api/users/lookup", params={"loginOrEmail": key})
        assert found.status_code == 200 and found.json()["id"] == user.id, f"lookup {key}"
    assert as_root.get("/api/users/lookup", params={"loginOrEmail": user.login}).status_code == 404
    hits = as_root.get("/api/users/search", params={"query": login}).json()["users"]
    assert [(h["id"], h["login"], h["email"], h["name"]) for h in hits] == [
        (user.id, login, email, "Renamed Person")
    ]


def test_empty_fields_of_an_update_leave_the_stored_values_alone(
    as_root: httpx.Client, fresh: Fresh
) -> None:
    user = fresh.user("keep")
    _ok(as_root.put(f"/api/users/{user.id}", json={"login": user.login, "name": "", "email": ""}))
    profile = as_root.get(f"/api/users/{user.id}").json()
    assert (profile["name"], profile["email"]) == (user.name, user.email)


def test_an_update_without_login_or_email_is_refused(as_root: httpx.Client, fresh: Fresh) -> None:
    user = fresh.user("nologin")
    response = as_root.put(f"/api/users/{user.id}", json={"name": "No Login"})
    assert response.status_code == 400
    assert as_root.get(f"/api/users/{user.id}").json()["name"] == user.name


def test_taking_another_users_login_is_a_conflict(
    as_root: httpx.Client, fresh: Fresh, conformance_options: RunOptions
) -> None:
    first, second = fresh.user("first"), fresh.user("second")
    response = as_root.put(f"/api/users/{second.id}", json={"login": first.login.upper()})
    allowed = {409} | _extra(conformance_options, "updateUser")
    assert response.status_code in allowed, response.text
    assert as_root.get(f"/api/users/{second.id}").json()["login"] == second.login


def test_a_self_update_reads_back_through_get_api_user(target: Target, fresh: Fresh) -> None:
    user = fresh.user("self")
    with target.session(user.basic) as me:
        _ok(
            me.put("/api/user", json={"login": user.login, "name": "Self Made", "theme": "light"}),
            "User updated",
        )
        profile = me.get("/api/user").json()
    assert (profile["id"], profile["name"], profile["theme"]) == (user.id, "Self Made", "light")


def test_a_changed_password_works_and_the_old_one_no_longer_does(
    password_change: PasswordChange,
) -> None:
    changed = password_change
    _ok(changed.change, "User password changed")
    assert changed.with_new.status_code == 200, "the new password does not work"
    assert changed.with_new.json()["id"] == changed.account.id
    if changed.with_old is None:
        pytest.skip(changed.not_sent)
    assert changed.with_old.status_code == 401, "the old password still works"


def test_a_wrong_old_password_is_refused_and_changes_nothing(
    target: Target, fresh: Fresh, conformance_options: RunOptions
) -> None:
    user = fresh.user("wrongold")
    with target.session(user.basic) as me:
        response = me.put(
            "/api/user/password",
            json={"oldPassword": f"x{user.password}", "newPassword": "whatever-1"},
        )
        statuses = {400} | _extra(conformance_options, "changeUserPassword")
        assert response.status_code in statuses and response.json()["message"] == (
            "Invalid old password"
        ), response.text
        _ok(me.get("/api/user"))


def test_an_admin_password_reset_works_and_ends_the_users_sessions(
    target: Target, as_root: httpx.Client, fresh: Fresh, recorder: Recorder
) -> None:
    user = fresh.user("reset")
    cookie = fresh.session(user)
    _ok(
        as_root.put(f"/api/admin/users/{user.id}/password", json={"password": "reset-pass-1"}),
        "User password updated",
    )
    recorder.failed_logins.learn("reset-pass-1", user.login, user.email)
    with target.session(Credentials(basic=(user.login, "reset-pass-1"))) as me:
        _ok(me.get("/api/user"))
    with target.session(Credentials(session=cookie)) as me:
        assert me.get("/api/user").status_code == 401, "the session survived the reset"
    try:
        recorder.failed_logins.allow(user.login, "the old password after a reset")
    except OverBudget as exc:
        pytest.skip(str(exc))
    with target.session(user.basic) as me:
        assert me.get("/api/user").status_code == 401, "the old password still works"


def test_switching_organization_changes_org_id_and_the_teams_follow(
    target: Target, as_root: httpx.Client, fresh: Fresh, world: World
) -> None:
    user, team = fresh.user("switch"), fresh.team()
    _ok(
        as_root.post(
            f"/api/orgs/{world.org}/users", json={"loginOrEmail": user.login, "role": "Viewer"}
        )
    )
    _ok(as_root.post(f"/api/teams/{team.id}/members", json={"userId": user.id}))
    with target.session(user.basic) as me:
        home = me.get("/api/user").json()["orgId"]
        assert [t["id"] for t in me.get("/api/user/teams").json()] == []
        _ok(me.post(f"/api/user/using/{world.org}"), "Active organization changed")
        assert me.get("/api/user").json()["orgId"] == world.org
        assert [t["id"] for t in me.get("/api/user/teams").json()] == [team.id]
        refused = me.post(f"/api/user/using/{world.spare_orgs[1]}")
        assert refused.status_code == 401 and refused.json()["message"] == (
            "Not a valid organization"
        )
        assert me.get("/api/user").json()["orgId"] == world.org
        _ok(as_root.post(f"/api/users/{user.id}/using/{home}"), "Active organization changed")
        assert me.get("/api/user").json()["orgId"] == home
        assert me.get("/api/user/teams").json() == []


def test_starring_and_unstarring_shows_in_the_stars_list(
    target: Target, fresh: Fresh, world: World, conformance_options: RunOptions
) -> None:
    user, dashboard = fresh.user("stars"), world.dashboards[0]
    with target.session(world.root.basic) as root:
        _ok(
            root.post(
                f"/api/orgs/{world.org}/users", json={"loginOrEmail": user.login, "role": "Viewer"}
            )
        )
    with target.session(user.basic) as me:
        _ok(me.post(f"/api/user/using/{world.org}"))
        assert me.get("/api/user/stars").json() == []
        _ok(me.post(f"/api/user/stars/dashboard/uid/{dashboard.uid}"), "Dashboard starred!")
        _ok(me.post(f"/api/user/stars/dashboard/uid/{dashboard.uid}"))  # twice is harmless
        assert me.get("/api/user/stars").json() == [dashboard.uid]
        _ok(me.delete(f"/api/user/stars/dashboard/uid/{dashboard.uid}"), "Dashboard unstarred")
        assert me.get("/api/user/stars").json() == []
        missing = me.post(f"/api/user/stars/dashboard/uid/{world.ghost_uid}")
        assert missing.status_code == 404 and missing.json()["message"] == "Dashboard not found"
        by_id = me.post(f"/api/user/stars/dashboard/{dashboard.id}")
        if by_id.status_code in _extra(conformance_options, "starDashboard"):
            return
        _ok(by_id, "Dashboard starred!")
        assert me.get("/api/user/stars").json() == [dashboard.uid]
        _ok(me.delete(f"/api/user/stars/dashboard/{dashboard.id}"), "Dashboard unstarred")
        assert me.get("/api/user/stars").json() == []


def test_adding_an_org_member_twice_is_a_conflict(
    as_root: httpx.Client, fresh: Fresh, world: World
) -> None:
    user = fresh.user("member")
    body = {"loginOrEmail": user.login, "role": "Viewer"}
    _ok(as_root.post(f"/api/orgs/{world.org}/users", json=body), "User added to organization")
    again = as_root.post(f"/api/orgs/{world.org}/users", json=body)
    assert again.status_code == 409, again.text
