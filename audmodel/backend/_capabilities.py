"""What a backend can do beyond audbackend's ``Base``, with a default for each.

audbackend's interface covers what every backend does: put, get, list,
remove, checksum. This package's backends can do more, each where its
store allows; a backend registered by a user with
:meth:`audmodel.Repository.register` may do none of it and still works.
:class:`Capabilities` is the one place that asks a backend object what it
can do; everything else asks a :class:`Capabilities`.

A backend declares a capability by having it:

========================  ===================================================
``stores_md5``            ``False`` if it keeps no MD5 of its own, so that
                          none need be computed before an upload
                          (class attribute; default ``True``)
``checks_downloads``      ``True`` if its downloads are checked against the
                          MD5 it stores (class attribute; default ``False``)
``url(path)``             a URL for a stored file (Artifactory)
``local_path(path)``      where a stored file lies on this machine's disk
                          (file system)
``links_from(folder)``    whether a file uploaded from ``folder`` is
                          hard-linked into place
``copy_from(source,       copy a file from another backend on the server
src, dst)``               or by the kernel; ``False`` where it cannot
``ls_ending(folder,       names below a folder that end in ``ending``, by a
ending)``                 listing of names alone; ``None`` where it cannot
``modified(path)``        when a file was written, to the second
``put_file_with_md5       upload a file whose MD5 the caller knows (the
(src, dst, md5)``         archive's, computed while it was written)
``put_file_exclusive      write a file unless one is there, raising
(src, dst)``              :class:`FileExistsError`; named by
                          ``exclusive_creation``
``claim(src, dst)``       take a claim the backend's own way: the path
                          held, or the holder's (S3: a conditional write,
                          or a ticket where the store ignores them)
``read_range`` and the    reading parts of files (:class:`RangedReads`)
rest of RangedReads
========================  ===================================================

"""

from __future__ import annotations

from collections.abc import Callable
import datetime
from typing import Any

from audmodel._lazy import audbackend
from audmodel.backend._common import RangedReads


class Capabilities:
    r"""What a backend can do; a default where it cannot.

    Args:
        backend: a backend object, opened or not

    Examples:
        >>> import tempfile
        >>> backend = audbackend.backend.FileSystem(tempfile.mkdtemp(), "r")
        >>> Capabilities(backend).stores_md5, Capabilities(backend).ranged_reads
        (True, False)

    """

    def __init__(self, backend: audbackend.backend.Base):
        self.backend = backend

    def _method(self, name: str) -> Callable[..., Any] | None:
        return getattr(self.backend, name, None)

    @property
    def stores_md5(self) -> bool:
        r"""Whether the backend keeps an MD5 of each file."""
        return bool(getattr(self.backend, "stores_md5", True))

    @property
    def checks_downloads(self) -> bool:
        r"""Whether downloads are checked against the MD5 the backend keeps."""
        return bool(getattr(self.backend, "checks_downloads", False))

    @property
    def ranged_reads(self) -> bool:
        r"""Whether parts of files can be read (:class:`RangedReads`)."""
        return isinstance(self.backend, RangedReads)

    @property
    def exclusive_creation(self) -> str | None:
        r"""How a file is created only if absent; ``None`` if it cannot be."""
        if self._method("put_file_exclusive") is None:
            return None
        return str(getattr(self.backend, "exclusive_creation", "a conditional write"))

    def url(self, stored: str) -> str | None:
        r"""A URL of a stored file, ``None`` if the backend tells none."""
        url = self._method("url")
        return None if url is None else url(stored)

    def local_path(self, stored: str) -> str | None:
        r"""Where a stored file lies on disk, ``None`` if not on this machine."""
        local_path = self._method("local_path")
        return None if local_path is None else local_path(stored)

    @property
    def lies_locally(self) -> bool:
        r"""Whether stored files lie on this machine's disk."""
        return self._method("local_path") is not None

    def links_from(self, folder: str) -> bool:
        r"""Whether a file uploaded from ``folder`` is hard-linked into place."""
        links_from = self._method("links_from")
        return links_from is not None and bool(links_from(folder))

    def copy_from(self, source: audbackend.backend.Base, src: str, dst: str) -> bool:
        r"""Copy a file from ``source`` without passing it through this process.

        Returns:
            ``False`` if this backend cannot, and the caller must copy it

        """
        copy_from = self._method("copy_from")
        return copy_from is not None and bool(copy_from(source, src, dst))

    def ls_ending(self, folder: str, ending: str) -> list[str] | None:
        r"""Stored paths below ``folder`` ending in ``ending``, by names alone.

        Returns:
            ``None`` where the backend cannot list names alone

        """
        ls_ending = self._method("ls_ending")
        return None if ls_ending is None else ls_ending(folder, ending)

    def modified(self, stored: str) -> datetime.datetime:
        r"""When a stored file was written.

        Where the backend tells the day only (audbackend's ``date``, in local
        time), two days after it, so that no file is taken for older than
        it is.

        """
        modified = self._method("modified")
        if modified is not None:
            return modified(stored)
        day = datetime.datetime.strptime(self.backend.date(stored), "%Y-%m-%d")
        return day.replace(tzinfo=datetime.timezone.utc) + datetime.timedelta(2)

    def put_file(self, src: str, dst: str, md5: str | None = None) -> None:
        r"""Upload a file; with its MD5 given, without reading it for that.

        Args:
            src: local file
            dst: path on the backend
            md5: the file's MD5, where the caller knows it

        Raises:
            BackendError: if the upload fails

        """
        put = self._method("put_file_with_md5")
        if md5 is not None and put is not None:
            put(src, dst, md5)
        else:
            self.backend.put_file(src, dst)

    def remove_if_there(self, stored: str) -> bool:
        r"""Remove a file in one request where the backend can; tell if it did.

        Returns:
            ``False`` where the backend cannot remove without asking first

        """
        remove = self._method("remove_if_there")
        if remove is None:
            return False
        remove(stored)
        return True

    def claim(self, src: str, dst: str) -> tuple[str | None, str] | None:
        r"""Take a claim the backend's own way; ``None`` where it has none.

        Returns:
            the path held (``None`` if another process holds the claim),
            and where the claim is

        """
        take = self._method("claim")
        return None if take is None else take(src, dst)

    def put_file_exclusive(self, src: str, dst: str) -> None:
        r"""Write a file unless one is there.

        Raises:
            FileExistsError: if ``dst`` exists
            NotImplementedError: if the backend cannot (see
                :attr:`exclusive_creation`)

        """
        put = self._method("put_file_exclusive")
        if put is None:
            raise NotImplementedError(f"{self.backend!r} cannot create exclusively.")
        put(src, dst)
