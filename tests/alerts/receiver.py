"""A real HTTP server on loopback that takes webhook POSTs and answers like a chosen robot.

Each path has a behaviour: a callable taking the received post and returning a `Reply` (status,
JSON or text body, headers, delay before answering). Every post is kept, parsed, so a test can check
exactly what a robot received. Threaded, port 0.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Posted:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw: bytes


@dataclass
class Reply:
    body: Any = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Behaviour = Callable[[Posted], Reply]


class Receiver:
    def __init__(self) -> None:
        self.routes: dict[str, Behaviour] = {}
        self.posts: list[Posted] = []
        self.lock = threading.Lock()
        recv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                try:
                    body = json.loads(raw.decode("utf-8"))
                except ValueError:
                    body = None
                posted = Posted(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}, {k.lower(): v for k, v in self.headers.items()}, body, raw)
                behaviour = recv.routes.get(parts.path)
                reply = behaviour(posted) if behaviour else Reply({"error": "no such hook"}, 404)
                if reply.delay:
                    time.sleep(reply.delay)  # a slow robot: the server thread waits, the client times out
                with recv.lock:
                    recv.posts.append(posted)
                data = reply.body if isinstance(reply.body, bytes) else (json.dumps(reply.body).encode() if not isinstance(reply.body, str) else reply.body.encode())
                try:
                    self.send_response(reply.status)
                    for k, v in {"Content-Type": "application/json", **reply.headers}.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str, behaviour: Behaviour) -> str:
        self.routes[path] = behaviour
        return self.url(path)

    def received(self, path: str) -> list[Posted]:
        with self.lock:
            return [p for p in self.posts if p.path == path]

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
