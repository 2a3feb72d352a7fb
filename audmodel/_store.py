"""The files of a model on a repository, and finding them.

Where each file lies is told by :mod:`audmodel._layout`.
A model exists where its header exists. Repositories are searched in the
order of :attr:`audmodel.config.REPOSITORIES`; the first one that holds the
header owns the model.

"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
import contextlib
import os
import tempfile
from typing import TYPE_CHECKING
from typing import NamedTuple
from typing import TypeVar
import warnings
import zipfile

from audmodel import _cache
from audmodel import _call
from audmodel import _ids
from audmodel import _layout
from audmodel import _lazy
from audmodel import _yaml
from audmodel import errors
from audmodel._config import config
from audmodel._config import offline
from audmodel._config import state_folder
from audmodel._header import Header
from audmodel._lazy import audbackend
from audmodel._lazy import audeer
from audmodel._output import did_you_mean
from audmodel._output import note
from audmodel._output import progress
from audmodel._output import say
from audmodel._output import shown
from audmodel._repository import Repository
from audmodel.backend import _tickets
from audmodel.backend._capabilities import Capabilities
from audmodel.backend._common import CannotOpenError
from audmodel.backend._common import FileTooLargeError
from audmodel.backend._common import backend_error
from audmodel.backend._common import check_size
from audmodel.backend._common import is_unreachable
from audmodel.backend._common import without_userinfo


if TYPE_CHECKING:
    from audmodel import _archive
else:  # imported when an archive is first read (see audmodel._lazy)
    _archive = _lazy.module("audmodel._archive", globals())


T = TypeVar("T")


class Location(NamedTuple):
    r"""A repository, opened."""

    repository: Repository
    interface: audbackend.interface.Maven

    @property
    def capabilities(self) -> Capabilities:
        r"""What the repository's backend can do."""
        return Capabilities(self.interface.backend)


def model_not_found(short_id: str, version: str | None) -> RuntimeError:
    r"""The error users match on when a model is unknown.

    Its hint, added where it leaves the public call, lists the versions
    the model has (a version was mistyped), or the aliases closest to
    what was given as an alias.

    """
    uid = str(_ids.ModelId(short_id, version)) if version else short_id
    error = errors.ModelNotFoundError(f"A model with ID '{uid}' does not exist.")
    if version:
        error.hint = lambda: _versions_hint(short_id)
    elif _ids.is_alias(short_id):
        error.hint = lambda: _aliases_hint(short_id)
    return error


def _versions_hint(short_id: str) -> str:
    versions = header_versions(short_id)
    return f" Its versions: {', '.join(versions)}." if versions else ""


def _aliases_hint(alias: str) -> str:
    r"""The aliases closest to ``alias``, by one listing per repository."""
    names = {name for _, listed in answers(alias_names) for name in listed}
    return did_you_mean(alias, sorted(names))


OFFLINE_SWITCHES = "AUDMODEL_OFFLINE, audmodel.config.OFFLINE, or 'offline: true'"


def not_cached(what: str) -> RuntimeError:
    r"""The error of offline mode for something the caches do not hold.

    Args:
        what: e.g. ``"Model 'd4e9c65b-1.0.0'"`` or ``"Alias 'production'"``

    """
    return errors.NotCachedError(
        f"{what} is not cached, and offline mode is on ({OFFLINE_SWITCHES}): "
        "no repository is contacted. Load it once online."
    )


def ask(
    online: Callable[[], T],
    cached: Callable[[], T | None],
    what: str,
    *,
    missing: str | None = None,
    offline_note: str | None = None,
) -> T:
    r"""Answer from the repositories or the caches: the one place that decides.

    Offline (:func:`audmodel._config.offline`), the caches answer and no
    repository is asked; what the reader must know of the answer, where it
    may be incomplete or stale (``offline_note``), is told in one line
    (:func:`audmodel._output.note`). Online, the
    repositories answer; only where they cannot be reached (a refused
    connection, an unknown host, a time-out: not a refusal, a server error
    or a missing bucket) the caches answer, with a warning that the answer
    may be stale.

    Args:
        online: asks the repositories
        cached: the answer of the caches, ``None`` if they have none
        what: what is asked for, e.g. ``"the versions of 'd4e9c65b'"``
        missing: what the caches lack, as the error offline names it;
            ``what`` by default
        offline_note: what the reader of an offline answer must know

    Raises:
        audmodel.errors.NotCachedError: offline, if the caches have no answer
        audbackend.BackendError: if ``online`` fails otherwise, or the
            caches have no answer

    Warns:
        UserWarning: that the cached answer may be stale, naming the error

    """
    if offline_mode():
        answer = cached()
        if answer is None:
            raise not_cached(missing or what[:1].upper() + what[1:])
        if offline_note:
            note(f"Offline: {offline_note}")
        return answer
    try:
        return online()
    except audbackend.BackendError as ex:
        answer = cached() if is_unreachable(ex) else None
        if answer is None:
            raise
        warnings.warn(
            f"No repository can be reached ({ex.exception}); {what} is taken "
            "from the cache as it was when last used, and may be stale.",
            stacklevel=3,
        )
        return answer


