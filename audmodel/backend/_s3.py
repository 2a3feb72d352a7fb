"""S3 backend on boto3, for AWS S3, MinIO and other S3-compatible stores.

Objects are stored as audbackend's MinIO backend stores them, so that
repositories written by audmodel 1.5 are shared: bucket = repository name,
key = path without the leading ``/``, user metadata ``checksum`` (MD5 hex of
the file) and ``owner``.

"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
import concurrent.futures
import configparser
import contextlib
import datetime
import errno
import getpass
import hashlib
import mimetypes
import os
import re
import secrets
import string
from typing import Any
from typing import TypeVar
import urllib.parse

import audbackend
import audeer
import boto3
from boto3.exceptions import S3UploadFailedError
import boto3.s3.transfer
import botocore
import botocore.config
import botocore.exceptions
import botocore.session
import botocore.utils

from audmodel._output import progress
from audmodel._threads import LIST_REQUESTS
from audmodel.backend import _tickets
from audmodel.backend._common import CannotOpenError
from audmodel.backend._common import FileTimes
from audmodel.backend._common import FileTooLargeError
from audmodel.backend._common import Learned
from audmodel.backend._common import PutWithKnownMD5
from audmodel.backend._common import RangedReads
from audmodel.backend._common import Remote
from audmodel.backend._common import RepositoryMissingError
from audmodel.backend._common import _check_opened
from audmodel.backend._common import check_bytes
from audmodel.backend._common import check_download
from audmodel.backend._common import check_host
from audmodel.backend._common import check_size
from audmodel.backend._common import without_userinfo


_T = TypeVar("_T")


CONFIG_FILE = "~/.config/audbackend/minio.cfg"
MIB = 1024 * 1024
# The characters of paths on a backend (audbackend allows no others).
PATH_CHARACTERS = string.ascii_letters + string.digits + "-._/"
PROBE_PREFIX = "_audmodel/"
r"""Where probes of a store's behaviour are written and removed again."""
_CLIENTS: dict[tuple, object] = {}
# Whether an endpoint honours If-None-Match, found out once per process.
_CONDITIONAL_WRITES: dict[str, bool] = {}
CONDITIONAL_WRITES = "conditional-writes"
r"""The name under which whether an endpoint honours If-None-Match is learned."""
_SESSIONS: dict[tuple, boto3.session.Session] = {}
_CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
)


