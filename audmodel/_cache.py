"""The local cache: where loaded models and their metadata are kept.

Layout below the cache root (the same as audmodel 1.5, so both libraries
can share one cache)::

    <cache_root>/<short_id>/<version>/              unpacked model
    <cache_root>/<short_id>/<version>.header.yaml   header
    <cache_root>/<short_id>/<version>.meta.yaml     meta
    <cache_root>/<short_id>/<version>.sigstore.json signature (audmodel._signature)
    <cache_root>/<short_id>/.<version>.files.json   size and CRC-32 of each
                                                    file, from the archive
    <cache_root>/<short_id>/.<version>.parts/       files of a model fetched
                                                    on their own (see
                                                    audmodel._parts)
    <cache_root>/<short_id>/.<basename>.lock        lock of <basename>
    <cache_root>/<short_id>/.<version>.shared.json  sizes and times of the
                                                    files of the model in
                                                    the shared cache, when
                                                    last verified
    <cache_root>/<short_id>/.alias-<alias>          the model ID the alias
                                                    named when last loaded

A shared cache (:func:`audmodel.default_cache_root` with ``shared=True``)
has the same layout; it is filled by loading with it as ``cache_root`` and
only read otherwise: whatever a user of it needs to write (the record of a
verification, an alias) goes to the user's own cache.

A model folder is built in a hidden staging folder beside its final place
and renamed into place only when complete, so a folder at the final place
is always a complete model. Small files are replaced atomically the same
way. Where the folder of a model is group-writable, its locks are too, so
that a cache can be shared by a group; elsewhere staging folders and locks
are writable by their owner alone.

Every path below the root is built from a short or legacy ID and a
version, checked to be one folder name each, and nothing is written
through a model's folder ``<cache_root>/<short_id>`` if it is a symbolic
link (the root itself may be one).

"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
import contextlib
import dataclasses
import datetime
import functools
import json
import os
import shutil
import stat
import time
from typing import TYPE_CHECKING
import uuid
import warnings

from audmodel import _ids
from audmodel import _journal
from audmodel import _lazy
from audmodel import _locks
from audmodel import errors
from audmodel._files import LinkError
from audmodel._files import NotRegularFileError
from audmodel._files import add_mode
from audmodel._files import foreign_entries
from audmodel._files import is_private_file
from audmodel._files import is_private_folder
from audmodel._files import open_regular
from audmodel._files import read_small
from audmodel._files import remove_entry
from audmodel._layout import HEADER_EXT
from audmodel._layout import META_EXT
from audmodel._layout import SIGNATURE_EXT
from audmodel._lazy import filelock
from audmodel._lazy import futures
from audmodel._threads import VERIFY_READS
from audmodel.backend._common import Learned
from audmodel.backend._common import md5_of_stream


if TYPE_CHECKING:
    from audmodel import _archive
else:  # imported when an archive is first read (see audmodel._lazy)
    _archive = _lazy.module("audmodel._archive", globals())


LOCK_FILE_MODE = 0o664
r"""Mode of lock files in a folder that is group-writable (a shared cache)."""
PRIVATE_LOCK_FILE_MODE = 0o644
SMALL_FILE_LOCK_TIMEOUT = 60.0
STAGING_PREFIX = ".staging-"


def root_path(cache_root: str) -> str:
    r"""A cache root as an absolute path, ``~`` expanded, links kept.

    Examples:
        >>> root_path("/data/../cache")
        '/cache'

    """
    return os.path.abspath(os.path.expanduser(cache_root))


def model_dir(cache_root: str, model: _ids.ModelId) -> str:
    r"""Folder of an unpacked model."""
    _, version = model
    return os.path.join(_model_folder(cache_root, model), version)


def header_file(cache_root: str, model: _ids.ModelId) -> str:
    r"""Cached header of a model."""
    _, version = model
    folder = _model_folder(cache_root, model)
    return os.path.join(folder, f"{version}.{HEADER_EXT}")


def signature_file(cache_root: str, model: _ids.ModelId) -> str:
    r"""Cached signature of a model, beside (never inside) its folder."""
    _, version = model
    folder = _model_folder(cache_root, model)
    return os.path.join(folder, f"{version}.{SIGNATURE_EXT}")


def meta_file(cache_root: str, model: _ids.ModelId) -> str:
    r"""Cached meta of a model."""
    _, version = model
    folder = _model_folder(cache_root, model)
    return os.path.join(folder, f"{version}.{META_EXT}")


def roots(cache_root: str, shared: str | None) -> list[str]:
    r"""The caches a call reads: the user's (the one written to), then the shared one.

    Examples:
        >>> roots("/home/me/audmodel", None)
        ['/home/me/audmodel']

    """
    return [cache_root] + ([shared] if shared else [])


def held_copy(
    cache_roots: list[str],
    path_of: Callable[[str, _ids.ModelId], str],
    model: _ids.ModelId,
) -> str | None:
    r"""The first of the caches' copies of a model's file that is there.

    Args:
        cache_roots: the caches, in the order they are looked in
        path_of: e.g. :func:`header_file`
        model: the model

    Returns:
        its path, ``None`` if no cache holds it

    """
    for root in cache_roots:
        path = path_of(root, model)
        if os.path.exists(path):
            return path
    return None


def header_versions(cache_root: str, short_id: str) -> list[str]:
    r"""Versions of a short or legacy ID whose header is in the cache, sorted."""
    suffix = f".{HEADER_EXT}"
    try:
        names = sorted(os.listdir(os.path.join(cache_root, short_id)))
    except (FileNotFoundError, NotADirectoryError):
        return []
    versions = [name[: -len(suffix)] for name in names if name.endswith(suffix)]
    return [version for version in versions if _ids.is_safe_version(version)]


def _model_folder(cache_root: str, model: _ids.ModelId) -> str:
    r"""``<cache_root>/<short_id>``, once both parts are checked.

    Raises:
        ValueError: if the short ID or version could name another folder

    """
    short_id, version = model
    if not (_ids.is_stored_id(short_id) and _ids.is_safe_version(version)):
        raise errors.InvalidArgumentError(
            f"Refusing the model ID '{short_id}-{version}' in the cache "
            f"'{cache_root}': it is not a model ID."
        )
    return os.path.join(cache_root, short_id)


def refuse_linked_folder(path: str) -> None:
    r"""Refuse to write ``path`` through a model folder that is a symbolic link.

    In a cache shared by a group, a link planted at ``<cache_root>/<short_id>``
    would send models, headers and locks to wherever it points.

    Raises:
        RuntimeError: if the folder of ``path`` is a model folder and a link

    """
    folder = os.path.dirname(path)
    if _ids.is_stored_id(os.path.basename(folder)) and os.path.islink(folder):
        raise errors.RefusedError(
            f"Refusing to write '{path}': the cache folder '{folder}' "
            "is a symbolic link. Remove the link."
        )


def make_folder(folder: str) -> None:
    r"""Create a cache folder and those above it that are missing.

    Below a group-writable folder (a shared cache) each new folder is
    group-writable too, whatever the umask, so that the group's members can
    lock and load there; setgid folders pass their group on by themselves.

    """
    if os.path.isdir(folder):
        return
    parent = os.path.dirname(folder)
    if parent != folder:
        make_folder(parent)
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder)
        if _is_shared(parent):
            add_mode(folder, _GROUP_RWX)


_GROUP_RWX = stat.S_IRGRP | stat.S_IWGRP | stat.S_IXGRP


def _share_readable(folder: str) -> None:
    r"""Make a staged model folder readable by the group, for a shared cache.

    Nobody else can write into a staging folder, so a link in it was put
    there by no process of ours: it is refused, never changed through
    (see :func:`audmodel._files.add_mode`).

    Raises:
        LinkError: naming a link found in the folder

    """
    for base, names, files in os.walk(folder):
        for name in names:
            add_mode(os.path.join(base, name), stat.S_IRGRP | stat.S_IXGRP)
        for name in files:
            add_mode(os.path.join(base, name), stat.S_IRGRP)
    add_mode(folder, stat.S_IRGRP | stat.S_IXGRP)


def _is_shared(folder: str) -> bool:
    r"""Tell if a cache folder is group-writable, as a shared cache is."""
    try:
        return bool(os.stat(folder).st_mode & stat.S_IWGRP)
    except FileNotFoundError:
        return False


def _lock_mode(file: str) -> int:
    folder = os.path.dirname(file)
    return LOCK_FILE_MODE if _is_shared(folder) else PRIVATE_LOCK_FILE_MODE


def parts_folder(cache_root: str, model: _ids.ModelId) -> str:
    r"""Folder of the files of a model fetched on their own, beside its place."""
    return _parts_beside(model_dir(cache_root, model))


def _parts_beside(final: str) -> str:
    parent, version = os.path.split(final)
    return os.path.join(parent, f".{version}.parts")


def files_record(cache_root: str, model: _ids.ModelId) -> str:
    r"""Record of a cached model's files: ``{path: [size, crc32]}`` as JSON.

    It is written with the model, under the model's lock,
    and read by :func:`verify`. Models put into the cache by audmodel 1.5
    have none.

    """
    _, version = model
    folder = _model_folder(cache_root, model)
    return os.path.join(folder, f".{version}.files.json")


def shared_stamp_file(cache_root: str, model: _ids.ModelId) -> str:
    r"""Where a user's cache keeps the state of a verified shared-cache model.

    See :func:`audmodel._shared.shared_model`.

    """
    _, version = model
    folder = _model_folder(cache_root, model)
    return os.path.join(folder, f".{version}.shared.json")


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
    refuse_linked_folder(path)
    make_folder(os.path.dirname(path))
    file = lock_file(path)
    guard = _locks.lock(file, _lock_mode(file))
    try:
        guard.acquire(timeout=0)
    except filelock.Timeout:
        # audmodel 1.5's words: scripts filter warnings by them.
        warnings.warn(
            f"Could not acquire lock '{file}'; retrying for {timeout}s.",
            stacklevel=3,
        )
        try:
            guard.acquire(timeout=timeout)
        except filelock.Timeout:
            raise _lock_timeout()(file, timeout) from None
    try:
        yield
    finally:
        guard.release()


@functools.cache
def _lock_timeout() -> type[Exception]:
    r"""The error of a cache lock not acquired in time (made when first needed).

    A :class:`filelock.Timeout`, as audmodel 1.5 raises, that says which
    lock, how long, and why; made on first use, so that importing this
    module does not import filelock.

    """

    class LockTimeout(filelock.Timeout):
        def __init__(self, file: str, timeout: float):
            super().__init__(file)
            self.waited = timeout

        def __str__(self) -> str:
            return (
                f"The file lock '{self.lock_file}' could not be acquired in "
                f"{self.waited} s: another process holds it (loading the same "
                "model into this cache). Wait for it, or pass a longer timeout."
            )

    return LockTimeout


def is_complete(folder: str) -> bool:
    r"""Tell if a model folder is in place.

    An empty folder does not count, as audmodel 1.5 treats it the same way,
    and neither does a link (never a model folder: in a cache shared by a
    group, one planted to serve other files as the model).

    """
    if os.path.islink(folder):
        return False
    try:
        with os.scandir(folder) as entries:
            return any(True for _ in entries)
    except (FileNotFoundError, NotADirectoryError):
        return False


@contextlib.contextmanager
def staging(final: str, resumable: bool = False) -> Iterator[tuple[str, str]]:
    r"""Yield a fresh folder and a free file name beside ``final``.

    The folder is built up and then renamed to ``final`` with :func:`place`,
    so nothing is left to remove on success
    (removing a folder can wait for the disk to write what was extracted).
    The file is for a download; it is removed afterwards.
    Call it with the lock of ``final`` held.
    Staging entries left by a killed process, and the ``<version>~`` folder
    that audmodel 1.5 leaves in that case, are removed first.

    A ``resumable`` folder has a fixed name, :func:`partial_folder`, and is
    kept when the build fails, so that the next build continues it
    (see :class:`audmodel._journal.Journal`), unless it is older than
    :data:`PARTIAL_KEPT`.

    """
    refuse_linked_folder(final)
    make_folder(os.path.dirname(final))
    remove_leftovers(final, keep_partial=resumable)
    folder = partial_folder(final) if resumable else _staging_name(final)
    if resumable and not is_trusted_folder(folder):
        # In a cache shared by a group, anyone in it could put a link, a
        # folder of theirs, or something inside ours at this fixed name; what
        # this user did not write alone is not built into.
        with contextlib.suppress(OSError):
            remove_entry(folder)
        if os.path.lexists(folder):
            folder = _staging_name(final)
    file = _staging_name(final)
    if not os.path.lexists(folder):
        # Writable by this user alone while it fills, whatever the umask, so
        # that nobody can plant a link in it; a shared cache's group may read
        # it once it is placed (see place()).
        os.mkdir(folder, 0o755)
    placed = False
    try:
        yield folder, file
        placed = not os.path.exists(folder)
    finally:
        # Kept to be resumed only where a file was unpacked.
        if not resumable or placed or not _journal.progressed(folder):
            _remove_with_journal(folder)  # the folder is gone if it was placed
        with contextlib.suppress(FileNotFoundError):
            os.remove(file)


PARTIAL_KEPT = datetime.timedelta(days=1)
r"""How long the staging folder of an interrupted load is kept to resume it."""
_PARTIAL = "partial"


def is_trusted_folder(path: str) -> bool:
    r"""Whether a folder of ours is missing, or as this user left it.

    That is a folder (not a link) of this user's that nobody else may write
    into, holding only this user's files and such folders.

    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return True
    if not is_private_folder(info):
        return False
    return next(foreign_entries(path), None) is None


