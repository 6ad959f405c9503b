"""Domain objects -> Grafana's JSON: avatars, ages, timestamps, user agents, profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers import views
from handlers.store.models import SessionToken, Team, User
from tests.support.api import (
    CHROME_ON_LINUX,
    FIREFOX_ON_WINDOWS,
    SAFARI_ON_IPHONE,
    SAFARI_ON_MAC,
    jane_profile,
)

NOW = datetime(2024, 5, 2, 8, 15, 0)


def make_user(**changes: object) -> User:
    fields: dict[str, object] = {
        "id": 7,
        "uid": "ce3kq9vh2w5xcd",
        "login": "jane",
        "email": "jane@example.com",
        "name": "Jane Doe",
        "theme": "",
        "org_id": 1,
        "is_admin": False,
        "is_disabled": False,
        "is_service_account": False,
        "created": NOW,
        "updated": NOW,
        "last_seen_at": NOW - timedelta(days=3),
    }
    fields.update(changes)
    return User(**fields)  # type: ignore[arg-type]


# -- avatars ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "url"),
    [
        ("jane@example.com", "/avatar/9e26471d35a78862c17e467d87cddedf"),
        ("Jane@Example.COM", "/avatar/9e26471d35a78862c17e467d87cddedf"),
        ("admin@localhost", "/avatar/46d229b033af06a191ff2267bca9ae56"),
        ("", ""),
    ],
)
def test_a_users_avatar_is_the_md5_of_the_lower_cased_email(email: str, url: str) -> None:
    assert views.avatar_url(email) == url


def test_the_email_is_not_trimmed_before_hashing() -> None:
    assert views.avatar_url(" jane@example.com") != views.avatar_url("jane@example.com")


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("team1", "/avatar/3fcfe295eae3bcb67a49349377428a66"),  # md5("team1@localhost")
        ("My Test Team", "/avatar/3f49c15916554246daa714b9bd0ee398"),  # md5("mytestteam@localhost")
        ("My-Test_Team!", "/avatar/3f49c15916554246daa714b9bd0ee398"),
    ],
)
def test_a_team_without_email_hashes_its_alphanumeric_name_at_localhost(
    name: str, url: str
) -> None:
    assert views.team_avatar_url("", name) == url


def test_a_team_with_an_email_hashes_the_email() -> None:
    assert views.team_avatar_url("Jane@Example.com", "team1") == (
        "/avatar/9e26471d35a78862c17e467d87cddedf"
    )


# -- lastSeenAtAge ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ago", "words"),
    [
        (timedelta(0), "< 1 minute"),
        (timedelta(seconds=59), "< 1 minute"),
        (timedelta(seconds=-300), "< 1 minute"),  # the future
        (timedelta(minutes=1), "1 minute"),
        (timedelta(minutes=2, seconds=59), "2 minutes"),
        (timedelta(minutes=59), "59 minutes"),
        (timedelta(minutes=60), "1 hour"),
        (timedelta(hours=23, minutes=59), "23 hours"),
        (timedelta(days=1), "1 day"),
        (timedelta(minutes=43799), "30 days"),
        (timedelta(minutes=43800), "1 month"),
        (timedelta(minutes=87600), "2 months"),
        (timedelta(minutes=525599), "11 months"),
        (timedelta(minutes=525600), "1 year"),
        (timedelta(days=3653), "10 years"),
    ],
)
def test_last_seen_age_uses_the_largest_whole_unit(ago: timedelta, words: str) -> None:
    assert views.age(NOW - ago, now=NOW) == words


# -- timestamps ------------------------------------------------------------------------


def test_timestamps_are_rfc3339_utc_with_z() -> None:
    assert views.timestamp(datetime(2020, 1, 2, 3, 4, 5)) == "2020-01-02T03:04:05Z"


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_naive_and_utc_times_render_alike(value: datetime) -> None:
    # The store's naive UTC times take a fast path; an aware UTC time the general one.
    text = views.timestamp(value)
    assert text == views.timestamp(value.replace(tzinfo=UTC))
    assert text.endswith("Z") and datetime.fromisoformat(text[:-1]) == value


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "1970-01-01T00:00:00Z"), (1714637700, "2024-05-02T08:15:00Z")]
)
def test_epoch_seconds_render_as_utc_timestamps(seconds: int, text: str) -> None:
    assert views.epoch(seconds) == text


# -- user agents -----------------------------------------------------------------------


def session_token(user_agent: str, seen_at: int = 1714637760) -> SessionToken:
    return SessionToken(
        id=3,
        user_id=7,
        user_agent=user_agent,
        client_ip="10.0.0.8",
        created_at=1714637700,
        seen_at=seen_at,
        rotated_at=1714637700,
    )


@pytest.mark.parametrize(
    ("agent", "parsed"),
    [
        (CHROME_ON_LINUX, ("Chrome", "120.0", "Linux", "", "Other")),
        (SAFARI_ON_MAC, ("Safari", "17.1", "Mac OS X", "10.15", "Mac")),
        (SAFARI_ON_IPHONE, ("Mobile Safari", "17.1", "iOS", "17.1", "iPhone")),
        (FIREFOX_ON_WINDOWS, ("Firefox", "121.0", "Windows", "10", "Other")),
        ("python-requests/2.31.0", ("Python Requests", "2.31", "Other", "", "Other")),
        ("curl/8.4.0", ("curl", "8.4", "Other", "", "Other")),
        ("", ("Other", "", "Other", "", "Other")),
        ("testclient", ("Other", "", "Other", "", "Other")),
    ],
)
def test_user_agents_parse_into_browser_os_and_device_with_other_fallbacks(
    agent: str, parsed: tuple[str, str, str, str, str]
) -> None:
    body = views.auth_token(session_token(agent), current_session=None)
    assert (
        body["browser"],
        body["browserVersion"],
        body["os"],
        body["osVersion"],
        body["device"],
    ) == parsed


def test_an_auth_token_renders_every_field() -> None:
    assert views.auth_token(session_token(CHROME_ON_LINUX), current_session=3) == {
        "id": 3,
        "isActive": True,
        "clientIp": "10.0.0.8",
        "browser": "Chrome",
        "browserVersion": "120.0",
        "os": "Linux",
        "osVersion": "",
        "device": "Other",
        "authModule": "",
        "createdAt": "2024-05-02T08:15:00Z",
        "seenAt": "2024-05-02T08:16:00Z",
    }


def test_an_auth_token_never_seen_shows_its_creation_time_as_seen() -> None:
    body = views.auth_token(session_token("", seen_at=0), current_session=4)
    assert (body["isActive"], body["seenAt"]) == (False, "2024-05-02T08:15:00Z")


# -- profiles, hits, teams -------------------------------------------------------------


def test_a_profile_renders_every_field() -> None:
    assert views.user_profile(make_user(), is_external=False) == {
        **jane_profile(7),
        "uid": "ce3kq9vh2w5xcd",
        "updatedAt": "2024-05-02T08:15:00Z",
        "createdAt": "2024-05-02T08:15:00Z",
    }


def test_a_profile_leaves_out_an_org_id_of_zero() -> None:
    assert "orgId" not in views.user_profile(make_user(org_id=0))


def test_an_external_profile_carries_its_label() -> None:
    body = views.user_profile(make_user(auth_labels=("LDAP",)), is_external=True)
    assert (body["isExternal"], body["authLabels"]) == (True, ["LDAP"])


@pytest.mark.parametrize("empty_uid", [True, False])
def test_a_lookup_profile_has_no_labels_or_avatar_and_maybe_no_uid(empty_uid: bool) -> None:
    user = make_user(auth_labels=("LDAP",))
    body = views.lookup_profile(user, empty_uid=empty_uid)
    uid = "" if empty_uid else user.uid
    assert (body["uid"], body["authLabels"], body["avatarUrl"], body["id"]) == (uid, None, "", 7)


def test_a_search_hit_renders_every_field() -> None:
    hit = views.search_hit(make_user(is_admin=True), now=NOW)
    assert hit.pop("lastSeenAtAge") == views.age(NOW - timedelta(days=3), NOW)
    assert hit == {
        "id": 7,
        "uid": "ce3kq9vh2w5xcd",
        "name": "Jane Doe",
        "login": "jane",
        "email": "jane@example.com",
        "avatarUrl": "/avatar/9e26471d35a78862c17e467d87cddedf",
        "isAdmin": True,
        "isDisabled": False,
        "lastSeenAt": "2024-04-29T08:15:00Z",
        "authLabels": [],
    }


def test_a_team_renders_every_field() -> None:
    team = Team(id=4, uid="t1", org_id=1, name="team1", email="", member_count=2, permission=4)
    assert views.team(team) == {
        "id": 4,
        "uid": "t1",
        "orgId": 1,
        "name": "team1",
        "email": "",
        "externalUID": "",
        "isProvisioned": False,
        "avatarUrl": "/avatar/3fcfe295eae3bcb67a49349377428a66",
        "memberCount": 2,
        "permission": 4,
        "accessControl": None,
    }


def test_a_message_body_carries_extra_keys() -> None:
    assert views.message("User added to organization", userId=3) == {
        "message": "User added to organization",
        "userId": 3,
    }