def repositories() -> list[Repository]:
    r"""The configured repositories, in order, as the call under way reads them."""
    return _call.setting("repositories", lambda: list(config.REPOSITORIES))


def offline_mode() -> bool:
    r"""Whether offline mode is on, as the call under way reads it."""
    return _call.setting("offline", offline)


def need_repository(what: str) -> None:
    r"""Refuse offline what the caches do not hold and only a repository has.

    Raises:
        audmodel.errors.NotCachedError: in offline mode, naming ``what``

    """
    if offline_mode():
        raise not_cached(what)


@contextlib.contextmanager
def missing_as_not_found(location: Location, model: _ids.ModelId) -> Iterator[None]:
    r"""Raise a missing file of a removed model as the model's absence.

    Another process may remove a model while it is read. A file missing
    from a model that still has its header is raised as it is.

    """
    short_id, version = model
    try:
        yield
    except (audbackend.BackendError, FileNotFoundError) as ex:
        # A file-system repository's files are also read where they lie.
        missing = getattr(ex, "exception", ex)
        if isinstance(missing, FileNotFoundError) and not exists(
            location, _layout.header_path(short_id), version
        ):
            raise model_not_found(short_id, version) from ex
        raise


def alias_not_found(alias: str) -> RuntimeError:
    r"""The error users match on when an alias is unknown."""
    error = errors.AliasNotFoundError(f"An alias with name '{alias}' does not exist.")
    error.hint = lambda: _aliases_hint(alias)
    return error


# --- paths ---------------------------------------------------------------


def versioned_path(location: Location, path: str, version: str) -> str:
    r"""Where the backend stores ``path`` in ``version``."""
    return _layout.versioned(path, version, str(location.repository))


def url(repository: Repository, path: str, version: str) -> str:
    r"""Where a file is stored.

    A local path for a file-system repository,
    the URL for a backend that tells it (Artifactory),
    else the path on the backend, as audmodel 1.5 returns it.

    """
    with opened(repository) as location:
        stored = versioned_path(location, path, version)
        told = location.capabilities.url(stored)
        if told is not None:
            # Shown to users and on the catalog's pages: no password in it.
            return without_userinfo(told)
        if isinstance(location.interface.backend, audbackend.backend.FileSystem):
            # audmodel 1.5 joins the repository folder, which ends on a
            # separator, and the stored path with '/'; scripts compare these
            # strings, so the resulting '///' is kept.
            folder = audeer.path(repository.host, repository.name) + os.sep
            return "/".join([folder, stored])
        return stored


# --- repositories ----------------------------------------------------------


@contextlib.contextmanager
def opened(repository: Repository) -> Iterator[Location]:
    r"""A repository, open for the time of a ``with`` block.

    In a public call (see :mod:`audmodel._call`) a repository is opened
    once and closed when the call returns; a remote one without a request
    of its own: a missing bucket or repository is told by the first
    request that finds nothing. A repository this call could not reach is
    not tried again in it.

    Raises:
        audbackend.BackendError: if the repository cannot be reached
        ValueError: if its backend is not registered
        RuntimeError: in offline mode

    """
    refuse_offline(repository)
    call = _call.current()
    if call is not None and repository in call.unreachable:
        raise call.unreachable[repository]
    if call is None:
        location = _open(repository, lazily=False)
    else:
        location = call.location(repository, _open, _close)
    try:
        yield location
    except audbackend.BackendError as ex:
        error = _named(repository, ex)
        if call is not None and is_unreachable(error):
            call.unreachable[repository] = error
        if error is ex:
            raise
        raise error from error.exception
    finally:
        if call is None:
            _close(location)