def partial_folder(final: str) -> str:
    r"""The staging folder of a resumable build of ``final``."""
    parent, basename = os.path.split(final)
    return os.path.join(parent, f"{STAGING_PREFIX}{basename}-{_PARTIAL}")


def remove_leftovers(final: str, keep_partial: bool = False) -> None:
    r"""Remove what an interrupted build of ``final`` left behind.

    With ``keep_partial``, the folder of an interrupted resumable build
    and its journal stay, unless they are older than :data:`PARTIAL_KEPT`.

    """
    parent, basename = os.path.split(final)
    prefix = f"{STAGING_PREFIX}{basename}-"
    partial = os.path.basename(partial_folder(final))
    young = keep_partial and not _stale(partial_folder(final))
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(parent):
            if young and entry.name in (
                partial,
                os.path.basename(_journal.path_of(partial)),
            ):
                continue
            if entry.name == f"{basename}~" or entry.name.startswith(prefix):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.remove(entry.path)


def remove_stale_partials(cache_root: str) -> list[str]:
    r"""Remove the staging folders of interrupted loads older than :data:`PARTIAL_KEPT`.

    Each is removed under its model version's lock, taken without waiting:
    a version whose lock is held is being loaded, and its folder (perhaps
    just made, its journal not yet written) is left alone.

    Returns:
        the folders removed

    """
    removed = []
    suffix = f"-{_PARTIAL}"
    for short_id in model_folders(cache_root):
        parent = os.path.join(cache_root, short_id)
        with contextlib.suppress(FileNotFoundError), os.scandir(parent) as found:
            names = [e.name for e in found if e.name.startswith(STAGING_PREFIX)]
        for name in names:
            version = name[len(STAGING_PREFIX) : -len(suffix)]
            if not (name.endswith(suffix) and _ids.is_safe_version(version)):
                continue
            folder = os.path.join(parent, name)
            if _stale(folder) and _remove_unless_in_use(
                folder, os.path.join(parent, version)
            ):
                removed.append(folder)
    return removed


