"""Hostile values (bodies, ids, strings, credentials) against the real server, on both backends."""

from __future__ import annotations

import base64
import gzip
import json

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.support.hostile import (
    MIB,
    TIMEOUT,
    Answer,
    Kind,
    admin,
    check,
    kind,
    started,
    still_healthy,
)
from tests.support.live import ServerProcess

JSON = {"Content-Type": "application/json"}
INT64_OVERFLOW = 2**63

DATA: dict[str, Kind] = {}


def post_raw(server: ServerProcess, path: str, body: bytes, headers: dict[str, str]) -> Answer:
    with admin(server) as client:
        return Answer.of(client.post(path, content=body, headers=headers))


# -- request bodies ---------------------------------------------------------------------


@kind(DATA)
def malformed_json(server: ServerProcess) -> list[Answer]:
    return [post_raw(server, "/api/admin/users", b'{"login": "x",', JSON)]


@kind(DATA)
def json_with_trailing_garbage(server: ServerProcess) -> list[Answer]:
    return [post_raw(server, "/api/admin/users", b'{"login":"tg","password":"pppp"} }{', JSON)]


@kind(DATA)
def empty_body_where_one_is_required(server: ServerProcess) -> list[Answer]:
    return [post_raw(server, "/api/admin/users", b"", JSON)]


@kind(DATA)
def json_null_or_array_instead_of_an_object(server: ServerProcess) -> list[Answer]:
    return [post_raw(server, "/login", body, JSON) for body in (b"null", b"[1, 2]", b'"s"')]


@kind(DATA)
def wrong_content_type(server: ServerProcess) -> list[Answer]:
    body = b'{"login": "ct", "password": "pppp"}'
    types = ["text/plain", "application/xml", "application/json-patch+json", "*/*"]
    return [post_raw(server, "/api/admin/users", body, {"Content-Type": t}) for t in types]


@kind(DATA)
def missing_content_type(server: ServerProcess) -> list[Answer]:
    return [post_raw(server, "/api/admin/users", b'{"login": "nct", "password": "pppp"}', {})]


@kind(DATA)
def form_and_multipart_bodies(server: ServerProcess) -> list[Answer]:
    with admin(server) as client:
        form = client.post("/api/admin/users", data={"login": "f", "password": "pppp"})
        multipart = client.post("/api/admin/users", files={"login": ("a.txt", b"x")})
    return [Answer.of(form), Answer.of(multipart)]


@kind(DATA)
def invalid_utf8(server: ServerProcess) -> list[Answer]:
    return [post_raw(server, "/api/admin/users", b'{"login": "\xff\xfe\xc3", "p": 1}', JSON)]


@kind(DATA, refused=False)
def unknown_charset(server: ServerProcess) -> list[Answer]:
    # Grafana reads JSON as UTF-8 whatever the charset says; connexion too, unless the
    # parameter follows the ";" without a space - then it must not crash on the name.
    body = b'{"login": "k", "password": "pppp"}'
    types = ["application/json; charset=klingon", "application/json;charset=klingon"]
    answers = [post_raw(server, "/api/admin/users", body, {"Content-Type": t}) for t in types]
    assert answers[1].status == 400
    return answers


@kind(DATA)
def lone_utf16_surrogate(server: ServerProcess) -> list[Answer]:
    return [post_raw(server, "/api/admin/users", b'{"login":"\\ud800s","password":"pppp"}', JSON)]


@kind(DATA, refused=False)
def nul_character_in_a_login(server: ServerProcess) -> list[Answer]:
    body = b'{"login": "nul\\u0000login", "password": "pppp"}'
    return [post_raw(server, "/api/admin/users", body, JSON)]


@kind(DATA, refused=False)
def nul_character_in_a_query(server: ServerProcess) -> list[Answer]:
    with admin(server) as client:
        return [
            Answer.of(client.get("/api/users/search", params={"query": "a\x00b"})),
            Answer.of(client.get("/api/users/lookup", params={"loginOrEmail": "\x00"})),
        ]


@kind(DATA)
def nul_character_in_basic_auth(server: ServerProcess) -> list[Answer]:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        return [
            Answer.of(client.get("/api/user", auth=("ad\x00min", "admin"))),
            Answer.of(client.post("/login", json={"user": "ad\x00min", "password": "x"})),
        ]


