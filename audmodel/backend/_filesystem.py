"""audbackend's file-system backend, with faster, atomic and durable uploads."""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import datetime
import os
import shutil
import uuid

import audbackend

from audmodel.backend._common import FileTimes
from audmodel.backend._common import RangedReads
from audmodel.backend._common import holds_already
from audmodel.backend._common import md5_of


class FileSystem(FileTimes, RangedReads, audbackend.backend.FileSystem):
    r"""Backend for a folder: audbackend's, stored the same way.

    It differs in speed and safety only:
    a new file is uploaded without computing its MD5
    (nothing stores it, and nothing is there to compare with),
    it is hard-linked into place when on the same file system
    and copied by the kernel otherwise,
    and it appears under its name only when complete.
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
            self, dst_path, md5_of(src_path)
        ):
            return None
        try:
            self._put_file(src_path, dst_path, "", verbose)
        except Exception as ex:
            raise audbackend.BackendError(ex) from ex
        return None

    def _put_file(self, src_path: str, dst_path: str, checksum: str, verbose: bool):
        with self._staged(src_path, dst_path) as (staging, target):
            os.replace(staging, target)
            sync_folder(os.path.dirname(target))

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
        with self._staged(src_path, dst_path) as (staging, target):
            os.link(staging, target)  # fails if the target exists
            sync_folder(os.path.dirname(target))

    @contextlib.contextmanager
    def _staged(self, src_path: str, dst_path: str) -> Iterator[tuple[str, str]]:
        r"""Yield a complete copy of ``src_path`` beside the target, and the target.

        The copy is a hard link where the file system allows, and is gone
        afterwards, so that the target only ever appears complete.
        Its content is on disk before it is yielded.

        """
        target = self.local_path(dst_path)
        make_folders(os.path.dirname(target))
        staging = f"{target}.{uuid.uuid4().hex}~"
        try:
            try:
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

    def _read_range(self, path: str, start: int, end: int | None) -> bytes:
        with open(self.local_path(path), "rb") as fp:
            fp.seek(start)
            return fp.read() if end is None else fp.read(end - start)

    def _read_tail(self, path: str, count: int) -> tuple[bytes, int]:
        with open(self.local_path(path), "rb") as fp:
            size = fp.seek(0, os.SEEK_END)
            fp.seek(max(0, size - count))
            return fp.read(), size

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