def _remove_unless_in_use(folder: str, final: str) -> bool:
    r"""Remove a stale staging folder of ``final`` under its lock; tell if removed.

    The lock is not waited for: held, the version is being loaded.

    """
    with _held_if_free(final) as held:
        # Not stale any more: continued meanwhile by a load now done.
        if not held or not _stale(folder):
            return False
        _remove_with_journal(folder)
        return True


@contextlib.contextmanager
def _held_if_free(final: str) -> Iterator[bool]:
    r"""Hold the lock of ``final`` if nobody does; yield whether it is held."""
    guard = _locks.lock(lock_file(final), _lock_mode(final))
    try:
        guard.acquire(timeout=0)
    except filelock.Timeout:
        yield False
        return
    try:
        yield True
    finally:
        guard.release()


def _stale(folder: str) -> bool:
    r"""Whether a resumable staging folder is too old to resume.

    Its age is that of its journal, or, before the journal is written (a
    load that has just begun), that of the folder itself.

    """
    try:
        info = os.lstat(_journal.path_of(folder))
    except FileNotFoundError:
        try:
            info = os.lstat(folder)
        except FileNotFoundError:
            return True  # nothing left to keep
    seconds = time.time() - info.st_mtime
    return datetime.timedelta(seconds=max(0.0, seconds)) >= PARTIAL_KEPT