def refuse_offline(repository: Repository | None = None) -> None:
    r"""Refuse, in offline mode, what needs ``repository`` (the first one).

    Raises:
        RuntimeError: in offline mode

    """
    if offline_mode():
        repository = repository or next(iter(repositories()), None)
        raise errors.OfflineError(
            f"Offline mode is on ({OFFLINE_SWITCHES}): {repository} is not "
            "contacted. Turn offline mode off for what needs a repository "
            "(publishing, aliases, removing, copying, checking)."
        )


def _open(repository: Repository, lazily: bool = True) -> Location:
    interface = repository.create_backend_interface()
    backend = interface.backend
    if hasattr(backend, "learned"):
        folder = _call.setting("state_folder", state_folder)
        backend.learned = _cache.LearnedFacts(folder)
    try:
        if lazily and getattr(backend, "opens_lazily", False):
            backend.open_unchecked()
        else:
            backend.open()
    except audbackend.BackendError as ex:
        raise _cannot_open(repository, ex.exception) from ex.exception
    return Location(repository, interface)


def _close(location: Location) -> None:
    location.interface.backend.close()


def _cannot_open(repository: Repository, cause: Exception) -> audbackend.BackendError:
    message = f"Cannot open {repository}: {cause}"
    if isinstance(cause, FileNotFoundError):
        folder = os.path.join(repository.host, repository.name)
        message += f". Create the folder '{folder}', or check the host."
    return backend_error(cause, message)


def _named(
    repository: Repository, error: audbackend.BackendError
) -> audbackend.BackendError:
    r"""An error of a request, naming the repository where it failed to open."""
    cause = error.exception
    if isinstance(cause, CannotOpenError):
        why = cause.__cause__
        return _cannot_open(repository, why if isinstance(why, Exception) else cause)
    # What the check on opening told before remote repositories were opened
    # without one: the detail of a refusal or of an unreachable host.
    if str(error) != str(audbackend.BackendError(cause)):  # told more already
        return error
    if is_unreachable(error):
        return backend_error(cause, f"Cannot reach {repository}: {cause}")
    if isinstance(cause, PermissionError):
        return backend_error(cause, str(cause))
    return error


def locations(first: Repository | None = None) -> Iterator[Location]:
    r"""Open the configured repositories in turn, ``first`` before them."""
    for repository in _in_order(first):
        with opened(repository) as location:
            yield location


def answers(
    question: Callable[[Location], T], first: Repository | None = None
) -> Iterator[tuple[Repository, T]]:
    r"""Ask the configured repositories in turn, ``first`` before them.

    An error of ``question`` names the repository where that helps
    (see :func:`opened`).

    """
    for repository in _in_order(first):
        with opened(repository) as location:
            answer = question(location)
        yield repository, answer


def _in_order(first: Repository | None) -> list[Repository]:
    found = repositories()
    if first is not None:
        found = [first] + [r for r in found if r != first]
    return found


def find_header(model: _ids.ModelId) -> Repository:
    r"""The repository that owns a model: the first reachable one holding it.

    Known in a call once its header was read or asked for.
    A repository that cannot be reached is passed over where a later one
    holds the model, with a warning naming it (see :class:`Asking`).

    Raises:
        RuntimeError: if no repository holds the model
        audbackend.BackendError: if a repository cannot be reached
            and none of the others holds the model

    """
    short_id, version = model
    call = _call.current()
    if call is not None and (short_id, version) in call.owners:
        return call.owners[(short_id, version)]
    path = _layout.header_path(short_id)
    question = lambda at: exists(at, path, version) or None  # noqa: E731
    return _first_holding(model, question)[0]


def owner_and_header(
    model: _ids.ModelId, repository: Repository | None = None
) -> tuple[Repository, bytes]:
    r"""The repository that owns a model, and its header's bytes, checked.

    Each repository is asked with one request, the read of the header.

    Raises:
        RuntimeError: if no repository holds the model, or its header is
            refused (see :func:`read_header`)
        audbackend.BackendError: as :func:`find_header`

    """
    short_id, version = model
    if repository is not None:
        with opened(repository) as location:
            return repository, read_header(location, model)[0]
    path = _layout.header_path(short_id)

    def checked(location: Location) -> bytes | None:
        data = read_if_there(location, path, version)
        if data is not None:
            Header.parse(data, model, source(location, path, version))
        return data

    return _first_holding(model, checked)


