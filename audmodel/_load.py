"""Bringing a model and its metadata from its repository into the cache.

Headers are immutable and read from the cache once there. Meta can change
(:func:`audmodel.update_meta`), so a cached copy is used only while its MD5
equals the checksum the repository reports. A model folder appears in the
cache only when complete.

"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
import contextlib
import copy
import dataclasses
import hashlib
import os
import tempfile
from typing import TYPE_CHECKING
from typing import Any
import warnings

from audmodel import _cache
from audmodel import _ids
from audmodel import _journal
from audmodel import _layout
from audmodel import _lazy
from audmodel import _output
from audmodel import _parts
from audmodel import _shared
from audmodel import _signature
from audmodel import _store
from audmodel import _trust
from audmodel import _yaml
from audmodel import errors
from audmodel._files import NotRegularFileError
from audmodel._header import Header
from audmodel._lazy import audbackend
from audmodel._repository import Repository
from audmodel.backend._common import ChecksumError


if TYPE_CHECKING:
    import zipfile

    from audmodel import _archive
else:  # imported when an archive is first read (see audmodel._lazy)
    _archive = _lazy.module("audmodel._archive", globals())


def header(
    model: _ids.ModelId,
    cache_root: str,
    repository: Repository | None = None,
    shared: str | None = None,
) -> Header:
    r"""The header of a model, from the caches if there.

    ``repository``, if the caller knows it, saves looking it up.
    The shared cache (``shared``) is read, never written.

    Raises:
        RuntimeError: if the model does not exist, or, offline, is not cached
        audbackend.BackendError: if a repository cannot be reached

    """
    short_id, version = model
    caches = _cache.roots(cache_root, shared)
    local = _cache.held_copy(caches, _cache.header_file, model)
    local = local or _cache.header_file(cache_root, model)
    if not os.path.exists(local):
        _store.need_repository(f"Model '{short_id}-{version}'")
        with _cache.lock(local):
            if not os.path.exists(local):
                _, text = _store.owner_and_header(model, repository)
                _cache.write_file(local, text)
                _output.say(f"Header of '{short_id}-{version}' cached in '{local}'.")
    else:
        _output.say(f"Header of '{short_id}-{version}' read from the cache.")
    # The cache may be shared, and a header put there by anyone in its group.
    cached = _read_cached(local, model, "header")
    return Header.of(cached, model, f"cached header '{local}'")


def meta(
    model: _ids.ModelId,
    cache_root: str,
    repository: Repository | None = None,
    shared: str | None = None,
) -> dict[str, Any]:
    r"""The meta of a model, revalidated against its repository.

    A copy in the shared cache (``shared``) that is current is read there.
    Offline, or where no repository can be reached, the cached copy is
    taken as it is; in the second case with a warning that it may be stale.

    Raises:
        RuntimeError: if the model does not exist, or, offline, is not cached
        audbackend.BackendError: if a repository cannot be reached
            and the meta is not cached

    """
    local = _cache.meta_file(cache_root, model)
    caches = _cache.roots(cache_root, shared)
    cached = _cache.held_copy(caches, _cache.meta_file, model)

    def ask() -> dict[str, Any]:
        found = repository or _repository_of(model, cache_root, shared)
        with _cache.lock(local):
            return meta_locked(model, local, found, shared)

    return _store.ask(
        ask,
        lambda: _cached_meta(cached, model),
        f"the meta of '{model}'",
        missing=f"The meta of model '{model}'",
        offline_note=f"the meta of '{model}' is as it was when last read; "
        "it may have changed since.",
    )


def _repository_of(
    model: _ids.ModelId, cache_root: str, shared: str | None
) -> Repository:
    r"""The repository of a model; its header is read (and cached) to find it.

    Where the caches hold the header, the repositories are asked whether
    they hold it; else it is read, which tells the same in one request.

    """
    caches = _cache.roots(cache_root, shared)
    if _cache.held_copy(caches, _cache.header_file, model) is None:
        header(model, cache_root, None, shared)
    return _store.find_header(model)


def _cached_meta(path: str | None, model: _ids.ModelId) -> dict | None:
    r"""The meta of a cached copy, ``None`` if there is no copy."""
    if path is None:
        return None
    return _read_cached(path, model, "meta") or {}


def meta_locked(
    model: _ids.ModelId,
    local: str,
    repository: Repository,
    shared: str | None = None,
) -> dict[str, Any]:
    r"""Like :func:`meta`, with the lock of the cached file held.

    Where the user's cache has no copy, a current copy in the shared cache
    (``shared``) is read where it is.

    """
    short_id, version = model
    path = _layout.meta_path(short_id)
    with _store.opened(repository) as location:
        # Read rather than compared by checksum first: meta is small, and
        # a second request costs more than its bytes.
        data = _store.read_if_there(location, path, version)
        if data is None:
            # A model has meta from its publication on; a moment without it
            # is another process replacing it, unless the model was removed.
            if not _store.exists(location, _layout.header_path(short_id), version):
                raise _store.model_not_found(short_id, version)
            return {}
    _yaml.loads(data, f"the meta of '{short_id}-{version}'")
    md5 = hashlib.md5(data).hexdigest()
    if shared is not None and not os.path.exists(local):
        in_shared = _cache.meta_file(shared, model)
        if _cache.file_md5(in_shared) == md5:
            return _read_cached(in_shared, model, "meta") or {}
    if _cache.file_md5(local) != md5:
        _cache.write_file(local, data)
        _output.say(f"Meta of '{short_id}-{version}' cached in '{local}'.")
    else:
        _output.say(f"Meta of '{short_id}-{version}' in the cache is current.")
    return _read_cached(local, model, "meta") or {}


def url(
    model: _ids.ModelId,
    cache_root: str,
    type: str = "model",
    repository: Repository | None = None,
    shared: str | None = None,
) -> str:
    r"""Where a file of a model is stored; see :func:`audmodel.url`.

    ``repository``, if the caller knows it, saves looking it up;
    the header may come from the shared cache ``shared``.

    Raises:
        RuntimeError: if the model does not exist
        audbackend.BackendError: if a repository cannot be reached

    """
    short_id, version = model
    _store.refuse_offline(repository)  # a location is no cache's to tell
    if type == "model":
        # The header first: where it is read, its repository is known after.
        path = header(model, cache_root, repository, shared).archive_path
    elif type == "header":
        path = _layout.header_path(short_id)
    else:
        path = _layout.meta_path(short_id)
    repository = repository or _store.find_header(model)
    return _store.url(repository, path, version)


def _read_cached(path: str, model: _ids.ModelId, what: str) -> dict[str, Any] | None:
    short_id, version = model
    data = _yaml.load_file(
        path, f"the {what} of '{short_id}-{version}' ('{path}')", follow=False
    )
    if data is None:
        return None
    if not isinstance(data, dict):
        raise errors.RefusedError(
            f"The {what} of model '{short_id}-{version}' is not a mapping: {path}"
        )
    return copy.deepcopy(data)


def model(
    model_id: _ids.ModelId,
    cache_root: str,
    timeout: float,
    shared: str | None = None,
) -> str:
    r"""The folder of a model in the caches, downloaded if not there.

    The shared cache (``shared``) is looked in first and only read
    (see :func:`audmodel._shared.shared_model`); a model is downloaded into
    ``cache_root``.

    Raises:
        RuntimeError: if the model does not exist or its archive is refused,
            or, offline, it is not cached
        audbackend.BackendError: if a repository cannot be reached
        filelock.Timeout: if the cache lock is not acquired in ``timeout``

    """
    short_id, version = model_id
    found = _in_shared(model_id, cache_root, shared)
    if found is not None and _signed_in_shared(model_id, found, cache_root, shared):
        _output.say(f"Model '{model_id}' is in the shared cache: '{found}'.")
        return found
    final = _cache.model_dir(cache_root, model_id)
    # A folder appears only by an atomic rename, so no lock is needed to
    # trust one that is there.
    if _cache.is_complete(final):
        _trust.check(model_id, final, cache_root, shared)
        _cache.mark_used(final)
        _output.say(f"Model '{short_id}-{version}' is in the cache: '{final}'.")
        return final
    _store.need_repository(f"Model '{short_id}-{version}'")
    with _cache.lock(final, timeout):
        if not _cache.is_complete(final):
            _download(model_id, cache_root, final)
    return final


def _in_shared(
    model_id: _ids.ModelId, cache_root: str, shared: str | None
) -> str | None:
    r"""A model's folder in the shared cache that may be used, see :mod:`._shared`."""
    if shared is None:
        return None
    return _shared.shared_model(
        shared, cache_root, model_id, lambda: files_record(model_id, cache_root)
    )


