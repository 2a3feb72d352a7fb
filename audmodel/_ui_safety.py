"""What keeps the catalog safe to leave running on a machine.

Any web page the user visits can send requests to a server on this
machine. So the catalog

* answers only to the host names it was started for (the address it
  listens on, ``localhost`` and the loopback addresses, and names allowed
  with ``--allow-host``): a page that rebinds its own name to 127.0.0.1
  (DNS rebinding) gets 400 and reads nothing;
* bounds the query string and each parameter in it, so that a request
  cannot make it render a page a hundred times its size;
* sends the headers that keep its pages inert: no script but its own
  file, no frame, no referrer, no guessing of content types.

:class:`Guard` does all three around the catalog's application, as plain
ASGI, so that it needs nothing of the web framework.
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
import html
import ipaddress
import json
from typing import Any
import urllib.parse


MAX_QUERY = 4096
r"""Bytes a query string may have."""

MAX_VALUE = 256
r"""Characters a query parameter's value may have."""

MAX_PARAMETERS = 64
r"""Parameters a query string may have."""

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")

HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; "
        b"img-src 'self' data:; connect-src 'self'; form-action 'self'; "
        b"base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def allowed_hosts(host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    r"""The host names a catalog listening on ``host`` answers to.

    Examples:
        >>> sorted(allowed_hosts("127.0.0.1", ["models.example.com"]))
        ['127.0.0.1', '::1', 'localhost', 'models.example.com']

    """
    names = {*LOOPBACK_NAMES, *extra}
    if not is_unspecified(host):  # 0.0.0.0 is never a Host header
        names.add(host)
    return frozenset(name.lower().strip("[]") for name in names)


def is_loopback(host: str) -> bool:
    r"""Tell if ``host`` can be reached only from this machine.

    Examples:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)

    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def host_name(header: str) -> str:
    r"""The name in a ``Host`` header, without its port.

    Examples:
        >>> host_name("Localhost:8765"), host_name("[::1]:8765"), host_name("::1")
        ('localhost', '::1', '::1')

    """
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    if header.count(":") == 1:
        return header.split(":")[0]
    return header


def refusal(scope: Scope, hosts: frozenset[str] | None) -> tuple[int, str, str] | None:
    r"""Why a request is refused: status, title and detail; ``None`` if it is not.

    ``hosts`` ``None`` checks no ``Host`` header (an application in a test).

    """
    headers = dict(scope.get("headers") or [])
    if hosts is not None:
        name = host_name(headers.get(b"host", b"").decode("latin-1"))
        if name not in hosts:
            return (
                400,
                "Unknown host",
                f"This catalog does not answer to the host name '{name}'. "
                "Start it with --allow-host NAME to allow a name.",
            )
    query: bytes = scope.get("query_string") or b""
    if len(query) > MAX_QUERY:
        return (
            414,
            "Query too long",
            f"The query string has {len(query)} bytes; at most {MAX_QUERY} are read.",
        )
    pairs = urllib.parse.parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    if len(pairs) > MAX_PARAMETERS:
        return (
            400,
            "Too many parameters",
            f"The query has {len(pairs)} parameters; at most {MAX_PARAMETERS} "
            "are read.",
        )
    for key, value in pairs:
        if len(value) > MAX_VALUE:
            return (
                400,
                "Parameter too long",
                f"The value of '{key[:40]}' has {len(value)} characters; "
                f"at most {MAX_VALUE} are read.",
            )
    return None


class Guard:
    r"""ASGI middleware: refuse unknown hosts and huge queries, add safe headers.

    Args:
        app: the catalog's ASGI application
        hosts: host names to answer to, see :func:`allowed_hosts`;
            ``None`` answers to any (for tests that call the application
            in the same process)

    """

    def __init__(self, app: Callable, hosts: frozenset[str] | None):
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = refusal(scope, self.hosts)
        if refused is not None:
            await _error(scope, send, *refused)
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


async def _error(
    scope: Scope, send: Send, status: int, title: str, detail: str
) -> None:
    r"""A refusal: JSON for the ``/api/`` twin, else a small page with a link back."""
    if str(scope.get("path", "")).startswith("/api/"):
        body = json.dumps({"error": title, "detail": detail}).encode()
        kind = b"application/json"
    else:
        body = (
            "<!doctype html><meta charset=utf-8><title>"
            f"{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(detail)}</p><p><a href=/models>All models</a></p>"
        ).encode()
        kind = b"text/html; charset=utf-8"
    headers = [
        (b"content-type", kind),
        (b"content-length", str(len(body)).encode()),
        *HEADERS,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