def _first_holding(
    model: _ids.ModelId, question: Callable[[Location], T | None]
) -> tuple[Repository, T]:
    r"""The first reachable repository whose answer is not ``None``, and it.

    The repository is remembered in the call as the model's owner.

    Raises:
        RuntimeError: if no repository holds the model
        audbackend.BackendError: if a repository cannot be reached
            and none of the others holds the model

    """
    short_id, version = model
    asking = Asking(f"the model '{short_id}-{version}'")
    for repository, answer in asking.answers(question):
        if answer is not None:
            say(f"Found '{short_id}-{version}' in {repository}.")
            asking.done()
            call = _call.current()
            if call is not None:
                call.owners[(short_id, version)] = repository
            return repository, answer
    asking.done(found=False)
    raise model_not_found(short_id, version)


def header_versions(
    short_id: str, cached: Callable[[], list[str]] | None = None
) -> list[str]:
    r"""All versions of a model in all repositories, sorted.

    Each repository is asked with one listing of the model's headers.
    A listed version that could not name a folder is left out with a warning.
    Where a repository cannot be reached and another answers, the versions
    are those of the ones that answered and of the caches (``cached``),
    with one warning naming the repository that failed.

    Raises:
        audbackend.BackendError: if no repository can be reached

    """
    versions: set[str] = set()
    asking = Asking(f"the versions of '{short_id}'", cached is not None)
    for repository, listed in asking.answers(lambda at: _versions(at, short_id)):
        for version in listed:
            if _ids.is_safe_version(version):
                versions.add(version)
            else:
                warnings.warn(
                    f"Version {version!r} of '{short_id}' in {repository} "
                    "is left out: it is not a valid version.",
                    stacklevel=3,
                )
    if asking.done() and cached is not None:
        versions.update(cached())
    return audeer.sort_versions(list(versions))


def _versions(location: Location, short_id: str) -> list[str]:
    r"""The versions of the headers of a model stored in one repository."""
    folder = _layout.versions_folder(short_id)
    paths = stored_files_ending(location, folder, f".{_layout.HEADER_EXT}")
    found = map(_layout.header_of, paths)
    return [version for sid, version in filter(None, found) if sid == short_id]


class Asking:
    r"""Asking each configured repository in turn, passing over unreachable ones.

    :meth:`answers` opens and asks each repository in turn; one that cannot
    be reached (refused, unknown host, timeout) is noted and the next one
    asked. :meth:`done` then raises the first such error if no repository
    answered, and otherwise warns once, in one line, naming the
    repositories that failed.

    Args:
        what: what is asked for, e.g. ``"the versions of 'd4e9c65b'"``
        cache: whether the answer is completed from the caches

    """

    def __init__(self, what: str, cache: bool = False):
        self.what = what
        self.cache = cache
        self.failed: list[tuple[Repository, Exception]] = []
        self.answered = 0

    def answers(
        self, question: Callable[[Location], T]
    ) -> Iterator[tuple[Repository, T]]:
        r"""The answers of the reachable repositories, asked in turn."""
        for repository in repositories():
            try:
                with opened(repository) as location:
                    answer = question(location)
            except audbackend.BackendError as ex:
                if not is_unreachable(ex):
                    raise
                self.failed.append((repository, ex))
                continue
            self.answered += 1
            yield repository, answer

    def done(self, found: bool = True) -> bool:
        r"""Raise if none answered (or none found it); warn of those that failed.

        Returns:
            whether a repository failed

        Raises:
            audbackend.BackendError: the first failure, if no repository
                answered, or nothing was found and one failed

        """
        if not self.failed:
            return False
        if not self.answered or not found:
            raise self.failed[0][1]
        named = ", ".join(
            f"{repository} ({getattr(ex, 'exception', ex)})"
            for repository, ex in self.failed
        )
        others = "the other repositories" + (" and the cache" if self.cache else "")
        warnings.warn(
            f"Cannot reach {named}; {self.what} comes from {others}.",
            stacklevel=3,
        )
        return True


def alias_names(location: Location) -> list[str]:
    r"""The names of the aliases a repository holds, by one listing.

    Raises:
        audbackend.BackendError: if the repository cannot be listed

    """
    folder = f"/{_layout.ALIAS_FOLDER}/"
    suffix = f"-{_layout.ALIAS_VERSION}.{_layout.ALIAS_EXT}"
    paths = stored_files_ending(location, folder, suffix)
    return [name for name in map(_layout.alias_of, paths) if name is not None]


