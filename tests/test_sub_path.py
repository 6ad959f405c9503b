"""Grafana's serve_from_sub_path: with root_url `https://host/grafana/` the API is served
under `/grafana` as well as at the root (Grafana's router trims the prefix from a path that
has it; pkg/web's Mux.SetURLPrefix). Without the switch the sub path is the proxy's to
strip, and `/grafana/api/...` is no route."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from handlers.app import create_app
from handlers.settings import Settings

ADMIN = ("admin", "admin")


def _client(**settings: object) -> TestClient:
    return TestClient(create_app(Settings(database_url="sqlite://", **settings)))  # type: ignore[arg-type]


@pytest.mark.parametrize("root_url", ["https://example.com/grafana/", "http://x:3000/grafana"])
def test_the_api_answers_under_the_sub_path_and_at_the_root(root_url: str) -> None:
    client = _client(root_url=root_url, serve_from_sub_path=True)
    for path in ("/grafana/api/user", "/api/user", "/grafana/api/user/"):
        answer = client.get(path, auth=ADMIN)
        assert answer.status_code == 200 and answer.json()["login"] == "admin", path
    found = client.get("/grafana/api/users/lookup", params={"loginOrEmail": "admin"}, auth=ADMIN)
    assert found.status_code == 200 and found.json()["id"] == 1
    login = client.post("/grafana/login", json={"user": "admin", "password": "admin"})
    assert login.status_code == 200 and "grafana_session" in login.cookies
    assert client.get("/grafana/api/nothing", auth=ADMIN).status_code == 404
    assert client.get("/graf%61na/api/user", auth=ADMIN).json()["login"] == "admin"
    # A path merely beginning with the sub path's letters is no route.
    assert client.get("/grafanaapi/user", auth=ADMIN).status_code == 404


def test_without_serve_from_sub_path_the_sub_path_is_no_route() -> None:
    client = _client(root_url="https://example.com/grafana/")
    assert client.get("/grafana/api/user", auth=ADMIN).status_code == 404
    assert client.get("/api/user", auth=ADMIN).status_code == 200


@pytest.mark.parametrize(
    ("environ", "sub_path"),
    [
        ({}, ""),
        ({"GF_SERVER_ROOT_URL": "https://example.com/grafana/"}, ""),
        (
            {
                "GF_SERVER_ROOT_URL": "https://example.com/a/b/",
                "GF_SERVER_SERVE_FROM_SUB_PATH": "1",
            },
            "/a/b",
        ),
        (
            {
                "GF_SERVER_ROOT_URL": "%(protocol)s://%(domain)s:%(http_port)s/grafana/",
                "GF_SERVER_SERVE_FROM_SUB_PATH": "true",
            },
            "/grafana",
        ),
        (
            {
                "GF_SERVER_ROOT_URL": "%(protocol)s://%(domain)s:%(http_port)s/",
                "GF_SERVER_SERVE_FROM_SUB_PATH": "true",
            },
            "",
        ),
    ],
)
def test_the_sub_path_comes_from_grafanas_root_url(environ: dict[str, str], sub_path: str) -> None:
    assert Settings.from_env(environ).sub_path == sub_path
