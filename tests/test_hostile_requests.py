"""Hostile requests that parse as HTTP but bend its rules (request targets, Host, methods,
framing, repeated headers and parameters, cookies) against the real server, once; with
tests/test_hostile_http.py (heads, bodies, slow clients) and tests/test_hostile_values.py
(values in paths, queries and bodies) the hostile-input catalogue."""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.support.hostile import (
    MIB,
    TIMEOUT,
    Answer,
    Kind,
    admin,
    check,
    kind,
    still_healthy,
)
from tests.support.live import ServerProcess
from tests.test_hostile_http import (
    ADMIN_BASIC,
    TRANSPORT,
    raw_exchange,
    read_answer,
    read_answers,
)
from tests.test_hostile_values import DATA

REQUESTS: dict[str, Kind] = {}


def get(target: bytes, headers: bytes = b"", version: bytes = b"HTTP/1.1") -> bytes:
    """A GET as the admin; `headers` are extra lines, each ending in CRLF."""
    auth = f"Authorization: {ADMIN_BASIC}\r\n".encode()
    return b"GET %s %s\r\nHost: x\r\nConnection: close\r\n%s%s\r\n" % (
        target,
        version,
        auth,
        headers,
    )


def login(framing: bytes, body: bytes) -> bytes:
    return (
        b"POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\n" + framing + b"\r\n" + body
    )


def statuses(answers: list[Answer]) -> list[int]:
    return [answer.status for answer in answers]


def messages(answers: list[Answer]) -> list[str]:
    return [json.loads(answer.body)["message"] for answer in answers]


@kind(REQUESTS, refused=False)
def absolute_form_request_target(server: ServerProcess) -> list[Answer]:
    answer = raw_exchange(server, get(b"http://x/api/user"))
    assert answer.status == 200 and json.loads(answer.body)["login"] == "admin", answer
    return [answer]


@kind(REQUESTS)
def dot_segments_and_encoded_traversal(server: ServerProcess) -> list[Answer]:
    targets = [b"/api/../api/user", b"/api/%2e%2e/api/user", b"/api/users/..%2f..%2fetc%2fpasswd"]
    answers = [raw_exchange(server, get(target)) for target in targets]
    assert statuses(answers) == [404, 404, 404], answers
    return answers


@kind(REQUESTS)
def double_encoding_and_encoded_nul_in_a_path(server: ServerProcess) -> list[Answer]:
    targets = [
        b"/api/users/%2531",
        b"/api/users/1%00",
        b"/api/users/1%2F2",
        b"/api/users/lookup%ff",
    ]
    answers = [raw_exchange(server, get(target)) for target in targets]
    assert statuses(answers) == [404, 404, 404, 404], answers
    return answers


@kind(REQUESTS)
def raw_nul_and_invalid_utf8_in_a_request_target(server: ServerProcess) -> list[Answer]:
    targets = [b"/api/users/1\x00", b"/api/\xc3", b"/api/users/search?query=\xff\xfe"]
    answers = [raw_exchange(server, get(target)) for target in targets]
    assert statuses(answers) == [400, 400, 400], answers
    return answers


@kind(REQUESTS)
def host_header_missing_repeated_or_malformed(server: ServerProcess) -> list[Answer]:
    """Go's net/http refuses these HTTP/1.1 heads (uvicorn answered them 200)."""
    heads = [b"", b"Host: a\r\nHost: b\r\n", b"Host: a b/c\r\n"]
    answers = [
        raw_exchange(server, b"GET /api/health HTTP/1.1\r\n%sConnection: close\r\n\r\n" % head)
        for head in heads
    ]
    assert messages(answers) == [
        "missing required Host header",
        "too many Host headers",
        "malformed Host header",
    ]
    return answers


@kind(REQUESTS, refused=False)
def http_1_0_without_host_and_0_9_request_line(server: ServerProcess) -> list[Answer]:
    answers = [
        raw_exchange(server, b"GET /api/health HTTP/1.0\r\n\r\n"),
        raw_exchange(server, b"GET /api/health\r\n\r\n"),
    ]
    assert statuses(answers) == [200, 400], answers
    assert messages(answers[1:]) == ["malformed HTTP request"]
    return answers