def _signed_in_shared(
    model_id: _ids.ModelId, found: str, cache_root: str, shared: str | None
) -> bool:
    r"""Whether a model of the shared cache passes the signature policy.

    One that does not is loaded into the user's cache instead, where its
    archive is checked as it comes.

    """
    try:
        _trust.check(model_id, found, cache_root, shared)
    except errors.SignatureError as ex:
        warnings.warn(
            f"{ex} It is not taken from the shared cache '{shared}'.", stacklevel=3
        )
        return False
    return True


def _download(
    model: _ids.ModelId,
    cache_root: str,
    final: str,
) -> None:
    short_id, version = model
    path = header(model, cache_root).archive_path
    repository = _store.find_header(model)
    with _store.opened(repository) as location:
        # An interrupted load is continued next time, where it can be.
        resumable = _store.resumes(location, path, version)
        try:
            _build(location, model, path, cache_root, resumable)
        except _StagingGoneError:
            # Removed by what no lock of ours excludes: a process on another
            # host of a network file system, a user's rm -rf.
            warnings.warn(
                f"The staging folder of model '{short_id}-{version}' was "
                "removed while the model was loaded; loading it again.",
                stacklevel=2,
            )
            _build(location, model, path, cache_root, resumable)
    _output.say(f"Model '{short_id}-{version}' loaded into '{final}'.")
    _keep_meta(model, cache_root, repository)


