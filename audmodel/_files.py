"""Files below a cache root, opened as input from other users.

In a cache shared by a group, every member can put anything at any name a
process of ours will use: a symbolic link to a file of the user's, a FIFO
where a small file is expected, a folder of their own where a staging
folder should be. So below a cache root a file is opened never through a
link (``O_NOFOLLOW``) and never blocking (``O_NONBLOCK``); a mode is
changed only on a descriptor so opened (``fchmod``), never by a path; and
a folder that is written into is opened once and written below only
through descriptors (:class:`Tree`), so that a link planted in it at any
depth, or the folder being swapped meanwhile, cannot send a write outside.

"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import errno
import os
import shutil
import stat
import threading
from typing import BinaryIO

from audmodel import errors


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_DIRECTORY = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


class NotRegularFileError(OSError):
    r"""A stored or cached path is a FIFO, socket, device or folder, not a file."""


class LinkError(errors.RefusedError):
    r"""A path below a cache root is a symbolic link where none may be.

    Example:
        >>> raise LinkError("/cache/x")
        Traceback (most recent call last):
        ...
        audmodel._files.LinkError: Refusing '/cache/x': it is a symbolic link.

    """

    def __init__(self, path: str, what: str = "it is a symbolic link"):
        self.path = path
        super().__init__(f"Refusing '{path}': {what}.")


def _open(path: str, flags: int, mode: int = 0o666, dir_fd: int | None = None) -> int:
    r"""``os.open`` that says which path was a link, instead of ``ELOOP``."""
    try:
        return os.open(path, flags, mode, dir_fd=dir_fd)
    except OSError as ex:
        # ELOOP: the last part is a link; ENOTDIR from O_DIRECTORY likewise
        # for a link to a file, or a file where a folder was expected.
        if ex.errno == errno.ELOOP:
            raise LinkError(path) from None
        raise


def open_regular(path: str, follow: bool = True) -> BinaryIO:
    r"""Open a file for reading if it is a regular file, without blocking.

    Args:
        path: the file
        follow: whether a link at ``path`` is followed
            (in a repository); never below a cache root

    Returns:
        the file, opened in binary mode

    Raises:
        FileNotFoundError: if there is nothing at ``path``
        NotRegularFileError: if it is a FIFO, socket, device or folder
        LinkError: if it is a link and ``follow`` is false

    Example:
        >>> import tempfile
        >>> open_regular(tempfile.mkdtemp())
        Traceback (most recent call last):
        ...
        audmodel._files.NotRegularFileError: '...' is not a regular file.

    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    fd = _open(path, flags if follow else flags | _NOFOLLOW)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegularFileError(f"'{path}' is not a regular file.")
    return os.fdopen(fd, "rb")


def read_small(path: str, limit: int) -> bytes | None:
    r"""Up to ``limit`` bytes of a small cached file; ``None`` if it is not one.

    Nothing but a regular file is read: a link, FIFO, folder or a missing
    file give ``None``, as a cache file another user broke is no answer.

    Example:
        >>> read_small("/nonexistent", 10) is None
        True

    """
    try:
        with open_regular(path, follow=False) as fp:
            return fp.read(limit)
    except (OSError, LinkError):
        return None


def add_mode(path: str, bits: int) -> None:
    r"""Add permission bits to a file or folder of this user's, never through a link.

    The mode is changed on the descriptor opened, so a link planted at
    ``path`` (or swapped in meanwhile) changes nothing else. An entry of
    another user's keeps its mode.

    Raises:
        LinkError: if ``path`` is a link
        NotRegularFileError: if it is neither a file nor a folder

    """
    fd = _open(path, os.O_RDONLY | _NOFOLLOW)
    try:
        info = os.fstat(fd)
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
            raise NotRegularFileError(f"'{path}' is not a regular file or folder.")
        if info.st_uid == os.geteuid():
            os.fchmod(fd, stat.S_IMODE(info.st_mode) | bits)
    finally:
        os.close(fd)


def open_lock_file(path: str, mode: int) -> int:
    r"""Open (create if missing) a lock file, never through a link.

    A lock file this call creates gets ``mode`` whatever the umask, so that
    in a cache shared by a group all of it can lock; one that is there
    keeps the mode its creator gave it.

    Returns:
        the descriptor, opened for reading and writing

    Raises:
        LinkError: if ``path`` is a link
        NotRegularFileError: if it is not a regular file

    """
    flags = os.O_RDWR | _NOFOLLOW
    try:
        fd = _open(path, flags | os.O_CREAT | os.O_EXCL, mode)
        created = True
    except FileExistsError:
        fd, created = _open(path, flags), False
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegularFileError(f"'{path}' is not a regular file.")
    if created:
        with contextlib.suppress(OSError):
            os.fchmod(fd, mode)
    return fd


def is_private_folder(info: os.stat_result) -> bool:
    r"""Whether a folder is this user's and nobody else may write into it."""
    return stat.S_ISDIR(info.st_mode) and _owned_alone(info)


def is_private_file(info: os.stat_result) -> bool:
    r"""Whether a file is this user's and nobody else may write it."""
    return stat.S_ISREG(info.st_mode) and _owned_alone(info)


def _owned_alone(info: os.stat_result) -> bool:
    return info.st_uid == os.geteuid() and not info.st_mode & _OTHERS_WRITE


KEPT_OPEN = 64
r"""Folders whose descriptors a :class:`Tree` keeps open."""


