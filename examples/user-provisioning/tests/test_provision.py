"""provision.py against a fake Grafana (the `fake_grafana` fixture of grafana-userapi):
each test starts from Grafana's defaults plus tests/seed.yaml (pyproject.toml names it)."""

from __future__ import annotations

import pytest
from grafana_client import GrafanaApi
from provision import ProvisioningError, dormant, main, provision, retrying

WANTED = [
    {"login": "ann", "email": "ann@example.com", "name": "Ann Smith"},
    {"login": "bo", "email": "bo@example.com", "name": "Bo Berg", "admin": True},
    {"login": "cy", "email": "cy@example.com", "name": "Cy Twombly", "password": "pw-cy-1"},
]


@pytest.fixture
def api(fake_grafana):
    return GrafanaApi.from_url(fake_grafana.url, credential=fake_grafana.admin, timeout=5)


def no_sleep(seconds):
    return None


def test_missing_users_are_created_and_others_corrected(api, fake_grafana):
    report = provision(api, WANTED)
    assert (report.created, report.updated) == (["bo", "cy"], ["ann"])  # ann came from seed.yaml
    bo = api.users.find_user("bo")
    assert (bo["name"], bo["isGrafanaAdmin"]) == ("Bo Berg", True)
    assert api.users.find_user("ann")["name"] == "Ann Smith"


def test_a_second_run_changes_nothing(api, fake_grafana):
    provision(api, WANTED)
    fake_grafana.requests.clear()
    report = provision(api, WANTED)
    assert report.unchanged == ["ann", "bo", "cy"]
    fake_grafana.requests.assert_not_called("POST", "*")
    fake_grafana.requests.assert_not_called("PUT", "*")


def test_a_disabled_user_is_enabled_again(api, fake_grafana):
    fake_grafana.seed(
        {
            "users": [
                {"login": "cy", "email": "cy@example.com", "name": "Cy Twombly", "disabled": True}
            ]
        }
    )
    assert provision(api, WANTED[2:]).updated == ["cy"]
    fake_grafana.requests.assert_called("POST", "/api/admin/users/*/enable", times=1)


def test_wrong_credentials_are_reported_plainly(fake_grafana):
    api = GrafanaApi.from_url(fake_grafana.url, credential=("admin", "wrong"), timeout=5)
    with pytest.raises(ProvisioningError, match=r"refused the credentials \(401\)"):
        provision(api, WANTED)


def test_a_user_grafana_refuses_is_named(api):
    with pytest.raises(ProvisioningError, match=r"user 'dee': Grafana refused it \(400\)"):
        provision(api, [{"login": "dee", "password": "x"}])  # too short for Grafana


def test_server_errors_and_lost_connections_are_retried(api, fake_grafana):
    fake_grafana.faults.fail("GET", "/api/users/lookup", 503, times=2)
    fake_grafana.faults.drop("POST", "/api/admin/users")
    report = provision(api, WANTED[1:2], pause=0.01)
    assert report.created == ["bo"]
    lookups = fake_grafana.requests.filter("GET", "/api/users/lookup")
    assert [r.status for r in lookups][:3] == [503, 503, 404]
    assert [r.status for r in fake_grafana.requests.filter("POST", "/api/admin/users")] == [0, 200]


def test_retries_give_up_with_a_clear_message(api, fake_grafana):
    fake_grafana.faults.fail("*", "/api/users/lookup", 502, times=3)
    with pytest.raises(ProvisioningError, match="did not answer after 3 attempts"):
        retrying(lambda: api.users.find_user("ann"), sleep=no_sleep)


def test_dormant_users_follow_grafanas_clock(api, fake_grafana):
    provision(api, WANTED)
    fake_grafana.clock.freeze()
    GrafanaApi.from_url(fake_grafana.url, credential=("cy", "pw-cy-1")).user.get_actual_user()
    fake_grafana.clock.advance(days=100)
    GrafanaApi.from_url(fake_grafana.url, credential=("ann", "pw-ann")).user.get_actual_user()
    assert dormant(api, 90) == ["bo", "cy"]  # bo never signed in; cy 100 days ago
    assert "admin" not in dormant(api, 90)  # the admin signs in with every call here


def test_the_command_line_reports_what_it_did(fake_grafana, tmp_path, monkeypatch, capsys):
    users = tmp_path / "users.yaml"
    users.write_text("- {login: eve, email: eve@example.com, name: Eve}\n")
    user, password = fake_grafana.admin
    monkeypatch.setenv("GRAFANA_URL", fake_grafana.url.replace("://", f"://{user}:{password}@"))
    assert main([str(users)]) == 0
    assert capsys.readouterr().out == "created 1, updated 0, unchanged 0\n"