def discard(folder: str) -> None:
    r"""Remove a staging folder whose content is refused, resumable or not."""
    _remove_with_journal(folder)


def _remove_with_journal(folder: str) -> None:
    r"""Remove a staging folder and its journal, if there."""
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        os.remove(_journal.path_of(folder))


def _staging_name(final: str) -> str:
    parent, basename = os.path.split(final)
    return os.path.join(parent, f"{STAGING_PREFIX}{basename}-{uuid.uuid4().hex}")


def place(folder: str, final: str) -> None:
    r"""Move a complete staging folder to its final place, atomically.

    In a shared cache its files are made readable by the group first.

    """
    if _is_shared(os.path.dirname(final)):
        _share_readable(folder)
    if os.path.islink(final):
        os.remove(final)  # planted: a model folder is never a link
    elif os.path.isdir(final) and not is_complete(final):
        os.rmdir(final)
    os.rename(folder, final)


def file_md5(path: str) -> str | None:
    r"""MD5 of a cached file; ``None`` if it is missing or no regular file.

    Opened without blocking: in a cache shared by a group,
    anyone in it could put a FIFO where a file is expected.

    """
    try:
        with open_regular(path, follow=False) as fp:
            return md5_of_stream(fp)
    except (FileNotFoundError, NotRegularFileError, LinkError):
        return None