class S3(Remote, PutWithKnownMD5, RangedReads, FileTimes, audbackend.backend.Base):
    r"""Backend for S3 and S3-compatible object stores.

    The repository is a bucket on the host.
    A host given as a bare name, e.g. ``s3.eu-north-1.amazonaws.com``,
    is reached by HTTPS;
    a URL, e.g. ``http://127.0.0.1:9000``, is used as the endpoint as given.

    A bare host is reached by HTTPS, unless its section of
    :file:`~/.config/audbackend/minio.cfg` (see below) sets ``secure``
    empty or false, as for audbackend's MinIO backend.

    Credentials are looked up in this order:
    the standard chain of boto3
    (environment variables such as ``AWS_ACCESS_KEY_ID``,
    the shared credentials and config files, ``AWS_PROFILE``, ...);
    the variables ``MINIO_ACCESS_KEY_<HOST>`` / ``MINIO_SECRET_KEY_<HOST>``
    (``<HOST>`` being the host's network location in capitals,
    other characters than letters and digits replaced by ``_``),
    then ``MINIO_ACCESS_KEY`` / ``MINIO_SECRET_KEY``;
    the section named after the host's network location
    in audbackend's file :file:`~/.config/audbackend/minio.cfg`
    (or ``MINIO_CONFIG_FILE``),
    with entries ``access_key`` and ``secret_key``.
    Without credentials, requests are sent unsigned,
    which is how public buckets are read.

    The same section may set ``connect_timeout``, ``read_timeout``,
    ``max_attempts`` (tries per request), ``max_concurrency``
    (threads per transfer), ``multipart_chunksize`` (bytes per part),
    and ``request_checksum_calculation`` / ``response_checksum_validation``
    (boto3's settings of the same names; ``when_required`` for stores that
    refuse the checksums boto3 sends by default).

    Args:
        host: host name or endpoint URL
        repository: bucket name
        authentication: access key and secret key;
            looked up as described above if ``None``

    Examples:
        >>> S3("http://127.0.0.1:9000", "models")
        audmodel.backend.S3('http://127.0.0.1:9000', 'models')

    """

    checks_downloads = True
    r"""A download is compared with the stored MD5 (ChecksumError if not)."""

    max_concurrency: int = 8
    r"""Threads per multipart transfer."""

    multipart_threshold: int = 16 * MIB
    r"""Files from this size on are transferred in parts."""

    multipart_chunksize: int = 16 * MIB
    r"""Size of a part."""

    request_checksum_calculation: str = "when_supported"
    r"""When boto3 sends checksums of uploads (``"when_required"`` or not)."""

    response_checksum_validation: str = "when_supported"
    r"""When boto3 checks checksums of downloads (``"when_required"`` or not)."""

    opens_lazily = True

    learned: Learned = Learned()
    r"""What was found out about endpoints in earlier processes (none here);
    the library hands each backend the record kept in the user's cache."""

    list_page_size: int = 100_000
    r"""Keys asked for per page of a listing.

    AWS sends at most 1,000 however many are asked for;
    stores that send more save requests.

    """

    def __init__(
        self,
        host: str,
        repository: str,
        *,
        authentication: tuple[str, str] | None = None,
    ):
        super().__init__(check_host(host), repository, authentication=authentication)
        # boto3 ignores credentials in a URL but would repeat them in errors.
        self._settings = host_config(host)
        self.endpoint = without_userinfo(endpoint_url(host, self._settings))
        r"""Endpoint URL."""
        self._client: Any = None

    def __repr__(self) -> str:
        host = without_userinfo(self.host)
        return f"audmodel.backend.S3('{host}', '{self.repository}')"

    def _setting(self, name: str, cast: Callable[[str], _T]) -> _T:
        value = self._settings.get(name)
        return getattr(self, name) if value in (None, "") else cast(value)

    def _make_client(self) -> Any:
        session = _session()
        access_key, secret_key = self.authentication or (None, None)
        signed = access_key is not None or session.get_credentials() is not None
        if not signed:
            access_key, secret_key = minio_credentials(self.host, self._settings)
            signed = access_key is not None
        # Building a client loads service models and takes about 0.1 s,
        # so clients are shared; they are thread-safe but not fork-safe.
        key = (
            os.getpid(),
            self.endpoint,
            access_key,
            secret_key,
            signed,
            tuple(sorted(self._settings.items())),
            self.connect_timeout,
            self.read_timeout,
            self.max_attempts,
            self.max_concurrency,
        )
        if key not in _CLIENTS:
            _CLIENTS[key] = self._new_client(session, access_key, secret_key, signed)
        return _CLIENTS[key]

    def _new_client(
        self,
        session: boto3.session.Session,
        access_key: str | None,
        secret_key: str | None,
        signed: bool,
    ) -> Any:
        config = botocore.config.Config(
            connect_timeout=self._setting("connect_timeout", float),
            read_timeout=self._setting("read_timeout", float),
            retries={
                "max_attempts": self._setting("max_attempts", int),
                "mode": "standard",
            },
            # Transfers and parallel listings and reads share the pool.
            max_pool_connections=max(20, self._setting("max_concurrency", int) + 2),
            s3={"addressing_style": "auto" if _is_aws(self.endpoint) else "path"},
            signature_version=None if signed else botocore.UNSIGNED,
            # boto3's default sends a CRC-32 after the body of each upload;
            # without one, requests over plain HTTP are signed with the
            # SHA-256 of their body, which costs a core at transfer speed.
            # Stores that refuse such trailers take "when_required".
            request_checksum_calculation=self._setting(
                "request_checksum_calculation", str
            ),
            response_checksum_validation=self._setting(
                "response_checksum_validation", str
            ),
        )
        return session.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=_region(self.endpoint),
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )

    @property
    def client(self) -> Any:
        r"""The boto3 client, created on first use."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _transfer_config(
        self, num_workers: int = 1
    ) -> boto3.s3.transfer.TransferConfig:
        concurrency = max(num_workers, self._setting("max_concurrency", int))
        chunk = self._setting("multipart_chunksize", int)
        return boto3.s3.transfer.TransferConfig(
            multipart_threshold=max(self.multipart_threshold, chunk),
            multipart_chunksize=chunk,
            max_concurrency=concurrency,
            use_threads=concurrency > 1,
            # Received data waits here for the thread writing the file; the
            # default of 100 entries held about 60 MiB more in a 1 GiB
            # download without making it faster.
            max_io_queue=16,
        )

    @property
    def read_threads(self) -> int:
        r"""Ranges of one file read at once: ``max_concurrency``."""
        return self._setting("max_concurrency", int)

    @property
    def read_part(self) -> int:
        r"""Bytes per range of a file read in parts: ``multipart_chunksize``."""
        return self._setting("multipart_chunksize", int)

    def _key(self, path: str) -> str:
        return path.removeprefix("/")

    def _head(self, path: str) -> dict:
        return self._object_call(self.client.head_object, path)

    def _get_object(self, path: str, **kwargs: object) -> dict:
        return self._object_call(self.client.get_object, path, **kwargs)

    def _object_call(self, method: Callable, path: str, **kwargs: object) -> dict:
        r"""Call a client method on one object; a missing one is FileNotFoundError."""
        with self._missing_as_not_found(path):
            answer = method(Bucket=self.repository, Key=self._key(path), **kwargs)
        self.seen()
        return answer

    # --- audbackend's backend methods ------------------------------------

    def _open(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.repository)
        except botocore.exceptions.ClientError as ex:
            raise self._bucket_error(_status(ex)) from None
        except botocore.exceptions.BotoCoreError as ex:
            raise ConnectionError(
                f"Cannot reach '{self.endpoint}' (bucket '{self.repository}'): {ex}"
            ) from None

    def _bucket_error(self, status: int) -> Exception:
        r"""What the server's answer ``status`` about the bucket means."""
        where = f"bucket '{self.repository}' on '{self.endpoint}'"
        if status == 404:
            return RepositoryMissingError(
                f"Cannot open {where}: the bucket does not exist."
            )
        if status == 403:
            return PermissionError(f"Cannot open {where}: access is denied.")
        return OSError(f"Cannot open {where}: the server answered {status}.")

    @contextlib.contextmanager
    def _missing_as_not_found(self, path: str) -> Iterator[None]:
        r"""A 404 answer about the object ``path`` as :class:`FileNotFoundError`.

        A missing bucket says so in the answer to a GET or a listing; the
        answer to a HEAD has no body, so the bucket is checked (see
        :meth:`missing`).

        """
        try:
            yield
        except botocore.exceptions.ClientError as ex:
            self._refuse_missing_bucket(ex)
            if _code(ex) == "NoSuchKey":  # the bucket answered: no check
                self.seen()
            if _status(ex) == 404:
                raise self.missing(path) from None
            raise

    def _checksum(self, path: str) -> str:
        return _user_metadata(self._head(path)).get("checksum", "")

    def _copy_file(self, src_path: str, dst_path: str, num_workers: int, verbose: bool):
        with self._missing_as_not_found(src_path):
            self.client.copy(
                {"Bucket": self.repository, "Key": self._key(src_path)},
                self.repository,
                self._key(dst_path),
                Config=self._transfer_config(num_workers),
            )

    def _create(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.repository)
        except botocore.exceptions.ClientError as ex:
            if _status(ex) != 404:
                raise
            self.client.create_bucket(Bucket=self.repository)
            return
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), self.repository)

    def _date(self, path: str) -> str:
        return self._head(path)["LastModified"].strftime("%Y-%m-%d")

    def _modified(self, path: str) -> datetime.datetime:
        return self._head(path)["LastModified"]

    def _delete(self) -> None:
        for key in self._keys(""):
            self.client.delete_object(Bucket=self.repository, Key=key)
        self.client.delete_bucket(Bucket=self.repository)

    def _exists(self, path: str) -> bool:
        # A GET of the first byte rather than a HEAD: the answer to a GET of
        # a missing object tells whether the bucket is there, so that no
        # second request has to ask (see _missing_as_not_found).
        try:
            self._get_object(path, Range="bytes=0-0")["Body"].close()
        except FileNotFoundError:
            return False
        except botocore.exceptions.ClientError as ex:
            if _status(ex) != 416:  # an empty object has no first byte
                raise
        return True

    def _get_file(self, src_path: str, dst_path: str, num_workers: int, verbose: bool):
        head = self._head(src_path)
        with progress(
            head["ContentLength"], f"Download {os.path.basename(src_path)}", verbose
        ) as update:
            self._object_call(
                lambda Bucket, Key: self.client.download_file(  # noqa: N803
                    Bucket,
                    Key,
                    dst_path,
                    Config=self._transfer_config(num_workers),
                    Callback=update,
                ),
                src_path,
            )
        check_download(
            dst_path,
            _user_metadata(head).get("checksum"),
            f"'{src_path}' from bucket '{self.repository}'",
        )

    def _get_file_stream(self, src_path: str) -> Iterator[bytes]:
        response = self.client.get_object(
            Bucket=self.repository, Key=self._key(src_path)
        )
        yield from _chunks(response)

    def _pages(self, prefix: str, **kwargs: object) -> Iterator[dict]:
        r"""Pages of a listing; boto3's paginator follows the tokens."""
        paginator = self.client.get_paginator("list_objects_v2")
        with self._missing_as_not_found(prefix):
            yield from paginator.paginate(
                Bucket=self.repository,
                Prefix=prefix,
                PaginationConfig={"PageSize": self.list_page_size},
                **kwargs,
            )

    def _keys(self, prefix: str) -> Iterator[str]:
        for page in self._pages(prefix):
            # 'or []': some stores send an empty element as None.
            for item in page.get("Contents") or []:
                yield item["Key"]

    def _ls(self, path: str) -> list[str]:
        prefix = self._key(path)
        first = next(self._pages(prefix), {})
        keys = [item["Key"] for item in first.get("Contents") or []]
        if first.get("IsTruncated"):
            # A long listing is split by the character after the prefix and
            # its parts listed in parallel: a repository of 10,000 models
            # lists in a fraction of the time one paginated listing takes.
            with concurrent.futures.ThreadPoolExecutor(LIST_REQUESTS) as pool:
                parts = pool.map(
                    lambda c: list(self._keys(prefix + c)), PATH_CHARACTERS
                )
                keys = [key for part in parts for key in part]
        return [f"/{key}" for key in keys]

    def ls_ending(self, path: str, ending: str) -> list[str] | None:
        r"""Paths below a folder that end in ``ending``, from names alone.

        ``ending`` is sent as the delimiter of the listing, so the store
        rolls each key up at the first ``ending`` after the folder and sends
        a name, without the size, date and ETag of a key:
        about a third of the bytes of :meth:`ls`, and far less to parse.
        A returned path is a key, or where ``ending`` occurs in a key more
        than once, the part of it up to the first; the caller, knowing its
        layout, lists those again with :meth:`ls`.

        Args:
            path: folder, ending in ``/``
            ending: end of the wanted file names, e.g. ``".yaml"``

        Returns:
            the paths, or ``None`` where the store refuses such a listing or
            sends it in several pages (stores differ in how they page a
            delimiter other than ``/``), and :meth:`ls` is to be used

        Raises:
            BackendError: if the store cannot be reached
            RuntimeError: if the backend was not opened

        """
        _check_opened(self)
        try:
            return self._ls_ending(path, ending)
        except Exception as ex:
            raise audbackend.BackendError(ex) from ex

    def _ls_ending(self, path: str, ending: str) -> list[str] | None:
        try:
            page = self.client.list_objects_v2(
                Bucket=self.repository,
                Prefix=self._key(path),
                Delimiter=ending,
                MaxKeys=self.list_page_size,
            )
        except botocore.exceptions.ClientError:
            return None
        prefixes = [item["Prefix"] for item in page.get("CommonPrefixes") or []]
        # Some stores cut a prefix after the first character of a longer
        # delimiter (s3rver); a store that ignores it sends all in Contents.
        if page.get("IsTruncated") or not all(p.endswith(ending) for p in prefixes):
            return None
        keys = [item["Key"] for item in page.get("Contents") or []] + prefixes
        return [f"/{key}" for key in keys if key.endswith(ending)]

    def _ls_dirs(self, path: str) -> list[str]:
        prefix = self._key(path)
        dirs, found = [], False
        for page in self._pages(prefix, Delimiter="/"):
            # What a page found is in its Contents and CommonPrefixes; its
            # KeyCount counts both on AWS but only keys on other stores.
            prefixes = page.get("CommonPrefixes") or []
            found = found or bool(page.get("Contents")) or bool(prefixes)
            dirs += [p["Prefix"][len(prefix) :].rstrip("/") for p in prefixes]
        if not found and path != "/":
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        return dirs

    def _read_whole(self, path: str, limit: int | None) -> bytes:
        response = self._get_object(path)
        try:
            check_size(path, response["ContentLength"], limit)
        except FileTooLargeError:
            response["Body"].close()  # drops the connection, unread
            raise
        return check_bytes(
            response["Body"].read(),
            _user_metadata(response).get("checksum"),
            f"'{path}' from bucket '{self.repository}'",
        )

    def _read_range(self, path: str, start: int, end: int | None) -> bytes:
        if start == 0 and end is None:
            return self._read_whole(path, None)
        last = "" if end is None else end - 1
        return self._get_object(path, Range=f"bytes={start}-{last}")["Body"].read()

    def _stream_range(self, path: str, start: int, end: int) -> Iterator[bytes]:
        response = self._get_object(path, Range=f"bytes={start}-{end - 1}")
        yield from _chunks(response)

    def _read_tail(self, path: str, count: int) -> tuple[bytes, int]:
        try:
            response = self._get_object(path, Range=f"bytes=-{count}")
        except botocore.exceptions.ClientError as ex:
            if _status(ex) != 416:  # an empty file has no last bytes
                raise
            return b"", 0
        data = response["Body"].read()
        # 'bytes 100-199/200'; a store that ignores the range sends all.
        first, size = _content_range(response.get("ContentRange"), len(data))
        start = max(0, size - count)
        if first != start or first + len(data) != size:
            # Some stores (s3rver) take 'the last n bytes' for the first ones.
            data = self._read_range(path, start, size)
        return data[-count:], size

    def copy_from(self, source: object, src_path: str, dst_path: str) -> bool:
        r"""Copy a file from another bucket of the same store, on the server.

        The bytes do not pass through this machine. This works where both
        backends reach the same endpoint with the same credentials.

        Args:
            source: backend holding the file, opened
            src_path: path on ``source``
            dst_path: path on this backend

        Returns:
            ``False``, having done nothing, if ``source`` is another store;
            ``True`` once the file was copied

        Raises:
            BackendError: if the copy fails

        """
        if not (
            isinstance(source, S3)
            and source.endpoint == self.endpoint
            and source.client is self.client
        ):
            return False
        try:
            head = source._head(src_path)
            with self._missing_as_not_found(src_path):
                self._copy_on_server(source, src_path, dst_path, head)
        except Exception as ex:
            raise audbackend.BackendError(ex) from ex
        return True

    def _copy_on_server(
        self, source: S3, src_path: str, dst_path: str, head: dict
    ) -> None:
        self.client.copy(
            {"Bucket": source.repository, "Key": source._key(src_path)},
            self.repository,
            self._key(dst_path),
            ExtraArgs={
                "ContentType": head.get("ContentType") or "application/octet-stream",
                "Metadata": _metadata(_user_metadata(head).get("checksum", "")),
                "MetadataDirective": "REPLACE",
            },
            Config=self._transfer_config(),
        )

    def _move_file(self, src_path: str, dst_path: str, num_workers: int, verbose: bool):
        self._copy_file(src_path, dst_path, num_workers, verbose)
        self._remove_file(src_path)

    def _owner(self, path: str) -> str:
        return _user_metadata(self._head(path)).get("owner", "")

    def _put_file(self, src_path: str, dst_path: str, checksum: str, verbose: bool):
        content_type = mimetypes.guess_type(src_path)[0] or "application/octet-stream"
        with (
            progress(
                os.path.getsize(src_path),
                f"Upload {os.path.basename(dst_path)}",
                verbose,
            ) as update,
            self._writing(),
        ):
            self.client.upload_file(
                src_path,
                self.repository,
                self._key(dst_path),
                ExtraArgs={
                    "ContentType": content_type,
                    "Metadata": _metadata(checksum),
                },
                Config=self._transfer_config(),
                Callback=update,
            )

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        r"""Name a missing bucket in the error of an upload."""
        try:
            yield
        except (botocore.exceptions.ClientError, S3UploadFailedError) as ex:
            self._refuse_missing_bucket(ex)
            raise
        self.seen()

    def put_file_exclusive(self, src_path: str, dst_path: str) -> None:
        r"""Put a small file on the backend unless one is there, atomically.

        Of several processes creating the same file, exactly one succeeds.
        Where the store honours conditional writes (``If-None-Match: *``:
        AWS, current MinIO) one request does it;
        elsewhere processes take tickets (:mod:`audmodel.backend._tickets`).
        :attr:`honours_if_none_match` tells which.

        Args:
            src_path: local file
            dst_path: path on the backend

        Raises:
            FileExistsError: if ``dst_path`` exists

        """
        with open(src_path, "rb") as fp:
            data = fp.read()
        honours, ticket = self._honours_probing_with(dst_path, data)
        if not honours:
            if not _tickets.put_file_exclusive(self, src_path, dst_path, ticket):
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst_path)
            return
        if not self._put_if_absent(self._key(dst_path), data):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst_path)

    def claim(self, src_path: str, dst_path: str) -> _tickets.Taken:
        r"""Take the claim ``dst_path``: by a conditional write, else by a ticket.

        Where the store ignores ``If-None-Match``, the winning ticket is the
        claim (:func:`audmodel.backend._tickets.take`), which saves writing
        and removing a second file.

        Returns:
            the path held, or the holder's

        """
        with open(src_path, "rb") as fp:
            data = fp.read()
        honours, ticket = self._honours_probing_with(dst_path, data)
        if not honours:
            return _tickets.take(self, src_path, dst_path, ticket)
        if self._put_if_absent(self._key(dst_path), data):
            return _tickets.Taken(dst_path, dst_path)
        return _tickets.Taken(None, dst_path)

    def _honours_probing_with(
        self, dst_path: str, data: bytes
    ) -> tuple[bool, str | None]:
        r"""Whether the store honours ``If-None-Match``; found out by a ticket.

        Returns:
            the answer, and the ticket written to find it out where the
            store ignores the header (to be taken as the first ticket)

        """
        honours = self._learned_if_none_match()
        if honours is not None:
            return honours, None
        # The first ticket doubles as the probe: where the store ignores
        # the header, the ticket scheme goes on with it.
        ticket = _tickets.new_ticket(dst_path)
        if self._learn_if_none_match(self._key(ticket), data):
            self.remove_if_there(ticket)
            return True, None
        return False, ticket

    @property
    def honours_if_none_match(self) -> bool:
        r"""Whether the store refuses a write with ``If-None-Match: *``.

        Some S3-compatible stores ignore the header and overwrite.
        Found out once per endpoint and remembered (see ``learned``):
        here by a probe object under ``_audmodel/``, written twice and
        removed again; by :meth:`put_file_exclusive` with its first ticket.

        """
        known = self._learned_if_none_match()
        if known is None:
            key = f"{PROBE_PREFIX}if-none-match-{secrets.token_hex(8)}"
            try:
                known = self._learn_if_none_match(key, b"probe")
            finally:
                with contextlib.suppress(botocore.exceptions.ClientError):
                    self.client.delete_object(Bucket=self.repository, Key=key)
        return known

    @property
    def exclusive_creation(self) -> str:
        r"""How this backend creates a file only if absent, for debug output."""
        known = self._learned_if_none_match()
        if known is None:
            return (
                f"conditional writes (If-None-Match) on '{self.endpoint}' "
                "if it honours them, else tickets"
            )
        if known:
            return f"conditional writes (If-None-Match) on '{self.endpoint}'"
        return (
            f"tickets, as '{self.endpoint}' ignores conditional writes (If-None-Match)"
        )

    def _learned_if_none_match(self) -> bool | None:
        r"""What is known of the endpoint's conditional writes, ``None`` if nothing."""
        if self.endpoint not in _CONDITIONAL_WRITES:
            known = self.learned.get(CONDITIONAL_WRITES, self.endpoint)
            if known is None:
                return None
            _CONDITIONAL_WRITES[self.endpoint] = known
        return _CONDITIONAL_WRITES[self.endpoint]

    def _learn_if_none_match(self, key: str, data: bytes) -> bool:
        r"""Write ``key`` twice with ``If-None-Match: *``; remember if refused."""
        try:
            self._put_if_absent(key, data)
            honours = not self._put_if_absent(key, data)
        except botocore.exceptions.ClientError as ex:
            if _status(ex) not in (400, 501):  # 400, 501: the header is unknown
                raise
            honours = False
        self.learned.put(CONDITIONAL_WRITES, self.endpoint, honours)
        _CONDITIONAL_WRITES[self.endpoint] = honours
        return honours

    def _put_if_absent(self, key: str, data: bytes) -> bool:
        r"""Write with ``If-None-Match: *``; tell if the store took it."""
        try:
            self.client.put_object(
                Bucket=self.repository,
                Key=key,
                Body=data,
                Metadata=_metadata(hashlib.md5(data).hexdigest()),
                IfNoneMatch="*",
            )
        except botocore.exceptions.ClientError as ex:
            if _status(ex) in (409, 412):
                return False
            self._refuse_missing_bucket(ex)
            raise
        self.seen()
        return True

    def _refuse_missing_bucket(self, ex: Exception) -> None:
        r"""Raise an error that says the bucket is missing as such.

        For reads and writes alike: a write is the first request of a call
        that changes a repository (the claim). An upload's error carries
        the server's code in its text only.

        Raises:
            CannotOpenError: if ``ex`` says there is no such bucket

        """
        said = _code(ex) if isinstance(ex, botocore.exceptions.ClientError) else str(ex)
        if "NoSuchBucket" in said:
            missing = self._bucket_error(404)
            raise CannotOpenError(str(missing)) from missing

    def remove_if_there(self, path: str) -> None:
        r"""Remove a file, in one request; a missing one is no error.

        Raises:
            BackendError: if the store refuses or cannot be reached
            RuntimeError: if the backend was not opened

        """
        _check_opened(self)
        try:
            self.client.delete_object(Bucket=self.repository, Key=self._key(path))
        except Exception as ex:
            raise audbackend.BackendError(ex) from ex

    def _remove_file(self, path: str) -> None:
        self._head(path)  # a missing file is an error, as for other backends
        self.client.delete_object(Bucket=self.repository, Key=self._key(path))

    def _size(self, path: str) -> int:
        return self._head(path)["ContentLength"]