def is_published(model: _ids.ModelId, repository: Repository) -> bool:
    r"""Tell if a model's header is in ``repository`` or a configured one."""
    short_id, version = model
    path = _layout.header_path(short_id)
    question = lambda location: exists(location, path, version)  # noqa: E731
    return any(there for _, there in answers(question, repository))


# --- files -------------------------------------------------------------------


def stored_files(location: Location, folder: str) -> list[str]:
    r"""Paths of all files below a folder of a repository, as the backend stores them.

    A folder that holds nothing yet is not there on most backends;
    any other failure must not pass for an empty folder.

    Raises:
        audbackend.BackendError: if the repository cannot be listed

    """
    try:
        return location.interface.backend.ls(folder)
    except audbackend.BackendError as ex:
        if isinstance(ex.exception, FileNotFoundError):
            return []
        raise


def stored_files_ending(location: Location, folder: str, ending: str) -> list[str]:
    r"""Paths of the files below a folder of a repository that end in ``ending``.

    Backends that can list names alone (S3) do so; a name that does not
    fit the layout (a version holding ``ending``) sends this to a full
    listing, as do backends without that means.

    Raises:
        audbackend.BackendError: if the repository cannot be listed

    """
    paths = location.capabilities.ls_ending(folder, ending)
    if paths is None or not all(map(_layout.is_versioned, paths)):
        paths = [p for p in stored_files(location, folder) if p.endswith(ending)]
    return paths


def read_yaml(location: Location, path: str, version: str) -> object:
    r"""Download and parse a YAML file safely.

    Raises:
        audmodel._yaml.YAMLError: naming the stored file and its repository

    """
    return _yaml.loads(
        read_bytes(location, path, version), source(location, path, version)
    )


def source(location: Location, path: str, version: str) -> str:
    r"""How errors name a stored file: its path and repository."""
    return f"'{versioned_path(location, path, version)}' in {location.repository}"


def read_header(location: Location, model: _ids.ModelId) -> tuple[bytes, Header]:
    r"""Download a model's header; return its bytes and record.

    Raises:
        RuntimeError: if the model does not exist, or its header is not
            YAML or names the archive with a name or subgroup
            that :func:`audmodel.publish` would refuse
        audbackend.BackendError: if the repository fails

    """
    short_id, version = model
    path = _layout.header_path(short_id)
    with missing_as_not_found(location, model):
        data = read_bytes(location, path, version)
    return data, Header.parse(data, model, source(location, path, version))


def read_bytes(
    location: Location, path: str, version: str, limit: int | None = _yaml.MAX_FILE_SIZE
) -> bytes:
    r"""Download a small file.

    Args:
        location: repository
        path: path for the interface
        version: version
        limit: most bytes the file may have, ``None`` for any number

    Raises:
        RuntimeError: if the file is larger than ``limit``
        audbackend.BackendError: if the backend fails

    """
    stored = versioned_path(location, path, version)
    return read_stored(location, stored, limit, source(location, path, version))


def read_stored(
    location: Location,
    stored: str,
    limit: int | None = _yaml.MAX_FILE_SIZE,
    where: str | None = None,
) -> bytes:
    r"""Download a small file by its path on the backend; see :func:`read_bytes`.

    ``where`` names the file in errors, its path by default.

    """
    backend = location.interface.backend
    try:
        if location.capabilities.ranged_reads:  # one request, no local file
            return backend.read_range(stored, 0, None, limit)
        with tempfile.TemporaryDirectory() as tmp:
            local = backend.get_file(stored, os.path.join(tmp, "file"))
            with open(local, "rb") as fp:
                check_size(local, os.fstat(fp.fileno()).st_size, limit)
                return fp.read()
    except (audbackend.BackendError, FileTooLargeError) as ex:
        cause = getattr(ex, "exception", ex)
        if not isinstance(cause, FileTooLargeError):
            raise
        raise TooLargeToReadError(
            f"Refusing to read {where or repr(stored)}: "
            f"it has {cause.size} bytes, more than the {cause.limit} "
            "such a file may have."
        ) from None


class TooLargeToReadError(errors.RefusedError):
    r"""A stored file is larger than what may be read of it into memory."""


