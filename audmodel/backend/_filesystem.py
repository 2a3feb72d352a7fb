"""audbackend's file-system backend, with faster, atomic and durable uploads."""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import datetime
import os
import shutil
from typing import BinaryIO
import uuid

import audbackend
import audeer

from audmodel import errors
from audmodel._files import open_regular
from audmodel.backend._common import FileTimes
from audmodel.backend._common import RangedReads
from audmodel.backend._common import check_size
from audmodel.backend._common import holds_already
from audmodel.backend._common import md5_of_stream


class FileSystem(FileTimes, RangedReads, audbackend.backend.FileSystem):
    r"""Backend for a folder: audbackend's, stored the same way.

    It differs in speed and safety only:
    a new file is uploaded without computing its MD5
    (nothing stores it, and nothing is there to compare with),
    it is hard-linked into place when on the same file system
    and copied by the kernel otherwise
    (so a file given to :meth:`put_file` must not be changed afterwards:
    this package gives it only files it has just written),
    and it appears under its name only when complete.
    A file of another file-system repository is always copied
    (:meth:`copy_from`), so that the two never share their bytes.
    Stored files are read only if they are regular files,
    so that a FIFO or device planted in the repository cannot block a reader,
    and no path may have a ``.`` or ``..`` part.
    Uploads and removals are durable: they return once the file's content
    and the folder entries they changed are on disk (``fsync``),
    so that a crash of the machine cannot leave a model's header
    without the archive written before it.
    :meth:`local_path` lets a reader use a stored file where it lies.

    Args:
        host: folder that holds the repository
        repository: repository name, a folder below ``host``

    """

    stores_md5 = False
    r"""The backend keeps no MD5 of its own, so none need be computed."""

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
        # As audbackend does, an identical file is not written again.
        if os.path.exists(self.local_path(dst_path)) and holds_already(
            self, dst_path, audeer.md5(src_path)
        ):
            return None
        try:
            self._put_file(src_path, dst_path, "", verbose)
        except Exception as ex:
            raise audbackend.BackendError(ex) from ex
        return None

    def _put_file(self, src_path: str, dst_path: str, checksum: str, verbose: bool):
        with self._staged(src_path, dst_path, link=True) as (staging, target):
            os.replace(staging, target)
            sync_folder(os.path.dirname(target))

    def copy_from(self, source: object, src_path: str, dst_path: str) -> bool:
        r"""Copy a file from another file-system repository, never linked.

        A hard link would make both repositories hold one file, so that a
        change in one (a development repository, say) changed the other.

        Args:
            source: backend of the other repository, opened
            src_path: path on ``source``
            dst_path: path on this backend

        Returns:
            ``False`` if ``source`` is no file-system repository
            (the caller copies the file itself)

        Raises:
            BackendError: if the file cannot be copied

        """
        if not isinstance(source, FileSystem):
            return False
        try:
            with source._open_regular(src_path):  # refuses a FIFO or device
                pass
            local = source.local_path(src_path)
            with self._staged(local, dst_path, link=False) as (staging, target):
                os.replace(staging, target)
                sync_folder(os.path.dirname(target))
        except Exception as ex:
            raise audbackend.BackendError(ex) from ex
        return True

    def _remove_file(self, path: str) -> None:
        target = self.local_path(path)
        os.remove(target)
        sync_folder(os.path.dirname(target))

    def _modified(self, path: str) -> datetime.datetime:
        mtime = os.stat(self.local_path(path)).st_mtime
        return datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc)

    def put_file_exclusive(self, src_path: str, dst_path: str) -> None:
        r"""Put a file on the backend unless one is there, atomically.

        Args:
            src_path: local file
            dst_path: path on the backend

        Raises:
            FileExistsError: if ``dst_path`` exists

        """
        with self._staged(src_path, dst_path, link=True) as (staging, target):
            os.link(staging, target)  # fails if the target exists
            sync_folder(os.path.dirname(target))

    @contextlib.contextmanager
    def _staged(
        self, src_path: str, dst_path: str, link: bool
    ) -> Iterator[tuple[str, str]]:
        r"""Yield a complete copy of ``src_path`` beside the target, and the target.

        With ``link``, the copy is a hard link where the file system allows.
        It is gone afterwards, so that the target only ever appears complete.
        Its content is on disk before it is yielded.

        """
        target = self.local_path(dst_path)
        make_folders(os.path.dirname(target))
        staging = f"{target}.{uuid.uuid4().hex}~"
        try:
            try:
                if not link:
                    raise OSError("copy")
                os.link(src_path, staging)
            except OSError:  # another file system, or links not allowed
                shutil.copyfile(src_path, staging)
            sync_file(staging)
            yield staging, target
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(staging)

    def links_from(self, folder: str) -> bool:
        r"""Whether a file uploaded from ``folder`` is hard-linked into place.

        Args:
            folder: local folder

        Returns:
            ``True`` if ``folder`` lies on the repository's file system

        Examples:
            >>> import os, tempfile
            >>> host = tempfile.mkdtemp()
            >>> os.mkdir(os.path.join(host, "repo"))
            >>> FileSystem(host, "repo").links_from(host)
            True

        """
        try:
            return os.stat(folder).st_dev == os.stat(self._root).st_dev
        except OSError:  # either is missing
            return False

    def local_path(self, path: str) -> str:
        r"""Where a file of the backend lies on disk.

        Args:
            path: path on the backend, e.g. ``'/sub/file.zip'``

        Returns:
            local path

        """
        return self._expand(path)

    def _expand(self, path: str) -> str:
        # audbackend allows '..' in paths; a repository's files stay inside.
        if any(part in (".", "..") for part in path.split("/")):
            raise errors.RefusedPathError(
                f"Refusing the path '{path}': it has a '.' or '..' part."
            )
        return super()._expand(path)

    def _read_range(self, path: str, start: int, end: int | None) -> bytes:
        with self._open_regular(path) as fp:
            fp.seek(start)
            return fp.read() if end is None else fp.read(end - start)

    def _read_whole(self, path: str, limit: int | None) -> bytes:
        with self._open_regular(path) as fp:
            check_size(path, os.fstat(fp.fileno()).st_size, limit)
            return fp.read()

    def _read_tail(self, path: str, count: int) -> tuple[bytes, int]:
        with self._open_regular(path) as fp:
            size = fp.seek(0, os.SEEK_END)
            fp.seek(max(0, size - count))
            return fp.read(), size

    def _checksum(self, path: str) -> str:
        with self._open_regular(path) as fp:
            return md5_of_stream(fp)

    def _get_file(self, src_path: str, dst_path: str, num_workers: int, verbose: bool):
        with self._open_regular(src_path) as src, open(dst_path, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)

    def _open_regular(self, path: str) -> BinaryIO:
        r"""Open a stored file for reading, see :func:`open_regular`."""
        return open_regular(self.local_path(path))

    def _ls(self, path: str) -> list[str]:
        # os.walk scans each folder once; audbackend's listing globs, which
        # takes seconds on a repository of 10,000 models.
        root = self._expand(path)
        files = []
        for folder, _, names in os.walk(root):
            files += [os.path.join(folder, name) for name in names]
        return [self._collapse(file) for file in files]


def sync_file(path: str) -> None:
    r"""Wait until the content of a file is on disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_folder(path: str) -> None:
    r"""Wait until the entries of a folder are on disk.

    Where a folder cannot be opened for this (Windows), it is skipped.

    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def make_folders(path: str) -> None:
    r"""Create a folder and its missing parents, durably.

    Each new folder's entry in its parent is on disk afterwards.

    """
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made by another process
            os.mkdir(folder)
        sync_folder(os.path.dirname(folder))
