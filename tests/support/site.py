"""A real HTTP server on loopback that serves pages a test puts on it.

Each route is a `Page` (status, headers, body bytes, optional delay) or a callable that builds one
from the request; every request is logged so a test can count what the crawler fetched. It runs in
a thread and binds port 0, so tests never collide.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Page:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (slow server)
    etag: str | None = None  # answer 304 when the request's If-None-Match equals it
    last_modified: float | None = None  # epoch seconds; answer 304 on If-Modified-Since


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    at: float


Handler = Callable[[Request], Page]


def html_page(body: str, charset: str = "utf-8", declare: str | None = None) -> Page:
    """An HTML page encoded in `charset`; `declare` sets the Content-Type charset ('' for none)."""
    declared = charset if declare is None else declare
    ctype = "text/html" + (f"; charset={declared}" if declared else "")
    return Page(body=body.encode(charset), headers={"Content-Type": ctype})


class LocalSite:
    def __init__(self) -> None:
        self.routes: dict[str, Page | Handler] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        site = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                self._answer(head=True)

            def do_GET(self) -> None:
                self._answer(head=False)

            def _answer(self, head: bool) -> None:
                req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, time.time())
                with site._lock:
                    site.requests.append(req)
                route = site.routes.get(self.path) or site.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    page = Page(b"not found", 404, {"Content-Type": "text/plain"})
                elif callable(route):
                    page = route(req)
                else:
                    page = route
                if page.delay:
                    time.sleep(page.delay)
                status, body = page.status, page.body
                headers = dict(page.headers)
                if page.etag:
                    headers["ETag"] = page.etag
                    if req.headers.get("if-none-match") == page.etag:
                        status, body = 304, b""
                if page.last_modified is not None:
                    headers["Last-Modified"] = formatdate(page.last_modified, usegmt=True)
                    if req.headers.get("if-modified-since") == headers["Last-Modified"]:
                        status, body = 304, b""
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if not head and body:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, page: Page | Handler | bytes | str, **kw: object) -> str:
        if isinstance(page, str):
            page = html_page(page)
        elif isinstance(page, bytes):
            page = Page(page, headers={"Content-Type": "text/html"}, **kw)  # type: ignore[arg-type]
        self.routes[path] = page
        return self.url(path)

    def add_file(self, path: str, file: Path, content_type: str = "text/html") -> str:
        return self.add(path, Page(file.read_bytes(), headers={"Content-Type": content_type}))

    def fetched(self, path: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def start(self) -> LocalSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
