"""The conformance suite is sensitive: it fails on each planted bug, and says which one.

Every bug runs the relevant slice of the suite (in this process) against a broken variant of
the reference server; the failing test id or its message must name the broken behaviour.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

import pytest

from conformance.runner import Outcome, run_suite
from conformance.text import ascii_lower, go_lower
from tests.support import planted
from tests.support.conformance_env import clear_conformance_environment
from tests.support.planted import (
    Bug,
    always,
    drop,
    hits,
    is_user_by_id,
    json_edit,
    no_op,
    page_one,
    search,
    when,
    wrap_store,
)

pytestmark = pytest.mark.slow

CONTRACT, MATRIX, PROPERTIES = "test_contract.py", "test_auth_matrix.py", "test_properties.py"
CHAINS, SESSIONS = "test_chains.py", "test_sessions.py"


UNUSUAL = ("PATCH", "TRACE", "OPTIONS", "QUERY", "HEAD")
# The role-based denial body (what the v10-era permissions route sends).
RBAC_DENIAL = json.dumps(
    {
        "accessErrorId": "ACE0123456789",
        "message": "You'll need additional permissions to perform this action. "
        "Permissions needed: users.permissions:write",
        "title": "Access denied",
    }
).encode()


def _anonymous_as_admin(scope: planted.Scope) -> None:
    if scope["path"].startswith("/api/users") and not planted.has_credentials(scope):
        planted.set_header(scope, b"authorization", b"Basic YWRtaW46YWRtaW4=")


def _non_integer_paging(scope: planted.Scope, answer: planted.Answer) -> bool:
    """A search whose perpage or page is no integer (Grafana ignores such values)."""
    pairs = [p.split(b"=", 1) for p in scope["query_string"].split(b"&") if p]
    return scope["path"].startswith("/api/users") and any(
        p[0] in (b"perpage", b"page") and not (len(p) == 2 and p[1].lstrip(b"-").isdigit())
        for p in pairs
    )


def _search_misses_beyond_ascii(scope: planted.Scope, answer: planted.Answer) -> None:
    """The user searches find nothing for a query with letters beyond ASCII: "Zoë" no longer
    finds zoë (folding the case of such letters or not is the database's choice; finding
    them in their own case is not)."""
    if scope["path"] not in ("/api/users/search", "/api/users") or answer.status != 200:
        return
    query = dict(parse_qsl(scope["query_string"].decode(), keep_blank_values=True))
    if query.get("query", "").isascii():
        return
    body = json.loads(answer.body)
    answer.body = json.dumps(
        {**body, "users": [], "totalCount": 0} if isinstance(body, dict) else []
    ).encode()


def _search_folds_names_only(scope: planted.Scope, answer: planted.Answer) -> None:
    """The user searches fold the case of letters beyond ASCII in names but not in logins
    and e-mails: "ZOË" finds Zoë by her name, and a login's upper case finds nobody."""
    if scope["path"] not in ("/api/users/search", "/api/users") or answer.status != 200:
        return
    wanted = dict(parse_qsl(scope["query_string"].decode(), keep_blank_values=True)).get(
        "query", ""
    )
    body = json.loads(answer.body)
    users = body["users"] if isinstance(body, dict) else body

    def kept(user: dict[str, Any]) -> bool:
        in_name = go_lower(wanted) in go_lower(str(user.get("name", "")))
        return in_name or any(
            ascii_lower(wanted) in ascii_lower(str(user.get(f, ""))) for f in ("login", "email")
        )

    found = [u for u in users if kept(u)]
    if isinstance(body, dict):
        body = {**body, "users": found, "totalCount": body["totalCount"] - len(users) + len(found)}
    answer.body = json.dumps(body if isinstance(body, dict) else found).encode()


def _login_folds_ascii_only(scope: planted.Scope) -> None:
    """Basic auth matches logins ignoring the case of ASCII letters only: ZOË is nobody."""
    header = next((v for k, v in scope["headers"] if k.lower() == b"authorization"), b"")
    scheme, _, token = header.decode("latin-1").partition(" ")
    if scheme.lower() != "basic":
        return
    user, _, password = base64.b64decode(token).decode().partition(":")
    if go_lower(user) != ascii_lower(user):
        nobody = base64.b64encode(f"{user}\u200b:{password}".encode()).decode()
        planted.set_header(scope, b"authorization", f"Basic {nobody}".encode())