def write_file(path: str, data: bytes) -> None:
    r"""Replace the file ``path`` atomically with ``data``.

    Call it with the lock of ``path`` held.

    """
    refuse_linked_folder(path)
    make_folder(os.path.dirname(path))
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


# --- what each alias resolved to ---------------------------------------------


ALIAS_RECORD_PREFIX = ".alias-"
_OLD_ALIAS_FOLDER = ".aliases"  # where records were kept before, at the top


def alias_record(cache_root: str, short_id: str, alias: str) -> str:
    r"""Where a cache keeps that an alias named a model of ``short_id``.

    Inside the model's folder (``<short_id>/.alias-<alias>``, a hidden
    file audmodel 1.5 passes over), so that the top of a cache root holds
    model folders only, as audmodel 1.5 leaves it.

    Raises:
        ValueError: if ``alias`` or ``short_id`` could name another file

    Example:
        >>> alias_record("/cache", "d4e9c65b", "best")
        '/cache/d4e9c65b/.alias-best'

    """
    if not (_ids.is_valid_alias(alias) and _ids.is_stored_id(short_id)):
        raise errors.InvalidAliasError(
            f"'{alias}' of '{short_id}' is not a valid alias."
        )
    return os.path.join(cache_root, short_id, ALIAS_RECORD_PREFIX + alias)


@dataclasses.dataclass(frozen=True)
class AliasRecord:
    r"""A kept record of what an alias named, and when."""

    path: str
    uid: str
    written: float