@kind(DATA, refused=False)
def strings_longer_than_their_columns(server: ServerProcess) -> list[Answer]:
    with admin(server) as client:
        return [
            Answer.of(client.post("/api/admin/users", json={"login": "l" * n, "password": "pw"}))
            for n in (191, 300, 4096)
        ] + [Answer.of(client.put("/api/user", json={"login": "admin", "theme": "t" * 5000}))]


@kind(DATA, refused=False)
def half_a_megabyte_string(server: ServerProcess) -> list[Answer]:
    with admin(server) as client:
        body = {"login": "big", "name": "n" * 500_000, "password": "pppp"}
        return [Answer.of(client.post("/api/admin/users", json=body))]


@kind(DATA)
def deeply_nested_json(server: ServerProcess) -> list[Answer]:
    deep = b"[" * 100_000 + b"]" * 100_000
    return [
        post_raw(server, "/api/admin/users", deep, JSON),
        post_raw(server, "/api/admin/users", b'{"login": ' + deep + b"}", JSON),
    ]


@kind(DATA, refused=False)
def nested_json_just_under_the_parser_limit(server: ServerProcess) -> list[Answer]:
    nested = b"[" * 900 + b"]" * 900
    body = b'{"dashboard": {"title": "deep", "panels": ' + nested + b"}}"
    return [post_raw(server, "/api/dashboards/db", body, JSON)]


@kind(DATA)
def integer_with_thousands_of_digits(server: ServerProcess) -> list[Answer]:
    body = b'{"login": "digits", "password": "pppp", "orgId": 1' + b"0" * 5000 + b"}"
    return [post_raw(server, "/api/admin/users", body, JSON)]


@kind(DATA)
def non_integer_numbers_for_ids(server: ServerProcess) -> list[Answer]:
    bodies = [b'{"authTokenId": 1.5}', b'{"authTokenId": 1e400}', b'{"authTokenId": "7"}']
    return [post_raw(server, "/api/user/revoke-auth-token", body, JSON) for body in bodies]


@kind(DATA)
def nan_and_infinity_literals(server: ServerProcess) -> list[Answer]:
    bodies = [b'{"authTokenId": NaN}', b'{"authTokenId": Infinity}', b'{"authTokenId": -Infinity}']
    return [post_raw(server, "/api/user/revoke-auth-token", body, JSON) for body in bodies]


@kind(DATA)
def int64_overflow_in_a_body(server: ServerProcess) -> list[Answer]:
    with admin(server) as client:
        return [
            Answer.of(client.post("/api/user/revoke-auth-token", json={"authTokenId": value}))
            for value in (INT64_OVERFLOW, -INT64_OVERFLOW - 1)
        ] + [
            Answer.of(
                client.post(
                    "/api/serviceaccounts/2/tokens",
                    json={"name": "t", "secondsToLive": INT64_OVERFLOW - 1},
                )
            )
        ]


@kind(DATA)
def int64_overflow_in_a_path(server: ServerProcess) -> list[Answer]:
    with admin(server) as client:
        return [
            Answer.of(client.get(f"/api/users/{INT64_OVERFLOW}")),
            Answer.of(client.put(f"/api/users/{INT64_OVERFLOW}", json={"login": "x"})),
            Answer.of(client.post(f"/api/users/1/using/{INT64_OVERFLOW}")),
            Answer.of(client.delete(f"/api/user/stars/dashboard/{INT64_OVERFLOW}")),
        ]


@kind(DATA)
def negative_and_zero_ids(server: ServerProcess) -> list[Answer]:
    with admin(server) as client:
        return [
            Answer.of(client.get(f"/api/users/{user_id}")) for user_id in (-1, 0, -(2**63), "-0")
        ] + [
            Answer.of(client.post("/api/user/stars/dashboard/0")),
            Answer.of(client.delete("/api/admin/users/-5")),
        ]


@kind(DATA)
def ids_with_a_hundred_digits_or_no_digits(server: ServerProcess) -> list[Answer]:
    with admin(server) as client:
        return [
            Answer.of(client.get("/api/users/" + "9" * 100)),
            Answer.of(client.get("/api/users/abc")),
            Answer.of(client.get("/api/users/1.0")),
            Answer.of(client.get("/api/users/0x10")),
        ]


