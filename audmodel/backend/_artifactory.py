"""Artifactory backend on dohq-artifactory, in the layout of audbackend 2.x.

A file ``/<path>`` of repository ``<repository>`` is stored at
``<host>/<repository>/<path>``, where the host is Artifactory's base URL,
e.g. ``https://artifactory.example.com/artifactory``.

"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
import configparser
import datetime
import errno
import hashlib
import os
from typing import Any
from typing import BinaryIO
from typing import TypeVar

import artifactory
import audbackend
import requests
import requests.adapters
import urllib3

from audmodel._output import progress
from audmodel.backend._common import CannotOpenError
from audmodel.backend._common import FileTimes
from audmodel.backend._common import PutWithKnownMD5
from audmodel.backend._common import RangedReads
from audmodel.backend._common import Remote
from audmodel.backend._common import RepositoryMissingError
from audmodel.backend._common import check_bytes
from audmodel.backend._common import check_download
from audmodel.backend._common import check_size
from audmodel.backend._common import without_userinfo


CHUNK = 1024 * 1024
T = TypeVar("T")
_SESSIONS: dict[tuple, requests.Session] = {}


class Artifactory(
    Remote, PutWithKnownMD5, RangedReads, FileTimes, audbackend.backend.Base
):
    r"""Backend for JFrog Artifactory.

    Credentials are looked up in this order:
    the variables ``ARTIFACTORY_USERNAME`` and ``ARTIFACTORY_API_KEY``;
    the entry for the host in dohq-artifactory's configuration file
    :file:`~/.artifactory_python.cfg`
    (or the file named by ``DOHQ_ARTIFACTORY_PYTHON_CFG``),
    with ``username`` and ``password``;
    none, for anonymous access.
    They are sent as HTTP basic authentication,
    which Artifactory accepts with an API key or an access token as password.

    Args:
        host: Artifactory's base URL,
            e.g. ``https://artifactory.example.com/artifactory``
        repository: repository name
        authentication: user name and API key;
            looked up as described above if ``None``

    Examples:
        >>> Artifactory("http://127.0.0.1:8081/artifactory", "models")
        audmodel.backend.Artifactory('http://127.0.0.1:8081/artifactory', 'models')

    """

    checks_downloads = True
    r"""A download is compared with the stored MD5 (ChecksumError if not)."""

    opens_lazily = True

    def __init__(
        self,
        host: str,
        repository: str,
        *,
        authentication: tuple[str, str] | None = None,
    ):
        super().__init__(host.rstrip("/"), repository, authentication=authentication)
        if authentication is None:
            self.authentication = credentials(self.host)
        self._root = artifactory.ArtifactoryPath(
            f"{self.host}/{repository}",
            session=self._session(),
            timeout=(self.connect_timeout, self.read_timeout),
        )

    def __repr__(self) -> str:
        host = without_userinfo(self.host)
        return f"audmodel.backend.Artifactory('{host}', '{self.repository}')"

    def _session(self) -> requests.Session:
        # Sessions keep connections open; they are shared per process.
        key = (os.getpid(), self.host, self.authentication, self.max_attempts)
        if key not in _SESSIONS:
            session = requests.Session()
            session.auth = self.authentication
            retries = urllib3.Retry(
                total=self.max_attempts - 1,
                read=0,
                status_forcelist=(502, 503, 504),
                backoff_factor=0.2,
                allowed_methods=None,
                raise_on_status=False,
            )
            adapter = requests.adapters.HTTPAdapter(max_retries=retries)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _SESSIONS[key] = session
        return _SESSIONS[key]

    def _path(self, path: str) -> artifactory.ArtifactoryPath:
        return self._root / path.removeprefix("/") if path.strip("/") else self._root

    def url(self, path: str) -> str:
        r"""The URL of a file on Artifactory."""
        return str(self._path(path))

    def _stat_json(self, path: str) -> dict:
        r"""Artifactory's storage information of a file or folder.

        Raises:
            FileNotFoundError: if there is nothing at ``path``
            PermissionError: if the credentials are wrong or not enough
            ConnectionError: if the server cannot be reached

        """
        target = self._path(path)
        try:
            info = target.stat_json()
        except OSError as ex:
            if ex.errno == errno.ENOENT:
                if not path.strip("/"):  # the repository (see _open)
                    raise FileNotFoundError(
                        errno.ENOENT, os.strerror(errno.ENOENT), path
                    ) from None
                raise self.missing(path) from None
            raise self._explain(ex) from None
        except Exception as ex:
            raise self._explain(ex) from None
        self.seen()
        return info

    def _explain(self, ex: Exception) -> Exception:
        where = f"repository '{self.repository}' on '{without_userinfo(self.host)}'"
        status = _status(ex)
        if status == 401:
            return PermissionError(f"Artifactory refused the credentials for {where}.")
        if status == 403:
            return PermissionError(f"Artifactory denied access to {where}.")
        if isinstance(ex, requests.ConnectionError | requests.Timeout) or isinstance(
            ex.__cause__, requests.ConnectionError | requests.Timeout
        ):
            return ConnectionError(f"Cannot reach Artifactory for {where}: {ex}")
        return ex

    def _call(self, function: Callable[..., T], *args: object, **kwargs: object) -> T:
        try:
            return function(*args, **kwargs)
        except (FileNotFoundError, PermissionError, ConnectionError, CannotOpenError):
            raise
        except Exception as ex:
            raise self._explain(ex) from None

    # --- audbackend's backend methods --------------------------------------

    def _open(self) -> None:
        try:
            info = self._stat_json("/")
        except FileNotFoundError:
            raise RepositoryMissingError(
                f"Artifactory has no repository '{self.repository}' "
                f"at '{without_userinfo(self.host)}'"
            ) from None
        if "children" not in info:
            raise NotADirectoryError(f"'{self.repository}' is not a repository")

    def _checksum(self, path: str) -> str:
        return self._file_json(path).get("checksums", {}).get("md5", "")

    def _file_json(self, path: str) -> dict:
        info = self._stat_json(path)
        if "size" not in info:  # a folder
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        return info

    def _create(self) -> None:
        admin = artifactory.ArtifactoryPath(self.host, session=self._session())
        repository = artifactory.RepositoryLocal(admin, self.repository)
        if self._call(repository.read):
            raise FileExistsError(
                errno.EEXIST, os.strerror(errno.EEXIST), self.repository
            )
        self._call(repository.create)

    def _date(self, path: str) -> str:
        return self._file_json(path)["lastModified"][:10]

    def _modified(self, path: str) -> datetime.datetime:
        # ISO 8601, e.g. '2026-11-24T10:15:03.120+01:00' ('Z' before Python 3.11)
        stamp = self._file_json(path)["lastModified"].replace("Z", "+00:00")
        return datetime.datetime.fromisoformat(stamp)

    def _delete(self) -> None:
        admin = artifactory.ArtifactoryPath(self.host, session=self._session())
        repository = artifactory.RepositoryLocal(admin, self.repository)
        self._call(repository.read)
        self._call(repository.delete)

    def _exists(self, path: str) -> bool:
        try:
            self._file_json(path)
        except FileNotFoundError:
            return False
        return True

    def _get_file(self, src_path: str, dst_path: str, num_workers: int, verbose: bool):
        info = self._file_json(src_path)
        description = f"Download {os.path.basename(src_path)}"
        response = self._call(self._path(src_path).open)
        try:
            with (
                progress(int(info["size"]), description, verbose) as update,
                open(dst_path, "wb") as fp,
            ):
                while chunk := response.read(CHUNK):
                    fp.write(chunk)
                    update(len(chunk))
        finally:
            response.close()
        # The checksum sent with the content belongs to exactly these bytes;
        # the one asked for before may be of a file replaced meanwhile.
        expected = response.headers.get("X-Checksum-Md5")
        check_download(
            dst_path,
            expected or info.get("checksums", {}).get("md5"),
            f"'{src_path}' from Artifactory repository '{self.repository}'",
        )

    def _get_file_stream(self, src_path: str) -> Iterator[bytes]:
        response = self._call(self._path(src_path).open)
        try:
            while chunk := response.read(CHUNK):
                yield chunk
        finally:
            response.close()

    def _ls(self, path: str) -> list[str]:
        # The file list API answers for a whole tree in one request.
        folder = path.strip("/")
        url = f"{self.host}/api/storage/{self.repository}/{folder}".rstrip("/")
        response = self._get(url, params="list&deep=1&listFolders=0")
        if response.status_code == 404:
            self.missing(path)  # raises if the repository is missing
            return []
        self._raise_for(response, path)
        info = response.json()
        if "files" not in info:  # a file, not a folder
            return [path.rstrip("/")]
        prefix = f"/{folder}" if folder else ""
        return [prefix + item["uri"] for item in info["files"] if not item["folder"]]

    def _read_whole(self, path: str, limit: int | None) -> bytes:
        with self._get(self.url(path), stream=True) as response:
            self._raise_for(response, path)
            check_size(path, int(response.headers.get("Content-Length", 0)), limit)
            data = bytearray()
            for piece in response.iter_content(CHUNK):
                data += piece
                # A server that sends no length is cut off at the limit.
                check_size(path, len(data), limit)
            return check_bytes(
                bytes(data),
                response.headers.get("X-Checksum-Md5"),
                f"'{path}' from Artifactory repository '{self.repository}'",
            )

    def _read_range(self, path: str, start: int, end: int | None) -> bytes:
        if start == 0 and end is None:
            return self._read_whole(path, None)
        last = "" if end is None else end - 1
        response = self._get(self.url(path), headers={"Range": f"bytes={start}-{last}"})
        if response.status_code == 416:  # the file ends before 'start'
            return b""
        self._raise_for(response, path)
        if response.status_code == 200:  # the range was ignored
            return response.content[start:end]
        return response.content

    def _read_tail(self, path: str, count: int) -> tuple[bytes, int]:
        response = self._get(self.url(path), headers={"Range": f"bytes=-{count}"})
        if response.status_code == 416:  # an empty file
            return b"", 0
        self._raise_for(response, path)
        if response.status_code == 200:  # the range was ignored
            return response.content[-count:], len(response.content)
        total = response.headers.get("Content-Range", "").rpartition("/")[2]
        return response.content, int(total)

    def _get(self, url: str, **kwargs: Any) -> requests.Response:
        return self._request("GET", url, **kwargs)

    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            response = self._session().request(
                method, url, timeout=(self.connect_timeout, self.read_timeout), **kwargs
            )
        except requests.RequestException as ex:
            raise self._explain(ex) from None
        if response.status_code != 404:
            self.seen()
        return response

    def _raise_for(self, response: requests.Response, path: str) -> None:
        if response.status_code == 404:
            raise self.missing(path)
        try:
            response.raise_for_status()
        except requests.HTTPError as ex:
            raise self._explain(ex) from None

    def _ls_dirs(self, path: str) -> list[str]:
        try:
            info = self._stat_json(path)
        except FileNotFoundError:
            if path == "/":
                return []
            raise
        return [c["uri"].lstrip("/") for c in info.get("children", []) if c["folder"]]

    def _owner(self, path: str) -> str:
        info = self._file_json(path)
        return info.get("modifiedBy") or info.get("createdBy") or ""

    def _put_file(self, src_path: str, dst_path: str, checksum: str, verbose: bool):
        sha1, sha256 = _sha1_and_sha256(src_path)
        size = os.path.getsize(src_path)
        description = f"Upload {os.path.basename(dst_path)}"
        with progress(size, description, verbose) as update, open(src_path, "rb") as fp:
            try:
                self._call(
                    self._path(dst_path).deploy,
                    _CountingReader(fp, size, update),
                    md5=checksum,
                    sha1=sha1,
                    sha256=sha256,
                )
            except Exception as ex:
                # A deploy finds nothing only where the repository is missing.
                if _status(ex) == 404:
                    raise self.missing(dst_path) from ex
                raise

    def _remove_file(self, path: str) -> None:
        self._file_json(path)  # a missing file or a folder is an error
        # Not dohq-artifactory's unlink(): it ignores a refusal (403).
        response = self._request("DELETE", self.url(path))
        self._raise_for(response, path)

    def _size(self, path: str) -> int:
        return int(self._file_json(path)["size"])

    def remove_if_there(self, path: str) -> None:
        r"""Remove a file in one request; a missing one is no error.

        Only for the files the library names itself (claims, tickets):
        unlike :meth:`_remove_file` it does not ask first whether ``path``
        is a file, and Artifactory removes a folder with all it holds.

        Raises:
            BackendError: if Artifactory refuses or cannot be reached

        """
        try:
            response = self._request("DELETE", self.url(path))
            if response.status_code != 404:
                self._raise_for(response, path)
        except Exception as ex:
            raise audbackend.BackendError(ex) from ex


class _CountingReader:
    r"""A file reader that reports progress and tells requests its length."""

    def __init__(self, fp: BinaryIO, size: int, update: Callable[[int], object]):
        self._fp, self._size, self._update = fp, size, update

    def __len__(self) -> int:
        return self._size

    def read(self, size: int = -1) -> bytes:
        chunk = self._fp.read(size)
        self._update(len(chunk))
        return chunk

    # urllib3 rewinds a body it can seek before it retries a request
    # (a 503 from a busy server): without these, a retried upload would
    # send its length and no bytes, and wait for the server's time-out.
    def tell(self) -> int:
        return self._fp.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._fp.seek(offset, whence)


def credentials(host: str) -> tuple[str, str] | None:
    r"""User name and API key for a host, or ``None`` for anonymous access."""
    username = os.environ.get("ARTIFACTORY_USERNAME")
    api_key = os.environ.get("ARTIFACTORY_API_KEY")
    if username is None or api_key is None:
        entry = _config_entry(host)
        username = username if username is not None else entry.get("username")
        api_key = api_key if api_key is not None else entry.get("password")
    if not username:
        return None
    return username, api_key or ""


def _config_entry(host: str) -> dict[str, str]:
    path = os.path.expanduser(
        os.environ.get("DOHQ_ARTIFACTORY_PYTHON_CFG", "~/.artifactory_python.cfg")
    )
    parser = configparser.ConfigParser()
    if not parser.read(path):
        return {}
    bare = host.split("://", 1)[-1].rstrip("/")
    for section in parser.sections():
        if section.split("://", 1)[-1].rstrip("/") == bare:
            return dict(parser.items(section))
    return {}


def _sha1_and_sha256(path: str) -> tuple[str, str]:
    sha1, sha256 = hashlib.sha1(), hashlib.sha256()
    with open(path, "rb") as fp:
        while chunk := fp.read(CHUNK):
            sha1.update(chunk)
            sha256.update(chunk)
    return sha1.hexdigest(), sha256.hexdigest()


def _status(ex: BaseException) -> int | None:
    # dohq-artifactory raises its errors from the HTTP error, which _call
    # re-raises 'from None': the answer is then in the context only.
    for error in (ex, ex.__cause__, ex.__context__):
        response = getattr(error, "response", None)
        if response is not None:
            return response.status_code
    return None
