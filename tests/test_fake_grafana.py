"""The fake Grafana for other people's tests (testing/): seeding, reset, journal, clock,
faults and the version it answers as, driven over HTTP as a client's tests would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from handlers.app import create_app
from handlers.settings import Settings
from testing import Fake, FakeGrafana, SeedError

EVERYTHING: dict[str, Any] = {
    "orgs": [{"name": "Engineering"}],
    "users": [
        {
            "login": "ann",
            "password": "pw-ann",
            "email": "ann@example.com",
            "name": "Ann Smith",
            "orgs": {"Engineering": "Admin", "Main Org.": "Editor"},
        },
        {"login": "root2", "password": "pw-root", "grafana_admin": True},
        {"login": "gone", "password": "pw-gone", "disabled": True},
    ],
    "teams": [{"name": "Backend", "org": "Engineering", "members": ["ann"]}],
    "dashboards": [{"uid": "latency", "title": "Latency", "org": "Engineering"}],
    "stars": [{"user": "ann", "dashboard": "latency", "org": "Engineering"}],
    "service_accounts": [
        {
            "name": "ci-bot",
            "role": "Editor",
            "tokens": [{"name": "ci", "key": "glsa_fixedfixedfixedfixedfixedfixe_00000000"}],
        }
    ],
    "sessions": [{"user": "ann", "token": "ann-session-cookie"}],
}


@pytest.fixture(scope="module")
def shared() -> Iterator[FakeGrafana]:
    with FakeGrafana() as fake:
        yield fake


@pytest.fixture
def fake(shared: FakeGrafana) -> FakeGrafana:
    shared.reset()
    return shared


def get(fake: FakeGrafana, path: str, auth: Any = "admin", **kwargs: Any) -> httpx.Response:
    """GET as the admin, as `auth`, or with no credentials but the ones given (auth=None)."""
    credentials = fake.admin if auth == "admin" else auth
    return httpx.get(fake.url + path, auth=credentials, timeout=10, **kwargs)


def test_every_kind_of_object_is_seeded_and_usable_through_the_api(fake: FakeGrafana) -> None:
    made = fake.seed(EVERYTHING)
    assert set(made.users) == {"ann", "root2", "gone"}
    ann = get(fake, "/api/user", auth=("ann", "pw-ann")).json()
    assert (ann["id"], ann["email"], ann["name"]) == (
        made.users["ann"],
        "ann@example.com",
        "Ann Smith",
    )
    assert ann["orgId"] == made.orgs["Engineering"]  # the first org listed is the active one
    orgs = get(fake, f"/api/users/{ann['id']}/orgs").json()
    assert {(o["name"], o["role"]) for o in orgs} == {
        ("Engineering", "Admin"),
        ("Main Org.", "Editor"),
    }
    assert get(fake, "/api/user", auth=("root2", "pw-root")).json()["isGrafanaAdmin"] is True
    assert get(fake, "/api/user", auth=("gone", "pw-gone")).status_code == 401
    teams = get(fake, "/api/user/teams", auth=("ann", "pw-ann")).json()
    assert [(t["id"], t["name"]) for t in teams] == [(made.teams["Backend"], "Backend")]
    stars = get(fake, "/api/user/stars", auth=("ann", "pw-ann")).json()
    assert stars == ["latency"] and made.dashboards["latency"] > 0
    bot = get(
        fake, "/api/user", auth=None, headers={"Authorization": f"Bearer {made.tokens['ci']}"}
    )
    assert bot.status_code == 200 and made.service_accounts["ci-bot"] > 0
    by_cookie = get(fake, "/api/user", auth=None, cookies={"grafana_session": "ann-session-cookie"})
    assert by_cookie.json()["login"] == "ann"
    assert made.sessions[0]["token"] == "ann-session-cookie"


def test_a_seed_file_in_yaml_or_json_is_read(fake: FakeGrafana, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("users:\n  - login: yam\n    password: pw-yam\n")
    (tmp_path / "b.json").write_text('{"orgs": [{"name": "From JSON"}]}')
    assert set(fake.seed(tmp_path / "a.yaml").users) == {"yam"}
    assert set(fake.seed(tmp_path / "b.json").orgs) == {"From JSON"}
    assert get(fake, "/api/user", auth=("yam", "pw-yam")).status_code == 200


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            {"users": [{"login": "x", "pasword": "y"}]},
            "users[0] (login 'x'): unknown field 'pasword'",
        ),
        ({"users": [{"email": "a@b"}]}, "users[0]: 'login' is required"),
        (
            {"users": [{"login": "x", "disabled": "yes"}]},
            "users[0] (login 'x'): 'disabled' must be a bool",
        ),
        ({"users": [{"login": "admin"}]}, "users[0] (login 'admin'): login 'admin' already exists"),
        (
            {"users": [{"login": "x", "email": "admin@localhost"}]},
            "e-mail 'admin@localhost' is taken",
        ),
        (
            {"users": [{"login": "x", "orgs": {"Nope": "Viewer"}}]},
            "org 'Nope' is neither in the data",
        ),
        ({"users": [{"login": "x", "orgs": {"Main Org.": "Boss"}}]}, "role 'Boss' is not one of"),
        ({"teams": [{"name": "t", "members": ["nobody"]}]}, "teams[0] (name 't'): member 'nobody'"),
        ({"stars": [{"user": "admin", "dashboard": "none"}]}, "stars[0] (user 'admin'): dashboard"),
        (
            {"service_accounts": [{"name": "s", "tokens": [{"name": "t"}]}]},
            "tokens[0]: 'key' is required",
        ),
        ({"sessions": [{"user": "ghost"}]}, "sessions[0] (user 'ghost'): user 'ghost'"),
        ({"user": []}, "unknown kind 'user'"),
    ],
)
def test_bad_seed_data_is_refused_naming_the_entry_and_nothing_is_written(
    fake: FakeGrafana, data: dict[str, Any], problem: str
) -> None:
    before = get(fake, "/api/users").json()
    with pytest.raises(SeedError) as refused:
        fake.seed({"orgs": [{"name": "Written?"}], **data})
    assert problem in str(refused.value)
    assert get(fake, "/api/users").json() == before
    assert get(fake, "/api/orgs/name/Written%3F").status_code == 404


def test_an_unreadable_seed_file_is_named(fake: FakeGrafana, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("users: [\n")
    with pytest.raises(SeedError, match="broken.yaml is not valid"):
        fake.seed(broken)


def test_reset_restores_the_defaults_and_named_snapshots(fake: FakeGrafana) -> None:
    fake.seed({"users": [{"login": "kept", "password": "pw-kept"}]})
    fake.snapshot("with-kept")
    fake.seed({"users": [{"login": "later", "password": "pw-later"}]})
    fake.reset("with-kept")
    assert get(fake, "/api/user", auth=("kept", "pw-kept")).status_code == 200
    assert get(fake, "/api/user", auth=("later", "pw-later")).status_code == 401
    fake.reset()
    assert [u["login"] for u in get(fake, "/api/users").json()] == ["admin"]
    with pytest.raises(KeyError, match="no snapshot named 'nope'"):
        fake.reset("nope")


def test_reset_goes_back_to_the_seed_the_fake_started_with() -> None:
    with FakeGrafana(seed={"users": [{"login": "base", "password": "pw-base"}]}) as fake:
        fake.seed({"users": [{"login": "extra"}]})
        fake.reset()
        logins = [u["login"] for u in get(fake, "/api/users").json()]
        assert logins == ["admin", "base"]
        assert set(fake.seeded.users) == {"base"}


def test_the_journal_records_requests_and_answers(fake: FakeGrafana) -> None:
    created = httpx.post(
        fake.url + "/api/admin/users",
        json={"login": "jo", "password": "pw-jo"},
        auth=fake.admin,
    )
    get(fake, "/api/users/search", params={"query": "jo", "perpage": "5"})
    first, second = fake.requests
    assert (first.method, first.path, first.body["login"], first.status) == (
        "POST",
        "/api/admin/users",
        "jo",
        200,
    )
    assert first.response == created.json()
    assert second.query == {"query": ["jo"], "perpage": ["5"]}
    assert fake.requests.assert_called("GET", "/api/users/*", times=1)[0].status == 200
    fake.requests.assert_not_called("DELETE", "*")
    with pytest.raises(AssertionError, match="expected PUT /api/user at least once, saw it 0"):
        fake.requests.assert_called("PUT", "/api/user")
    fake.reset()
    assert len(fake.requests) == 0


def test_the_clock_moves_last_seen_ages_and_session_expiry(fake: FakeGrafana) -> None:
    fake.seed(
        {
            "users": [{"login": "kim", "password": "pw-kim"}],
            "sessions": [{"user": "kim", "token": "kim-cookie"}],
        }
    )
    fake.clock.freeze()
    assert get(fake, "/api/user", auth=("kim", "pw-kim")).status_code == 200  # seen now
    fake.clock.advance(days=40)
    hit = get(fake, "/api/users/search", params={"query": "kim"}).json()["users"][0]
    assert hit["lastSeenAtAge"] == "1 month"
    cookie = {"grafana_session": "kim-cookie"}
    assert get(fake, "/api/user", auth=None, cookies=cookie).status_code == 401  # idle > 7 days
    fake.reset()
    assert not fake.clock.frozen


def test_the_clock_ends_token_lifetimes_and_lockout_windows(fake: FakeGrafana) -> None:
    key = "glsa_shortlivedshortlivedshortlive_00000000"
    fake.seed(
        {
            "users": [{"login": "lee", "password": "pw-lee"}],
            "service_accounts": [
                {"name": "sa", "tokens": [{"name": "t", "key": key, "seconds_to_live": 60}]}
            ],
        }
    )
    fake.clock.freeze()
    bearer = {"Authorization": f"Bearer {key}"}
    assert get(fake, "/api/user", auth=None, headers=bearer).status_code == 200
    fake.clock.advance(61)
    assert get(fake, "/api/user", auth=None, headers=bearer).status_code == 401
    for _ in range(5):
        assert get(fake, "/api/user", auth=("lee", "wrong")).status_code == 401
    assert get(fake, "/api/user", auth=("lee", "pw-lee")).status_code == 401  # locked out
    fake.clock.advance(minutes=5, seconds=1)
    assert get(fake, "/api/user", auth=("lee", "pw-lee")).status_code == 200


def test_a_status_fault_answers_the_next_matching_requests_only(fake: FakeGrafana) -> None:
    fake.faults.fail("GET", "/api/users/*", 503, times=2)
    statuses = [get(fake, "/api/users/1").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert get(fake, "/api/user").status_code == 200  # another path: untouched
    assert [r.fault for r in fake.requests.filter("GET", "/api/users/1")] == [
        "status",
        "status",
        None,
    ]


def test_a_delay_fault_answers_late(fake: FakeGrafana) -> None:
    fake.faults.delay("*", "/api/user", 0.3)
    started = time.monotonic()
    assert get(fake, "/api/user").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    get(fake, "/api/user")
    assert time.monotonic() - started < 0.3


def test_a_drop_fault_closes_the_connection_without_an_answer(fake: FakeGrafana) -> None:
    fake.faults.drop("POST", "/api/admin/users")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(
            fake.url + "/api/admin/users", json={"login": "x", "password": "pw-xx"}, auth=fake.admin
        )
    assert fake.requests.last.status == 0
    again = httpx.post(
        fake.url + "/api/admin/users", json={"login": "x", "password": "pw-xx"}, auth=fake.admin
    )
    assert again.status_code == 200


def test_the_fake_answers_as_the_grafana_release_asked_for() -> None:
    with FakeGrafana(grafana_version="11.4") as fake:
        assert fake.version == "11.4"
        assert get(fake, "/api/health").json()["version"].startswith("11.4.")
    with FakeGrafana(grafana_version="11") as fake:
        assert fake.version == "11.6"


def test_control_endpoints_exist_only_on_a_fake() -> None:
    normal = TestClient(create_app(Settings(database_url="sqlite://")))
    for path in ["/__fake/requests", "/__fake/clock", "/__fake/openapi.json"]:
        assert normal.get(path, auth=("admin", "admin")).status_code == 404
        assert normal.post("/__fake/reset", auth=("admin", "admin")).status_code == 404
    quiet = TestClient(Fake(control=False))
    assert quiet.get("/__fake/clock").status_code == 404
    assert TestClient(Fake()).get("/__fake/clock").status_code == 200