def _metadata(checksum: str) -> dict[str, str]:
    # The user metadata audbackend's MinIO backend stores with every object.
    return {"checksum": checksum, "owner": getpass.getuser()}


def _content_range(header: str | None, length: int) -> tuple[int, int]:
    r"""First byte and size of the file from a Content-Range header.

    Examples:
        >>> _content_range("bytes 100-199/200", 100)
        (100, 200)
        >>> _content_range(None, 50)  # the whole file
        (0, 50)

    """
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+)", header or "")
    if match is None:
        return 0, length
    return int(match.group(1)), int(match.group(2))


def _chunks(response: dict) -> Iterator[bytes]:
    r"""The body of a response in pieces of a MiB as they arrive."""
    body = response["Body"]
    try:
        yield from body.iter_chunks(MIB)
    except BaseException:
        # Left part-way (the reader stopped, or the read failed): close the
        # connection now, rather than when the collector finds it.
        body.close()
        raise


def _user_metadata(head: dict) -> dict[str, str]:
    # HTTP header names are case-insensitive, and stores differ in the case
    # they send them in (X-Amz-Meta-Checksum, x-amz-meta-checksum).
    return {key.lower(): value for key, value in head.get("Metadata", {}).items()}


def _session() -> boto3.session.Session:
    # A session resolves credentials once, so one is kept per process and
    # per state of the variables that choose the credentials.
    key = (os.getpid(), *(os.environ.get(name) for name in _CREDENTIAL_VARIABLES))
    if key not in _SESSIONS:
        session = botocore.session.get_session()
        # A listing of 1,000 keys carries 1,000 timestamps; botocore's own
        # parser (dateutil) spends half the client's time of a listing on them.
        session.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=_parse_timestamp
        )
        _SESSIONS[key] = boto3.session.Session(botocore_session=session)
    return _SESSIONS[key]


