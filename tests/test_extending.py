"""Adding an operation takes the contract, a stub and a handler body - nothing else.

A copy of openapi.yaml gains `GET /api/admin/users/{user_id}/quotas` (Grafana's
`users.quotas:list`) with its access rule. The stub generator writes its function, the
body is filled in, and then, with no other Python edit: the server binds it behind the
declared access rule, the docs show the rule, and the conformance suite's auth matrix and
schema tests cover it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

import contract
from conformance.runner import run_suite
from docs.build import ERRATA_PATH, docs_spec
from handlers import admin_users, deps, stubs
from handlers.app import create_app
from handlers.errors import NotFound
from handlers.settings import Settings
from handlers.store import UserNotFound
from tests.support.api import ADMIN, PASSWORD, assert_access_denied, create_user

PATH = "/api/admin/users/{user_id}/quotas"
_served: list[Path] = []  # the extended contract the factory below serves


def quotas_operation() -> dict[str, Any]:
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    return {
        "parameters": [{"$ref": "#/components/parameters/UserId"}],
        "get": {
            "tags": ["admin_users"],
            "operationId": "getUserQuota",
            "summary": "A user's quotas",
            "description": "Supporting - the quotas that apply to one user.",
            "x-grafana-access": {
                "who": "grafana-admin",
                "action": "users.quotas:list",
                "scope": "global.users:id:{user_id}",
                "denial": "rbac",
                "source": "pkg/api/api.go, the /api/admin/users routes",
            },
            "responses": {
                "200": {
                    "description": "The user's quotas.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["target", "limit", "used"],
                                    "properties": {
                                        "target": {"type": "string"},
                                        "limit": {"type": "integer"},
                                        "used": {"type": "integer"},
                                    },
                                },
                            }
                        }
                    },
                },
                "400": {"$ref": "#/components/responses/InvalidPathId"},
                "401": {"$ref": "#/components/responses/Unauthorized"},
                "403": {"$ref": "#/components/responses/Forbidden"},
                "404": {
                    "description": "No such user.",
                    "content": {"application/json": {"schema": error}},
                },
            },
        },
    }


def get_user_quota(user_id: int) -> list[dict[str, Any]]:
    """The handler body a developer writes into the generated stub."""
    try:
        deps.store().get_user(user_id)
    except UserNotFound:
        raise NotFound("user not found") from None
    return [{"target": "org_user", "limit": -1, "used": 1}]


def extended_app() -> Any:
    """The conformance suite's --app factory: the server on the extended contract."""
    return create_app(
        Settings(database_url="sqlite://", validate_responses=True), spec_path=_served[-1]
    )


@pytest.fixture
def extended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    raw = copy.deepcopy(contract.document())
    raw["paths"][PATH] = quotas_operation()
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    monkeypatch.setattr(admin_users, "get_user_quota", get_user_quota, raising=False)
    _served.append(path)
    yield path
    _served.remove(path)


def test_the_stub_generator_writes_the_new_operations_function() -> None:
    raw = copy.deepcopy(contract.document())
    raw["paths"][PATH] = quotas_operation()
    missing = stubs.missing(contract.parse(raw))
    assert [op.label for op in missing] == [f"GET {PATH}"]
    source = stubs.stub(missing[0])
    assert "def get_user_quota(user_id: int) -> dict[str, Any]:" in source


def test_the_server_binds_it_behind_the_access_rule_the_contract_declares(
    extended: Path,
) -> None:
    with TestClient(extended_app()) as client:
        client.auth = ADMIN
        create_user(client, "jane")
        assert client.get("/api/admin/users/1/quotas").status_code == 200
        assert client.get("/api/admin/users/999/quotas").status_code == 404
        refused = client.get("/api/admin/users/1/quotas", auth=("jane", PASSWORD))
        assert_access_denied(refused, "users.quotas:list")
        assert client.get("/api/admin/users/1/quotas", auth=None).status_code == 401


def test_the_docs_show_its_access_rule(extended: Path) -> None:
    raw = yaml.safe_load(extended.read_text(encoding="utf-8"))
    described = docs_spec(raw, ERRATA_PATH.read_text(encoding="utf-8"))
    text = described["paths"][PATH]["get"]["description"]
    assert "**Access:** Grafana Admins" in text and "`users.quotas:list`" in text


def test_the_conformance_suite_covers_it_in_the_auth_matrix_and_with_generated_data(
    extended: Path,
) -> None:
    outcome = run_suite(
        [
            "--app", "tests.test_extending:extended_app",
            "--spec", str(extended),
            "--operation", "getUserQuota",
            "-q",
        ],
        modules=["test_auth_matrix.py", "test_contract.py"],
    )  # fmt: skip
    assert outcome.exit_code == pytest.ExitCode.OK, outcome.failure_text()[:3000]
    # 4 callers without credentials, an ordinary user, a token, an admin; the schema run.
    assert outcome.passed >= 8
