"""A small threaded HTTP server on 127.0.0.1 that misbehaves as each test asks.

Real sockets, real timeouts: the provider clients talk to it exactly as they
talk to Twilio. Requests that match ``fault_on`` get the chosen :class:`Fault`;
the others get the ``healthy`` answer (a code sent, a code checked), so a test
can break one endpoint while the rest of the login works.

    server = FaultServer(healthy=authy_healthy)
    server.fail(Fault.hang(), on=lambda seen: "/verify/" in seen.path)
    ...
    server.count("/verify/")   # requests that reached the server
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: How long a "hanging" or "dripping" answer lasts at most, so that no test can
#: hang forever (far longer than any client timeout the tests configure).
MAX_STALL_SECONDS = 5.0


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Fault:
    """What the server does instead of answering properly."""

    kind: str
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    interval: float = 0.1  # seconds between dripped bytes
    duration: float = MAX_STALL_SECONDS  # how long a drip or a hang lasts at most

    # -- the catalogue -------------------------------------------------------------------

    @classmethod
    def hang(cls) -> Fault:
        """Read the request, then say nothing (the client's read timeout fires)."""
        return cls("hang")

    @classmethod
    def reset(cls) -> Fault:
        """Read the request, then reset the connection (SO_LINGER 0: a TCP RST)."""
        return cls("reset")

    @classmethod
    def close(cls) -> Fault:
        """Read the request, then close the connection without a byte of answer."""
        return cls("close")

    @classmethod
    def drip_body(cls, body: bytes = b'{"success": true, "token": "is valid"}') -> Fault:
        """Headers at once, then the body one byte at a time (each byte within the timeout)."""
        return cls("drip_body", body=body)

    @classmethod
    def drip_headers(cls, duration: float = 2.5) -> Fault:
        """The status line and headers one byte at a time, then a valid-looking body."""
        return cls("drip_headers", body=b'{"success": true}', duration=duration)

    @classmethod
    def truncated(cls, body: bytes = b'{"success": true, "token": "is va') -> Fault:
        """A Content-Length larger than the body, then the connection closes."""
        return cls("truncated", body=body)

    @classmethod
    def answer(
        cls,
        status: int,
        body: bytes | str | Any = b"",
        *,
        content_type: str = "application/json",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Fault:
        """A complete answer: any status, any body (a non-bytes body is sent as JSON)."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, bytes):
            body = json.dumps(body).encode("utf-8")
        if body:
            headers = (("Content-Type", content_type), *headers)
        return cls("answer", status=status, body=body, headers=headers)

    @classmethod
    def redirect(cls, location: str) -> Fault:
        return cls.answer(302, b"", headers=(("Location", location),))


Healthy = Callable[[Seen], tuple[int, Any]]


@dataclass
class _State:
    seen: list[Seen] = field(default_factory=list)
    fault: Fault | None = None
    fault_on: Callable[[Seen], bool] = lambda seen: True


class FaultServer:
    """The server; start it with ``with FaultServer(...) as server:``."""

    def __init__(self, healthy: Healthy | None = None, host: str = "127.0.0.1") -> None:
        self.healthy = healthy or (lambda seen: (404, {"message": "not found"}))
        self._state = _State()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._httpd = _Server((host, 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    # -- life cycle -----------------------------------------------------------------------

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._release.set()  # let hanging and dripping handlers finish
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- behaviour --------------------------------------------------------------------------

    def fail(self, fault: Fault, on: Callable[[Seen], bool] | str | None = None) -> None:
        """Answer requests that match ``on`` (a callable, or a regex on the path) with ``fault``."""
        if isinstance(on, str):
            pattern = re.compile(on)
            predicate: Callable[[Seen], bool] = lambda seen: bool(pattern.search(seen.path))  # noqa: E731
        else:
            predicate = on or (lambda seen: True)
        with self._lock:
            self._state.fault, self._state.fault_on = fault, predicate

    def heal(self) -> None:
        with self._lock:
            self._state.fault = None

    # -- what happened ------------------------------------------------------------------------

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._state.seen)

    def count(self, path_pattern: str = "") -> int:
        """Requests received so far (whose path matches ``path_pattern``, a regex)."""
        pattern = re.compile(path_pattern)
        return sum(1 for seen in self.seen if pattern.search(seen.path))

    # -- called by the handler ------------------------------------------------------------------

    def _record(self, seen: Seen) -> Fault | None:
        with self._lock:
            self._state.seen.append(seen)
            fault = self._state.fault
            if fault is not None and self._state.fault_on(seen):
                return fault
            return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    owner: FaultServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up mid-answer is the point of these tests, not an error.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    # -- dispatch -------------------------------------------------------------------------------

    def _serve(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        content_type = self.headers.get("Content-Type", "")
        form = {}
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
        seen = Seen(
            method=self.command,
            path=parts.path,
            query={k: v[0] for k, v in parse_qs(parts.query).items()},
            form=form,
            body=body,
            headers=dict(self.headers.items()),
        )
        fault = owner._record(seen)
        self.close_connection = True
        try:
            if fault is None:
                status, answer = owner.healthy(seen)
                self._write_answer(status, json.dumps(answer).encode(), "application/json")
            else:
                getattr(self, f"_fault_{fault.kind}")(fault)
        except OSError:  # the client hung up: expected when it times out
            pass

    def _head(self, status: int, headers: tuple[tuple[str, str], ...], length: int) -> bytes:
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('Status',))[0]}"]
        lines += [f"{name}: {value}" for name, value in headers]
        lines += [f"Content-Length: {length}", "Connection: close", "", ""]
        return "\r\n".join(lines).encode("latin-1")

    def _write_answer(self, status: int, body: bytes, content_type: str = "") -> None:
        headers = (("Content-Type", content_type),) if content_type and body else ()
        self.wfile.write(self._head(status, headers, len(body)) + body)

    def _stall(self, seconds: float) -> bool:
        """Wait; False when the server is shutting down."""
        return not self.server.owner._release.wait(seconds)

    # -- faults ---------------------------------------------------------------------------------

    def _fault_answer(self, fault: Fault) -> None:
        self.wfile.write(self._head(fault.status, fault.headers, len(fault.body)) + fault.body)

    def _fault_hang(self, fault: Fault) -> None:
        self._stall(fault.duration)

    def _fault_reset(self, fault: Fault) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _fault_close(self, fault: Fault) -> None:
        self.connection.shutdown(socket.SHUT_RDWR)

    def _fault_truncated(self, fault: Fault) -> None:
        headers = (("Content-Type", "application/json"),)
        self.wfile.write(self._head(200, headers, len(fault.body) + 100) + fault.body)
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)

    def _fault_drip_body(self, fault: Fault) -> None:
        headers = (("Content-Type", "application/json"),)
        self.wfile.write(self._head(200, headers, len(fault.body)))
        self._drip(fault.body, fault)

    def _fault_drip_headers(self, fault: Fault) -> None:
        status_line = b"HTTP/1.1 200 OK\r\n"
        self.wfile.write(status_line)
        # One header whose bytes arrive one by one for ``duration``, then a complete answer.
        padding = max(int(fault.duration / fault.interval) - len(b"X-Slow: \r\n"), 1)
        self._drip(b"X-Slow: " + b"a" * padding + b"\r\n", fault)
        rest = self._head(200, (("Content-Type", "application/json"),), len(fault.body))
        self.wfile.write(rest[len(status_line) :] + fault.body)

    def _drip(self, data: bytes, fault: Fault) -> None:
        started = time.monotonic()
        for index in range(len(data)):
            self.wfile.write(data[index : index + 1])
            if time.monotonic() - started > MAX_STALL_SECONDS or not self._stall(fault.interval):
                return