def chosen_files(
    model_id: _ids.ModelId,
    cache_root: str,
    timeout: float,
    shared: str | None,
    choose: Callable[[list[str]], list[str]],
    what: str,
) -> tuple[str, list[str]]:
    r"""A folder holding chosen files of a model, and their names.

    A whole model in the caches answers (the shared cache first, as for
    :func:`model`); else the files fetched on their own before
    (see :mod:`audmodel._parts`), where each is; else those missing are
    fetched by byte ranges of the archive, and nothing else of it.

    Args:
        model_id: the model
        cache_root: the user's cache
        timeout: seconds to wait for the lock of the files fetched on
            their own
        shared: the shared cache, if one is used
        choose: the names of the files wanted, given the names of all;
            it raises for what names none
        what: the files, as an error of offline mode names them

    Raises:
        audmodel.errors.NotInModelError: if ``choose`` finds nothing
        RuntimeError: if the model does not exist or its archive is refused,
            or, offline, the files are not cached
        audbackend.BackendError: if a repository cannot be reached
        filelock.Timeout: if the lock is not acquired in ``timeout``

    """
    roots = _cache.roots(cache_root, shared)
    record = cached_files_record(model_id, roots)
    whole = _whole_in_caches(model_id, cache_root, shared)
    if whole is not None:
        names = list(record) if record is not None else _files_below(whole)
        chosen = choose(names)
        _trust.check(model_id, whole, cache_root, shared, chosen)
        return whole, chosen
    parts = _cache.parts_folder(cache_root, model_id)
    if record is not None:
        names = choose(list(record))
        if _parts.kept(parts, record, names):
            _trust.check(model_id, parts, cache_root, shared, names)
            _output.say(f"{len(names)} files of '{model_id}' are in the cache.")
            return parts, names
    _store.need_repository(f"{what} of model '{model_id}'")
    with _cache.lock(parts, timeout):
        return parts, _fetch_parts(model_id, cache_root, parts, choose)


def verified(
    model_id: _ids.ModelId,
    cache_root: str,
    shared: str | None,
    trust: _signature.Trusted,
) -> str:
    r"""Check a model against its signature with ``trust``; return who signed.

    A whole model in the caches is checked where it is; else its archive
    is unpacked into a temporary folder and checked there.

    Raises:
        audmodel.errors.SignatureError: if the model is unsigned, signed by
            a key not in ``trust``, or differs from what was signed

    """
    signed = _signature.verified(_trust.signed(model_id, cache_root, shared), trust)
    whole = _whole_in_caches(model_id, cache_root, shared)
    if whole is not None:
        problem = _signature.difference(signed, whole)
    else:
        problem = _difference_in_archive(model_id, cache_root, signed)
    if problem is not None:
        raise errors.SignatureError(
            f"Model '{model_id}' does not match its signature by the key "
            f"{signed.signer}: {problem}."
        )
    return signed.signer


def _difference_in_archive(
    model_id: _ids.ModelId, cache_root: str, signed: _signature.Signed
) -> str | None:
    r"""How the files of a model's stored archive differ from what was signed."""
    _store.need_repository(f"Model '{model_id}'")
    archive = _stored_archive(model_id, cache_root, "verify the files")
    with archive as (location, path), tempfile.TemporaryDirectory() as tmp:
        folder, download = os.path.join(tmp, "model"), os.path.join(tmp, "a.zip")
        _unpack(location, model_id, path, (folder, download), None)
        return _signature.difference(signed, folder)


