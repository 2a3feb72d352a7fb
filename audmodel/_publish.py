"""Writing to repositories: publishing models, moving aliases, updating meta.

A publication writes all of a model's files, or none of them.

Files are uploaded in the order archive, meta, aliases, alias, header. The
header registers the model, so until it is up nobody sees the model; if
anything fails before, or the user presses Ctrl+C, or the process gets
SIGTERM, every file this publication wrote is removed again and every file it
replaced is restored. If another process registers the same model meanwhile,
its files are left alone.

"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import copy
import datetime
import getpass
import os
import random
import signal
import socket
import tempfile
import time

import audbackend

from audmodel import _archive
from audmodel import _cache
from audmodel import _load
from audmodel import _store
from audmodel import _yaml
from audmodel._repository import Repository
from audmodel.backend._common import forget_md5
from audmodel.backend._common import remember_md5


def publish(
    root: str,
    name: str,
    params: dict[str, object],
    version: str,
    short_id: str,
    repository: Repository,
    *,
    alias: str | None,
    author: str | None,
    compression: int | str,
    date: datetime.date | None,
    meta: dict[str, object] | None,
    subgroup: str,
    tmp_root: str | None,
    verbose: bool = False,
) -> str:
    r"""Publish a model whose arguments were checked; see :func:`audmodel.publish`."""
    uid = f"{short_id}-{version}"
    if _store.is_published(short_id, version, repository):
        raise RuntimeError(f"A model with ID '{uid}' exists already.")
    header = {
        "author": author or getpass.getuser(),
        "date": date or datetime.date.today(),
        "name": name,
        "parameters": params,
        "subgroup": subgroup,
        "version": version,
    }
    # Both are written before anything is uploaded, so data that YAML cannot
    # hold fails here.
    header_text = _yaml.dumps(header)
    meta_text = _yaml.dumps(meta)
    with (
        _sigterm_as_interrupt(),
        tempfile.TemporaryDirectory(dir=tmp_root) as tmp,
        _store.opened(repository) as location,
    ):
        archive = os.path.join(tmp, f"{short_id}.zip")
        backend = location.interface.backend
        md5 = _archive.create(
            root,
            archive,
            compression,
            md5=getattr(backend, "stores_md5", True),
            write_behind=_linked_from(backend, tmp),
        )
        if md5 is not None:
            remember_md5(archive, md5)
        with (
            _forgotten(archive),
            publication(location, short_id, version, "publish", verbose) as log,
        ):
            _upload(
                log,
                archive,
                header_text,
                meta_text,
                name,
                subgroup,
                short_id,
                version,
                alias,
            )
    return uid


def _upload(
    log: UndoLog,
    archive: str,
    header_text: str,
    meta_text: str,
    name: str,
    subgroup: str,
    short_id: str,
    version: str,
    alias: str | None,
) -> None:
    uid = f"{short_id}-{version}"
    log.put_file(archive, _store.archive_path(short_id, name, subgroup), version)
    log.put_text(meta_text, _store.meta_path(short_id), version)
    if alias:
        with aliases_locked(log.location, False):
            log.put_text(
                _store.aliases_text([alias]), _store.aliases_path(short_id), version
            )
            unlink_alias(log, alias, uid)
            log.put_text(
                _store.alias_text(uid), _store.alias_path(alias), _store.ALIAS_VERSION
            )
    if _store.exists(log.location, _store.header_path(short_id), version):
        raise RuntimeError(
            f"A model with ID '{uid}' was published by another process "
            "in the meantime. Its archive, metadata, or alias files "
            "might have been replaced by the ones of this process. "
            "Make sure the published model is the intended one."
        )
    log.put_text(header_text, _store.header_path(short_id), version)


def set_alias(alias: str, short_id: str, version: str, repository: Repository) -> None:
    r"""Point ``alias`` at a model; see :func:`audmodel.set_alias`.

    The alias is taken from the model it pointed to before.
    If anything fails, the files are put back as they were.

    """
    uid = f"{short_id}-{version}"
    with _store.opened(repository) as location, aliases_locked(location, False):
        log = UndoLog(location)
        try:
            unlink_alias(log, alias, uid)
            aliases = _store.read_aliases(location, short_id, version)
            if alias not in aliases:
                log.put_text(
                    _store.aliases_text([*aliases, alias]),
                    _store.aliases_path(short_id),
                    version,
                )
            log.put_text(
                _store.alias_text(uid), _store.alias_path(alias), _store.ALIAS_VERSION
            )
            # A removal of the model meanwhile would leave the alias pointing
            # to nothing; see audmodel._lifecycle.remove().
            if not _store.exists(location, _store.header_path(short_id), version):
                raise _store.model_not_found(short_id, version)
        except BaseException:
            log.undo()
            if not _store.exists(location, _store.header_path(short_id), version):
                # The undo may have put back the aliases file of the removed
                # model.
                _store.remove(location, _store.aliases_path(short_id), version)
            raise


def update_meta(
    short_id: str,
    version: str,
    meta: dict[str, object],
    replace: bool,
    cache_root: str,
    repository: Repository,
) -> dict[str, object]:
    r"""Merge ``meta`` into a model's meta, or replace it.

    The cache lock of the meta file is held from reading to writing,
    so processes sharing a cache update one after the other.

    """
    text = _yaml.dumps(meta)
    local = _cache.meta_file(cache_root, short_id, version)
    with _cache.lock(local):
        if replace:
            new = meta
        else:
            current = _load.meta_locked(short_id, version, local, repository)
            new = merge(current, meta)
            text = _yaml.dumps(new)
        path = _store.meta_path(short_id)
        with _store.opened(repository) as location:
            _store.write_bytes(location, text.encode(), path, version)
            # A removal of the model meanwhile would leave the meta behind.
            if not _store.exists(location, _store.header_path(short_id), version):
                _store.remove(location, path, version)
                raise _store.model_not_found(short_id, version)
        _cache.write_file(local, text.encode())
    return copy.deepcopy(new)


def merge(base: dict, update: dict) -> dict:
    r"""Merge ``update`` into a copy of ``base``, recursing into mappings.

    Examples:
        >>> merge({"a": {"x": 1, "y": 2}}, {"a": {"y": 3}, "b": 4})
        {'a': {'x': 1, 'y': 3}, 'b': 4}

    """
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def unlink_alias(log: UndoLog, alias: str, new_uid: str) -> None:
    r"""Remove ``alias`` from the model it points to now, unless ``new_uid``.

    The alias file itself is left to the caller, who overwrites it.
    If the alias lives in another repository than ``log``'s,
    its file there is removed, so that it cannot shadow the new one.

    """
    old_repository = _store.alias_repository(alias)
    if old_repository is None:
        return
    with _store.opened(old_repository) as location:
        old = log.on(location)
        if detach_alias(old, alias, new_uid) and (
            old_repository != log.location.repository
        ):
            old.remove(_store.alias_path(alias), _store.ALIAS_VERSION)


def detach_alias(log: UndoLog, alias: str, new_uid: str) -> bool:
    r"""Take ``alias`` from the model it points to in ``log``'s repository.

    Nothing changes if it points to ``new_uid`` or is not there.

    Returns:
        ``True`` if the alias is there and points elsewhere

    """
    location = log.location
    try:
        old_uid = _store.read_alias(location, alias)
    except _store.AliasFileError:
        # A broken alias file is replaced, as audmodel 1.5 does:
        # setting the alias again is how a user mends it.
        return True
    if old_uid is None or old_uid == new_uid:
        return False
    old_short_id, old_version = old_uid.partition("-")[::2]
    text = _store.aliases_without(location, old_short_id, old_version, alias)
    if text is not None:
        log.put_text(text, _store.aliases_path(old_short_id), old_version)
    return True


class UndoLog:
    r"""Writes files to a repository and remembers how to take them back.

    Each record holds a file's repository, path, version, and its content
    before the write (``None`` if it did not exist).

    """

    def __init__(self, location: _store.Location, records: list | None = None):
        self.location = location
        self._records: list[tuple[Repository, str, str, bytes | None]] = (
            [] if records is None else records
        )

    def on(self, location: _store.Location) -> UndoLog:
        r"""A log for another repository that shares this log's records."""
        return UndoLog(location, self._records)

    def put_file(self, src: str, path: str, version: str) -> None:
        self._remember(path, version)
        self.location.interface.put_file(src, path, version)

    def copy_file(
        self, source: _store.Location, path: str, version: str, verbose: bool
    ) -> None:
        r"""Copy a file from another repository, see :func:`_store.transfer`."""
        self._remember(path, version)
        _store.transfer(source, self.location, path, version, verbose)

    def put_text(self, text: str, path: str, version: str) -> None:
        self.put_bytes(text.encode(), path, version)

    def put_bytes(self, data: bytes, path: str, version: str) -> None:
        self._remember(path, version)
        _store.write_bytes(self.location, data, path, version)

    def remove(self, path: str, version: str) -> None:
        self._remember(path, version)
        _store.remove(self.location, path, version)

    def _remember(self, path: str, version: str) -> None:
        before = _store.read_if_there(self.location, path, version, limit=None)
        self._records.append((self.location.repository, path, version, before))

    def undo(self) -> None:
        r"""Take back all writes, newest first; keep going if one fails."""
        errors = []
        for repository, path, version, before in reversed(self._records):
            try:
                with _store.opened(repository) as location:
                    if before is None:
                        _store.remove(location, path, version)
                    else:
                        _store.write_bytes(location, before, path, version)
            except Exception as ex:
                errors.append(f"{path} ({version}) in {repository}: {ex!r}")
        self._records.clear()
        if errors:
            raise RuntimeError(
                "Could not take back all files of the failed publication: "
                + "; ".join(errors)
            )


