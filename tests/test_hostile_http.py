"""Hostile HTTP (heads, framing, 100 MB bodies, slow clients) against the real server, once."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.hostile import (
    MIB,
    TIMEOUT,
    Answer,
    Kind,
    admin,
    check,
    kind,
    running_servers,
    started,
    still_healthy,
)
from tests.support.live import ServerProcess
from tests.test_hostile_values import DATA

ADMIN_BASIC = "Basic " + base64.b64encode(b"admin:admin").decode()

TRANSPORT: dict[str, Kind] = {}


def raw_exchange(server: ServerProcess, data: bytes) -> Answer:
    """Send bytes as they are; parse the status line and body of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        return read_answer(sock)


def read_answer(sock: socket.socket) -> Answer:
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed without an answer: {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of the answer"
        body += chunk
    return Answer(int(head.split(b" ", 2)[1]), body[:length])


# -- the HTTP layer --------------------------------------------------------------------------


@kind(TRANSPORT)
def garbage_instead_of_a_request_line(server: ServerProcess) -> list[Answer]:
    return [
        raw_exchange(server, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"),
        raw_exchange(server, b"GET /api/health HTTP/9.9\r\nHost: x\r\n\r\n"),
    ]


@kind(TRANSPORT)
def a_header_of_two_megabytes(server: ServerProcess) -> list[Answer]:
    head = b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (2 * MIB) + b"\r\n\r\n"
    answer = raw_exchange(server, head)
    assert answer.status == 431
    return [answer]


@kind(TRANSPORT)
def a_url_of_a_hundred_kilobytes(server: ServerProcess) -> list[Answer]:
    return [raw_exchange(server, b"GET /api/users/" + b"9" * 100_000 + b" HTTP/1.1\r\n\r\n")]


@kind(TRANSPORT, refused=False)
def twenty_thousand_headers(server: ServerProcess) -> list[Answer]:
    headers = b"".join(b"X-H%d: v\r\n" % n for n in range(20_000))
    return [raw_exchange(server, b"GET /api/health HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")]


@kind(TRANSPORT)
def line_breaks_inside_a_header(server: ServerProcess) -> list[Answer]:
    return [
        raw_exchange(server, b"GET /api/user HTTP/1.1\r\nHost: x\r\nX-A: a\rInjected: b\r\n\r\n")
    ]


@kind(TRANSPORT)
def unknown_http_method(server: ServerProcess) -> list[Answer]:
    with admin(server) as client:
        return [Answer.of(client.request(m, "/api/user")) for m in ("BREW", "PROPFIND", "TRACE")]


@kind(TRANSPORT)
def broken_framing(server: ServerProcess) -> list[Answer]:
    start = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    return [
        raw_exchange(server, start + b"Transfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n"),
        raw_exchange(
            server, start + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        ),
        raw_exchange(server, start + b"Content-Length: -5\r\n\r\n"),
        raw_exchange(server, start + b"Content-Length: 5\r\nContent-Length: 7\r\n\r\n12345"),
    ]


@kind(TRANSPORT, refused=False)
def body_shorter_than_its_length_then_hang_up(server: ServerProcess) -> list[Answer]:
    request = (
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"user": '
    )
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
            sock.sendall(request)
    return []  # nothing to answer: the server must just stay well (checked after each kind)


def stream_upload(server: ServerProcess, head: bytes, chunked: bool) -> tuple[Answer, int]:
    """Send a 100 MB body as fast as the server takes it; stop when it closes."""
    block = b"x" * MIB
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(head)
        try:
            for _ in range(100):
                sock.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
                sent += len(block)
        except OSError:
            pass  # the server answered and hung up: what we want
        return read_answer(sock), sent


@kind(TRANSPORT)
def a_hundred_megabyte_body(server: ServerProcess) -> list[Answer]:
    """Declared or streamed (chunked), 100 MB is refused early with 413; memory stays put."""
    before = server.rss_kib()
    start = (
        f"POST /api/admin/users HTTP/1.1\r\nHost: x\r\nAuthorization: {ADMIN_BASIC}\r\n"
        "Content-Type: application/json\r\n"
    ).encode()
    declared, sent_declared = stream_upload(
        server, start + b"Content-Length: %d\r\n\r\n" % (100 * MIB), chunked=False
    )
    streamed, sent_streamed = stream_upload(
        server, start + b"Transfer-Encoding: chunked\r\n\r\n", chunked=True
    )
    grown = server.rss_kib() - before
    assert (declared.status, streamed.status) == (413, 413)
    assert sent_declared < 100 * MIB and sent_streamed < 100 * MIB, "the server read it all"
    assert grown < 30 * 1024, f"the server's memory grew by {grown} KiB"
    return [declared, streamed]


@kind(TRANSPORT)
def slow_clients_do_not_hold_up_others(server: ServerProcess) -> list[Answer]:
    """Slowloris: sockets dribble a request head (and one a body) a byte at a time."""
    # Dribbling all of it would take 8 s: a server that waited for it would show.
    slow = b"GET /api/user HTTP/1.1\r\nHost: x\r\nUser-Agent: slowloris\r\nX-Pad: " + b"p" * 100
    slow_body = (
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 40\r\n\r\n" + b'{"user": "a", "password": "b"}'.ljust(40)
    )
    payloads = [slow_body] + [slow] * 39
    sockets = [
        socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) for _ in payloads
    ]
    stop = threading.Event()
    position = 0

    def dribble() -> None:
        nonlocal position
        while not stop.is_set() and position < len(slow):
            for sock, payload in zip(sockets, payloads, strict=True):
                sock.sendall(payload[position : position + 1])
            position += 1
            time.sleep(0.05)

    dribbler = threading.Thread(target=dribble)
    dribbler.start()
    latencies = []
    try:
        with admin(server) as client:
            for _ in range(20):
                started = time.monotonic()
                assert client.get("/api/user").status_code == 200
                latencies.append(time.monotonic() - started)
    finally:
        stop.set()
        dribbler.join()
    assert max(latencies) < 3.0, f"others waited {max(latencies):.2f} s behind slow clients"
    answers = []
    for sock, payload in zip(sockets, payloads, strict=True):
        with sock:
            sock.sendall(payload[position:] + (b"\r\n\r\n" if payload is slow else b""))
            answers.append(read_answer(sock))
    return answers


def read_answers(sock: socket.socket, count: int) -> list[Answer]:
    """`count` answers in a row from one connection (pipelining)."""
    buffer, answers = b"", []
    while len(answers) < count:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(answers)} answers"
            buffer += chunk
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(buffer) < length:
            chunk = sock.recv(65536)
            assert chunk, "connection closed in the middle of an answer"
            buffer += chunk
        answers.append(Answer(int(head.split(b" ", 2)[1]), buffer[:length]))
        buffer = buffer[length:]
    return answers


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


