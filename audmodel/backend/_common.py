"""What the transfer backends share."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
import contextlib
import datetime
import errno
import hashlib
import os
import random
import time
from typing import TYPE_CHECKING
from typing import Any
from typing import BinaryIO
from typing import TypeVar
import urllib.parse

from audmodel import errors
from audmodel._files import NotRegularFileError
from audmodel._lazy import audbackend
from audmodel._lazy import audeer


if TYPE_CHECKING:
    # The mixins below are mixed into audbackend's backends, whose methods
    # they call; typed as such.
    from audbackend.backend import Base as _Backend
else:
    _Backend = object
_T = TypeVar("_T")

SMALL_FILE = 1024 * 1024
r"""Bytes up to which a file is uploaded without asking first if it is there."""


READ_ATTEMPTS = 3
STREAM_RETRIES = 6
r"""Retries of a stream broken off, each from where it stopped, after a pause."""


class ChecksumError(errors.IntegrityError):
    r"""A downloaded file does not match the checksum the backend stored."""


class FileTooLargeError(errors.TooLargeError):
    r"""A stored file is larger than its reader allows; it was not read.

    Args:
        path: path on the backend
        size: the file's size
        limit: most bytes allowed

    """

    def __init__(self, path: str, size: int, limit: int):
        super().__init__(
            f"'{path}' has {size} bytes, more than the {limit} such a file may have."
        )
        self.size = size
        self.limit = limit


@contextlib.contextmanager
def missing_as_not_found(
    path: str, error: type[Exception], is_missing: Callable[[Any], bool]
) -> Iterator[None]:
    r"""Raise a client library's ``error`` for a missing object as FileNotFoundError.

    Args:
        path: the object's path, named in the error
        error: the library's error class
        is_missing: tells if an ``error`` says the object is missing

    """
    try:
        yield
    except error as ex:
        if is_missing(ex):
            raise FileNotFoundError(
                errno.ENOENT, os.strerror(errno.ENOENT), path
            ) from None
        raise


def md5_of_stream(fp: BinaryIO) -> str:
    r"""MD5 of what is left to read of an open file."""
    md5 = hashlib.md5()
    while chunk := fp.read(1024 * 1024):
        md5.update(chunk)
    return md5.hexdigest()


def check_size(path: str, size: int, limit: int | None) -> None:
    r"""Refuse a file of ``size`` bytes if it is larger than ``limit``.

    Raises:
        FileTooLargeError: if it is

    """
    if limit is not None and size > limit:
        raise FileTooLargeError(path, size, limit)


def check_download(path: str, expected: str | None, source: str) -> None:
    r"""Compare a downloaded file's MD5 with the stored one.

    Raises:
        ChecksumError: if they differ; the file is removed

    """
    if expected and audeer.md5(path) != expected:
        os.remove(path)
        raise ChecksumError(
            f"The download of {source} does not match its stored MD5 {expected}."
        )


def check_bytes(data: bytes, expected: str | None, source: str) -> bytes:
    r"""Compare downloaded bytes' MD5 with the stored one; return the bytes.

    Raises:
        ChecksumError: if they differ

    """
    if expected and hashlib.md5(data).hexdigest() != expected:
        raise ChecksumError(
            f"The download of {source} does not match its stored MD5 {expected}."
        )
    return data


class RangedReads(_Backend):
    r"""Mixin: read a stored file, or part of it, into memory.

    For small files (headers) and for the ends of large ones (the central
    directory of an archive), without writing a local file.
    A backend implements ``_read_range(path, start, end)`` and
    ``_read_tail(path, count)``.

    """

    def read_range(
        self,
        path: str,
        start: int = 0,
        end: int | None = None,
        limit: int | None = None,
    ) -> bytes:
        r"""Bytes ``start`` to ``end`` (exclusive) of a file on the backend.

        A read of a whole file (``start=0, end=None``) is checked against the
        MD5 the backend stores, where it stores one,
        and refused before it is downloaded if the file has more than
        ``limit`` bytes.

        Args:
            path: path on the backend
            start: first byte
            end: byte after the last; the end of the file if ``None``
            limit: most bytes a whole file may have, ``None`` for any number

        Returns:
            the bytes, fewer than asked for where the file ends before

        Raises:
            BackendError: if the file is missing, larger than ``limit``
                (its ``exception`` a :class:`FileTooLargeError`),
                or the backend fails
            ValueError: if the range is negative
            RuntimeError: if the backend was not opened

        """
        if start < 0 or (end is not None and end < start):
            raise errors.InvalidArgumentError(
                f"Cannot read bytes {start} to {end} of '{path}'."
            )
        _check_opened(self)
        if end == start:
            return b""
        if start == 0 and end is None:
            return _tried(self._read_whole, path, limit)
        return _tried(self._read_range, path, start, end)

    def _read_whole(self, path: str, limit: int | None) -> bytes:
        # A backend that can tell the size before the download overrides this.
        data = self._read_range(path, 0, None)
        check_size(path, len(data), limit)
        return data

    def stream_range(self, path: str, start: int, end: int) -> Iterator[bytes]:
        r"""Bytes ``start`` to ``end`` of a file on the backend, as they arrive.

        One request where the backend streams (S3), so that a long range
        costs one request; elsewhere ranges of :attr:`read_part` bytes.

        Args:
            path: path on the backend
            start: first byte
            end: byte after the last

        Yields:
            consecutive pieces of the range

        Raises:
            BackendError: if the file is missing or the backend fails

        """
        _check_opened(self)
        position, failures = start, 0
        while position < end:
            try:
                for piece in self._stream_range(path, position, end):
                    position += len(piece)
                    failures = 0
                    yield piece
                if position < end:
                    raise ConnectionResetError(
                        f"The stream of '{path}' ended at byte {position} of {end}."
                    )
            except Exception as ex:
                # A connection reset or a timeout half-way, a 5xx, throttling:
                # go on from the byte reached, so nothing is read twice.
                failures += 1
                if failures > STREAM_RETRIES or not is_retryable(ex):
                    if isinstance(ex, audbackend.BackendError):
                        raise
                    raise audbackend.BackendError(ex) from ex
                time.sleep(retry_delay(failures))

    def _stream_range(self, path: str, start: int, end: int) -> Iterator[bytes]:
        for first in range(start, end, self.read_part):
            yield _tried(
                self._read_range, path, first, min(end, first + self.read_part)
            )

    @property
    def read_threads(self) -> int:
        r"""Ranges of one file read at once, e.g. while an archive is unpacked."""
        return 8

    @property
    def read_part(self) -> int:
        r"""Bytes per range when a large file is read in parts."""
        return 8 * 1024 * 1024

    def read_tail(self, path: str, count: int) -> tuple[bytes, int]:
        r"""The last ``count`` bytes of a file on the backend, and its size.

        Args:
            path: path on the backend
            count: bytes wanted; all of a shorter file

        Returns:
            the bytes and the size of the file

        Raises:
            BackendError: if the file is missing or the backend fails
            ValueError: if ``count`` is not positive
            RuntimeError: if the backend was not opened

        """
        if count <= 0:
            raise errors.InvalidArgumentError(
                f"Cannot read the last {count} bytes of '{path}'."
            )
        _check_opened(self)
        return _tried(self._read_tail, path, count)


class FileTimes(_Backend):
    r"""Mixin: when a stored file was last written, to the second or better.

    audbackend's ``date()`` tells the day only, which cannot tell a
    publication that died an hour ago from one still uploading.
    A backend implements ``_modified(path)``, returning a time-zone aware
    :class:`datetime.datetime`.

    """

    def modified(self, path: str) -> datetime.datetime:
        r"""Time of the last write of a file on the backend.

        Args:
            path: path on the backend

        Returns:
            time, aware of its time zone

        Raises:
            BackendError: if the file is missing or the backend fails
            RuntimeError: if the backend was not opened

        """
        _check_opened(self)
        return _tried(self._modified, path)


def _check_opened(backend: audbackend.backend.Base) -> None:
    if not backend.opened:
        raise errors.NotOpenedError("Call 'open()' before reading from the backend.")


def _tried(function: Callable[..., _T], *args: object) -> _T:
    # Tried three times, as audbackend tries its calls: a file that
    # another process replaces while it is read can come with the
    # checksum of the other version, or cut short on some stores.
    for attempt in range(READ_ATTEMPTS):
        try:
            return function(*args)
        except (
            FileNotFoundError,
            PermissionError,
            FileTooLargeError,
            NotRegularFileError,
            CannotOpenError,
        ) as ex:
            raise audbackend.BackendError(ex) from ex
        except Exception as ex:
            if attempt == READ_ATTEMPTS - 1:
                raise audbackend.BackendError(ex) from ex
            if is_retryable(ex):
                time.sleep(retry_delay(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


class Learned:
    r"""What a backend found out about a server, to remember beyond a process.

    This one forgets: :meth:`get` knows nothing. The library gives backends
    one that keeps its facts in the user's cache.

    """

    def get(self, fact: str, endpoint: str) -> bool | None:
        r"""What was learned of ``fact`` at ``endpoint``, ``None`` if nothing."""
        return None

    def put(self, fact: str, endpoint: str, value: bool) -> None:
        r"""Remember ``value`` of ``fact`` at ``endpoint``."""


class Remote(_Backend):
    r"""Mixin for backends that talk to a server.

    It holds the timeouts and tries, and opens the backend with one try and
    a telling error: audbackend retries every call three times, which for
    ``open()`` would triple the wait for an unreachable host, whose client
    already retries.

    """

    connect_timeout: float = 4.0
    r"""Seconds to wait for a connection."""

    read_timeout: float = 60.0
    r"""Seconds to wait for data on an open connection."""

    max_attempts: int = 3
    r"""Tries per request, including the first."""

    opens_lazily: bool = False
    r"""Whether :meth:`open_unchecked` may be used: each request that finds
    nothing goes through :meth:`missing`."""

    opened: bool
    host: str
    repository: str

    def open(self) -> None:
        r"""Check that the repository can be reached.

        Raises:
            BackendError: with a message that names host and repository,
                if the host cannot be reached or the repository is missing

        """
        if self.opened:
            return
        try:
            self._open()
        except Exception as ex:
            raise backend_error(ex, str(ex)) from ex
        self.opened = True
        _PRESENT.add(self._where())

    def open_unchecked(self) -> None:
        r"""Open without a request; the first request that finds nothing checks.

        A request to a missing bucket or repository fails as well, so the
        check of :meth:`open` costs a request that, where the repository is
        there (nearly always), tells nothing. Where a request finds nothing,
        :meth:`missing` asks whether the repository itself is there.

        """
        self.opened = True

    def missing(self, path: str) -> FileNotFoundError:
        r"""The error of a request that found nothing at ``path``.

        The repository itself is checked first, once per process.

        Raises:
            CannotOpenError: if the repository is missing, refused or
                cannot be reached

        """
        if self._where() not in _PRESENT:
            try:
                self._open()
            except Exception as ex:
                raise CannotOpenError(str(ex)) from ex
            _PRESENT.add(self._where())
        return FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)

    def seen(self) -> None:
        r"""Note that a request answered: the repository is there."""
        _PRESENT.add(self._where())

    def _where(self) -> tuple[str, str, str]:
        return type(self).__name__, self.host, self.repository


_PRESENT: set[tuple[str, str, str]] = set()
r"""Repositories found to be there in this process, by backend, host and name."""


class CannotOpenError(OSError):
    r"""A repository itself, not a file in it, failed a request.

    Its cause tells why: missing (:class:`RepositoryMissingError`),
    refused (:class:`PermissionError`), or not reached.

    """


class RepositoryMissingError(LookupError):
    r"""A server was reached and has no such bucket or repository."""


def backend_error(exception: Exception, detail: str) -> audbackend.BackendError:
    r"""A :class:`audbackend.BackendError` that tells what went wrong.

    audbackend's own sentence stays first, as scripts match it;
    the detail follows it.

    Args:
        exception: the error the backend raised
        detail: what a reader needs to know, e.g. which host failed

    Returns:
        error wrapping ``exception``

    Examples:
        >>> str(backend_error(OSError("gone"), "Cannot open the bucket: gone."))
        'An exception was raised by the backend, please see stack trace for further information. Cannot open the bucket: gone.'

    """  # noqa: E501
    error = audbackend.BackendError(exception)
    error.args = (f"{error} {detail}",)
    return error


def without_userinfo(url: str) -> str:
    r"""A URL without user name and password, as it can be shown.

    Args:
        url: URL, or a host or path that is none

    Returns:
        ``url`` without the part before ``@`` in its network location

    Examples:
        >>> without_userinfo("https://key:secret@s3.example.com/models")
        'https://s3.example.com/models'
        >>> without_userinfo("/data/models")
        '/data/models'

    """
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def check_host(host: str) -> str:
    r"""Return ``host`` if it is no URL, or a URL that can be parsed.

    The error does not repeat the host, which may carry a password.

    Raises:
        ValueError: if ``host`` is a URL that cannot be parsed

    Examples:
        >>> check_host("http://[::1")
        Traceback (most recent call last):
        ...
        audmodel.errors.InvalidArgumentError: The host is not a valid URL: ...

    """
    if "://" in host:
        try:
            urllib.parse.urlsplit(host).port  # noqa: B018 - parses the port
        except ValueError as ex:
            raise errors.InvalidArgumentError(
                f"The host is not a valid URL: {ex}."
            ) from None
    return host


def backend_error_detail(error: audbackend.BackendError) -> str:
    r"""The detail of a backend error, without audbackend's first sentence.

    Examples:
        >>> backend_error_detail(backend_error(OSError("gone"), "It is gone."))
        'It is gone.'
        >>> backend_error_detail(audbackend.BackendError(OSError("gone")))
        'gone'

    """
    plain = str(audbackend.BackendError(error.exception))
    detail = str(error).removeprefix(plain).strip()
    return detail or str(error.exception)


# Errors of HTTP clients that mean the server was not reached or did not
# answer in time, by name, so that their libraries need not be imported.
_UNREACHABLE_NAMES = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "ProxyConnectionError",
    "NewConnectionError",
    "MaxRetryError",
    "ConnectTimeout",
    "ReadTimeout",
}


_UNREACHABLE_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
    -2,  # socket.EAI_NONAME: the host name does not resolve
    -3,  # socket.EAI_AGAIN: the name server does not answer
}


# Errors of a response broken off while its body is read, by name.
_BROKEN_OFF_NAMES = {
    "ProtocolError",
    "IncompleteRead",
    "IncompleteReadError",
    "ResponseStreamingError",
    "ChunkedEncodingError",
    "ConnectionError",
}
_RETRYABLE_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout"}


def is_retryable(error: BaseException) -> bool:
    r"""Tell if trying again may cure an error of a transfer.

    A repository not reached (:func:`is_unreachable`), a response broken
    off, a server error (HTTP 5xx) or throttling (HTTP 429, S3's
    ``SlowDown``).

    Examples:
        >>> is_retryable(ConnectionResetError())
        True
        >>> is_retryable(FileNotFoundError())
        False

    """
    for current in _chain(error):
        if type(current).__name__ in _BROKEN_OFF_NAMES:
            return True
        response = getattr(current, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(response, dict):
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if response.get("Error", {}).get("Code") in _RETRYABLE_CODES:
                return True
        if isinstance(status, int) and (status >= 500 or status == 429):
            return True
    return is_unreachable(error)


def retry_delay(attempt: int) -> float:
    r"""Seconds to wait before try ``attempt + 1``: doubling, jittered, at most 10."""
    return min(10.0, 0.2 * 2**attempt) * random.uniform(0.5, 1.0)


def _chain(error: BaseException) -> Iterator[BaseException]:
    r"""An error, what it wraps (``exception``), and what it was raised from."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [
            getattr(current, "exception", None),
            current.__cause__,
            current.__context__,
        ]