def put_back(location: Location, before: bytes, path: str, version: str) -> None:
    r"""Put back a small file as it was before a write."""
    if read_if_there(location, path, version) != before:
        # A write that failed mostly left the file as it was.
        write_bytes(location, before, path, version)


def archive_entries(
    location: Location, path: str, version: str
) -> list[zipfile.ZipInfo]:
    r"""The entries of a stored archive, read from its central directory.

    Where the backend reads parts of files (all of this package's
    backends), only the end of the archive is read;
    elsewhere the archive is downloaded to a temporary file.

    Raises:
        audbackend.BackendError: if the archive cannot be read
        RuntimeError: if the archive is broken or unsafe

    """
    with _archive_reader(location, path, version) as (tail, read):
        return _archive.read_entries(tail, read)


def archive_member(
    location: Location, path: str, version: str, entry: zipfile.ZipInfo
) -> bytes:
    r"""The content of one entry of a stored archive (e.g. its README).

    Where the backend reads parts of files, only the entry is read.

    Args:
        location: the repository
        path: the archive's path
        version: the model's version
        entry: the entry, from :func:`archive_entries`

    Raises:
        audbackend.BackendError: if the archive cannot be read
        RuntimeError: if the entry is broken or not what the directory says

    """
    with _archive_reader(location, path, version) as (_, read):
        return _archive.read_member(
            lambda offset, size: read(offset, offset + size), entry
        )


@contextlib.contextmanager
def _archive_reader(location: Location, path: str, version: str) -> Iterator[tuple]:
    r"""Two readers of a stored archive: its last ``count`` bytes, and a range.

    By ranged reads where the backend has them; elsewhere from a temporary
    download of the archive.

    """
    if location.capabilities.ranged_reads:
        yield _ranged_readers(location, path, version)
        return
    with tempfile.TemporaryDirectory() as tmp:
        local = location.interface.get_file(path, os.path.join(tmp, "a.zip"), version)
        with open(local, "rb") as fp:
            yield _local_readers(fp.fileno())


def _local_readers(fd: int) -> tuple:
    r"""The last ``count`` bytes of an open local file, and a range of it."""
    size = os.fstat(fd).st_size
    return (
        lambda count: (os.pread(fd, count, max(0, size - count)), size),
        lambda start, end: os.pread(fd, end - start, start),
    )


WHOLE_READ = 1024 * 1024
r"""Bytes read of an archive's end before a load: the whole of a small one."""


def _ranged_readers(location: Location, path: str, version: str) -> tuple:
    r"""The last ``count`` bytes of a stored file, and a range of it, read remotely."""
    backend = location.interface.backend
    stored = versioned_path(location, path, version)
    return (
        lambda count: backend.read_tail(stored, count),
        lambda start, end: backend.read_range(stored, start, end),
    )


@contextlib.contextmanager
def _staged(data: bytes, path: str) -> Iterator[str]:
    r"""Yield a temporary local file holding ``data``, named like ``path``."""
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, os.path.basename(path))
        with open(local, "wb") as fp:
            fp.write(data)
        yield local


def transfer(source: Location, target: Location, path: str, version: str) -> None:
    r"""Copy a stored file into another repository, checked by its MD5.

    Between buckets of one S3 store the server copies it,
    and between file systems the kernel copies it, never as a hard link
    (the backend's ``copy_from``);
    from a file system to another backend it is uploaded from where it lies;
    elsewhere it is downloaded to one temporary file and uploaded from there.

    Raises:
        audbackend.BackendError: if a backend fails
        RuntimeError: if the copy's MD5 differs from the original's

    """
    src = versioned_path(source, path, version)
    dst = versioned_path(target, path, version)
    expected = source.interface.checksum(path, version)
    if target.capabilities.copy_from(source.interface.backend, src, dst):
        say(f"Copied '{src}' on the server.")
    else:
        with local_copy(source, path, version) as local:
            target.interface.put_file(local, path, version, verbose=shown())
    if target.interface.checksum(path, version) != expected:
        raise errors.IntegrityError(
            f"The copy of '{dst}' in {target.repository} does not match "
            f"the MD5 of the original in {source.repository} ({expected}), "
            "which may have changed while it was copied."
        )


