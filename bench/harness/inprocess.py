"""Time code in this process by CPU time (not wall time, so other jobs distort it less),
and send requests straight to an ASGI app with no HTTP server in between."""

from __future__ import annotations

import statistics
import time
from typing import Any


def per_call_us(fn: Any, n: int) -> float:
    """CPU µs per call (this process, all threads), median of 5 rounds of `n` calls: CPU
    time, not wall time, so other jobs on the machine distort it less."""
    fn()
    runs = []
    for _ in range(5):
        began = time.process_time()
        for _ in range(n):
            fn()
        runs.append((time.process_time() - began) / n * 1e6)
    return statistics.median(runs)


def asgi_call(app: Any, method: str, path: str, query: str = "", key: str = "",
              body: bytes = b"") -> Any:
    """A coroutine function sending one request straight to an ASGI app (no HTTP server)."""
    import asyncio

    headers = [(b"host", b"127.0.0.1")]
    if key:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    if body:
        headers += [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query.encode(), "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}

    async def call() -> None:
        sent = False
        status = [0]

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]

        await app(scope, receive, send)
        if status[0] != 200:
            raise RuntimeError(f"{method} {path} answered {status[0]} in-process")

    return call


async def async_per_call_us(call: Any, n: int) -> float:
    await call()
    runs = []
    for _ in range(5):
        began = time.process_time()
        for _ in range(n):
            await call()
        runs.append((time.process_time() - began) / n * 1e6)
    return statistics.median(runs)