def _whole_in_caches(
    model_id: _ids.ModelId, cache_root: str, shared: str | None
) -> str | None:
    r"""The folder of a whole model in the caches, ``None`` if there is none."""
    found = _in_shared(model_id, cache_root, shared)
    if found is not None:
        return found
    final = _cache.model_dir(cache_root, model_id)
    return final if _cache.is_complete(final) else None


def _files_below(folder: str) -> list[str]:
    r"""Relative POSIX paths of the files below a folder (one without record)."""
    return [
        os.path.relpath(os.path.join(base, name), folder).replace(os.sep, "/")
        for base, _, names in os.walk(folder)
        for name in names
    ]


def _fetch_parts(
    model_id: _ids.ModelId,
    cache_root: str,
    parts: str,
    choose: Callable[[list[str]], list[str]],
) -> list[str]:
    r"""Fetch the chosen files missing from the folder of parts; return all chosen."""
    _parts.opened(parts)
    chosen: list[str] = []
    fetched: list[str] = []

    def plan(entries: list, directory: int) -> _archive.Resume:
        record = _cache.record(entries)
        chosen.extend(choose(list(record)))
        fetched.extend(n for n in chosen if not _parts.kept(parts, record, [n]))
        local = _cache.files_record(cache_root, model_id)
        with _cache.lock(local):  # kept for the next call: no request then
            _cache.write_record(local, record)
        return _archive.Resume(skip=frozenset(record) - set(fetched))

    with (
        _stored_archive(model_id, cache_root, "fetch files") as (
            location,
            path,
        ),
        _cache.staging(parts) as (folder, download),
    ):
        staged = (folder, download)
        _unpack(location, model_id, path, staged, plan, False)
        if fetched:
            _trust.checked_or_discarded(model_id, folder, cache_root, fetched)
        _parts.keep(folder, parts, fetched)
    _output.say(f"Fetched {len(fetched)} files of '{model_id}' into '{parts}'.")
    return chosen


def _keep_meta(model: _ids.ModelId, cache_root: str, repository: Repository) -> None:
    r"""Keep a loaded model's meta in the cache, for offline use.

    The model is loaded already: a meta that cannot be read now is told,
    not raised, and read again by the next :func:`meta`.

    """
    short_id, version = model
    local = _cache.meta_file(cache_root, model)
    try:
        with _cache.lock(local):
            meta_locked(model, local, repository)
    except Exception as ex:  # the load has succeeded
        _output.say(f"The meta of '{short_id}-{version}' was not kept: {ex}")


class _StagingGoneError(Exception):
    r"""The staging folder of a load disappeared while the load ran."""


def _build(
    location: _store.Location,
    model: _ids.ModelId,
    path: str,
    cache_root: str,
    resumable: bool,
) -> None:
    r"""Unpack a model into a staging folder and move it to its place.

    Raises:
        _StagingGoneError: if the staging folder was removed meanwhile

    """
    final = _cache.model_dir(cache_root, model)
    with _cache.staging(final, resumable) as (folder, download):
        journal = _journal.Journal(folder) if resumable else None
        parts = _cache.parts_folder(cache_root, model)
        try:
            entries = _unpack(
                location,
                model,
                path,
                (folder, download),
                _whole_plan(journal, parts, folder),
                # Files fetched before may lie in a small archive's end.
                whole_if_small=not os.path.isdir(parts),
            )
            _trust.checked_or_discarded(model, folder, cache_root)
            # Before the folder: a cached model always has its record.
            _cache.write_record(
                _cache.files_record(cache_root, model),
                _cache.record(entries),
            )
            _cache.place(folder, final)
        except FileNotFoundError:
            if os.path.isdir(folder) or os.path.isdir(final):
                raise
            raise _StagingGoneError(folder) from None
        finally:
            if journal is not None:
                journal.close()


def _whole_plan(
    journal: _journal.Journal | None, parts: str, folder: str
) -> _store.Plan:
    r"""What a load of a whole model unpacks: what no earlier load brought.

    Files unpacked by an interrupted load (its ``journal``) stay, and files
    fetched on their own before (``parts``, see :mod:`audmodel._parts`)
    are linked in; either kind is checked against the archive first.

    """

    def plan(entries: list, directory: int) -> _archive.Resume:
        resume = _archive.Resume()
        if journal is not None:
            resume = journal.begin(entries, directory)
        if resume.skip or resume.written:
            _output.say(
                f"Continuing an interrupted load: {len(resume.skip)} files are "
                f"there, {len(resume.written)} in part."
            )
        taken = resume.skip | resume.written.keys()
        files = [e for e in entries if not e.is_dir() and e.filename not in taken]
        linked = _parts.reuse(parts, folder, files)
        if linked:
            _output.say(f"{len(linked)} files fetched on their own before are used.")
        return dataclasses.replace(resume, skip=resume.skip | linked)

    return plan


