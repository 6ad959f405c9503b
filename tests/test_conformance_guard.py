"""The conformance suite's guard: generated requests reach only the run's own resources.

Pure unit tests: a made-up World (the run's fixtures) and the contract's operations; no
server. Each case is a generated request the guard must rewrite, or refuse.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

import contract
from conformance import logins
from conformance.generated import without_password
from conformance.guard import (
    GHOST_ID,
    Guard,
    UnguardedBodyField,
    declared_body_fields,
    unguarded_fields,
)
from conformance.paging import MAX_PAGE_SIZE
from conformance.world import Account, Dashboard, Ledger, Team, World

PREFIX = "cnf-0badc0de-"
CONTRACT = contract.load()
REAL_ADMIN, REAL_ORG, REAL_TEAM = 1, 1, 77  # what a real Grafana has: never to be named


def _account(number: int, name: str) -> Account:
    login = f"{PREFIX}{name}"
    return Account(number, login, f"{login}@example.org", name.title(), f"secret-{number}")


def _world() -> World:
    accounts = iter(range(100, 200))

    def person(name: str) -> Account:
        return _account(next(accounts), name)

    return World(
        prefix=PREFIX,
        admin_id=REAL_ADMIN,
        main_org=REAL_ORG,
        default_org=REAL_ORG,
        org=50,
        spare_orgs=[51, 52],
        root=person("root"),
        actor=person("actor"),
        actor_session="cookie",
        plain=person("plain"),
        disabled=person("disabled"),
        signer=person("signer"),
        victims=[person(f"victim-{i}") for i in range(3)],
        doomed=[person(f"doomed-{i}") for i in range(2)],
        population=[person("p-zoë0")],
        teams=[Team(60, f"{PREFIX}team-a", 50)],
        spare_team=Team(61, f"{PREFIX}spare", 50),
        doomed_team=Team(62, f"{PREFIX}doomed", 50),
        dashboards=[Dashboard(70, "d1", "one"), Dashboard(71, "d2", "two")],
        doomed_dashboard=Dashboard(72, "d3", "three"),
        service_account_id=80,
        token="glsa_x",
        token_role="Viewer",
        memberships={},
        team_members={},
        ledger=Ledger(),
    )


WORLD = _world()
GUARD = Guard(WORLD, CONTRACT)
RUN_ORGS = {WORLD.org, *WORLD.spare_orgs}
VICTIMS = {a.id for a in WORLD.victims}


def _guarded(operation_id: str, body: Any, path: dict[str, Any] | None = None) -> Any:
    GUARD.apply(CONTRACT[operation_id], path, body)
    return body


@pytest.mark.parametrize("user_id", [REAL_ADMIN, 2, 3, 10**9, "1", "+7"])
def test_a_new_team_member_is_always_a_victim(user_id: object) -> None:
    body = _guarded("addTeamMember", {"userId": user_id}, {"team_id": REAL_TEAM})
    assert int(body["userId"]) in VICTIMS


@pytest.mark.parametrize("key", ["USERID", "userid", "UserId", "user\u0131d", "userId"])
def test_body_keys_are_matched_as_gos_json_decoder_matches_them(key: str) -> None:
    """encoding/json fills userId from USERID, userid, or userıd (dotless i folds to I)."""
    body = _guarded("addTeamMember", {key: REAL_ADMIN})
    assert body[key] in VICTIMS


def test_every_spelling_of_a_field_is_rewritten_when_several_arrive() -> None:
    body = _guarded("addTeamMember", {"userId": 2, "USERID": REAL_ADMIN, "userid": 3})
    assert set(body.values()) <= VICTIMS


@pytest.mark.parametrize("org_id", [REAL_ORG, 2, 999, "1"])
def test_a_user_created_with_an_org_joins_the_runs_org(org_id: object) -> None:
    body = _guarded("adminCreateUser", {"login": "x", "password": "p", "orgId": org_id})
    assert int(body["orgId"]) == WORLD.org
    assert body["login"] == f"{PREFIX}x"


@pytest.mark.parametrize("member", ["admin", "admin@localhost", "ADMIN", " someone"])
def test_an_org_member_by_login_or_email_can_only_be_the_runs(member: str) -> None:
    body = _guarded("addOrgUser", {"loginOrEmail": member, "role": "Admin"}, {"org_id": REAL_ORG})
    assert body["loginOrEmail"].startswith(PREFIX)


def test_org_paths_of_add_and_switch_operations_name_the_runs_orgs_only() -> None:
    for operation_id in ("addOrgUser", "userSetUsingOrg", "updateUserActiveOrg"):
        for asked in (REAL_ORG, 2, 3, 12345):
            path = {"org_id": asked, "user_id": REAL_ADMIN}
            GUARD.apply(CONTRACT[operation_id], path, None)
            assert path["org_id"] in RUN_ORGS | {GHOST_ID}, (operation_id, asked)
            if "user_id" in CONTRACT[operation_id].path_parameters():
                assert path["user_id"] in VICTIMS | {GHOST_ID}, operation_id


def test_a_team_id_in_a_body_names_the_runs_spare_team() -> None:
    body = {"teamId": REAL_TEAM, "userId": REAL_ADMIN}
    GUARD.name_fields(body)
    assert body["teamId"] in {WORLD.spare_team.id, GHOST_ID}


def test_a_declared_field_the_guard_has_no_rule_for_is_refused() -> None:
    with pytest.raises(UnguardedBodyField, match="ownerId"):
        GUARD.name_fields({"ownerId": REAL_ADMIN}, declared=frozenset({"ownerId"}))


@pytest.mark.parametrize("key", ["ownerId", "memberLogin", "adminEmail", "orgs", "teamUid"])
def test_a_made_up_field_that_could_name_something_is_removed(key: str) -> None:
    body = _guarded("addTeamMember", {"userId": 2, key: REAL_ADMIN})
    assert key not in body and body["userId"] in VICTIMS


def test_made_up_fields_that_name_nothing_are_kept() -> None:
    body = _guarded("createOrg", {"name": "x", "colour": "red", "0": 1})
    assert body == {"name": f"{PREFIX}x", "colour": "red", "0": 1}


def test_every_body_field_the_contract_declares_has_a_rule() -> None:
    assert unguarded_fields(CONTRACT) == {}
    assert "loginOrEmail" in declared_body_fields(CONTRACT, CONTRACT["addOrgUser"])


def test_a_complete_sign_in_form_signs_in_as_the_signer_with_its_password() -> None:
    body = _guarded("login", {"user": "admin", "PASSWORD": "guess", "Password": "again"})
    assert body == {
        "user": WORLD.signer.login,
        "PASSWORD": WORLD.signer.password,
        "Password": WORLD.signer.password,
    }


@pytest.mark.parametrize(
    "form", [{"password": "guess"}, {"user": "", "password": "guess"}, {"user": 5, "password": "g"}]
)
def test_an_incomplete_sign_in_form_loses_its_password(form: dict[str, Any]) -> None:
    """So no password is ever checked: nothing can count as a failed login."""
    body = _guarded("login", dict(form))
    assert body["password"] == ""
    assert logins.form_attempt(body) is None


def test_generated_basic_credentials_keep_the_name_and_lose_the_password() -> None:
    token = base64.b64encode(b"admin:guess").decode()
    headers = {"Authorization": f"Basic {token}", "X-Other": "1"}
    without_password(headers)
    assert headers["Authorization"] == f"Basic {base64.b64encode(b'admin:').decode()}"
    assert logins.basic_attempt(headers["Authorization"]) is None
    assert headers["X-Other"] == "1"


@pytest.mark.parametrize(
    "perpage",
    ["5000", "+5000", "1001", "5e3", "0x2000", " 5000 ", "5000abc", "\uff15\uff10\uff10\uff10",
     "99999999999999999999", "inf", "nan", ["1", "5000"], 10**12],
)  # fmt: skip
def test_generated_page_sizes_are_brought_down_to_a_sane_page(perpage: object) -> None:
    query: dict[str, Any] = {"perpage": perpage, "query": "x"}
    GUARD.apply(CONTRACT["searchUsersWithPaging"], None, None, query)
    values = query["perpage"] if isinstance(query["perpage"], list) else [query["perpage"]]
    assert str(MAX_PAGE_SIZE) in values and "5000" not in values
    assert query["query"] == "x"


@pytest.mark.parametrize("perpage", ["1000", "7", "-5", "abc", "", "-99999999999999999999"])
def test_sane_or_meaningless_page_sizes_are_left_alone(perpage: str) -> None:
    query = {"perpage": perpage}
    GUARD.apply(CONTRACT["searchUsers"], None, None, query)
    assert query == {"perpage": perpage}


def test_dashboard_model_ids_never_address_an_existing_dashboard() -> None:
    body = _guarded("postDashboard", {"dashboard": {"id": 1, "uid": "home", "title": "Home"}})
    assert body["dashboard"] == {"id": None, "uid": f"{PREFIX}home", "title": f"{PREFIX}Home"}
