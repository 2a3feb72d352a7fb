"""An emulator of the part of Artifactory's REST API that audmodel uses.

A threaded HTTP server on 127.0.0.1 that keeps local repositories in
memory and answers as Artifactory does, with its status codes and JSON
shapes, for the calls dohq-artifactory makes:

* ``GET|PUT|DELETE /artifactory/api/repositories/<repo>``: repository
  lookup, creation and removal (``GET /api/repositories`` lists them);
* ``GET /artifactory/api/storage/<repo>/<path>``: storage information of a
  file (size, checksums, dates, users) or folder (its children);
* ``PUT /artifactory/<repo>/<path>``: deploy, checking the ``X-Checksum-Md5``,
  ``X-Checksum-Sha1`` and ``X-Checksum-Sha256`` headers against the content
  (409 when one differs), with deploy by checksum
  (``X-Checksum-Deploy: true``); a path ending in ``/`` creates a folder;
* ``GET /artifactory/api/storage/<repo>/<folder>?list&deep=1``: the file
  list API, every file below a folder (``listFolders=1`` adds folders);
* ``GET|HEAD /artifactory/<repo>/<path>``: download, with checksum headers,
  and parts of files by ``Range: bytes=<first>-<last>`` or ``bytes=-<n>``
  (206 with ``Content-Range``; 416 if no byte is in the range);
* ``DELETE /artifactory/<repo>/<path>``: removal of a file or folder.

Missing items answer 404 ``{"errors": [{"status": 404, "message": ...}]}``.
Users authenticate by HTTP basic authentication (user name and API key),
the ``X-JFrog-Art-Api`` header, or a bearer token equal to an API key.
Wrong credentials answer 401; so does anonymous access when it is off; a
user without write permission gets 403 on writes.

Not emulated: AQL, properties (matrix parameters are accepted and
ignored), the copy and move APIs, the file list API's ``depth`` and
``mdTimestamps``, download statistics, checksum search, archive download,
remote and virtual repositories, repository layouts, permission targets
(each user has one global level: read or write), the token and security
APIs, builds, replication, multi-part ranges, conditional requests, archive
explosion, and quotas. Folders are created implicitly by deploys, as by Artifactory.

"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import http.server
import json
import threading
import urllib.parse

from servers.local_http import QuietHandler
from servers.local_http import serve_in_thread


PREFIX = "/artifactory"


@dataclasses.dataclass
class Item:
    data: bytes
    created: str
    created_by: str
    modified: str
    modified_by: str

    @property
    def checksums(self) -> dict[str, str]:
        return {
            "sha1": hashlib.sha1(self.data).hexdigest(),
            "md5": hashlib.md5(self.data).hexdigest(),
            "sha256": hashlib.sha256(self.data).hexdigest(),
        }


class HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def now() -> str:
    moment = datetime.datetime.now(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Emulator:
    """In-memory Artifactory with local repositories.

    Args:
        users: user name -> (API key, ``"read"`` or ``"write"``)
        anonymous: permission of anonymous requests, ``None`` for none

    """

    def __init__(
        self,
        users: dict[str, tuple[str, str]] | None = None,
        anonymous: str | None = None,
    ):
        self.users = users or {}
        self.anonymous = anonymous
        self.repositories: dict[str, dict[str, Item]] = {}
        self.folders: dict[str, set[str]] = {}
        self.requests: list[tuple[str, str]] = []
        self.faults: list[tuple[str | None, int]] = []
        self.corrupt_downloads = 0  # archive downloads still to corrupt
        self.lock = threading.RLock()
        self._server: http.server.ThreadingHTTPServer | None = None

    # --- control from tests -------------------------------------------------

    def start(self) -> Emulator:
        emulator = self

        class Handler(_Handler):
            pass

        Handler.emulator = emulator
        self._server = serve_in_thread(Handler)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{PREFIX}"

    def create_repository(self, name: str) -> None:
        with self.lock:
            self.repositories.setdefault(name, {})
            self.folders.setdefault(name, set())

    def fail_next(self, status: int, times: int = 1, method: str | None = None) -> None:
        """Answer the next ``times`` requests (of ``method``) with ``status``."""
        with self.lock:
            self.faults += [(method, status)] * times

    # --- requests -----------------------------------------------------------

    def authorize(self, headers, write: bool) -> str:
        """The user of a request; raise 401 or 403 as Artifactory does."""
        user = self._user(headers)
        if user is None:
            level = self.anonymous
            name = "anonymous"
        else:
            name, level = user
        if level is None:
            raise HTTPError(
                401,
                "Bad credentials" if name != "anonymous" else "Unauthorized",
                {"WWW-Authenticate": 'Basic realm="Artifactory Realm"'},
            )
        if write and level != "write":
            raise HTTPError(403, "Forbidden")
        return name

    def _user(self, headers) -> tuple[str, str | None] | None:
        authorization = headers.get("Authorization", "")
        api_key = headers.get("X-JFrog-Art-Api")
        if authorization.startswith("Basic "):
            try:
                decoded = base64.b64decode(authorization[6:]).decode()
            except ValueError:
                return ("?", None)
            name, _, secret = decoded.partition(":")
            if name == "anonymous" and not secret:
                return None
            key, level = self.users.get(name, (None, None))
            return (name, level) if key is not None and secret == key else (name, None)
        token = api_key or (
            authorization[7:] if authorization.startswith("Bearer ") else None
        )
        if token is not None:
            for name, (key, level) in self.users.items():
                if token == key:
                    return name, level
            return ("?", None)
        return None

    def take_fault(self, method: str) -> int | None:
        with self.lock:
            for index, (fault_method, status) in enumerate(self.faults):
                if fault_method in (None, method):
                    del self.faults[index]
                    return status
        return None

    def repository(self, name: str) -> dict[str, Item]:
        if name not in self.repositories:
            raise HTTPError(404, "Unable to find item")
        return self.repositories[name]

    def folder_exists(self, repo: str, path: str) -> bool:
        if path == "":
            return True
        prefix = path + "/"
        return path in self.folders[repo] or any(
            p.startswith(prefix)
            for p in [*self.repositories[repo], *self.folders[repo]]
        )

    def children(self, repo: str, path: str) -> list[dict]:
        prefix = f"{path}/" if path else ""
        names: dict[str, bool] = {}
        for item in [*self.repositories[repo], *self.folders[repo]]:
            if item.startswith(prefix) and item != path:
                rest = item[len(prefix) :]
                first, slash, _ = rest.partition("/")
                folder = bool(slash) or item in self.folders[repo]
                names[first] = names.get(first, False) or folder
        return [
            {"uri": f"/{name}", "folder": folder}
            for name, folder in sorted(names.items())
        ]

    def file_list(self, repo: str, path: str, deep: bool, folders: bool) -> dict:
        """The answer of the file list API for a folder."""
        files = self.repository(repo)
        if path in files or not self.folder_exists(repo, path):
            raise HTTPError(404, "Could not locate folder")
        prefix = f"{path}/" if path else ""
        found = []
        for item in sorted(files):
            rest = item.removeprefix(prefix)
            if item.startswith(prefix) and (deep or "/" not in rest):
                data = files[item]
                found.append(
                    {
                        "uri": f"/{rest}",
                        "size": len(data.data),
                        "lastModified": data.modified,
                        "folder": False,
                        "sha1": data.checksums["sha1"],
                        "sha2": data.checksums["sha256"],
                    }
                )
        if folders:
            below = {c["uri"] for c in self.children(repo, path) if c["folder"]}
            found += [{"uri": uri, "folder": True} for uri in sorted(below)]
        return {
            "uri": f"{self.url}/api/storage/{repo}/{path}".rstrip("/"),
            "created": now(),
            "files": found,
        }

    def storage_info(self, repo: str, path: str) -> dict:
        files = self.repository(repo)
        uri = f"{self.url}/api/storage/{repo}/{path}".rstrip("/")
        if path in files:
            item = files[path]
            return {
                "repo": repo,
                "path": f"/{path}",
                "created": item.created,
                "createdBy": item.created_by,
                "lastModified": item.modified,
                "modifiedBy": item.modified_by,
                "lastUpdated": item.modified,
                "downloadUri": f"{self.url}/{repo}/{path}",
                "mimeType": "application/octet-stream",
                "size": str(len(item.data)),
                "checksums": item.checksums,
                "originalChecksums": item.checksums,
                "uri": uri,
            }
        if self.folder_exists(repo, path):
            stamp = now()
            return {
                "repo": repo,
                "path": f"/{path}",
                "created": stamp,
                "lastModified": stamp,
                "lastUpdated": stamp,
                "children": self.children(repo, path),
                "uri": uri,
            }
        raise HTTPError(404, "Unable to find item")

    def deploy(self, repo: str, path: str, data: bytes, headers, user: str) -> dict:
        files = self.repository(repo)
        if headers.get("X-Checksum-Deploy", "").lower() == "true":
            wanted = headers.get("X-Checksum-Sha256") or headers.get("X-Checksum-Sha1")
            found = [
                item.data
                for items in self.repositories.values()
                for item in items.values()
                if wanted in item.checksums.values()
            ]
            if not found:
                raise HTTPError(404, f"Checksum deploy failed: no content for {wanted}")
            data = found[0]
        actual = {
            "md5": hashlib.md5(data).hexdigest(),
            "sha1": hashlib.sha1(data).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        for kind, value in actual.items():
            sent = headers.get(f"X-Checksum-{kind.capitalize()}")
            if sent and sent.lower() != value:
                raise HTTPError(
                    409,
                    f"Checksum error for '{path}': received {kind} '{sent}' "
                    f"but actual is '{value}'",
                )
        stamp = now()
        previous = files.get(path)
        files[path] = Item(
            data,
            previous.created if previous else stamp,
            previous.created_by if previous else user,
            stamp,
            user,
        )
        info = self.storage_info(repo, path)
        info.pop("lastUpdated")
        return info

    def delete(self, repo: str, path: str) -> None:
        files = self.repository(repo)
        if path in files:
            del files[path]
            return
        if path and self.folder_exists(repo, path):
            prefix = path + "/"
            for name in [p for p in files if p.startswith(prefix)]:
                del files[name]
            self.folders[repo] = {
                f for f in self.folders[repo] if f != path and not f.startswith(prefix)
            }
            return
        raise HTTPError(404, "Could not locate artifact")


class _Handler(QuietHandler):
    emulator: Emulator

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: object, headers: dict | None = None) -> None:
        self._send(status, json.dumps(data).encode(), headers)

    def _handle(self) -> None:
        emulator = self.emulator
        body = self._body() if self.command in ("PUT", "POST") else b""
        url = urllib.parse.urlsplit(self.path)
        self.query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        path = urllib.parse.unquote(url.path).split(";", 1)[0]
        with emulator.lock:
            emulator.requests.append((self.command, path))
        fault = emulator.take_fault(self.command)
        try:
            if fault is not None:
                raise HTTPError(fault, "Injected fault")
            if not path.startswith(PREFIX + "/"):
                raise HTTPError(404, "Not Found")
            route = path[len(PREFIX) + 1 :]
            with emulator.lock:
                self._route(route, body)
        except HTTPError as error:
            payload = {"errors": [{"status": error.status, "message": error.message}]}
            self._json(error.status, payload, error.headers)

    def _route(self, route: str, body: bytes) -> None:
        emulator = self.emulator
        write = self.command in ("PUT", "DELETE", "POST")
        if route == "api/repositories" and self.command == "GET":
            emulator.authorize(self.headers, write=False)
            listing = [
                {"key": name, "type": "LOCAL", "url": f"{emulator.url}/{name}"}
                for name in sorted(emulator.repositories)
            ]
            return self._json(200, listing)
        if route.startswith("api/repositories/"):
            return self._repositories(route.removeprefix("api/repositories/"), body)
        if route.startswith("api/storage/"):
            emulator.authorize(self.headers, write=False)
            repo, _, item = route.removeprefix("api/storage/").partition("/")
            if "list" in self.query:
                flag = {k: v[0] == "1" for k, v in self.query.items()}
                listing = emulator.file_list(
                    repo,
                    item.strip("/"),
                    flag.get("deep", False),
                    flag.get("listFolders", False),
                )
                return self._json(200, listing)
            return self._json(200, emulator.storage_info(repo, item.strip("/")))
        if route.startswith("api/"):
            raise HTTPError(400, f"Not emulated: {route}")
        user = emulator.authorize(self.headers, write=write)
        repo, _, item = route.partition("/")
        if self.command == "PUT":
            if item.endswith("/") or not item:
                emulator.repository(repo)
                emulator.folders[repo].add(item.strip("/"))
                return self._json(201, emulator.storage_info(repo, item.strip("/")))
            info = emulator.deploy(repo, item, body, self.headers, user)
            return self._json(201, info)
        if self.command == "DELETE":
            emulator.delete(repo, item.strip("/"))
            return self._send(204)
        files = emulator.repository(repo)
        if item in files:
            checksums = files[item].checksums
            headers = {f"X-Checksum-{k.capitalize()}": v for k, v in checksums.items()}
            data = files[item].data
            if emulator.corrupt_downloads and item.endswith(".zip"):
                if self.command == "GET":
                    emulator.corrupt_downloads -= 1  # a bit flipped on the way
                    data = bytes([data[0] ^ 1]) + data[1:]
            if self.headers.get("Range"):
                status, data = self._ranged(data, self.headers["Range"], headers)
                return self._send(status, data, headers, "application/octet-stream")
            return self._send(200, data, headers, "application/octet-stream")
        if emulator.folder_exists(repo, item.strip("/")):
            names = [c["uri"][1:] for c in emulator.children(repo, item.strip("/"))]
            html = "".join(f'<a href="{n}">{n}</a>\n' for n in names)
            return self._send(200, html.encode(), content_type="text/html")
        raise HTTPError(404, "Not Found")

    @staticmethod
    def _ranged(data: bytes, header: str, headers: dict) -> tuple[int, bytes]:
        """A single range of ``data``, as HTTP servers answer it."""
        first, _, last = header.removeprefix("bytes=").partition("-")
        size = len(data)
        if first == "":  # the last bytes
            start, stop = max(0, size - int(last)), size
        else:
            start = int(first)
            stop = min(size, int(last) + 1) if last else size
        if start >= size or stop <= start:
            headers["Content-Range"] = f"bytes */{size}"
            raise HTTPError(416, "Requested Range Not Satisfiable", headers)
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        return 206, data[start:stop]

    def _repositories(self, name: str, body: bytes) -> None:
        emulator = self.emulator
        emulator.authorize(self.headers, write=self.command != "GET")
        if self.command == "GET":
            if name not in emulator.repositories:
                raise HTTPError(404, f"Repository {name} does not exist")
            return self._json(
                200, {"key": name, "rclass": "local", "packageType": "generic"}
            )
        if self.command == "PUT":
            if name in emulator.repositories:
                raise HTTPError(400, f"Repository {name} already exists")
            emulator.create_repository(name)
            return self._send(
                200,
                f"Successfully created repository '{name}'".encode(),
                content_type="text/plain",
            )
        if self.command == "DELETE":
            emulator.repository(name)
            del emulator.repositories[name]
            del emulator.folders[name]
            return self._send(
                200,
                f"Repository '{name}' and all its content have "
                "been removed successfully.".encode(),
                content_type="text/plain",
            )
        raise HTTPError(405, "Method Not Allowed")

    do_GET = do_PUT = do_DELETE = do_HEAD = do_POST = _handle  # noqa: N815
