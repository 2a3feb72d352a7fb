"""All-or-nothing writes to a repository, and taking turns.

:class:`UndoLog` writes files and takes them back if a publication fails
before its header is up (the header, written last, makes a model exist).
A *claim* (``/_uid/<short_id>.publishing.yaml`` in the model's version,
created only if absent) lets one process at a time publish, copy or
remove a model ID; a claim on the reserved ID :data:`ALIASES_LOCK` lets one
process at a time change a repository's aliases. A claim left by a process
that died on this machine is taken over; :func:`audmodel.check` reports
and removes others once they are old.

"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Sequence
import contextlib
import datetime
import getpass
import os
import random
import socket
import time

from audmodel import _aliases
from audmodel import _ids
from audmodel import _layout
from audmodel import _output
from audmodel import _store
from audmodel import _yaml
from audmodel import errors
from audmodel._lazy import audbackend
from audmodel._repository import Repository


UNREAD = object()
r"""What a file held before a write, where the caller did not read it."""


class UndoLog:
    r"""Writes files to a repository and remembers how to take them back.

    Each record holds a file's repository, path, version, and the bytes
    that were there before the write (``None`` if nothing). :meth:`undo`
    puts them back. Only small files are put back: an uploaded or copied
    file is an archive of a new model (see :func:`publication`).

    """

    def __init__(self, location: _store.Location, records: list | None = None):
        self.location = location
        self._records: list[tuple[Repository, str, str, bytes | None]] = (
            [] if records is None else records
        )

    def on(self, location: _store.Location) -> UndoLog:
        r"""A log for another repository that shares this log's records."""
        return UndoLog(location, self._records)

    def put_file(
        self, src: str, path: str, version: str, md5: str | None = None
    ) -> None:
        r"""Upload a new model's file; ``md5``, where known, saves reading it."""
        self._remember(path, version, None)
        _store.put_file(self.location, src, path, version, md5)
        self._tell("Uploaded", path, version)

    def copy_file(self, source: _store.Location, path: str, version: str) -> None:
        r"""Copy a new model's file from another repository, see ``_store.transfer``."""
        self._remember(path, version, None)
        _store.transfer(source, self.location, path, version)
        self._tell("Copied", path, version)

    def put_text(
        self, text: str, path: str, version: str, before: object = UNREAD
    ) -> None:
        r"""Write a small file; ``before``, if the caller just read it, saves a read."""
        self.put_bytes(text.encode(), path, version, before)

    def put_bytes(
        self, data: bytes, path: str, version: str, before: object = UNREAD
    ) -> None:
        r"""Write a small file; ``before`` as in :meth:`put_text`."""
        self._remember(path, version, before)
        _store.write_bytes(self.location, data, path, version)
        self._tell("Wrote", path, version)

    def remove(self, path: str, version: str) -> None:
        self._remember(path, version)
        _store.remove(self.location, path, version)
        self._tell("Removed", path, version)

    def _tell(self, verb: str, path: str, version: str) -> None:
        what = _layout.described(path, version)
        where = "to" if verb in ("Uploaded", "Copied") else "in"
        _output.say(f"{verb} {what} {where} {self.location.repository}.")

    def _remember(self, path: str, version: str, before: object = UNREAD) -> None:
        if not (before is None or isinstance(before, bytes)):
            before = _store.read_if_there(self.location, path, version)
        self._records.append((self.location.repository, path, version, before))

    def forget(self) -> None:
        r"""Keep the writes."""
        self._records.clear()

    def undo(self) -> None:
        r"""Take back all writes, newest first; keep going if one fails."""
        failures = []
        for repository, path, version, before in reversed(self._records):
            try:
                with _store.opened(repository) as location:
                    if before is None:
                        _store.remove(location, path, version)
                    else:
                        _store.put_back(location, before, path, version)
                        _take_back_if_removed(location, before, path, version)
                what = _layout.described(path, version)
                _output.say(f"Took back {what} in {repository}.")
            except Exception as ex:
                failures.append(f"{path} ({version}) in {repository}: {ex!r}")
        self._records.clear()
        if failures:
            raise errors.PublicationError(
                "Could not take back all files of the failed publication: "
                + "; ".join(failures)
            )


def _take_back_if_removed(
    location: _store.Location, before: bytes, path: str, version: str
) -> None:
    r"""Take back a model's meta or aliases file put back after its model went.

    A model whose file a failed write had changed (e.g. the one an alias was
    taken from) may have been removed meanwhile; its file is not restored.

    """
    owner = _layout.owner_of(path)
    model = (
        _ids.ModelId(owner, version) if owner else _model_an_alias_names(path, before)
    )
    if model is not None:
        _store.take_back_if_removed(location, before, path, version, model)


def _model_an_alias_names(path: str, text: bytes) -> _ids.ModelId | None:
    r"""The model an alias file's text names, if ``path`` is an alias file.

    An alias put back to a model that was removed meanwhile would point to
    nothing; it is taken back like a model's own file.

    """
    if not path.startswith(f"/{_layout.ALIAS_FOLDER}/"):
        return None
    try:
        uid = _aliases.uid_of_alias_text(text, path)
    except _aliases.AliasFileError:
        return None
    return None if _ids.is_legacy_id(uid) else _ids.split_uid(uid)


@contextlib.contextmanager
def publication(
    location: _store.Location, model: _ids.ModelId, verb: str
) -> Iterator[UndoLog]:
    r"""Write a new model's files all or nothing; yields the log to write them by.

    :func:`new_model`, then :func:`all_or_nothing`.

    """
    with (
        new_model(location, model, verb),
        all_or_nothing(location, model, verb) as log,
    ):
        yield log


