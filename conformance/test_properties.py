"""Layer 4: properties the schema cannot state, checked with generated queries and users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.options import RunOptions
from conformance.paging import MAX_PAGE_SIZE
from conformance.plugin import property_settings
from conformance.target import Credentials, Target
from conformance.text import ascii_lower, go_lower, go_swapcase, go_upper
from conformance.world import Account, World

Fold = Callable[[str], str]
MAX_PAGES = 10
FIELDS = ("login", "email", "name")


def search_all(client: httpx.Client, query: str) -> tuple[int, list[dict[str, Any]]]:
    """Every hit for a query, page by page (MAX_PAGE_SIZE a page, at most MAX_PAGES pages),
    and the reported totalCount."""
    hits: list[dict[str, Any]] = []
    total = 0
    for page in range(1, MAX_PAGES + 1):
        body = client.get(
            "/api/users/search", params={"query": query, "perpage": MAX_PAGE_SIZE, "page": page}
        ).json()
        total = body["totalCount"]
        hits += body["users"]
        if len(body["users"]) < MAX_PAGE_SIZE:
            break
    return total, hits


def matches(query: str, person: dict[str, Any] | Account, *, fold: Fold = go_lower) -> bool:
    """Whether the query is in the login, e-mail or name, ignoring letter case as `fold`
    does: Go's folding (every letter) by default.

    Grafana passes the query to its database's LIKE as it is, so which letters it folds
    depends on the database: SQLite (its default) folds ASCII letters only, PostgreSQL's
    ILIKE every letter. A hit must match with every letter folded, and a user that
    matches with ASCII letters folded must be found; in between, either is Grafana."""
    values = [person[f] if isinstance(person, dict) else getattr(person, f) for f in FIELDS]
    return any(fold(query) in fold(str(value)) for value in values)


def queries(world: World) -> st.SearchStrategy[str]:
    """Pieces of the seeded users' logins, e-mails and names (in several alphabets), in
    any letter case."""
    texts = [getattr(a, f) for a in world.population for f in FIELDS]

    def piece(text: str) -> st.SearchStrategy[str]:
        return st.tuples(st.integers(0, len(text) - 1), st.integers(1, 12)).map(
            lambda span: text[span[0] : span[0] + span[1]]
        )

    found = st.sampled_from(texts).flatmap(piece)
    return found.flatmap(lambda q: st.sampled_from([q, go_upper(q), go_swapcase(q)]))


def beyond_ascii(world: World) -> list[Account]:
    """The population's users whose login has letters outside ASCII."""
    return [a for a in world.population if not a.login.isascii()]


@given(data=st.data())
@property_settings
def test_every_search_hit_contains_the_query_and_no_seeded_match_is_missed(
    data: st.DataObject, as_root: httpx.Client, world: World
) -> None:
    query = data.draw(queries(world), label="query")
    _, hits = search_all(as_root, query)
    strays = [h["login"] for h in hits if not matches(query, h)]
    assert not strays, f"hits without {query!r} in login, email or name: {strays[:5]}"
    surely = {a.login for a in world.population if matches(query, a, fold=ascii_lower)}
    missed = surely - {h["login"] for h in hits}
    assert not missed, f"users matching {query!r} missing from the hits: {sorted(missed)}"


@given(data=st.data())
@property_settings
def test_total_count_is_the_number_of_matches(
    data: st.DataObject, as_root: httpx.Client, world: World
) -> None:
    query = data.draw(queries(world), label="query")
    total, hits = search_all(as_root, query)
    assert total == len(hits), f"totalCount {total} for {len(hits)} hits of {query!r}"
    listed = as_root.get("/api/users", params={"query": query, "perpage": MAX_PAGE_SIZE}).json()
    assert [u["id"] for u in listed] == [h["id"] for h in hits][:MAX_PAGE_SIZE], (
        "GET /api/users differs"
    )