def _alias_records(cache_root: str, alias: str) -> list[AliasRecord]:
    r"""The records of an alias in a cache, newest first.

    Each is checked to hold a model ID; one in the folder of records of
    earlier versions of this package is read too.

    """
    if not _ids.is_valid_alias(alias):
        return []
    paths = [
        os.path.join(cache_root, short_id, ALIAS_RECORD_PREFIX + alias)
        for short_id in model_folders(cache_root)
    ]
    old = os.path.join(cache_root, _OLD_ALIAS_FOLDER)
    if not os.path.islink(old):
        paths.append(os.path.join(old, alias))
    found = []
    for path in paths:
        uid = _recorded_uid(path)
        if uid is not None:
            with contextlib.suppress(OSError):
                found.append(AliasRecord(path, uid, os.lstat(path).st_mtime))
    return sorted(found, key=lambda record: record.written, reverse=True)


def _recorded_uid(path: str) -> str | None:
    r"""The model ID an alias record holds; ``None`` if it holds none."""
    data = read_small(path, 200)
    uid = (data or b"").decode("ascii", errors="replace").strip()
    return uid if _ids.is_model_id(uid) else None


def remember_alias(cache_root: str, alias: str, short_id: str, uid: str) -> None:
    r"""Keep, in the model's folder, that an alias named the loaded model ``uid``.

    For offline use; only :func:`audmodel.load` calls it. Records of the
    alias elsewhere in the cache, and the folder of records earlier versions
    of this package kept at the top of the cache, are moved or removed.
    Never fails a call.

    """
    with contextlib.suppress(OSError, ValueError, RuntimeError):
        path = alias_record(cache_root, short_id, alias)
        records = _alias_records(cache_root, alias)
        if not (records and records[0].path == path and records[0].uid == uid):
            refuse_linked_folder(path)
            write_file(path, uid.encode())
        for record in records:
            if record.path != path:
                os.remove(record.path)
        _move_old_alias_records(cache_root)


def _move_old_alias_records(cache_root: str) -> None:
    r"""Move the records of the top folder ``.aliases`` into model folders.

    A record whose model has no folder in the cache is dropped: the model
    is not cached, so offline it could not be loaded anyway.

    """
    old = os.path.join(cache_root, _OLD_ALIAS_FOLDER)
    if os.path.islink(old) or not os.path.isdir(old):
        return
    for name in os.listdir(old):
        uid = _recorded_uid(os.path.join(old, name))
        short_id = "" if uid is None else folder_of(uid)
        folder = os.path.join(cache_root, short_id)
        if (
            uid is not None
            and _ids.is_valid_alias(name)
            and _ids.is_stored_id(short_id)
        ):
            target = alias_record(cache_root, short_id, name)
            if os.path.isdir(folder) and not os.path.lexists(target):
                write_file(target, uid.encode())
        os.remove(os.path.join(old, name))
    os.rmdir(old)


def folder_of(uid: str) -> str:
    r"""The folder of a model ID in a cache: its short ID, or a legacy ID whole."""
    return uid if _ids.is_legacy_id(uid) else _ids.split_uid(uid).short_id


def recalled_alias(cache_roots: list[str], alias: str) -> str | None:
    r"""The model ID an alias named when last loaded, from the first cache knowing it.

    What is read is checked to be a model ID before it is used.

    """
    for root in cache_roots:
        records = _alias_records(root, alias)
        if records:
            return records[0].uid
    return None


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
        return str(_ids.ModelId(self.short_id, self.version))


def entries(cache_root: str) -> list[Entry]:
    r"""The complete model folders in a cache, sorted by model ID.

    Staging folders, leftovers of killed loads and files are skipped.

    """
    found = []
    for short_id in model_folders(cache_root):
        for version in _subfolders(os.path.join(cache_root, short_id)):
            if not _ids.is_safe_version(version):  # a leftover, e.g. '1.0.0~'
                continue
            path = model_dir(cache_root, _ids.ModelId(short_id, version))
            if not is_complete(path):
                continue
            try:
                size, used = _size(path), os.stat(path).st_mtime
            except FileNotFoundError:  # removed by another process meanwhile
                continue
            found.append(Entry(short_id, version, path, size, used))
    return sorted(found, key=lambda entry: entry.uid)


