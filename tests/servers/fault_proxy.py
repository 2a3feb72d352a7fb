"""An HTTP proxy on 127.0.0.1 that injects faults between a client and a server.

It forwards requests to an upstream server and relays the answers, except
for requests matched by a rule: those get a 500 error in S3's XML shape, or
a 403 error (access denied, as for a user without the right),
or the upstream answer cut off half-way through its body, with the connection
closed (a dropped connection).
"""

from __future__ import annotations

import dataclasses
import http.client
import http.server
import threading
import time

from servers.local_http import QuietHandler
from servers.local_http import serve_in_thread


@dataclasses.dataclass
class Rule:
    action: str  # "500", "403" or "drop"
    times: int  # how many matching requests; -1 for all
    method: str | None
    path: str | None  # a part of the request path
    min_range: int = 0  # if set, only reads of a range 'a-b' this long or longer


class FaultProxy:
    def __init__(self, upstream: str):
        host, port = upstream.split("://", 1)[1].split(":")
        self.upstream = (host, int(port))
        self.rules: list[Rule] = []
        self.faults = 0
        self.sent = 0  # bytes of response bodies relayed, also those cut off
        self.requests: list[tuple[str, str]] = []  # method and path of each
        self.delay = 0.0  # seconds each request is held, as by a distant server
        self.lock = threading.Lock()
        proxy = self

        class Handler(_Handler):
            pass

        Handler.proxy = proxy
        self._server = serve_in_thread(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def inject(
        self,
        action: str,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        min_range: int = 0,
    ) -> None:
        with self.lock:
            self.rules.append(Rule(action, times, method, path, min_range))

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def match(
        self, method: str, path: str, byte_range: str | None = None
    ) -> str | None:
        with self.lock:
            for rule in self.rules:
                if rule.times == 0:
                    continue
                if rule.method not in (None, method):
                    continue
                if rule.path is not None and rule.path not in path:
                    continue
                if rule.min_range and _range_length(byte_range) < rule.min_range:
                    continue
                if rule.times > 0:
                    rule.times -= 1
                self.faults += 1
                return rule.action
        return None

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _range_length(byte_range: str | None) -> int:
    """Bytes asked for by a Range header 'bytes=a-b'; 0 for any other."""
    if not byte_range or not byte_range.startswith("bytes="):
        return 0
    first, _, last = byte_range[len("bytes=") :].partition("-")
    if not first.isdigit() or not last.isdigit():
        return 0
    return int(last) - int(first) + 1


class _Handler(QuietHandler):
    proxy: FaultProxy

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length", 0) or 0)
        body = self.rfile.read(length) if length else None
        if self.proxy.delay:
            time.sleep(self.proxy.delay)
        with self.proxy.lock:
            self.proxy.requests.append((self.command, self.path))
        action = self.proxy.match(self.command, self.path, self.headers.get("Range"))
        if action in ("500", "403"):
            code = b"InternalError" if action == "500" else b"AccessDenied"
            payload = (
                b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>'
                + code
                + b"</Code><Message>Injected fault</Message></Error>"
            )
            self.send_response(int(action))
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        upstream = http.client.HTTPConnection(*self.proxy.upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        upstream.close()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in (
                "connection",
                "transfer-encoding",
                "content-length",
            ):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if action == "drop" and data:
            with self.proxy.lock:
                self.proxy.sent += len(data) // 2
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        with self.proxy.lock:
            self.proxy.sent += len(data)
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay  # noqa: N815