def is_unreachable(error: BaseException) -> bool:
    r"""Tell if an error means a repository could not be reached.

    A refused or reset connection, a name that does not resolve, a timeout,
    in the error or anything it was raised from; not a missing file or a
    refused permission, which a repository that was reached reports.

    Examples:
        >>> is_unreachable(backend_error(ConnectionRefusedError(), "Refused."))
        True
        >>> is_unreachable(backend_error(FileNotFoundError(), "Gone."))
        False

    """
    for current in _chain(error):
        if isinstance(current, ConnectionError | TimeoutError) or (
            type(current).__name__ in _UNREACHABLE_NAMES
        ):
            return True
        if isinstance(current, OSError) and current.errno in _UNREACHABLE_ERRNOS:
            return True
    return False


def holds_already(backend: audbackend.backend.Base, path: str, checksum: str) -> bool:
    r"""Tell if a backend holds a file with this MD5 at ``path``.

    A file that another process removes while it is looked at is not held.

    """
    try:
        return backend.exists(path) and backend.checksum(path) == checksum
    except audbackend.BackendError as ex:
        if isinstance(ex.exception, FileNotFoundError):
            return False
        raise


class PutWithKnownMD5(_Backend):
    r"""Mixin: an upload that takes the file's MD5 if the caller knows it."""

    def put_file(
        self,
        src_path: str,
        dst_path: str,
        *,
        validate: bool = False,
        verbose: bool = False,
    ) -> None:
        r"""Put a file on the backend, see :meth:`audbackend.backend.Base.put_file`."""
        if validate or not os.path.isfile(src_path):
            return super().put_file(
                src_path, dst_path, validate=validate, verbose=verbose
            )
        return self.put_file_with_md5(
            src_path, dst_path, audeer.md5(src_path), verbose=verbose
        )

    def put_file_with_md5(
        self, src_path: str, dst_path: str, checksum: str, *, verbose: bool = False
    ) -> None:
        r"""Put a file whose MD5 is known, without reading the file for it.

        Args:
            src_path: local file
            dst_path: path on the backend
            checksum: MD5 of the file, e.g. computed while it was written
            verbose: show a progress bar

        Raises:
            BackendError: if the upload fails

        """
        # A small file is written rather than asked for first: the question
        # costs a request as the write does.
        small = os.path.getsize(src_path) <= SMALL_FILE
        if not small and holds_already(self, dst_path, checksum):
            return None  # the same file is there already, as audbackend skips it
        try:
            self._put_file(src_path, dst_path, checksum, verbose)
        except Exception as ex:
            raise audbackend.BackendError(ex) from ex
        return None
