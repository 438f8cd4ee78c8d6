"""A tiny harness: serve a Starlette app with uvicorn on an ephemeral loopback port.

The clients under test talk to it over a real TCP socket, exactly as they talk to the real
hosts; nothing in the client is replaced.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send


class ManualClock:
    """A clock the test moves by hand (any object with ``now()`` will do for the routes)."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Run ``app`` on 127.0.0.1:<free port> in a thread; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10.0
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the loopback server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10.0)
        sock.close()


class RequestLog:
    """ASGI wrapper that records each HTTP request: path, query string and headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.requests.append((scope["path"], scope["query_string"].decode(), headers))
        await self.app(scope, receive, send)

    def paths(self) -> list[str]:
        return [path for path, _, _ in self.requests]
