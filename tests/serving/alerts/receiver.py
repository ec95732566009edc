"""A real webhook receiver on 127.0.0.1 that verifies every delivery with `standardwebhooks`.

It answers from a script (status, headers) per request, then 204 once the script is
spent, and keeps what it got: the headers, the body, and whether the signature verified.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool


@dataclass
class Receiver:
    url: str
    script: list[tuple[int, dict[str, str]]]
    got: list[Received] = field(default_factory=list)
    on_request: Callable[[Received], None] | None = None

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.got]


@contextmanager
def receiver(script: list[tuple[int, dict[str, str]]] | None = None,
             secret: str = SECRET) -> Iterator[Receiver]:
    verifier = Webhook(secret)
    state = Receiver("", list(script or []))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                verifier.verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
            got = Received(headers, body, verified)
            with lock:
                state.got.append(got)
                status, extra = state.script.pop(0) if state.script else (204, {})
            if state.on_request is not None:
                state.on_request(got)
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/churnlens"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
