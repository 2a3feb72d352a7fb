"""The local cache: where loaded models and their metadata are kept.

Layout below the cache root (the same as audmodel 1.5, so both libraries
can share one cache)::

    <cache_root>/<short_id>/<version>/              unpacked model
    <cache_root>/<short_id>/<version>.header.yaml   header
    <cache_root>/<short_id>/<version>.meta.yaml     meta
    <cache_root>/<short_id>/.<basename>.lock        lock of <basename>

A model folder is built in a hidden staging folder beside its final place
and renamed into place only when complete, so a folder at the final place
is always a complete model. Small files are replaced atomically the same
way. Locks are group-writable files, so a cache can be shared by a group.

"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import dataclasses
import os
import shutil
import uuid
import warnings

import filelock


LOCK_FILE_MODE = 0o664
SMALL_FILE_LOCK_TIMEOUT = 60.0
HEADER_EXT = "header.yaml"
META_EXT = "meta.yaml"
STAGING_PREFIX = ".staging-"


def model_dir(cache_root: str, short_id: str, version: str) -> str:
    r"""Folder of an unpacked model."""
    return os.path.join(cache_root, short_id, version)


def header_file(cache_root: str, short_id: str, version: str) -> str:
    r"""Cached header of a model."""
    return os.path.join(cache_root, short_id, f"{version}.{HEADER_EXT}")


def meta_file(cache_root: str, short_id: str, version: str) -> str:
    r"""Cached meta of a model."""
    return os.path.join(cache_root, short_id, f"{version}.{META_EXT}")


def lock_file(path: str) -> str:
    r"""Lock file guarding ``path``: ``.<basename>.lock`` beside it."""
    folder, basename = os.path.split(path)
    return os.path.join(folder, f".{basename}.lock")


@contextlib.contextmanager
def lock(path: str, timeout: float = SMALL_FILE_LOCK_TIMEOUT) -> Iterator[None]:
    r"""Hold the lock of ``path`` across processes.

    Warns when the lock is held by someone else,
    so that a user knows why a call waits.

    Args:
        path: file or folder to guard
        timeout: seconds to wait for the lock

    Raises:
        filelock.Timeout: if the lock is not acquired within ``timeout``

    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    file = lock_file(path)
    guard = filelock.FileLock(file, mode=LOCK_FILE_MODE)
    try:
        guard.acquire(timeout=0)
    except filelock.Timeout:
        warnings.warn(
            f"Waiting up to {timeout} s for lock '{file}' held by another process.",
            stacklevel=3,
        )
        guard.acquire(timeout=timeout)
    try:
        yield
    finally:
        guard.release()


def is_complete(folder: str) -> bool:
    r"""Tell if a model folder is in place.

    An empty folder does not count, as audmodel 1.5 treats it the same way.

    """
    try:
        with os.scandir(folder) as entries:
            return any(True for _ in entries)
    except (FileNotFoundError, NotADirectoryError):
        return False


@contextlib.contextmanager
def staging(final: str) -> Iterator[tuple[str, str]]:
    r"""Yield a fresh folder and a free file name beside ``final``.

    The folder is built up and then renamed to ``final`` with :func:`place`,
    so nothing is left to remove on success
    (removing a folder can wait for the disk to write what was extracted).
    The file is for a download; it is removed afterwards.
    Call it with the lock of ``final`` held.
    Staging entries left by a killed process, and the ``<version>~`` folder
    that audmodel 1.5 leaves in that case, are removed first.

    """
    os.makedirs(os.path.dirname(final), exist_ok=True)
    remove_leftovers(final)
    folder = _staging_name(final)
    file = _staging_name(final)
    # Not tempfile.mkdtemp: its mode 0o700 would hide a shared cache's
    # models from the group; os.mkdir applies the user's umask instead.
    os.mkdir(folder)
    try:
        yield folder, file
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # gone if it was placed
        with contextlib.suppress(FileNotFoundError):
            os.remove(file)


def remove_leftovers(final: str) -> None:
    r"""Remove what an interrupted build of ``final`` left behind."""
    parent, basename = os.path.split(final)
    prefix = f"{STAGING_PREFIX}{basename}-"
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(parent):
            if entry.name == f"{basename}~" or entry.name.startswith(prefix):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.remove(entry.path)


def _staging_name(final: str) -> str:
    parent, basename = os.path.split(final)
    return os.path.join(parent, f"{STAGING_PREFIX}{basename}-{uuid.uuid4().hex}")


def place(folder: str, final: str) -> None:
    r"""Move a complete staging folder to its final place, atomically."""
    if os.path.isdir(final) and not is_complete(final):
        os.rmdir(final)
    os.rename(folder, final)


def write_file(path: str, data: bytes) -> None:
    r"""Replace the file ``path`` atomically with ``data``.

    Call it with the lock of ``path`` held.

    """
    os.makedirs(os.path.dirname(path), exist_ok=True)
    remove_leftovers(path)
    tmp = _staging_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


# --- what the cache holds, and freeing space ----------------------------------


@dataclasses.dataclass
class Entry:
    r"""A model folder in the cache."""

    short_id: str
    version: str
    path: str
    size: int
    last_used: float  # seconds since the epoch

    @property
    def uid(self) -> str:
        r"""Model ID."""
        return f"{self.short_id}-{self.version}"


def entries(cache_root: str) -> list[Entry]:
    r"""The complete model folders in a cache, sorted by model ID.

    Staging folders, leftovers of killed loads and files are skipped.

    """
    found = []
    for short_id in _subfolders(cache_root):
        for version in _subfolders(os.path.join(cache_root, short_id)):
            path = model_dir(cache_root, short_id, version)
            if version.endswith("~") or not is_complete(path):
                continue
            found.append(
                Entry(short_id, version, path, _size(path), os.stat(path).st_mtime)
            )
    return sorted(found, key=lambda entry: entry.uid)


def _subfolders(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as scanned:
            return [
                e.name
                for e in scanned
                if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
            ]
    except FileNotFoundError:
        return []


def _size(folder: str) -> int:
    return sum(
        os.lstat(os.path.join(base, name)).st_size
        for base, _, names in os.walk(folder)
        for name in names
    )


def mark_used(folder: str) -> None:
    r"""Record that a model folder was used now, by its modification time.

    In a cache shared with other users the folder may not be ours to touch;
    then its time stays as it is.

    """
    with contextlib.suppress(OSError):
        os.utime(folder)


def remove_model(final: str) -> bool:
    r"""Remove a model folder unless a process is loading it; tell if removed.

    The folder is renamed away under its lock, so that no process sees it
    half-removed, then deleted. A process reading its files keeps reading
    them until it closes them.

    """
    guard = filelock.FileLock(lock_file(final), mode=LOCK_FILE_MODE)
    try:
        guard.acquire(timeout=0)
    except filelock.Timeout:
        return False
    try:
        if not is_complete(final):
            return False
        doomed = _staging_name(final)
        os.rename(final, doomed)
    finally:
        guard.release()
    shutil.rmtree(doomed, ignore_errors=True)
    return True