def _lookup_admin(original: Any) -> Any:
    return lambda login_or_email: original("admin")


def _switch_ignored(original: Any) -> Any:
    return lambda org_id: {"message": "Active organization changed"}


def _admin_profile(original: Any) -> Any:
    from handlers.profiles import profile

    return lambda: profile(1)


def _no_check(original: Any) -> Any:
    return lambda *args, **kwargs: None


def _everyone_viewer(original: Any) -> Any:
    return lambda user_id: [replace(m, role="Viewer") for m in original(user_id)]


# fmt: off
BUGS = [
    # schema: missing field, wrong type, wrong status, wrong content type, bodies
    Bug("profile-misses-email", CONTRACT, ("--operation", "getUserByID"),
        "Response violates schema", response=json_edit(is_user_by_id, drop("email"))),
    Bug("search-id-is-a-string", CONTRACT, ("--operation", "searchUsersWithPaging"),
        "Response violates schema",
        response=json_edit(search, hits(lambda u: {**u, "id": str(u["id"])}))),
    Bug("update-answers-204", CONTRACT, ("--operation", "updateUser"),
        "Undocumented status code",
        response=when(lambda s, a: s["path"].startswith("/api/users/") and s["method"] == "PUT",
                      status=204, body=b"")),
    Bug("profile-is-text-plain", CONTRACT, ("--operation", "getSignedInUser"),
        "Undocumented Content-Type",
        response=when(lambda s, a: s["path"] == "/api/user", content_type="text/plain")),
    Bug("errors-are-html", CONTRACT, ("--operation", "getUserByID"),
        "error_bodies_are_grafana_messages",
        response=when(lambda s, a: a.status == 404, content_type="text/html", body=b"<h1>")),
    Bug("last-seen-in-short-form", CONTRACT, ("--operation", "searchUsersWithPaging"),
        "last_seen_age_is_in_words",
        response=json_edit(search, hits(lambda u: {**u, "lastSeenAtAge": "10y"}))),
    Bug("avatar-not-the-email-hash", CONTRACT, ("--operation", "getUserByID"),
        "avatar_urls_hash_the_email",
        response=json_edit(is_user_by_id, lambda b: {**b, "avatarUrl": "/avatar/" + "0" * 32})),
    Bug("paging-refuses-non-integers", PROPERTIES, ("-k", "test_paging_values"),
        "test_paging_values_that_are_not_integers_are_ignored",
        response=when(_non_integer_paging, status=400, body=b'{"message":"bad request data"}')),
    Bug("wrong-method-is-405", CONTRACT, ("--operation", "getHealth"),
        "undeclared_methods_answer_404",
        response=when(lambda s, a: a.status == 404 and s["method"] in UNUSUAL, status=405)),
    # auth: ignored, admin check missing, wrong password accepted, wrong status
    Bug("anonymous-search-allowed", MATRIX, ("--operation", "searchUsersWithPaging", "-k",
        "anonymous"), "anonymous got 200", request=_anonymous_as_admin),
    Bug("admin-check-missing", MATRIX, ("--operation", "getUserByID", "-k", "ordinary-user"),
        "expected 403, got 200", handler=("handlers.access", "enforce", _no_check)),
    Bug("wrong-password-accepted", MATRIX, ("-k", "wrong_password"), "a wrong password got 200",
        handler=("handlers.auth", "password_matches", always(lambda *args: True))),
    Bug("unauthenticated-is-403", MATRIX, ("--operation", "getUserByID", "-k", "anonymous"),
        "anonymous got 403", response=when(lambda s, a: a.status == 401, status=403)),
    Bug("disabled-user-gets-in", MATRIX, ("--operation", "getSignedInUser", "-k",
        "disabled-user"), "disabled-user got 200", store=no_op("set_disabled")),
    Bug("permissions-denied-with-rbac-body", MATRIX, ("--operation",
        "adminUpdateUserPermissions", "-k", "ordinary-user"), "403 body",
        response=when(lambda s, a: a.status == 403 and s["path"].endswith("/permissions"),
                      body=RBAC_DENIAL)),
    # state: answered 200 but not applied
    Bug("update-not-applied", CHAINS, ("-k", "test_an_update_reads_back"),
        "trimmed, lower-cased, applied", store=no_op("update_user")),
    Bug("password-change-not-applied", CHAINS, ("-k", "test_a_changed_password"),
        "test_a_changed_password_works", store=no_op("set_password")),
    Bug("revoke-not-applied", SESSIONS, ("-k", "test_a_revoked_session"),
        "revoked session still works", store=no_op("delete_session")),
    Bug("switch-org-not-applied", CHAINS, ("-k", "test_switching_organization"),
        "test_switching_organization_changes_org_id",
        handler=("handlers.signed_in_user", "user_set_using_org", _switch_ignored)),
    Bug("star-not-applied", CHAINS, ("-k", "test_starring"), "test_starring_and_unstarring",
        store=no_op("star")),
    Bug("delete-not-applied", SESSIONS, ("-k", "test_a_deleted_user"),
        "test_a_deleted_user_is_gone", store=no_op("delete_user")),
    # semantics: search, totalCount, paging, lookup, memberships, the caller
    Bug("search-ignores-query", PROPERTIES, ("-k", "test_every_search_hit"), "hits without",
        store=wrap_store("search_users", lambda orig: lambda **kw: orig(**{**kw, "query": ""}))),
    Bug("total-count-off-by-one", PROPERTIES, ("-k", "test_total_count"), "totalCount",
        response=json_edit(search, lambda b: {**b, "totalCount": b["totalCount"] + 1})),
    Bug("page-ignored", PROPERTIES, ("-k", "test_pages_partition"), "overlap",
        store=wrap_store("search_users", page_one)),
    Bug("default-page-size-100", PROPERTIES, ("-k", "test_page_and_perpage_defaults"),
        "defaults not applied", handler=("handlers.users", "SEARCH_PAGE_SIZE", always(100))),
    Bug("lookup-returns-another-user", PROPERTIES, ("-k", "test_lookup_by_login"),
        "test_lookup_by_login_and_by_email_agree_with_get_by_id",
        handler=("handlers.users", "get_user_by_login_or_email", _lookup_admin)),
    Bug("org-roles-all-viewer", PROPERTIES, ("-k", "test_a_users_orgs_and_teams"),
        "test_a_users_orgs_and_teams_are_exactly_their_memberships",
        store=wrap_store("user_orgs", _everyone_viewer)),
    Bug("api-user-is-the-admin", PROPERTIES, ("-k", "test_get_api_user_is_the_caller"),
        "test_get_api_user_is_the_caller",
        handler=("handlers.signed_in_user", "get_signed_in_user", _admin_profile)),
    # letters beyond ASCII: case folded for ASCII only (as SQLite's LIKE does)
    Bug("search-misses-letters-beyond-ascii", PROPERTIES, ("-k", "test_search_finds_letters"),
        "non-ASCII letters", response=_search_misses_beyond_ascii),
    Bug("search-folds-names-only", PROPERTIES, ("-k", "test_search_finds_letters"),
        "letter case is ignored for some queries and not others",
        response=_search_folds_names_only),
    Bug("login-folds-ascii-only", PROPERTIES, ("-k", "test_a_login_beyond_ascii"),
        "non-ASCII letters", request=_login_folds_ascii_only),
]
# fmt: on


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment must not point the inner runs elsewhere."""
    clear_conformance_environment(monkeypatch)


def run_against(bug: Bug, *extra: str) -> Outcome:
    with planted.planted(bug):
        return run_suite(
            ["--app", "tests.support.planted:app", "-q", *bug.select, *extra], modules=[bug.module]
        )


@pytest.mark.parametrize("bug", BUGS, ids=[bug.name for bug in BUGS])
def test_the_suite_fails_on_the_planted_bug_and_names_it(bug: Bug) -> None:
    outcome = run_against(bug)
    assert outcome.exit_code == pytest.ExitCode.TESTS_FAILED, (
        f"exit {outcome.exit_code}, {outcome.passed} passed: the suite did not notice {bug.name}"
    )
    assert bug.expect in outcome.failure_text(), (
        f"the failures do not name {bug.expect!r}:\n{outcome.failure_text()[:3000]}"
    )


@pytest.mark.parametrize(
    ("bug_name", "tolerance"),
    [
        ("permissions-denied-with-rbac-body", "permissions-rbac-denial"),
    ],
)
def test_a_named_tolerance_accepts_exactly_its_difference(bug_name: str, tolerance: str) -> None:
    bug = next(b for b in BUGS if b.name == bug_name)
    outcome = run_against(bug, "--tolerate", tolerance)
    assert outcome.exit_code == pytest.ExitCode.OK, json.dumps(outcome.failed, indent=1)[:3000]