@contextlib.contextmanager
def publication(
    location: _store.Location, short_id: str, version: str, verb: str, verbose: bool
) -> Iterator[UndoLog]:
    r"""Write a new model's files all or nothing; yields the log to write them by.

    The model's ID is claimed and must be new in the repository.
    If the block fails before the header is written, every file written by
    the log is taken back. Errors other than :class:`RuntimeError` are
    raised as one, saying ``Could not <verb> model '<uid>'``.

    """
    uid = f"{short_id}-{version}"
    log = UndoLog(location)
    try:
        with claimed(location, short_id, version, verbose):
            refuse_existing(location, short_id, version)
            try:
                yield log
            except BaseException:
                header = _store.header_path(short_id)
                if not _store.exists(location, header, version):
                    log.undo()
                raise
    except (RuntimeError, KeyboardInterrupt):
        raise
    except Exception as ex:
        cause = ex.exception if isinstance(ex, audbackend.BackendError) else ex
        raise RuntimeError(f"Could not {verb} model '{uid}': {cause!r}") from ex


def refuse_existing(location: _store.Location, short_id: str, version: str) -> None:
    r"""Raise if a repository holds a model already."""
    if _store.exists(location, _store.header_path(short_id), version):
        raise RuntimeError(f"A model with ID '{short_id}-{version}' exists already.")