class Tree:
    r"""A private folder, written below only through descriptors.

    The folder is opened once (refused if it is a link, not this user's or
    writable by others); every folder below it is made and opened relative
    to its parent's descriptor, never through a link, and files are created
    exclusively the same way. A link planted anywhere below, or the folder
    being renamed and replaced meanwhile, cannot make a write land outside.
    Safe for several threads at once.

    Args:
        path: the folder

    Raises:
        LinkError: if ``path`` is a link, not a folder, or not private

    Example:
        >>> import tempfile
        >>> with Tree(tempfile.mkdtemp()) as tree:
        ...     os.close(tree.create("a/b/c.txt"))
        ...     tree.lstat("a/b/c.txt").st_size
        0

    """

    def __init__(self, path: str):
        self.path = path
        fd = _open(path, _DIRECTORY)
        info = os.fstat(fd)
        if not is_private_folder(info):
            os.close(fd)
            raise LinkError(path, "it is not a folder of this user's alone")
        self._folders: dict[str, int] = {"": fd}
        self._lock = threading.Lock()

    def __enter__(self) -> Tree:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        r"""Close every descriptor."""
        with self._lock:
            for fd in self._folders.values():
                os.close(fd)
            self._folders.clear()

    def folder(self, relative: str, create: bool = True) -> None:
        r"""Make a folder below the tree (``a/b``) and those above it, if missing.

        Raises:
            LinkError: if a part of it is a link or a file
            FileNotFoundError: if it is missing and ``create`` is false

        """
        with self._at(relative, create):
            pass

    @contextlib.contextmanager
    def _at(self, relative: str, create: bool) -> Iterator[int]:
        r"""A descriptor of a folder below the tree, for the time of a block.

        The first :data:`KEPT_OPEN` folders stay open (a model has few); the
        descriptor of any other is closed after the block, so that a model
        of many folders cannot exhaust the process's descriptors. Kept ones
        are never closed before :meth:`close`, so no thread loses one it
        uses.

        """
        with self._lock:
            fd = self._folders.get(relative)
        if fd is not None:
            yield fd
            return
        parent_path, name = relative.rpartition("/")[::2]
        with self._at(parent_path, create) as parent:
            fd = self._open_folder(parent, name, relative, create)
        with self._lock:
            if relative not in self._folders and len(self._folders) < KEPT_OPEN:
                self._folders[relative] = fd
                fd = -1  # kept
        try:
            yield self._folders[relative] if fd == -1 else fd
        finally:
            if fd != -1:
                os.close(fd)

    def _open_folder(self, parent: int, name: str, relative: str, create: bool) -> int:
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o755, dir_fd=parent)
        try:
            return _open(name, _DIRECTORY, dir_fd=parent)
        except NotADirectoryError:  # a file, or (O_DIRECTORY first) a link
            mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
            what = (
                "it is a symbolic link" if stat.S_ISLNK(mode) else "it is not a folder"
            )
            raise LinkError(self._show(relative), what) from None
        except LinkError:
            raise LinkError(self._show(relative)) from None

    def create(self, relative: str, mode: int = 0o666) -> int:
        r"""Create a file below the tree exclusively; return its descriptor.

        Raises:
            FileExistsError: if anything is there (a link included)

        """
        parent_path, name = relative.rpartition("/")[::2]
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
        with self._at(parent_path, create=True) as parent:
            return os.open(name, flags, mode, dir_fd=parent)

    def reopen(self, relative: str) -> int:
        r"""Open a file below the tree that this user wrote, to write into it.

        Raises:
            LinkError: if it is a link, no regular file, or not this
                user's alone

        """
        parent_path, name = relative.rpartition("/")[::2]
        with self._at(parent_path, create=False) as parent:
            try:
                # Not blocking: a FIFO planted there is opened, then refused.
                flags = os.O_RDWR | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)
                fd = os.open(name, flags, dir_fd=parent)
            except OSError as ex:
                if ex.errno != errno.ELOOP:
                    raise
                raise LinkError(self._show(relative), "it is a symbolic link") from None
        if not is_private_file(os.fstat(fd)):
            os.close(fd)
            raise LinkError(
                self._show(relative), "it is not a file of this user's alone"
            )
        return fd

    def remove(self, relative: str) -> None:
        r"""Remove a file (or link) below the tree, if there."""
        parent_path, name = relative.rpartition("/")[::2]
        with contextlib.suppress(FileNotFoundError):
            with self._at(parent_path, create=False) as parent:
                os.unlink(name, dir_fd=parent)

    def lstat(self, relative: str) -> os.stat_result:
        r"""The state of an entry below the tree, links not followed."""
        parent_path, name = relative.rpartition("/")[::2]
        with self._at(parent_path, create=False) as parent:
            return os.stat(name, dir_fd=parent, follow_symlinks=False)

    def _show(self, relative: str) -> str:
        return os.path.join(self.path, *relative.split("/"))


def remove_entry(path: str) -> None:
    r"""Remove what is at ``path``, a folder with all in it too, never following a link.

    Raises:
        OSError: if it cannot be removed (``FileNotFoundError`` if nothing is there)

    """
    if stat.S_ISDIR(os.lstat(path).st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def foreign_entries(folder: str) -> Iterator[str]:
    r"""Entries below a folder that this process cannot have written.

    Links, entries of other users, anything but files and folders, and
    folders others may write into: the signs that someone else changed a
    staging folder, which is then not trusted.

    """
    for base, folders, files in os.walk(folder):
        for name in folders + files:
            path = os.path.join(base, name)
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid():
                continue
            if not is_private_folder(info):
                yield path
