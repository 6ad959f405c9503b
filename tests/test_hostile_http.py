"""Hostile HTTP (heads, framing, 100 MB bodies, slow clients) against the real server, once."""

from __future__ import annotations

import base64
import socket
import threading
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

ADMIN_BASIC = "Basic " + base64.b64encode(b"admin:admin").decode()

TRANSPORT: dict[str, Kind] = {}


def raw_exchange(server: ServerProcess, data: bytes) -> Answer:
    """Send bytes as they are; parse the status line and body of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        return read_answer(sock)


def read_answer(sock: socket.socket) -> Answer:
    return read_answers(sock, 1)[0]


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


# -- the tests -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TRANSPORT))
def test_hostile_http_is_refused_cleanly(name: str, sqlite_server: ServerProcess) -> None:
    check(TRANSPORT[name].send(sqlite_server), TRANSPORT[name].refused)
    still_healthy(sqlite_server)