@kind(DATA)
def fields_of_the_wrong_type(server: ServerProcess) -> list[Answer]:
    with admin(server) as client:
        return [
            Answer.of(client.post("/api/admin/users", json={"login": 5, "password": "pppp"})),
            Answer.of(client.post("/api/admin/users", json={"login": "w", "password": ["p"]})),
            Answer.of(client.put("/api/user", json={"login": {"nested": True}})),
            Answer.of(client.post("/login", json={"user": None, "password": None})),
        ]


@kind(DATA, refused=False)
def unicode_logins_round_trip(server: ServerProcess) -> list[Answer]:
    answers = []
    with admin(server) as client:
        for login in ("ユーザー", "Ünïcödé", "🦄user", "\u202eevil", "a\u0301"):
            created = client.post("/api/admin/users", json={"login": login, "password": "pw-u"})
            answers.append(Answer.of(created))
            assert created.status_code == 200, created.text
            found = client.get("/api/users/lookup", params={"loginOrEmail": login})
            assert found.status_code == 200, found.text
            assert found.json()["login"] == login.lower()
            signed_in = httpx.post(
                server.url + "/login", json={"user": login, "password": "pw-u"}, timeout=TIMEOUT
            )
            assert signed_in.status_code == 200, signed_in.text
            answers += [Answer.of(found), Answer.of(signed_in)]
    return answers


@kind(DATA, refused=False)
def injection_shaped_strings(server: ServerProcess) -> list[Answer]:
    values = ["' OR '1'='1", "admin'--", '"; DROP TABLE users; --', "%", "_", "\\", "${jndi:x}"]
    with admin(server) as client:
        answers = [
            Answer.of(client.get("/api/users/lookup", params={"loginOrEmail": v})) for v in values
        ]
        answers += [
            Answer.of(client.get("/api/users/search", params={"query": v, "sort": v}))
            for v in values
        ]
    assert all(a.status in (400, 404) for a in answers[: len(values)])
    return answers


@kind(DATA)
def body_over_one_mebibyte(server: ServerProcess) -> list[Answer]:
    body = json.dumps({"login": "big", "password": "pppp", "name": "x" * (MIB + 10)}).encode()
    answer = post_raw(server, "/api/admin/users", body, JSON)
    assert answer.status == 413
    return [answer]


@kind(DATA)
def utf8_byte_order_mark_before_json(server: ServerProcess) -> list[Answer]:
    # Go's decoder refuses a BOM; Python's json.loads(bytes) would skip it.
    answer = post_raw(
        server, "/api/admin/users", b'\xef\xbb\xbf{"login":"bom","password":"pppp"}', JSON
    )
    assert json.loads(answer.body)["message"] == "bad request data"
    return [answer]


@kind(DATA)
def json_in_utf16_or_utf32(server: ServerProcess) -> list[Answer]:
    # Python's json.loads(bytes) detects these encodings; Grafana reads UTF-8 only.
    text = '{"login": "wide", "password": "pppp"}'
    bodies = [text.encode(e) for e in ("utf-16", "utf-16-le", "utf-32")]
    answers = [post_raw(server, "/api/admin/users", body, JSON) for body in bodies]
    answers.append(
        post_raw(
            server,
            "/api/admin/users",
            bodies[0],
            {"Content-Type": "application/json; charset=utf-16"},
        )
    )
    return answers


@kind(DATA, refused=False)
def json_with_duplicate_keys(server: ServerProcess) -> list[Answer]:
    # Go's encoding/json keeps the last of repeated keys.
    body = b'{"login": "dup-first", "login": "dup-last", "password": "pppp"}'
    created = post_raw(server, "/api/admin/users", body, JSON)
    assert created.status == 200, created
    with admin(server) as client:
        last = client.get("/api/users/lookup", params={"loginOrEmail": "dup-last"})
        first = client.get("/api/users/lookup", params={"loginOrEmail": "dup-first"})
    assert (last.status_code, first.status_code) == (200, 404)
    return [created, Answer.of(last), Answer.of(first)]


@kind(DATA)
def javascript_rather_than_json(server: ServerProcess) -> list[Answer]:
    bodies = [
        b"{'login': 'js', 'password': 'pppp'}",
        b'{"login": "js", "password": "pppp",}',
        b'{"login": "js" /* comment */, "password": "pppp"}',
        b'{login: "js", password: "pppp"}',
        b'{"authTokenId": 01}',
        b'{"authTokenId": +1}',
        b'{"authTokenId": .5}',
    ]
    return [post_raw(server, "/api/admin/users", body, JSON) for body in bodies[:4]] + [
        post_raw(server, "/api/user/revoke-auth-token", body, JSON) for body in bodies[4:]
    ]


