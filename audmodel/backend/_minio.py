"""audbackend's MinIO backend, also reachable by an endpoint URL."""

from __future__ import annotations

import contextlib
import datetime
import urllib.parse

import audbackend
import minio.error
import urllib3

from audmodel.backend._common import FileTimes
from audmodel.backend._common import RangedReads
from audmodel.backend._common import Remote
from audmodel.backend._common import check_bytes
from audmodel.backend._common import check_size
from audmodel.backend._common import missing_as_not_found
from audmodel.backend._s3 import S3


class Minio(Remote, RangedReads, FileTimes, audbackend.backend.Minio):
    r"""audbackend's MinIO backend, for existing audbackend configurations.

    A host given as a bare name, e.g. ``play.min.io``, is passed on as it is,
    so credentials and the ``secure`` setting come from audbackend's
    configuration as before.
    A host given as a URL, e.g. ``http://127.0.0.1:9000``,
    sets ``secure`` from its scheme.

    Args:
        host: host name or endpoint URL
        repository: bucket name
        authentication: access key and secret key;
            audbackend looks them up if ``None``
        secure: use HTTPS; from the URL or audbackend's configuration if ``None``
        **kwargs: passed on to :class:`audbackend.backend.Minio`

    """

    def __init__(
        self,
        host: str,
        repository: str,
        *,
        authentication: tuple[str, str] | None = None,
        secure: bool | None = None,
        **kwargs: object,
    ):
        endpoint = host
        if "://" in host:
            parts = urllib.parse.urlsplit(host)
            endpoint = parts.netloc
            if secure is None:
                secure = parts.scheme == "https"
        super().__init__(
            endpoint, repository, authentication=authentication, secure=secure, **kwargs
        )
        self.host = host
        # minio's client tries a refused connection six times with pauses
        # (18 s for an unreachable host); as the other backends, try
        # max_attempts times, which Remote.open() does not multiply.
        self._client._http.connection_pool_kw["retries"] = urllib3.Retry(
            total=self.max_attempts - 1,
            backoff_factor=0.2,
            status_forcelist=(500, 502, 503, 504),
        )
        # audbackend may have taken 'secure' from its configuration file.
        scheme = "https" if self._client._base_url.is_https else "http"
        self._endpoint_url = f"{scheme}://{endpoint}"

    def put_file_exclusive(self, src_path: str, dst_path: str) -> None:
        r"""Put a small file on the backend unless one is there, atomically.

        minio's client cannot send the conditional header,
        so the write goes through :class:`audmodel.backend.S3`
        with the same endpoint and credentials.

        Raises:
            FileExistsError: if ``dst_path`` exists

        """
        self._s3().put_file_exclusive(src_path, dst_path)

    @property
    def exclusive_creation(self) -> str:
        r"""How this backend creates a file only if absent, for debug output."""
        return self._s3().exclusive_creation

    def copy_from(self, source: object, src_path: str, dst_path: str) -> bool:
        r"""Copy a file from another bucket of the same store, on the server.

        See :meth:`audmodel.backend.S3.copy_from`.

        """
        if isinstance(source, Minio):
            source = source._s3()
        return self._s3().copy_from(source, src_path, dst_path)

    def _modified(self, path: str) -> datetime.datetime:
        with _missing_as_not_found(path):
            info = self._client.stat_object(self.repository, path.removeprefix("/"))
        return info.last_modified

    def _s3(self) -> S3:
        s3 = S3(self._endpoint_url, self.repository, authentication=self.authentication)
        s3.open()  # the ticket scheme uses audbackend's methods, which need it
        return s3

    def _read_range(self, path: str, start: int, end: int | None) -> bytes:
        return self._read(path, start, end, None)

    def _read_whole(self, path: str, limit: int | None) -> bytes:
        return self._read(path, 0, None, limit)

    def _read(self, path: str, start: int, end: int | None, limit: int | None) -> bytes:
        key = path.removeprefix("/")
        length = 0 if end is None else end - start  # 0: to the end
        with _missing_as_not_found(path):
            response = self._client.get_object(
                self.repository, key, offset=start, length=length
            )
        try:
            check_size(path, int(response.headers.get("content-length", 0)), limit)
            data = response.read()
        finally:
            response.close()
            response.release_conn()
        if start == 0 and end is None:
            expected = response.headers.get("x-amz-meta-checksum")
            check_bytes(data, expected, f"'{path}' from bucket '{self.repository}'")
        return data

    def _read_tail(self, path: str, count: int) -> tuple[bytes, int]:
        with _missing_as_not_found(path):
            size = self._client.stat_object(
                self.repository, path.removeprefix("/")
            ).size
        if size == 0:
            return b"", 0
        return self._read_range(path, max(0, size - count), size), size

    def __repr__(self) -> str:
        return f"audmodel.backend.Minio('{self.host}', '{self.repository}')"


def _missing_as_not_found(path: str) -> contextlib.AbstractContextManager[None]:
    r"""Raise minio's error for a missing object as :class:`FileNotFoundError`."""
    return missing_as_not_found(
        path,
        minio.error.S3Error,
        lambda ex: ex.code in ("NoSuchKey", "NoSuchObject"),
    )