def model_folders(cache_root: str) -> list[str]:
    r"""The names of the model folders of a cache (short and legacy IDs)."""
    return [name for name in _subfolders(cache_root) if _ids.is_stored_id(name)]


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


def of_model(found: list[Entry], uid: str) -> list[Entry]:
    r"""The entries of a model ID, or of all versions of a short ID."""
    return [entry for entry in found if uid in (entry.uid, entry.short_id)]


def to_free(
    found: list[Entry],
    uid: str | None,
    older_than: datetime.timedelta | None,
    max_size: int | None,
) -> list[Entry]:
    r"""The entries to remove, see :func:`audmodel.remove_cached`.

    Those of ``uid``, those unused for longer than ``older_than``,
    and the least recently used until the others take at most ``max_size``.

    """
    found = sorted(found, key=lambda entry: entry.last_used)
    doomed = of_model(found, uid) if uid is not None else []
    if older_than is not None:
        limit = time.time() - older_than.total_seconds()
        doomed += [e for e in found if e.last_used < limit and e not in doomed]
    if max_size is not None:
        total = sum(e.size for e in found if e not in doomed)
        for entry in found:
            if total <= max_size:
                break
            if entry not in doomed:
                doomed.append(entry)
                total -= entry.size
    return doomed


def mark_used(folder: str) -> None:
    r"""Record that a model folder was used now, by its modification time.

    In a cache shared with other users the folder may not be ours to touch;
    then its time stays as it is.

    """
    with contextlib.suppress(OSError, NotImplementedError):
        os.utime(folder, follow_symlinks=False)