ALIASES_LOCK = "_aliases"
r"""Short ID under whose claim aliases are changed, one change at a time."""
ALIASES_LOCK_WAIT = 120.0
r"""Seconds to wait for another process's change of aliases."""


@contextlib.contextmanager
def claimed(
    location: _store.Location,
    short_id: str,
    version: str,
    verbose: bool,
    wait: float = 0.0,
) -> Iterator[None]:
    r"""Hold the claim on a model ID while its files are written or removed.

    The claim is a file created only if absent
    (:func:`audmodel._store.create_exclusive`), so that of several processes
    publishing, copying or removing the same model at once exactly one goes
    on. A claim left by a killed process on this machine is taken over.
    A claim held by another process is waited for up to ``wait`` seconds.

    """
    path = _store.claim_path(short_id)
    claim = {
        "owner": getpass.getuser(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    data = _yaml.dumps(claim).encode()
    deadline = time.monotonic() + wait
    pause = 0.02
    while not _store.create_exclusive(location, data, path, version, verbose):
        holder = read_claim(location, path, version)
        if is_stale(holder):
            _store.remove(location, path, version)
        elif time.monotonic() >= deadline:
            raise RuntimeError(
                f"{_busy(short_id, version)} ({_describe(holder)}). "
                "If none is running, remove "
                f"'{_store.versioned_path(location, path, version)}' "
                f"from {location.repository} and try again."
            )
        else:
            time.sleep(random.uniform(0, pause))
            pause = min(2 * pause, 1.0)
    try:
        yield
    finally:
        _store.remove(location, path, version)


def aliases_locked(
    location: _store.Location, verbose: bool
) -> contextlib.AbstractContextManager:
    r"""Hold the lock under which aliases of a repository are changed.

    An alias change reads and rewrites the aliases files of two models;
    changes made one at a time lose no entry. The lock is a claim
    (:func:`claimed`) on a reserved ID, so that :func:`audmodel.check`
    finds it if its holder died.

    """
    return claimed(
        location, ALIASES_LOCK, _store.ALIAS_VERSION, verbose, ALIASES_LOCK_WAIT
    )


def _busy(short_id: str, version: str) -> str:
    if short_id == ALIASES_LOCK:
        return "The aliases are being changed by another process"
    return (
        f"A model with ID '{short_id}-{version}' is being published, copied or "
        "removed by another process"
    )


def read_claim(location: _store.Location, path: str, version: str) -> dict:
    r"""The owner of a claim as it wrote it, empty if unreadable."""
    try:
        holder = _store.read_yaml(location, path, version)
    except Exception:
        return {}
    return holder if isinstance(holder, dict) else {}


def is_stale(holder: dict) -> bool:
    r"""Tell if a claim's process has died on this machine."""
    if holder.get("host") != socket.gethostname() or not isinstance(
        holder.get("pid"), int
    ):
        return False
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _describe(holder: dict) -> str:
    if not holder:
        return "unknown"
    return (
        f"{holder.get('owner')}@{holder.get('host')}, process {holder.get('pid')}, "
        f"since {holder.get('started')}"
    )


def _linked_from(backend: object, folder: str) -> bool:
    r"""Whether the backend keeps a file uploaded from ``folder`` as it lies.

    Then the archive written there is the one that the backend syncs to
    disk, and writing it out early saves time; otherwise it is copied and
    deleted, and writing it out would be wasted.

    """
    links_from = getattr(backend, "links_from", None)
    return links_from is not None and links_from(folder)


@contextlib.contextmanager
def _forgotten(archive: str) -> Iterator[None]:
    r"""Drop the archive's recorded MD5 when done with it."""
    try:
        yield
    finally:
        forget_md5(archive)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    r"""Turn SIGTERM into KeyboardInterrupt, so that the undo log runs."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt("Interrupted by SIGTERM.")

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
