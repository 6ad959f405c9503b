"""`python -m bench.junk PLAN_JSON`: anonymous junk against a server on 127.0.0.1.

The soak (bench/soak.py) runs it as a process of its own, so the junk's work does not
disturb the timing of the normal traffic. Kinds of junk, each bounded by the plan's
rates and counts: random unmatched paths and methods; failed logins with long user names
(Basic auth and POST /login, unknown names and wrong passwords for one existing account);
stalled chunked and fixed-length uploads; slow request heads, abandoned; oversized bodies
and an oversized request head. Prints what each kind got back, by status, as JSON.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

VICTIM = "soak.victim"  # the existing account whose password the junk gets wrong
MIB = 1 << 20


@dataclass(frozen=True)
class JunkPlan:
    port: int
    seconds: float
    read_timeout: float
    path_rate: float = 40.0  # random paths per second
    login_rate: float = 5.0  # failed logins per second
    stalled: int = 6  # stalled uploads held open at once
    slow_heads: int = 6  # slow request heads at once
    slow_head_seconds: float = 15.0
    oversized_every: float = 2.0  # seconds between oversized requests


class Junk:
    def __init__(self, plan: JunkPlan) -> None:
        self.plan = plan
        self.statuses: Counter[str] = Counter()
        self.end = 0.0

    def note(self, kind: str, answer: bytes) -> None:
        line = answer.split(b"\r\n", 1)[0].split(b" ")
        status = line[1].decode(errors="replace") if len(line) > 1 else "no answer"
        self.statuses[f"{kind} {status}"] += 1

    async def exchange(self, kind: str, data: bytes, *, wait: float = 10.0) -> None:
        """Send `data` on a new connection and read the answer's first bytes."""
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.plan.port)
        except OSError as exc:
            self.statuses[f"{kind} connect {type(exc).__name__}"] += 1
            return
        try:
            writer.write(data)
            await writer.drain()
            self.note(kind, await asyncio.wait_for(reader.read(4096), wait))
        except (OSError, TimeoutError) as exc:
            self.statuses[f"{kind} {type(exc).__name__}"] += 1
        finally:
            writer.close()
            await asyncio.gather(writer.wait_closed(), return_exceptions=True)

    def running(self) -> bool:
        return time.monotonic() < self.end

    async def paced(self, rate: float, make: Callable[[], Any]) -> None:
        interval = 1 / rate
        tasks: set[asyncio.Task[None]] = set()
        while self.running():
            task = asyncio.create_task(make())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            await asyncio.sleep(interval)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def random_path(self) -> None:
        method = random.choice(["GET", "GET", "POST", "DELETE", f"X{secrets.token_hex(2).upper()}"])
        path = "/" + "/".join(secrets.token_hex(random.randint(2, 12)) for _ in range(3))
        if random.random() < 0.5:
            path = f"/api/users/{random.randint(1, 10**6)}/{secrets.token_hex(4)}"
        request = f"{method} {path} HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n"
        await self.exchange("path", request.encode())

    async def failed_login(self) -> None:
        known = random.random() < 0.2
        name = VICTIM if known else "u" + secrets.token_hex(random.randint(500, 50_000))
        password = "wrong-" + secrets.token_hex(8)
        if random.random() < 0.5:
            token = base64.b64encode(f"{name}:{password}".encode()).decode()
            request = (
                f"GET /api/user HTTP/1.1\r\nHost: soak\r\nAuthorization: Basic {token}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            await self.exchange("basic", request)
        else:
            body = json.dumps({"user": name, "password": password}).encode()
            request = (
                "POST /login HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            await self.exchange("login", request + body)

    async def stalled_upload(self) -> None:
        chunked = random.random() < 0.5
        framing = "Transfer-Encoding: chunked" if chunked else "Content-Length: 100000"
        head = (
            "POST /api/admin/users HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n"
            f"{framing}\r\n\r\n"
        ).encode()
        start = b'400\r\n{"login": "' if chunked else b'{"login": "'
        await self.exchange("stalled", head + start, wait=self.plan.read_timeout + 15)

    async def slow_head(self) -> None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", self.plan.port)
        except OSError as exc:
            self.statuses[f"slow-head connect {type(exc).__name__}"] += 1
            return
        try:
            writer.write(b"GET /api/user HTTP/1.1\r\nHost: soak\r\n")
            until = time.monotonic() + self.plan.slow_head_seconds
            while time.monotonic() < until and self.running():
                writer.write(f"X-Slow-{secrets.token_hex(2)}: {secrets.token_hex(4)}\r\n".encode())
                await writer.drain()
                await asyncio.sleep(1)
            self.statuses["slow-head abandoned"] += 1
        except OSError as exc:
            self.statuses[f"slow-head {type(exc).__name__}"] += 1
        finally:
            writer.close()
            await asyncio.gather(writer.wait_closed(), return_exceptions=True)

    async def oversized(self) -> None:
        if random.random() < 0.3:  # a request head beyond 1 MiB: 431
            padding = "X-Pad: " + "p" * (MIB + 1024)
            request = f"GET /api/user HTTP/1.1\r\nHost: soak\r\n{padding}\r\n\r\n".encode()
            await self.exchange("big-head", request)
            return
        size = 4 * MIB
        head = (
            "POST /api/admin/users HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\nConnection: close\r\n\r\n"
        ).encode()
        body = b'{"login": "' + b"b" * (size - 13) + b'"}'
        await self.exchange("big-body", head + body)

    async def held(self, count: int, make: Callable[[], Any]) -> None:
        async def worker() -> None:
            while self.running():
                await make()

        await asyncio.gather(*(worker() for _ in range(count)))

    async def run(self) -> dict[str, Any]:
        self.end = time.monotonic() + self.plan.seconds
        started = time.monotonic()
        await asyncio.gather(
            self.paced(self.plan.path_rate, self.random_path),
            self.paced(self.plan.login_rate, self.failed_login),
            self.paced(1 / self.plan.oversized_every, self.oversized),
            self.held(self.plan.stalled, self.stalled_upload),
            self.held(self.plan.slow_heads, self.slow_head),
        )
        return {"seconds": round(time.monotonic() - started, 1), "answers": dict(self.statuses)}


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    plan = JunkPlan(**json.loads(args[0]))
    print(json.dumps(asyncio.run(Junk(plan).run())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
