"""Dashboards, service accounts and their tokens, and the service routes (health, metrics, spec)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import update
from starlette.testclient import TestClient

import contract
from handlers.store import Store
from handlers.store.schema import api_keys
from tests.support.api import (
    BAD_CREDENTIALS,
    BAD_REQUEST_DATA,
    JANE,
    UID,
    assert_access_denied,
    bearer,
    create_dashboard,
    create_service_account_token,
    create_user,
    errutil,
    message,
)

SPEC = Path(__file__).resolve().parent.parent / "openapi.yaml"


# -- dashboards ------------------------------------------------------------------------


def test_saving_a_new_dashboard(admin: TestClient) -> None:
    response = admin.post(
        "/api/dashboards/db", json={"dashboard": {"id": None, "uid": None, "title": "My Board!"}}
    )
    body = response.json()
    assert response.status_code == 200
    uid = body.pop("uid")
    assert UID.match(uid)
    assert body == {
        "id": 1,
        "url": f"/d/{uid}/my-board",
        "status": "success",
        "version": 1,
        "slug": "my-board",
        "folderUid": "",
    }


def test_saving_a_dashboard_with_its_uid_again_makes_a_new_version(admin: TestClient) -> None:
    create_dashboard(admin, "Board", uid="board-1")
    response = admin.post(
        "/api/dashboards/db", json={"dashboard": {"uid": "board-1", "title": "Renamed"}}
    )
    assert (response.status_code, response.json()) == (
        200,
        {
            "id": 1,
            "uid": "board-1",
            "url": "/d/board-1/renamed",
            "status": "success",
            "version": 2,
            "slug": "renamed",
            "folderUid": "",
        },
    )


def test_a_dashboard_title_is_unique_in_its_folder(admin: TestClient) -> None:
    create_dashboard(admin, "Board")
    response = admin.post("/api/dashboards/db", json={"dashboard": {"title": "Board"}})
    assert (response.status_code, response.json()) == (
        412,
        {
            "message": "A dashboard with the same name in the folder already exists",
            "status": "name-exists",
        },
    )


def test_overwrite_takes_over_the_dashboard_of_the_same_title(admin: TestClient) -> None:
    create_dashboard(admin, "Board", uid="board-1")
    response = admin.post(
        "/api/dashboards/db", json={"dashboard": {"title": "Board"}, "overwrite": True}
    )
    assert (response.status_code, response.json()) == (
        200,
        {
            "id": 1,
            "uid": "board-1",
            "url": "/d/board-1/board",
            "status": "success",
            "version": 2,
            "slug": "board",
            "folderUid": "",
        },
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"dashboard": {}},
        {"dashboard": {"title": ""}},
        {"dashboard": {"title": "x", "uid": "u" * 41}},
    ],
)
def test_a_dashboard_needs_a_title(admin: TestClient, body: Any) -> None:
    response = admin.post("/api/dashboards/db", json=body)
    assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)


@pytest.mark.parametrize("uid", ["has space", "ctl\x02", "slash/uid", "dot.uid", "é"])
def test_a_dashboard_uid_is_letters_digits_dash_and_underscore(admin: TestClient, uid: str) -> None:
    body = {"dashboard": {"title": "Odd", "uid": uid}}
    response = admin.post("/api/dashboards/db", json=body)
    assert (response.status_code, response.json()) == (
        400,
        message("uid contains illegal characters"),
    )
    fine = {"dashboard": {"title": "Fine", "uid": "A-z_0" + "9" * 35}}
    assert admin.post("/api/dashboards/db", json=fine).status_code == 200


def test_deleting_a_dashboard(admin: TestClient) -> None:
    saved = create_dashboard(admin, "Board", uid="board-1")
    response = admin.delete("/api/dashboards/uid/board-1")
    assert (response.status_code, response.json()) == (
        200,
        {"title": "Board", "message": "Dashboard Board deleted", "id": saved["id"]},
    )
    again = admin.delete("/api/dashboards/uid/board-1")
    assert (again.status_code, again.json()) == (404, message("Dashboard not found"))


def test_org_viewers_may_not_save_or_delete_dashboards(admin: TestClient) -> None:
    create_user(admin, "jane")
    create_dashboard(admin, "Board", uid="board-1")
    saved = admin.post("/api/dashboards/db", auth=JANE, json={"dashboard": {"title": "Mine"}})
    deleted = admin.delete("/api/dashboards/uid/board-1", auth=JANE)
    assert_access_denied(saved, "dashboards:create")
    assert_access_denied(deleted, "dashboards:delete")


# -- service accounts and tokens -------------------------------------------------------


def test_creating_a_service_account(admin: TestClient) -> None:
    response = admin.post(
        "/api/serviceaccounts", json={"name": "CI Robot", "role": "Editor", "isDisabled": False}
    )
    body = response.json()
    assert response.status_code == 201
    assert UID.match(body.pop("uid"))
    assert body == {
        "id": 2,
        "name": "CI Robot",
        "login": "sa-1-ci-robot",
        "orgId": 1,
        "isDisabled": False,
        "role": "Editor",
        "tokens": 0,
        "avatarUrl": "/avatar/f9c44a4f3c13cec3ed90c3b34ea339a1",
    }


def test_a_service_account_name_is_unique(admin: TestClient) -> None:
    create_service_account_token(admin, name="robot")
    response = admin.post("/api/serviceaccounts", json={"name": "Robot"})
    assert (response.status_code, response.json()) == (
        400,
        errutil("service account already exists", "serviceaccounts.ErrAlreadyExists", 400),
    )


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x", "role": "Boss"}])
def test_a_service_account_needs_a_name_and_a_valid_role(admin: TestClient, body: Any) -> None:
    response = admin.post("/api/serviceaccounts", json=body)
    assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)


def test_a_service_account_token_authenticates_as_bearer_and_as_basic_api_key(
    admin: TestClient, client: TestClient
) -> None:
    account_id, token = create_service_account_token(admin, name="robot")
    assert re.fullmatch(r"glsa_[A-Za-z0-9]{32}_[0-9a-f]{8}", token)
    as_bearer = client.get("/api/user", headers=bearer(token))
    as_basic = client.get("/api/user", auth=("api_key", token))
    assert (as_bearer.status_code, as_bearer.json()["uid"]) == (
        200,
        f"service-account:{account_id}",
    )
    assert (as_basic.status_code, as_basic.json()) == (200, as_bearer.json())


def test_creating_a_token_for_an_unknown_service_account_is_not_found(
    admin: TestClient,
) -> None:
    for account_id in (999, 1):  # nobody, and a user who is no service account
        response = admin.post(f"/api/serviceaccounts/{account_id}/tokens", json={"name": "t"})
        assert (response.status_code, response.json()) == (
            404,
            message("service account not found"),
        )


def test_a_token_name_is_unique(admin: TestClient) -> None:
    account_id, _ = create_service_account_token(admin, name="robot")
    response = admin.post(f"/api/serviceaccounts/{account_id}/tokens", json={"name": "robot-token"})
    assert (response.status_code, response.json()) == (
        400,
        errutil(
            "service account token with given name already exists",
            "serviceaccounts.ErrTokenAlreadyExists",
            400,
        ),
    )


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "t", "secondsToLive": "1h"}])
def test_a_token_needs_a_name(admin: TestClient, body: Any) -> None:
    account_id, _ = create_service_account_token(admin, name="robot")
    response = admin.post(f"/api/serviceaccounts/{account_id}/tokens", json=body)
    assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)


def test_a_token_stops_working_when_it_expires(
    admin: TestClient, client: TestClient, store: Store
) -> None:
    account_id, _ = create_service_account_token(admin, name="robot")
    response = admin.post(
        f"/api/serviceaccounts/{account_id}/tokens", json={"name": "short", "secondsToLive": 3600}
    )
    token = response.json()["key"]
    assert client.get("/api/user", headers=bearer(token)).status_code == 200
    with store.db.write() as conn:
        conn.execute(
            update(api_keys).where(api_keys.c.name == "short").values(expires=int(time.time()) - 1)
        )
    expired = client.get("/api/user", headers=bearer(token))
    assert (expired.status_code, expired.json()) == (
        401,
        errutil("Invalid API key", "api-key.invalid", 401),
    )


def test_tokens_of_a_disabled_service_account_do_not_work(
    admin: TestClient, client: TestClient
) -> None:
    response = admin.post("/api/serviceaccounts", json={"name": "sleepy", "isDisabled": True})
    account_id = response.json()["id"]
    token = admin.post(f"/api/serviceaccounts/{account_id}/tokens", json={"name": "t"}).json()[
        "key"
    ]
    refused = client.get("/api/user", headers=bearer(token))
    assert (refused.status_code, refused.json()) == (
        401,
        errutil("Invalid API key", "api-key.invalid", 401),
    )


def test_org_viewers_may_not_manage_service_accounts(admin: TestClient) -> None:
    create_user(admin, "jane")
    account_id, _ = create_service_account_token(admin, name="robot")
    created = admin.post("/api/serviceaccounts", auth=JANE, json={"name": "mine"})
    token = admin.post(
        f"/api/serviceaccounts/{account_id}/tokens", auth=JANE, json={"name": "mine"}
    )
    assert_access_denied(created, "serviceaccounts:create")
    assert_access_denied(token, "serviceaccounts:write")


# -- health, metrics, the spec and its docs --------------------------------------------


def test_health_needs_no_credentials_and_reports_the_newest_release(client: TestClient) -> None:
    newest = contract.load().versions.releases[-1]
    response = client.get("/api/health")
    assert (response.status_code, response.json()) == (
        200,
        {"commit": "0.1.0", "database": "ok", "version": newest.health},
    )


def test_health_reports_a_failing_database_with_503(
    client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "ping", lambda: False)
    response = client.get("/api/health")
    assert (response.status_code, response.json()) == (
        503,
        {
            "commit": "0.1.0",
            "database": "failing",
            "version": contract.load().versions.releases[-1].health,
        },
    )


def _counter(client: TestClient, labels: str) -> float:
    """The value of one http_requests_total series in /metrics (0 when absent)."""
    prefix = f"http_requests_total{{{labels}}} "
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.removeprefix(prefix))
    return 0.0


def test_metrics_count_requests_per_route_and_status(admin: TestClient, client: TestClient) -> None:
    ok = 'method="GET",route="/api/users/{user_id}",status="200"'
    missing = 'method="GET",route="/api/users/{user_id}",status="404"'
    before = (_counter(client, ok), _counter(client, missing))
    admin.get("/api/users/1")
    admin.get("/api/users/2")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    # The app serves many tests, so count what these two requests added.
    assert (_counter(client, ok) - before[0], _counter(client, missing) - before[1]) == (1, 1)


def test_the_contract_is_served_as_json(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    assert response.json() == json.loads(json.dumps(yaml.safe_load(SPEC.read_text())))


def test_the_interactive_docs_are_served(client: TestClient) -> None:
    response = client.get("/docs/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Swagger UI</title>" in response.text


def test_a_failed_basic_login_to_the_admin_api_is_unauthorized(client: TestClient) -> None:
    response = client.get("/api/users", auth=("admin", "wrong"))
    assert (response.status_code, response.json()) == (401, BAD_CREDENTIALS)