def _unpack(
    location: _store.Location,
    model: _ids.ModelId,
    path: str,
    staged: tuple[str, str],
    plan: _store.Plan | None,
    whole_if_small: bool = True,
) -> list[zipfile.ZipInfo]:
    r"""Unpack a model's archive into a staging folder (and download file).

    Raises:
        RuntimeError: if the archive is refused or broken, naming the model

    """
    try:
        with _store.missing_as_not_found(location, model):
            return _store.unpack(
                location, path, model.version, *staged, plan, whole_if_small
            )
    except (_archive.ArchiveError, audbackend.BackendError) as ex:
        cause = getattr(ex, "exception", ex)
        refused = _archive.ArchiveError | ChecksumError | NotRegularFileError
        if not isinstance(cause, refused):
            raise
        raise errors.LoadError(
            f"Cannot load model '{model}' from {location.repository}: {cause}"
        ) from None


def cached_files_record(
    model: _ids.ModelId, caches: list[str]
) -> dict[str, list[int]] | None:
    r"""The record of a model's files kept in the first cache holding a sound one.

    No repository is asked; ``None`` if no cache holds one.

    """
    for root in caches:
        record = _cache.read_record(_cache.files_record(root, model))
        if record is not None:
            return record
    return None


def files_record(model: _ids.ModelId, cache_root: str) -> dict[str, list]:
    r"""Size and CRC-32 of each file of a model, see :func:`_cache.files_record`.

    Taken from the cache, else from the central directory of the archive
    in its repository, and then kept in the cache.

    Raises:
        RuntimeError: if the model does not exist or its archive is broken
        audbackend.BackendError: if a repository cannot be reached

    """
    local = _cache.files_record(cache_root, model)
    files = _cache.read_record(local)
    if files is not None:
        return files
    files = _cache.record(archive_entries(model, cache_root))
    with _cache.lock(local):
        _cache.write_record(local, files)
    return files


def archive_entries(
    model: _ids.ModelId,
    cache_root: str,
    repository: Repository | None = None,
    shared: str | None = None,
) -> list:
    r"""The entries of a model's archive, read from its repository.

    Only the central directory at the end of the archive is read
    (see :func:`audmodel._store.archive_entries`).
    ``repository`` and ``shared`` as for :func:`url`.

    Raises:
        RuntimeError: if the model does not exist or its archive is broken
        audbackend.BackendError: if a repository cannot be reached

    """
    _, version = model
    with _stored_archive(
        model,
        cache_root,
        "list the files",
        repository,
        shared,
    ) as (location, path):
        return _store.archive_entries(location, path, version)


def archive_member(
    model: _ids.ModelId,
    cache_root: str,
    entry: zipfile.ZipInfo,
    repository: Repository | None = None,
    shared: str | None = None,
) -> bytes:
    r"""One file of a model's archive (e.g. its README), read from its repository.

    Only the entry's bytes are read, not the archive
    (see :func:`audmodel._store.archive_member`).

    Args:
        model: the model
        cache_root: cache folder, for the header
        entry: the file's entry, from :func:`archive_entries`
        repository: where the model is; found if ``None``
        shared: a shared cache, for the header

    Raises:
        RuntimeError: if the model does not exist or the entry is broken
        audbackend.BackendError: if a repository cannot be reached

    """
    _, version = model
    with _stored_archive(
        model,
        cache_root,
        f"read '{entry.filename}'",
        repository,
        shared,
    ) as (location, path):
        return _store.archive_member(location, path, version, entry)


@contextlib.contextmanager
def _stored_archive(
    model: _ids.ModelId,
    cache_root: str,
    doing: str,
    repository: Repository | None = None,
    shared: str | None = None,
) -> Iterator[tuple[_store.Location, str]]:
    r"""The opened repository of a model and its archive's path there.

    A broken archive met inside becomes a :class:`RuntimeError` saying
    what could not be done (``doing``) with which model.

    """
    short_id, version = model
    if repository is None:
        repository = _store.find_header(model)
    path = header(model, cache_root, repository, shared).archive_path
    _output.say(f"Reading the archive of '{short_id}-{version}' in {repository}.")
    with _store.opened(repository) as location:
        try:
            yield location, path
        except _archive.ArchiveError as ex:
            raise errors.LoadError(
                f"Cannot {doing} of model '{short_id}-{version}' in {repository}: {ex}"
            ) from None