@given(per_page=st.integers(min_value=1, max_value=7))
@property_settings
def test_pages_partition_the_search_result(
    per_page: int, as_root: httpx.Client, world: World
) -> None:
    query = world.population_query
    total, everyone = search_all(as_root, query)
    assert total == len(world.population), f"{query!r} should match the population"
    seen: list[int] = []
    for page in range(1, -(-total // per_page) + 2):  # one page past the end
        body = as_root.get(
            "/api/users/search", params={"query": query, "perpage": per_page, "page": page}
        ).json()
        assert (body["page"], body["perPage"], body["totalCount"]) == (page, per_page, total)
        assert len(body["users"]) <= per_page, f"page {page} holds {len(body['users'])} users"
        seen += [u["id"] for u in body["users"]]
    assert len(seen) == len(set(seen)), f"pages of {per_page} overlap"
    assert sorted(seen) == sorted(u["id"] for u in everyone), f"pages of {per_page} leave gaps"


@given(
    per_page=st.one_of(st.none(), st.integers(-5, 0)), page=st.one_of(st.none(), st.integers(-5, 0))
)
@property_settings
def test_page_and_perpage_defaults_apply(
    per_page: int | None, page: int | None, as_root: httpx.Client, world: World
) -> None:
    params = {"query": world.population_query, "perpage": per_page, "page": page}
    body = as_root.get(
        "/api/users/search", params={k: v for k, v in params.items() if v is not None}
    ).json()
    assert (body["page"], body["perPage"]) == (1, 1000), "defaults not applied"
    _, everyone = search_all(as_root, world.population_query)
    assert [u["id"] for u in body["users"]] == [u["id"] for u in everyone][:1000]


@pytest.mark.parametrize(
    ("perpage", "page"),
    [
        ("abc", "abc"),
        ("1.5", "1.5"),
        ("", ""),
        ("1_0", "1_0"),
        ("\uff15", "\uff15"),
        # Beyond int64: no integer to Go. A page size is never asked that large, in case a
        # server reads it anyway: the negative one stands for it.
        ("-99999999999999999999", "99999999999999999999"),
    ],
)
def test_paging_values_that_are_not_integers_are_ignored(
    perpage: str, page: str, as_root: httpx.Client
) -> None:
    """Grafana reads perpage and page leniently (x-grafana-lenient): the default applies."""
    response = as_root.get("/api/users/search", params={"perpage": perpage, "page": page})
    assert response.status_code == 200, response.text
    assert (response.json()["perPage"], response.json()["page"]) == (1000, 1)


def test_search_finds_letters_beyond_ascii_and_folds_their_case_all_or_nothing(
    as_root: httpx.Client, world: World
) -> None:
    """A query in another alphabet finds the users it is written in ("Zoë" finds zoë).
    Whether another letter case finds them too ("ZOË") depends on Grafana's database
    (PostgreSQL: yes, SQLite: no, see `matches`), but a target does one or the other for
    every such query, never some of them."""
    people = beyond_ascii(world)
    assert people, "the population has no login beyond ASCII"
    folded: dict[str, bool] = {}
    for person in people:
        first_name = person.name.split()[0]
        _, exact = search_all(as_root, first_name)
        assert person.id in {h["id"] for h in exact}, (
            f"non-ASCII letters: {first_name!r} does not find {person.login!r} ({person.name})"
        )
        for query, source in (
            (go_upper(first_name), first_name),
            (go_swapcase(person.login), person.login),
        ):
            if ascii_lower(query) == ascii_lower(source):
                continue  # no letter beyond ASCII changed case: nothing to tell apart
            _, hits = search_all(as_root, query)
            strays = [h["login"] for h in hits if not matches(query, h)]
            assert not strays, f"hits without {query!r} (ignoring case): {strays[:5]}"
            folded[query] = person.id in {h["id"] for h in hits}
    assert folded, "no query changed the case of a letter beyond ASCII"
    assert len(set(folded.values())) == 1, (
        f"non-ASCII letters: letter case is ignored for some queries and not others: {folded}"
    )


def test_a_login_beyond_ascii_signs_in_in_any_letter_case(target: Target, world: World) -> None:
    """Basic auth with a login or e-mail in other letter case (ZOË for zoë) signs the user in:
    Grafana lower-cases what it looks up as Go does."""
    people = beyond_ascii(world)
    assert people, "the population has no login beyond ASCII"
    for person in people:
        for name in (go_upper(person.login), go_swapcase(person.email)):
            with target.session(Credentials(basic=(name, person.password))) as me:
                response = me.get("/api/user")
            assert response.status_code == 200, (
                f"non-ASCII letters: {name!r} with the password of {person.login!r} got "
                f"{response.status_code}"
            )
            assert response.json()["id"] == person.id, name


def _people(world: World) -> list[Account]:
    """Seeded users nothing else changes (the fuzzer only touches victims)."""
    return [world.plain, *world.population]


@given(data=st.data())
@property_settings
def test_lookup_by_login_and_by_email_agree_with_get_by_id(
    data: st.DataObject, as_root: httpx.Client, world: World, conformance_options: RunOptions
) -> None:
    person = data.draw(st.sampled_from(_people(world)), label="user")
    key = data.draw(st.sampled_from([person.login, person.email, go_upper(person.email)]))
    found = as_root.get("/api/users/lookup", params={"loginOrEmail": key})
    assert found.status_code == 200, f"lookup {key!r}: {found.status_code}"
    thin, full = found.json(), as_root.get(f"/api/users/{person.id}").json()
    same = ("id", "login", "email", "name", "isGrafanaAdmin", "isDisabled", "orgId")
    assert {k: thin.get(k) for k in same} == {k: full.get(k) for k in same}
    assert (thin["avatarUrl"], thin["authLabels"]) == ("", None), "lookup's thin profile"
    uids = {"", full["uid"]} if "lookup-empty-uid" in conformance_options.tolerances else set()
    assert thin["uid"] in (uids or {full["uid"]}), f"lookup's uid {thin['uid']!r}"


@given(data=st.data())
@property_settings
def test_a_users_orgs_and_teams_are_exactly_their_memberships(
    data: st.DataObject, as_root: httpx.Client, target: Target, world: World
) -> None:
    person = data.draw(st.sampled_from(_people(world)), label="user")
    orgs = as_root.get(f"/api/users/{person.id}/orgs").json()
    assert {o["orgId"]: o["role"] for o in orgs} == world.memberships[person.id]
    names = [o["name"].lower() for o in orgs]
    assert names == sorted(names), "orgs are not sorted by name"
    with target.session(person.basic) as me:
        assert me.get("/api/user/orgs").json() == orgs, "GET /api/user/orgs differs"
    teams = as_root.get(f"/api/users/{person.id}/teams").json()
    assert {t["id"] for t in teams} == world.teams_of(person.id)
    for team in teams:
        assert team["memberCount"] == len(world.team_members[team["id"]]), team["name"]


@given(data=st.data())
@property_settings
def test_get_api_user_is_the_caller(data: st.DataObject, target: Target, world: World) -> None:
    person = data.draw(st.sampled_from([world.root, *_people(world)]), label="user")
    with target.session(person.basic) as me:
        profile = me.get("/api/user").json()
    assert (profile["id"], profile["login"], profile["email"]) == (
        person.id,
        person.login,
        person.email,
    )


def test_service_accounts_never_appear_among_users(as_root: httpx.Client, world: World) -> None:
    sa_name = f"{world.prefix}sa"
    hits = as_root.get("/api/users/search", params={"query": sa_name}).json()
    assert hits["totalCount"] == 0 and hits["users"] == [], "a service account is listed"
    missing = as_root.get(f"/api/users/{world.service_account_id}")
    assert missing.status_code == 404, "a service account has a user profile"
