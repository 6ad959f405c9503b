"""Layer 5: every operation and every kind of caller - allowed, 401 or 403 as the contract says."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import httpx
import pytest

from conformance import samples, spec
from conformance.fresh import Fresh
from conformance.options import RunOptions
from conformance.plugin import active_options
from conformance.target import ANONYMOUS, Credentials, Target
from conformance.tolerances import tolerated
from conformance.world import World

_options = active_options()
_operations = [
    op
    for op in spec.load(_options.spec_path).operations
    if not _options.operations or op.operation_id in _options.operations
]
SECURED = [op.operation_id for op in _operations if op.secured]
PUBLIC = [op.operation_id for op in _operations if not op.secured]
LOCKED_OUT = ["anonymous", "wrong-password", "disabled-user", "revoked-session"]
ACCESS_DENIED_ID = re.compile(r"^ACE\d{10}$")
# The contract: this route uses Grafana's plain admin check, not role-based access control.
PLAIN_ADMIN_CHECK = {"adminUpdateUserPermissions"}


@pytest.fixture(scope="module")
def callers(target: Target, world: World, fresh: Fresh) -> Iterator[dict[str, Credentials]]:
    revoked = fresh.user("revoked")
    cookie = fresh.session(revoked)
    with target.session(revoked.basic) as owner:
        token_id = owner.get("/api/user/auth-tokens").json()[0]["id"]
        assert (
            owner.post("/api/user/revoke-auth-token", json={"authTokenId": token_id}).status_code
            == 200
        )
    yield {
        "anonymous": ANONYMOUS,
        # Wrong passwords go to the throwaway `locked` account only, never to a real one.
        "wrong-password": Credentials(basic=(world.locked.login, f"not-{world.locked.password}")),
        "disabled-user": world.disabled.basic,
        "revoked-session": Credentials(session=cookie),
        "ordinary-user": world.plain.basic,
        "service-account-token": world.token_credentials,
        "grafana-admin": world.root.basic,
    }


def _call(
    operation_id: str,
    caller: str,
    callers: dict[str, Credentials],
    target: Target,
    world: World,
    fresh: Fresh,
) -> httpx.Response:
    credentials = callers[caller]
    with target.session(credentials) as client:
        current_org = world.org
        if caller == "ordinary-user":
            current_org = int(client.get("/api/user").json()["orgId"])
        request = samples.sample(operation_id, world, fresh, current_org)
        response = client.request(request.method, request.path, json=request.json)
    with contextlib.suppress(ValueError):  # a body that is not JSON created nothing
        world.ledger.adopt(operation_id, response.status_code, response.json())
    return response


def _assert_forbidden(response: httpx.Response, operation_id: str, options: RunOptions) -> None:
    assert response.status_code == 403, f"expected 403, got {response.status_code}"
    body = response.json()
    assert isinstance(body.get("message"), str), f"403 body {body!r}"
    operation = spec.load(options.spec_path)[operation_id]
    if "rbac-403-shape" not in operation.tolerances:
        return
    if tolerated("rbac-403-shape", options.tolerances):
        return  # either shape
    if operation_id in PLAIN_ADMIN_CHECK:
        assert body == {"message": "Permission denied"}, f"403 body {body!r}"
        return
    assert ACCESS_DENIED_ID.match(str(body.get("accessErrorId"))), f"403 body {body!r}"
    assert body.get("title") == "Access denied", f"403 body {body!r}"


def _assert_allowed(response: httpx.Response) -> None:
    assert response.status_code not in (401, 403), (
        f"refused with {response.status_code}: {response.text[:200]}"
    )


@pytest.mark.parametrize("caller", LOCKED_OUT)
@pytest.mark.parametrize("operation_id", SECURED)
def test_callers_without_valid_credentials_get_401(
    operation_id: str,
    caller: str,
    callers: dict[str, Credentials],
    target: Target,
    world: World,
    fresh: Fresh,
) -> None:
    response = _call(operation_id, caller, callers, target, world, fresh)
    assert response.status_code == 401, f"{caller} got {response.status_code}"
    assert isinstance(response.json().get("message"), str)


@pytest.mark.parametrize("operation_id", SECURED)
def test_an_ordinary_user_gets_exactly_what_the_contract_allows(
    operation_id: str,
    callers: dict[str, Credentials],
    target: Target,
    world: World,
    fresh: Fresh,
    conformance_options: RunOptions,
) -> None:
    response = _call(operation_id, "ordinary-user", callers, target, world, fresh)
    rule = samples.RULES[operation_id]
    if rule in (samples.GRAFANA_ADMIN, samples.ORG_ADMIN, samples.ORG_EDITOR):
        _assert_forbidden(response, operation_id, conformance_options)
    else:
        _assert_allowed(response)


@pytest.mark.parametrize("operation_id", SECURED)
def test_a_service_account_token_gets_exactly_what_the_contract_allows(
    operation_id: str,
    callers: dict[str, Credentials],
    target: Target,
    world: World,
    fresh: Fresh,
    conformance_options: RunOptions,
) -> None:
    response = _call(operation_id, "service-account-token", callers, target, world, fresh)
    rule = samples.RULES[operation_id]
    if rule == samples.USER_304:
        assert (response.status_code, response.content) == (304, b""), response.text[:200]
    elif rule == samples.USER_403:
        assert response.status_code == 403 and isinstance(response.json().get("message"), str)
    elif rule == samples.ANYONE:
        _assert_allowed(response)
    else:
        _assert_forbidden(response, operation_id, conformance_options)


@pytest.mark.parametrize("operation_id", SECURED)
def test_a_grafana_admin_is_allowed_every_operation(
    operation_id: str, callers: dict[str, Credentials], target: Target, world: World, fresh: Fresh
) -> None:
    _assert_allowed(_call(operation_id, "grafana-admin", callers, target, world, fresh))


@pytest.mark.parametrize("operation_id", PUBLIC)
def test_public_operations_need_no_credentials(
    operation_id: str, callers: dict[str, Credentials], target: Target, world: World, fresh: Fresh
) -> None:
    _assert_allowed(_call(operation_id, "anonymous", callers, target, world, fresh))


def test_a_service_account_token_sees_a_minimal_profile(target: Target, world: World) -> None:
    with target.session(world.token_credentials) as client:
        profile = client.get("/api/user").json()
    assert (profile["id"], profile["authLabels"]) == (0, None), profile