def _parse_timestamp(value: object) -> datetime.datetime:
    r"""A timestamp of a response, ISO 8601 the fast way, others as botocore.

    Examples:
        >>> _parse_timestamp("2026-11-24T23:30:00.000Z")
        datetime.datetime(2026, 11, 24, 23, 30, tzinfo=datetime.timezone.utc)
        >>> _parse_timestamp("Tue, 24 Nov 2026 23:30:00 GMT").isoformat()
        '2026-11-24T23:30:00+00:00'

    """
    if isinstance(value, str) and value.endswith("Z"):
        try:
            return datetime.datetime.fromisoformat(value[:-1] + "+00:00")
        except ValueError:
            pass
    return botocore.utils.parse_timestamp(value)


def endpoint_url(host: str, settings: dict[str, str] | None = None) -> str:
    r"""The endpoint URL of a host: a URL as given, else HTTPS unless configured.

    A bare host means what it means to audbackend's MinIO backend, which
    audmodel 1.5 uses for ``s3``: HTTPS, unless the host's section of
    ``minio.cfg`` (``settings``) has ``secure`` empty (as ``secure =``
    leaves it) or false, then plain HTTP.

    Examples:
        >>> endpoint_url("s3.dualstack.eu-north-1.amazonaws.com")
        'https://s3.dualstack.eu-north-1.amazonaws.com'
        >>> endpoint_url("127.0.0.1:9000", {"secure": ""})
        'http://127.0.0.1:9000'
        >>> endpoint_url("http://127.0.0.1:9000")
        'http://127.0.0.1:9000'

    """
    if "://" in host:
        return host
    secure = (settings or {}).get("secure")
    plain = secure is not None and secure.strip().lower() in _FALSE
    return f"{'http' if plain else 'https'}://{host}"


