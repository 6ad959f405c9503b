"""uvicorn's HTTP/1.1 protocol (httptools) with two guards it lacks.

* A request's head - request line and headers - may be at most 1 MiB, as Go's net/http
  (Grafana's server) allows by default; beyond that the answer is 431 and the connection
  closes. httptools itself buffers a head of any size, so one client could fill memory.
* Requests the HTTP parser refuses get the API's JSON error body, not uvicorn's plain text.
* A request head Go's net/http refuses is refused here too, with its words: an HTTP/1.1
  request without a Host header, with two, or with a byte no host name has; a request
  line without a version (HTTP/0.9).
* An `Upgrade` header (websocket, h2c) is ignored, as Go's server ignores it: the API has
  no WebSocket endpoint, and uvicorn would answer an empty 403.

`python -m handlers` serves with `HTTP_PROTOCOL`.
"""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HTTP_PROTOCOL = f"{__name__}:GuardedHttpToolsProtocol"
MAX_HEAD_BYTES = 1 << 20
CLOSE_DELAY = 1.0  # seconds a rejected connection drains before it closes
# The bytes Go's httpguts.ValidHostHeader takes in a Host header.
HOST_BYTES = frozenset(
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!$%&()*+,-.:;=[]'_~"
)


class _Refused(Exception):
    pass


def go_refusal(http_version: str, method: bytes, headers: list[tuple[bytes, bytes]]) -> str | None:
    """Why Go's net/http (readRequest) refuses a request head that httptools takes, if so."""
    if http_version == "0.9":
        return "malformed HTTP request"
    hosts = [value for name, value in headers if name == b"host"]
    if len(hosts) > 1:
        return "too many Host headers"
    if not hosts and http_version != "1.0" and method != b"CONNECT":
        return "missing required Host header"
    if hosts and not HOST_BYTES.issuperset(hosts[0]):
        return "malformed Host header"
    return None


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_head = True  # between the end of one request and the next one's headers
        self.head_bytes = 0
        self.rejected = False
        self.refusal: str | None = None

    def data_received(self, data: bytes) -> None:
        if self.rejected:
            return
        if self.in_head:
            self.head_bytes += len(data)
            if self.head_bytes > MAX_HEAD_BYTES:
                self.reject(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large")
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self.in_head, self.head_bytes = False, 0
        self.refusal = go_refusal(
            self.parser.get_http_version(), self.parser.get_method(), self.headers
        )
        if self.refusal is not None:
            raise _Refused()  # the parser stops; uvicorn calls send_400_response
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.in_head = True
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        self.reject(HTTPStatus.BAD_REQUEST, self.refusal or msg)

    def _should_upgrade_to_ws(self) -> bool:
        return False

    def _unsupported_upgrade_warning(self) -> None:
        pass  # an Upgrade header is ignored, as Go ignores it; nothing to log per request

    def reject(self, status: HTTPStatus, message: str) -> None:
        """Answer with a JSON error and close the connection. The close waits a moment,
        reading and dropping what the client still sends: closing with unread data would
        reset the connection and the client might never read the answer."""
        self.rejected = True
        body = json.dumps({"message": message}).encode()
        head = [f"HTTP/1.1 {status.value} {status.phrase}".encode()]
        head += [name + b": " + value for name, value in self.server_state.default_headers]
        head += [
            b"content-type: application/json",
            b"content-length: " + str(len(body)).encode(),
            b"connection: close",
        ]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(CLOSE_DELAY, self.transport.close)