def remove_model(final: str) -> bool:
    r"""Remove a model folder unless a process is loading it; tell if removed.

    The folder is renamed away under its lock, so that no process sees it
    half-removed, then deleted. A process reading its files keeps reading
    them until it closes them.

    """
    with _held_if_free(final) as held:
        if not held or not is_complete(final):
            return False
        doomed = _staging_name(final)
        os.rename(final, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
    _remove_parts(final)
    return True


def _remove_parts(final: str) -> bool:
    r"""Remove the files of a model fetched on their own, unless being fetched.

    Returns:
        whether there were such files, and they are removed

    """
    parts = _parts_beside(final)
    with _held_if_free(parts) as held:
        if not held or not os.path.isdir(parts) or os.path.islink(parts):
            return False
        doomed = _staging_name(parts)
        os.rename(parts, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
    return True


def remove_parts_of(cache_root: str, uid: str) -> list[str]:
    r"""Remove what was fetched on its own of a model, or of all versions of a short ID.

    For models that have only such files in the cache (see
    :mod:`audmodel._parts`); a whole model's go with it
    (:func:`remove_model`).

    Returns:
        IDs of the models whose files were removed

    """
    short_id = uid if _ids.is_stored_id(uid) else None  # all its versions
    if short_id is None and _ids.is_model_id(uid):
        short_id = _ids.split_uid(uid).short_id
    if short_id is None:
        return []
    folder = os.path.join(cache_root, short_id)
    if os.path.islink(folder):
        return []
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = []
    for name in names:
        version = name[1:].removesuffix(".parts") if name.startswith(".") else ""
        if not name.endswith(".parts") or not _ids.is_safe_version(version):
            continue
        model = _ids.ModelId(short_id, version)
        if uid in (short_id, str(model)) and _remove_parts(
            model_dir(cache_root, model)
        ):
            removed.append(str(model))
    return removed


# --- checking cached files ----------------------------------------------------------

CHANGED = "changed"
MISSING = "missing"
EXTRA = "extra"


def record(entries: list) -> dict[str, list[int]]:
    r"""The files of archive entries (:class:`zipfile.ZipInfo`): size and CRC-32."""
    return {e.filename: [e.file_size, e.CRC] for e in entries if not e.is_dir()}


def write_record(path: str, files: dict[str, list[int]]) -> None:
    r"""Store a record of a model's files, see :func:`files_record`."""
    write_file(path, json.dumps(files, sort_keys=True).encode())


def read_record(path: str) -> dict[str, list[int]] | None:
    r"""A record of a model's files, or ``None`` if there is none or it is broken.

    Only a regular file is read (not a link, not a FIFO), and at most
    :data:`RECORD_LIMIT` bytes of it.

    """
    data = read_small(path, RECORD_LIMIT + 1)
    if data is None or len(data) > RECORD_LIMIT:
        return None
    try:
        files = json.loads(data)
    except ValueError:
        return None
    return files if isinstance(files, dict) else None


RECORD_LIMIT = 256 * 1024 * 1024
r"""Most bytes of a record of a model's files read (a million files fit)."""


def verify(folder: str, files: dict[str, list[int]]) -> list[tuple[str, str]]:
    r"""Compare a model folder with the record of its files.

    Returns:
        ``(path, problem)`` for each file that differs,
        ``problem`` being :data:`CHANGED`, :data:`MISSING` or :data:`EXTRA`,
        sorted by path

    """
    found = {}
    for base, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(base, name)
            found[os.path.relpath(path, folder).replace(os.sep, "/")] = path
    problems = [(path, MISSING) for path in files if path not in found]
    problems += [(path, EXTRA) for path in found if path not in files]
    common = [path for path in files if path in found]
    with futures.ThreadPoolExecutor(VERIFY_READS) as pool:
        sound = pool.map(lambda p: _matches(found[p], *files[p]), common)
        problems += [
            (path, CHANGED) for path, ok in zip(common, sound, strict=True) if not ok
        ]
    return sorted(problems)


def _matches(path: str, size: int, crc: int) -> bool:
    try:
        with open_regular(path, follow=False) as fp:
            fd = fp.fileno()
            if os.fstat(fd).st_size != size:
                return False
            return _archive.crc_of_range(fd, 0, size) == crc
    except (OSError, LinkError):  # a link or FIFO is no file of the model
        return False


# --- what was learned about servers --------------------------------------------


LEARNED_FILE = "learned.json"


class LearnedFacts(Learned):
    r"""What backends learned about servers, kept in a folder of the user's.

    For instance whether an S3 endpoint honours conditional writes, which
    takes three requests to find out. The file is trusted only where it is
    the user's own and nobody else may write it: a wrong fact could make
    a write that must be exclusive an ordinary one.

    Args:
        folder: where the file is kept (see
            :func:`audmodel._config.state_folder`), not a cache root, which
            holds model folders only

    Examples:
        >>> import tempfile
        >>> facts = LearnedFacts(tempfile.mkdtemp())
        >>> facts.put("conditional-writes", "http://127.0.0.1:9000", True)
        >>> facts.get("conditional-writes", "http://127.0.0.1:9000")
        True

    """

    def __init__(self, folder: str):
        self.path = os.path.join(folder, LEARNED_FILE)

    def get(self, fact: str, endpoint: str) -> bool | None:
        r"""What was learned of ``fact`` at ``endpoint``, ``None`` if nothing."""
        value = self._read().get(f"{fact} {endpoint}")
        return value if isinstance(value, bool) else None

    def put(self, fact: str, endpoint: str, value: bool) -> None:
        r"""Remember ``value`` of ``fact`` at ``endpoint``; quietly, if it cannot."""
        with contextlib.suppress(OSError, RuntimeError), lock(self.path):
            facts = self._read()
            facts[f"{fact} {endpoint}"] = value
            write_file(self.path, json.dumps(facts, sort_keys=True).encode())
            # Writable by nobody else, or _read() distrusts it; on the
            # descriptor, as a link put in its place is not to be followed.
            with open_regular(self.path, follow=False) as fp:
                os.fchmod(fp.fileno(), 0o644)

    def _read(self) -> dict[str, object]:
        try:
            with open_regular(self.path, follow=False) as fp:
                if not is_private_file(os.fstat(fp.fileno())):
                    return {}
                facts = json.loads(fp.read(64 * 1024))
        except (OSError, LinkError, ValueError):
            return {}
        return facts if isinstance(facts, dict) else {}