@kind(REQUESTS, refused=False)
def pipelined_requests(server: ServerProcess) -> list[Answer]:
    auth = f"Authorization: {ADMIN_BASIC}\r\n".encode()
    requests = (
        b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /api/user HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n"
        b"GET /api/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(requests)
        answers = read_answers(sock, 3)
    assert statuses(answers) == [200, 200, 404], answers
    return answers


@kind(REQUESTS, refused=False)
def expect_100_continue(server: ServerProcess) -> list[Answer]:
    body = b'{"user": "admin", "password": "admin"}'
    head = b"Expect: 100-continue\r\nContent-Length: %d\r\n" % len(body)
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(login(head, b""))
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = sock.recv(65536)
            assert chunk, interim
            interim += chunk
        assert interim.startswith(b"HTTP/1.1 100 "), interim
        sock.sendall(body)
        answer = read_answer(sock)
    too_large = raw_exchange(
        server, login(b"Expect: 100-continue\r\nContent-Length: %d\r\n" % (100 * MIB), b"")
    )
    assert (answer.status, too_large.status) == (200, 413), (answer, too_large)
    return [answer, too_large]


@kind(REQUESTS, refused=False)
def range_and_conditional_headers(server: ServerProcess) -> list[Answer]:
    headers = (
        b"Range: bytes=0-5\r\nIf-None-Match: *\r\nIf-Range: x\r\n"
        b"If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\nIf-Match: nothing\r\n"
    )
    answer = raw_exchange(server, get(b"/api/user", headers))
    assert answer.status == 200 and json.loads(answer.body)["login"] == "admin", answer
    return [answer]


@kind(REQUESTS)
def options_and_connect_methods(server: ServerProcess) -> list[Answer]:
    answers = [
        raw_exchange(server, get(b"/api/user").replace(b"GET ", b"OPTIONS ", 1)),
        raw_exchange(server, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
    ]
    assert statuses(answers) == [404, 400], answers
    return answers


@kind(REQUESTS, refused=False)
def method_override_headers_are_ignored(server: ServerProcess) -> list[Answer]:
    with admin(server) as client:
        created = client.post("/api/admin/users", json={"login": "override", "password": "pppp"})
        user_id = created.json()["id"]
    overrides = (
        b"X-HTTP-Method-Override: DELETE\r\nX-HTTP-Method: DELETE\r\nX-Method-Override: DELETE\r\n"
    )
    answers = [
        raw_exchange(server, get(b"/api/users/%d" % user_id, overrides)),
        raw_exchange(server, get(b"/api/users/%d?_method=DELETE" % user_id)),
        raw_exchange(server, get(b"/api/users/%d" % user_id)),
    ]
    assert statuses(answers) == [200, 200, 200], answers
    return answers


@kind(REQUESTS, refused=False)
def header_bytes_go_refuses_or_takes(server: ServerProcess) -> list[Answer]:
    refused = [b"X-A : a\r\n", b"X-A: a\x00b\r\n", b"X\xff: v\r\n", b"X-A: a\rInjected: b\r\n"]
    answers = [raw_exchange(server, get(b"/api/user", line)) for line in refused]
    answers.append(raw_exchange(server, get(b"/api/user", b"X-A: \xff\xfe obs-text\r\n")))
    assert statuses(answers) == [400, 400, 400, 400, 200], answers
    return answers


@kind(REQUESTS)
def content_length_that_is_no_decimal(server: ServerProcess) -> list[Answer]:
    lengths = [b"+2", b"0x2", b"2 2", b"2, 3"]
    answers = [raw_exchange(server, login(b"Content-Length: %s\r\n" % n, b"{}")) for n in lengths]
    assert statuses(answers) == [400] * len(lengths), answers
    return answers


@kind(REQUESTS)
def obfuscated_transfer_encodings(server: ServerProcess) -> list[Answer]:
    # Go answers an unknown transfer coding with 501; a 4xx here.
    codings = [b"chunked, identity", b"xchunked", b"gzip", b"chunked\x0b"]
    answers = [
        raw_exchange(server, login(b"Transfer-Encoding: %s\r\n" % c, b"0\r\n\r\n")) for c in codings
    ]
    assert statuses(answers) == [400] * len(codings), answers
    return answers


@kind(REQUESTS, refused=False)
def chunk_extensions_and_trailers(server: ServerProcess) -> list[Answer]:
    first, rest = b'{"use', b'r": "admin", "password": "admin"}'
    body = b'%x;name=value;x="q"\r\n%s\r\n%x\r\n%s\r\n0\r\nX-Trailer: y\r\n\r\n' % (
        len(first),
        first,
        len(rest),
        rest,
    )
    answer = raw_exchange(server, login(b"Transfer-Encoding: chunked\r\n", body))
    assert answer.status == 200, answer
    return [answer]


@kind(REQUESTS)
def body_longer_than_its_length(server: ServerProcess) -> list[Answer]:
    body = b'{"user": "admin", "password": "admin"}'
    answer = raw_exchange(server, login(b"Content-Length: 2\r\n", body))
    assert messages([answer]) == ["bad login data"], answer
    return [answer]


@kind(REQUESTS, refused=False)
def upgrade_headers_are_ignored(server: ServerProcess) -> list[Answer]:
    """Go serves an Upgrade request as a plain one; uvicorn answered websocket with an
    empty 403."""
    websocket = (
        b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    )
    h2c = (
        b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        b"HTTP2-Settings: AAMAAABkAAQAAP__\r\n"
    )
    answers = [
        raw_exchange(server, get(b"/api/user", headers).replace(b"Connection: close\r\n", b""))
        for headers in (websocket, h2c)
    ]
    assert statuses(answers) == [200, 200], answers
    assert all(json.loads(a.body)["login"] == "admin" for a in answers)
    return answers


@kind(REQUESTS)
def http2_connection_preface(server: ServerProcess) -> list[Answer]:
    return [raw_exchange(server, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]


@kind(REQUESTS, refused=False)
def repeated_and_thousands_of_query_parameters(server: ServerProcess) -> list[Answer]:
    """Grafana takes a parameter's first value; thousands of names it does not read cost
    it nothing (connexion's scan per name made 8,000 of them seconds of CPU)."""
    many = b"&".join(b"a%d=1" % n for n in range(8000))
    repeats = b"&".join(b"perpage=%d" % (n + 1) for n in range(5000))
    targets = [b"/api/users/search?perpage=1&perpage=2", b"/api/users/search?" + repeats]
    answers = [raw_exchange(server, get(target)) for target in targets]
    started = time.monotonic()
    answers += [
        raw_exchange(server, get(b"/api/users/search?perpage=1&" + many)),
        raw_exchange(server, b"GET /api/health?%s HTTP/1.1\r\nHost: x\r\n\r\n" % many),
    ]
    elapsed = time.monotonic() - started
    assert statuses(answers) == [200, 200, 200, 200], answers
    assert [json.loads(a.body)["perPage"] for a in answers[:3]] == [1, 1, 1]
    assert elapsed < 1.0, f"8,000 query parameters took {elapsed:.2f} s"
    return answers


@kind(REQUESTS, refused=False)
def semicolons_and_empty_values_in_a_query(server: ServerProcess) -> list[Answer]:
    # Go's query parser drops a pair with a semicolon; an empty perpage is the default.
    targets = [b"/api/users/search?perpage=1;perpage=5", b"/api/users/search?query&perpage&page="]
    answers = [raw_exchange(server, get(target)) for target in targets]
    pages = [(json.loads(a.body)["perPage"], json.loads(a.body)["page"]) for a in answers]
    assert pages == [(1000, 1), (1000, 1)], pages
    return answers


@kind(REQUESTS, refused=False)
def two_authorization_headers(server: ServerProcess) -> list[Answer]:
    junk = b"Authorization: Bearer junk\r\n"
    admin_line = f"Authorization: {ADMIN_BASIC}\r\n".encode()
    answers = [
        raw_exchange(server, get(b"/api/user", junk)),
        raw_exchange(server, get(b"/api/user").replace(admin_line, junk + admin_line)),
    ]
    assert statuses(answers) == [200, 401], answers  # the first header counts
    return answers


@kind(REQUESTS, refused=False)
def thousands_of_cookies_and_odd_cookie_syntax(server: ServerProcess) -> list[Answer]:
    many = b"; ".join(b"c%d=v" % n for n in range(3000))
    odd = b'a="quoted"; =; ;;; a=b=c; \xff=\xfe; $Version=1; b'
    answers = [raw_exchange(server, get(b"/api/user", b"Cookie: %s\r\n" % c)) for c in (many, odd)]
    assert statuses(answers) == [200, 200], answers
    return answers


@kind(REQUESTS, refused=False)
def org_header_values_that_are_no_org(server: ServerProcess) -> list[Answer]:
    values = [b"abc", b"99999999999999999999", b"1, 2", b"", b"0x1"]
    answers = [
        raw_exchange(server, get(b"/api/user", b"X-Grafana-Org-Id: %s\r\n" % v)) for v in values
    ]
    assert statuses(answers) == [200] * len(values), answers
    assert {json.loads(a.body)["orgId"] for a in answers} == {1}
    return answers


# -- the tests -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_hostile_requests_are_answered_as_grafana_does(
    name: str, sqlite_server: ServerProcess
) -> None:
    check(REQUESTS[name].send(sqlite_server), REQUESTS[name].refused)
    still_healthy(sqlite_server)


def test_the_catalogue_has_at_least_sixty_kinds() -> None:
    assert len(DATA) + len(TRANSPORT) + len(REQUESTS) >= 60