@contextlib.contextmanager
def local_copy(location: Location, path: str, version: str) -> Iterator[str]:
    r"""Yield a local file with the content of a stored one.

    Where the file lies on this machine's disk (a file system), that file;
    else a download of it.

    """
    local = lying_locally(location, path, version)
    if local is not None:
        yield local
        return
    with tempfile.TemporaryDirectory() as tmp:
        download = os.path.join(tmp, os.path.basename(path))
        yield location.interface.get_file(path, download, version, verbose=shown())


def lying_locally(location: Location, path: str, version: str) -> str | None:
    r"""Where a stored file lies on disk, if the backend tells (a file system)."""
    local = location.capabilities.local_path(versioned_path(location, path, version))
    return local if local is not None and os.path.isfile(local) else None


def resumes(location: Location, path: str, version: str) -> bool:
    r"""Whether :func:`unpack` can continue an interrupted unpacking of an archive.

    Where it reads the archive by byte ranges, or where it lies (a file
    system, also one on the network); not where it downloads it whole.

    """
    return location.capabilities.ranged_reads or (
        lying_locally(location, path, version) is not None
    )


Plan = Callable[[list, int], "_archive.Resume"]
r"""Given an archive's entries and where its central directory begins: which
entries not to unpack, and how to record what is unpacked."""


def unpack(
    location: Location,
    path: str,
    version: str,
    folder: str,
    download: str,
    plan: Plan | None = None,
    whole_if_small: bool = True,
) -> list[zipfile.ZipInfo]:
    r"""Unpack a stored archive into ``folder``; return its file entries.

    On a file system the archive is unpacked where it lies.
    Where the backend reads parts of files (S3, MinIO, Artifactory),
    it is unpacked while it streams in, large entries in a few long
    ranges at once, without a local copy of the archive;
    each file is then checked by its size and CRC-32.
    Elsewhere it is downloaded to ``download`` first,
    checked against the stored MD5 where the backend keeps one.

    ``plan``, given the entries, tells which are not to be unpacked
    (unpacked before by an interrupted load, fetched before on their own,
    or not asked for) and what to call with each entry once its file is
    written and checked (see :class:`audmodel._journal.Journal`);
    a downloaded archive is unpacked whole.
    With ``whole_if_small``, the read of the archive's end takes a small
    archive whole; without, as little as its central directory needs (for
    a few entries, or most of them there already).

    Raises:
        audbackend.BackendError: if the archive cannot be read
        audmodel._archive.ArchiveError: if the archive is broken or refused

    """
    local = lying_locally(location, path, version)
    if local is not None:
        return _unpack_local(local, folder, plan)
    backend = location.interface.backend
    stored = versioned_path(location, path, version)
    if not location.capabilities.ranged_reads:
        return _archive.extract(
            location.interface.get_file(path, download, version, verbose=shown()),
            folder,
        )
    read_tail, read_range = _ranged_readers(location, path, version)
    whole: list[bytes] = []  # the archive, where the first read held all of it

    def tail(count: int) -> tuple[bytes, int]:
        # A small archive comes whole with the read of its end: every
        # entry is then unpacked without another request.
        data, size = read_tail(max(count, WHOLE_READ) if whole_if_small else count)
        if len(data) == size:
            whole.append(data)
        return data, size

    entries, directory = _archive.read_directory(tail, read_range)
    resume = plan(entries, directory) if plan else _archive.Resume()
    total = sum(_still_to_read(e, resume) for e in entries)
    with progress(total, f"Download {os.path.basename(path)}") as update:

        def read(start: int, end: int) -> bytes:
            data = whole[0][start:end] if whole else read_range(start, end)
            update(len(data))
            return data

        def stream(start: int, end: int) -> Iterator[bytes]:
            if whole:
                yield read(start, end)
                return
            for piece in backend.stream_range(stored, start, end):
                update(len(piece))
                yield piece

        archive = _archive.RemoteArchive(
            read,
            stream,
            entries,
            directory,
            backend.read_threads,
            backend.read_part,
            resume,
        )
        return _archive.extract(archive, folder)


def _still_to_read(entry: zipfile.ZipInfo, resume: _archive.Resume) -> int:
    r"""Bytes of an entry's data that the unpacking is to read."""
    if entry.filename in resume.skip:
        return 0
    _, kept = resume.written.get(entry.filename, (0, []))
    return entry.compress_size - sum(end - start for start, end in kept)