_FALSE = {"", "false", "no", "off", "0"}


def network_location(host: str) -> str:
    r"""Host and port of a host name or URL, as audbackend's MinIO names hosts.

    Examples:
        >>> network_location("http://127.0.0.1:9000/")
        '127.0.0.1:9000'

    """
    return urllib.parse.urlsplit(endpoint_url(host)).netloc.rpartition("@")[2]


def host_config(host: str) -> dict[str, str]:
    r"""The section of audbackend's MinIO configuration file for a host."""
    path = audeer.path(os.environ.get("MINIO_CONFIG_FILE", CONFIG_FILE))
    if not os.path.exists(path):
        return {}
    parser = configparser.ConfigParser(allow_no_value=True)
    parser.read(path)
    for section in (network_location(host), host):
        if parser.has_section(section):
            return {
                key: (value or "").strip("'\"") for key, value in parser.items(section)
            }
    return {}


def minio_credentials(
    host: str, settings: dict[str, str]
) -> tuple[str | None, str | None]:
    r"""Access and secret key from audbackend's MinIO variables or file."""
    suffix = re.sub(r"[^A-Za-z0-9]", "_", network_location(host)).upper()
    access_key = os.environ.get(
        f"MINIO_ACCESS_KEY_{suffix}",
        os.environ.get("MINIO_ACCESS_KEY", settings.get("access_key")),
    )
    secret_key = os.environ.get(
        f"MINIO_SECRET_KEY_{suffix}",
        os.environ.get("MINIO_SECRET_KEY", settings.get("secret_key")),
    )
    return access_key or None, secret_key or None


def _is_aws(endpoint: str) -> bool:
    host = urllib.parse.urlsplit(endpoint).hostname or ""
    return host.endswith(".amazonaws.com")


def _region(endpoint: str) -> str:
    # AWS endpoints name their region, e.g. s3.dualstack.eu-north-1.amazonaws.com;
    # others accept any region in the signature.
    match = re.search(r"\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com$", endpoint)
    return match.group(1) if match else "us-east-1"


def _code(ex: botocore.exceptions.ClientError) -> str:
    return str(ex.response.get("Error", {}).get("Code", ""))


def _status(ex: botocore.exceptions.ClientError) -> int:
    return int(ex.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