@contextlib.contextmanager
def new_model(
    location: _store.Location,
    model: _ids.ModelId,
    verb: str,
    everywhere: bool = False,
) -> Iterator[None]:
    r"""Hold the claim on a model ID that must be new in the repository.

    With ``everywhere``, the ID must be new in the configured repositories
    too, as for :func:`audmodel.publish`. Errors in taking the claim are
    raised as :func:`all_or_nothing` raises them; those of the block as
    they are.

    """
    own: list[BaseException] = []  # the block's errors, raised as they are
    with (
        _raised_as(verb, model, own),
        claimed(location, model),
    ):
        refuse_existing(location, model, everywhere)
        try:
            yield
        except BaseException as ex:
            own.append(ex)
            raise


@contextlib.contextmanager
def all_or_nothing(
    location: _store.Location, model: _ids.ModelId, verb: str
) -> Iterator[UndoLog]:
    r"""Yield the log to write a claimed new model's files by.

    If the block fails before the header is written, every file written by
    the log is taken back. The new model's own files are written with
    nothing to put back (``before=None``): under the claim and without a
    header, what lies at their paths belongs to no model (a publication
    that died left it), so a failure removes it rather than first reading
    it to put it back. Errors other than :class:`RuntimeError` are
    raised as one, saying ``Could not <verb> model '<uid>'``.

    """
    short_id, version = model
    log = UndoLog(location)
    with _raised_as(verb, model):
        try:
            yield log
        except BaseException:
            header = _layout.header_path(short_id)
            if not _store.exists(location, header, version):
                log.undo()
            raise
        log.forget()


@contextlib.contextmanager
def _raised_as(
    verb: str, model: _ids.ModelId, passing: Sequence[BaseException] = ()
) -> Iterator[None]:
    r"""Raise errors other than RuntimeError as ``Could not <verb> model ...``.

    Errors in ``passing`` are raised as they are.

    """
    try:
        yield
    except (RuntimeError, KeyboardInterrupt):
        raise
    except Exception as ex:
        if ex in passing:
            raise
        cause = ex.exception if isinstance(ex, audbackend.BackendError) else ex
        raise errors.PublicationError(
            f"Could not {verb} model '{model}': {cause!r}"
        ) from ex


def refuse_existing(
    location: _store.Location, model: _ids.ModelId, everywhere: bool = False
) -> None:
    r"""Raise if a repository (``everywhere``: or a configured one) holds a model."""
    short_id, version = model
    if everywhere:
        there = _store.is_published(model, location.repository)
    else:
        there = _store.exists(location, _layout.header_path(short_id), version)
    if there:
        raise errors.ModelExistsError(
            f"A model with ID '{short_id}-{version}' exists already."
        )


ALIASES_LOCK = "_aliases"
r"""Short ID under whose claim aliases are changed, one change at a time."""
ALIASES_LOCK_WAIT = 120.0
r"""Seconds to wait for another process's change of aliases."""


@contextlib.contextmanager
def claimed(
    location: _store.Location,
    model: _ids.ModelId,
    wait: float = 0.0,
) -> Iterator[None]:
    r"""Hold the claim on a model ID while its files are written or removed.

    The claim is a file created only if absent
    (:func:`audmodel._store.create_exclusive`), so that of several processes
    publishing, copying or removing the same model at once exactly one goes
    on. A claim left by a killed process on this machine is taken over.
    A claim held by another process is waited for up to ``wait`` seconds.

    """
    short_id, version = model
    path = _layout.claim_path(short_id)
    claim = {
        "owner": getpass.getuser(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    data = _yaml.dumps(claim).encode()
    deadline = time.monotonic() + wait
    pause = 0.02
    what = (
        "the aliases"
        if short_id == ALIASES_LOCK
        else f"model ID '{short_id}-{version}'"
    )
    while True:
        held, holder_path = _store.claim(location, data, path, version, what)
        if held is not None:
            break
        holder = read_claim(location, holder_path)
        if is_stale(holder):
            _store.remove_stored(location, holder_path)
        elif time.monotonic() >= deadline:
            raise errors.BusyError(
                f"{_busy(model)} ({_describe(holder)}). "
                f"If none is running, remove '{holder_path}' "
                f"from {location.repository} and try again."
            )
        else:
            time.sleep(random.uniform(0, pause))
            pause = min(2 * pause, 1.0)
    try:
        yield
    finally:
        _store.remove_stored(location, held)


def aliases_locked(location: _store.Location) -> contextlib.AbstractContextManager:
    r"""Hold the lock under which aliases of a repository are changed.

    An alias change reads and rewrites the aliases files of two models;
    changes made one at a time lose no entry. The lock is a claim
    (:func:`claimed`) on a reserved ID, so that :func:`audmodel.check`
    finds it if its holder died.

    """
    aliases_lock = _ids.ModelId(ALIASES_LOCK, _layout.ALIAS_VERSION)
    return claimed(location, aliases_lock, ALIASES_LOCK_WAIT)


def _busy(model: _ids.ModelId) -> str:
    short_id, version = model
    if short_id == ALIASES_LOCK:
        return "The aliases are being changed by another process"
    return (
        f"A model with ID '{short_id}-{version}' is being published, copied or "
        "removed by another process"
    )


def read_claim(location: _store.Location, stored: str) -> dict:
    r"""The owner of a claim as it wrote it, empty if unreadable."""
    try:
        holder = _yaml.loads(_store.read_stored(location, stored), stored)
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