def _unpack_local(local: str, folder: str, plan: Plan | None) -> list[zipfile.ZipInfo]:
    r"""Unpack an archive lying on this machine; the unpacking is the transfer."""
    with open(local, "rb") as fp:
        entries, directory = _archive.read_directory(*_local_readers(fp.fileno()))
    resume = plan(entries, directory) if plan is not None else _archive.Resume()
    total = sum(_still_to_read(e, resume) for e in entries)
    with progress(total, f"Unpack {os.path.basename(local)}") as update:
        return _archive.extract(local, folder, update, resume)


def put_file(
    location: Location, local: str, path: str, version: str, md5: str | None = None
) -> None:
    r"""Upload a local file; ``md5``, where known, saves reading it for that."""
    location.capabilities.put_file(local, versioned_path(location, path, version), md5)


def write_bytes(location: Location, data: bytes, path: str, version: str) -> None:
    r"""Upload a small file."""
    with _staged(data, path) as local:
        location.interface.put_file(local, path, version)


def claim(
    location: Location,
    data: bytes,
    path: str,
    version: str,
    what: str = "",
) -> _tickets.Taken:
    r"""Take the claim ``path``: of several processes at once, exactly one holds it.

    The claim is a small file holding ``data``, created only if absent: by
    the backend's own way where it has one (``claim``: on S3, a
    conditional write or, where the store ignores those, a ticket), else
    by its conditional write (``put_file_exclusive``: file system, MinIO),
    else by a ticket (:func:`audmodel.backend._tickets.take`, e.g. on
    Artifactory). Where steps are shown, a line on standard error tells which.

    ``what`` names what is claimed in the step told (e.g. ``"model ID
    '...'"``), the claim's path by default.

    Returns:
        the path held on the backend (to remove on release), or ``None``
        and the path of the claim another process holds

    Raises:
        audbackend.BackendError: if the backend fails

    """
    capabilities = location.capabilities
    target = versioned_path(location, path, version)
    step = f"{what or repr(target)} in {location.repository}"
    with _staged(data, path) as local:
        try:
            taken = capabilities.claim(local, target)
            method = capabilities.exclusive_creation  # known once claimed
            if taken is not None:
                say(f"Claimed {step} by {method}.")
                return _tickets.Taken(*taken)
            if method is None:
                say(f"Claiming {step} by tickets.")
                return _tickets.take(capabilities.backend, local, target)
            say(f"Claiming {step} by {method}.")
            try:
                capabilities.put_file_exclusive(local, target)
            except FileExistsError:
                return _tickets.Taken(None, target)
            return _tickets.Taken(target, target)
        except audbackend.BackendError:
            raise
        except Exception as ex:
            raise audbackend.BackendError(ex) from ex


def exists(location: Location, path: str, version: str) -> bool:
    r"""Tell if a file exists on a repository."""
    return location.interface.exists(path, version)


def remove(location: Location, path: str, version: str) -> None:
    r"""Remove a file from a repository if it is there.

    Another process may remove it first; that is no error.

    """
    remove_stored(location, versioned_path(location, path, version))


def remove_stored(location: Location, stored: str) -> None:
    r"""Remove a file by its path on the backend, if it is there."""
    if location.capabilities.remove_if_there(stored):
        return
    backend = location.interface.backend
    if not backend.exists(stored):
        return
    try:
        backend.remove_file(stored)
    except audbackend.BackendError:
        if backend.exists(stored):
            raise


def take_back_if_removed(
    location: Location, data: bytes, path: str, version: str, model: _ids.ModelId
) -> bool:
    r"""After writing ``data`` to a file of ``model``: take it back if it is gone.

    A removal of the model between a check and the write would leave the
    file behind without a header. The file is taken back only if it still
    holds ``data``: a model published again meanwhile has a file of its own.

    Returns:
        whether the model was removed

    """
    if exists(location, _layout.header_path(model.short_id), model.version):
        return False
    if read_if_there(location, path, version) == data:
        remove(location, path, version)
    return True


def read_if_there(
    location: Location, path: str, version: str, limit: int | None = _yaml.MAX_FILE_SIZE
) -> bytes | None:
    r"""Download a small file; ``None`` if it is not there.

    Another process may remove it at any moment, so it is read rather than
    asked for first. ``limit`` as in :func:`read_bytes`.

    """
    try:
        return read_bytes(location, path, version, limit)
    except audbackend.BackendError as ex:
        if isinstance(ex.exception, FileNotFoundError):
            return None
        raise