@kind(TRANSPORT, refused=False)
def absolute_form_request_target(server: ServerProcess) -> list[Answer]:
    answer = raw_exchange(server, get(b"http://x/api/user"))
    assert answer.status == 200 and json.loads(answer.body)["login"] == "admin", answer
    return [answer]


@kind(TRANSPORT)
def dot_segments_and_encoded_traversal(server: ServerProcess) -> list[Answer]:
    targets = [b"/api/../api/user", b"/api/%2e%2e/api/user", b"/api/users/..%2f..%2fetc%2fpasswd"]
    answers = [raw_exchange(server, get(target)) for target in targets]
    assert statuses(answers) == [404, 404, 404], answers
    return answers


@kind(TRANSPORT)
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


@kind(TRANSPORT)
def raw_nul_and_invalid_utf8_in_a_request_target(server: ServerProcess) -> list[Answer]:
    targets = [b"/api/users/1\x00", b"/api/\xc3", b"/api/users/search?query=\xff\xfe"]
    answers = [raw_exchange(server, get(target)) for target in targets]
    assert statuses(answers) == [400, 400, 400], answers
    return answers


@kind(TRANSPORT)
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


@kind(TRANSPORT, refused=False)
def http_1_0_without_host_and_0_9_request_line(server: ServerProcess) -> list[Answer]:
    answers = [
        raw_exchange(server, b"GET /api/health HTTP/1.0\r\n\r\n"),
        raw_exchange(server, b"GET /api/health\r\n\r\n"),
    ]
    assert statuses(answers) == [200, 400], answers
    assert messages(answers[1:]) == ["malformed HTTP request"]
    return answers


@kind(TRANSPORT, refused=False)
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


@kind(TRANSPORT, refused=False)
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


@kind(TRANSPORT, refused=False)
def range_and_conditional_headers(server: ServerProcess) -> list[Answer]:
    headers = (
        b"Range: bytes=0-5\r\nIf-None-Match: *\r\nIf-Range: x\r\n"
        b"If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\nIf-Match: nothing\r\n"
    )
    answer = raw_exchange(server, get(b"/api/user", headers))
    assert answer.status == 200 and json.loads(answer.body)["login"] == "admin", answer
    return [answer]