@kind(DATA)
def raw_control_characters_in_json_strings(server: ServerProcess) -> list[Answer]:
    bodies = [b'{"login": "a\tb", "password": "pppp"}', b'{"login": "a\nb\x01", "password": "p"}']
    return [post_raw(server, "/api/admin/users", body, JSON) for body in bodies]


@kind(DATA)
def integers_written_as_floats(server: ServerProcess) -> list[Answer]:
    # Go will not unmarshal 1e2 or 100.0 into an int64 field.
    bodies = [b'{"authTokenId": 1e2}', b'{"authTokenId": 100.0}', b'{"authTokenId": 1e-400}']
    answers = [post_raw(server, "/api/user/revoke-auth-token", body, JSON) for body in bodies]
    body = b'{"login": "float-org", "password": "pppp", "orgId": 1.0}'
    answers.append(post_raw(server, "/api/admin/users", body, JSON))
    assert all(json.loads(a.body)["message"] == "bad request data" for a in answers)
    return answers


@kind(DATA)
def an_object_of_eighty_thousand_keys(server: ServerProcess) -> list[Answer]:
    body = b"{" + b",".join(b'"k%d": 0' % n for n in range(80_000)) + b"}"
    return [post_raw(server, "/api/admin/users", body, JSON)]


@kind(DATA, refused=False)
def media_type_in_capitals_or_with_parameters(server: ServerProcess) -> list[Answer]:
    # A media type is case-insensitive: `APPLICATION/JSON` was a 500 (the body skipped
    # validation and reached the handler as bytes).
    types = [
        "APPLICATION/JSON",
        "Application/Json; Charset=UTF-8",
        'application/json; q="a;b"; x=y',
    ]
    answers = [
        post_raw(
            server,
            "/api/admin/users",
            b'{"login": "mt%d", "password": "pppp"}' % n,
            {"Content-Type": t},
        )
        for n, t in enumerate(types)
    ]
    answers.append(
        post_raw(
            server,
            "/api/admin/users",
            b'{"password": "pppp"}',
            {"Content-Type": "APPLICATION/JSON"},
        )
    )
    assert [a.status for a in answers] == [200, 200, 200, 400], answers
    return answers


@kind(DATA)
def compressed_request_body(server: ServerProcess) -> list[Answer]:
    # Grafana does not inflate request bodies (no zip bombs): gzip bytes are no JSON.
    body = gzip.compress(b'{"login": "gz", "password": "pppp"}')
    return [
        post_raw(server, "/api/admin/users", body, {**JSON, "Content-Encoding": encoding})
        for encoding in ("gzip", "br", "deflate")
    ]


@kind(DATA, refused=False)
def query_parameters_shaped_as_objects(server: ServerProcess) -> list[Answer]:
    with admin(server) as client:
        answer = client.get("/api/users/search?query[$ne]=x&query[]=a&perpage[$gt]=0&sort[]=x")
    assert answer.status_code == 200 and answer.json()["perPage"] == 1000, answer.text
    return [Answer.of(answer)]


# -- credentials ---------------------------------------------------------------------------


@kind(DATA)
def malformed_authorization_headers(server: ServerProcess) -> list[Answer]:
    values = [
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xc3").decode(),
        "Bearer",
        "Bearer " + "x" * 200_000,
        "Negotiate abc",
        "Basic",
    ]
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        return [Answer.of(client.get("/api/user", headers={"Authorization": v})) for v in values]


@kind(DATA)
def hostile_session_cookies(server: ServerProcess) -> list[Answer]:
    values = ["x" * 100_000, "\x7f\x01", "'; --", "0" * 32]
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        return [
            Answer.of(client.get("/api/user", headers={"Cookie": f"grafana_session={value}"}))
            for value in values
        ]


# -- the tests -------------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def server(
    request: pytest.FixtureRequest, hostile_servers: dict[str, ServerProcess]
) -> ServerProcess:
    return started(request, hostile_servers, request.param)


@pytest.mark.parametrize("name", sorted(DATA))
def test_hostile_values_are_refused_cleanly(name: str, server: ServerProcess) -> None:
    check(DATA[name].send(server), DATA[name].refused)
    still_healthy(server)