@kind(TRANSPORT)
def options_and_connect_methods(server: ServerProcess) -> list[Answer]:
    answers = [
        raw_exchange(server, get(b"/api/user").replace(b"GET ", b"OPTIONS ", 1)),
        raw_exchange(server, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
    ]
    assert statuses(answers) == [404, 400], answers
    return answers


@kind(TRANSPORT, refused=False)
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


@kind(TRANSPORT, refused=False)
def header_bytes_go_refuses_or_takes(server: ServerProcess) -> list[Answer]:
    refused = [b"X-A : a\r\n", b"X-A: a\x00b\r\n", b"X\xff: v\r\n", b"X-A: a\rInjected: b\r\n"]
    answers = [raw_exchange(server, get(b"/api/user", line)) for line in refused]
    answers.append(raw_exchange(server, get(b"/api/user", b"X-A: \xff\xfe obs-text\r\n")))
    assert statuses(answers) == [400, 400, 400, 400, 200], answers
    return answers


@kind(TRANSPORT)
def content_length_that_is_no_decimal(server: ServerProcess) -> list[Answer]:
    lengths = [b"+2", b"0x2", b"2 2", b"2, 3"]
    answers = [raw_exchange(server, login(b"Content-Length: %s\r\n" % n, b"{}")) for n in lengths]
    assert statuses(answers) == [400] * len(lengths), answers
    return answers


@kind(TRANSPORT)
def obfuscated_transfer_encodings(server: ServerProcess) -> list[Answer]:
    # Go answers an unknown transfer coding with 501; a 4xx here.
    codings = [b"chunked, identity", b"xchunked", b"gzip", b"chunked\x0b"]
    answers = [
        raw_exchange(server, login(b"Transfer-Encoding: %s\r\n" % c, b"0\r\n\r\n")) for c in codings
    ]
    assert statuses(answers) == [400] * len(codings), answers
    return answers


@kind(TRANSPORT, refused=False)
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


@kind(TRANSPORT)
def body_longer_than_its_length(server: ServerProcess) -> list[Answer]:
    body = b'{"user": "admin", "password": "admin"}'
    answer = raw_exchange(server, login(b"Content-Length: 2\r\n", body))
    assert messages([answer]) == ["bad login data"], answer
    return [answer]


@kind(TRANSPORT, refused=False)
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


@kind(TRANSPORT)
def http2_connection_preface(server: ServerProcess) -> list[Answer]:
    return [raw_exchange(server, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]


@kind(TRANSPORT, refused=False)
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


@kind(TRANSPORT, refused=False)
def semicolons_and_empty_values_in_a_query(server: ServerProcess) -> list[Answer]:
    # Go's query parser drops a pair with a semicolon; an empty perpage is the default.
    targets = [b"/api/users/search?perpage=1;perpage=5", b"/api/users/search?query&perpage&page="]
    answers = [raw_exchange(server, get(target)) for target in targets]
    pages = [(json.loads(a.body)["perPage"], json.loads(a.body)["page"]) for a in answers]
    assert pages == [(1000, 1), (1000, 1)], pages
    return answers


@kind(TRANSPORT, refused=False)
def two_authorization_headers(server: ServerProcess) -> list[Answer]:
    junk = b"Authorization: Bearer junk\r\n"
    admin_line = f"Authorization: {ADMIN_BASIC}\r\n".encode()
    answers = [
        raw_exchange(server, get(b"/api/user", junk)),
        raw_exchange(server, get(b"/api/user").replace(admin_line, junk + admin_line)),
    ]
    assert statuses(answers) == [200, 401], answers  # the first header counts
    return answers


@kind(TRANSPORT, refused=False)
def thousands_of_cookies_and_odd_cookie_syntax(server: ServerProcess) -> list[Answer]:
    many = b"; ".join(b"c%d=v" % n for n in range(3000))
    odd = b'a="quoted"; =; ;;; a=b=c; \xff=\xfe; $Version=1; b'
    answers = [raw_exchange(server, get(b"/api/user", b"Cookie: %s\r\n" % c)) for c in (many, odd)]
    assert statuses(answers) == [200, 200], answers
    return answers


@kind(TRANSPORT, refused=False)
def org_header_values_that_are_no_org(server: ServerProcess) -> list[Answer]:
    values = [b"abc", b"99999999999999999999", b"1, 2", b"", b"0x1"]
    answers = [
        raw_exchange(server, get(b"/api/user", b"X-Grafana-Org-Id: %s\r\n" % v)) for v in values
    ]
    assert statuses(answers) == [200] * len(values), answers
    assert {json.loads(a.body)["orgId"] for a in answers} == {1}
    return answers


# -- the tests -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def running() -> Iterator[dict[str, ServerProcess]]:
    """The module's servers by backend, started on first use, checked at the end."""
    with running_servers() as servers:
        yield servers


@pytest.fixture
def sqlite_server(
    request: pytest.FixtureRequest, running: dict[str, ServerProcess]
) -> ServerProcess:
    return started(request, running, "sqlite")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TRANSPORT))
def test_hostile_http_is_refused_cleanly(name: str, sqlite_server: ServerProcess) -> None:
    check(TRANSPORT[name].send(sqlite_server), TRANSPORT[name].refused)
    still_healthy(sqlite_server)


def test_the_catalogue_has_at_least_sixty_kinds() -> None:
    assert len(DATA) + len(TRANSPORT) >= 60
