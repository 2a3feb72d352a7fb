"""The public API: each function checks its arguments and delegates.

The examples run against a file-system repository holding the model
``d4e9c65b-1.0.0`` (name ``torch``, subgroup ``audmodel.dummy.cnn``), with
the alias ``my-model``.

"""

from __future__ import annotations

from collections.abc import Sequence
import datetime
import errno
import os
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal
from typing import overload

from audmodel import _call
from audmodel import _config
from audmodel import _ids
from audmodel import _lazy
from audmodel import _output
from audmodel import errors
from audmodel._config import config
from audmodel._defaults import COMPRESSION
from audmodel._defaults import LOAD_TIMEOUT
from audmodel._defaults import URL_TYPES
from audmodel._lazy import audeer
from audmodel._repository import Repository


if TYPE_CHECKING:  # imported where a table is made
    import pandas

    from audmodel import _aliases
    from audmodel import _archive
    from audmodel import _cache
    from audmodel import _catalog
    from audmodel import _check
    from audmodel import _lifecycle
    from audmodel import _load
    from audmodel import _parts
    from audmodel import _publish
    from audmodel import _resolve
    from audmodel import _signature
    from audmodel import _store
    from audmodel import _tables
    from audmodel import _trust
    from audmodel import _yaml
else:
    # Each room is imported by the first function that needs it: uid()
    # needs none, a cached load _cache and _load (see audmodel._lazy).
    _aliases = _lazy.module("audmodel._aliases", globals())
    _archive = _lazy.module("audmodel._archive", globals())
    _cache = _lazy.module("audmodel._cache", globals())
    _catalog = _lazy.module("audmodel._catalog", globals())
    _check = _lazy.module("audmodel._check", globals())
    _lifecycle = _lazy.module("audmodel._lifecycle", globals())
    _load = _lazy.module("audmodel._load", globals())
    _parts = _lazy.module("audmodel._parts", globals())
    _publish = _lazy.module("audmodel._publish", globals())
    _resolve = _lazy.module("audmodel._resolve", globals())
    _signature = _lazy.module("audmodel._signature", globals())
    _store = _lazy.module("audmodel._store", globals())
    _tables = _lazy.module("audmodel._tables", globals())
    _trust = _lazy.module("audmodel._trust", globals())
    _yaml = _lazy.module("audmodel._yaml", globals())


def _cache_root(cache_root: str | None) -> str:
    return _cache.root_path(cache_root or default_cache_root())


def _shared(cache_root: str | None) -> str | None:
    r"""The shared cache a call reads, if any: none where a cache root is given."""
    if cache_root is not None:
        return None
    shared = _config.shared_cache_root()
    if not shared:
        return None
    shared = _cache.root_path(shared)
    return None if shared == _cache_root(None) else shared


def _roots(cache_root: str | None) -> list[str]:
    r"""The caches a call reads, the user's (the one written to) first."""
    return _cache.roots(_cache_root(cache_root), _shared(cache_root))


def _resolved(uid: str, cache_root: str | None) -> tuple[_ids.ModelId, str]:
    r"""The model the user named, and the cache root used."""
    model_id = _resolve.resolve(_ids.Reference(uid), _roots(cache_root))
    return model_id, _cache_root(cache_root)


@_call.entry
def aliases(
    uid: str,
    *,
    cache_root: str | None = None,
    verbose: bool = False,
) -> list[str]:
    r"""Aliases of a model.

    Only aliases that point to the model are listed.

    Args:
        uid: model ID or alias
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Returns:
        alias names, sorted

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the model does not exist

    Examples:
        >>> audmodel.aliases("d4e9c65b-1.0.0")
        ['my-model']

    """
    model_id, _ = _resolved(uid, cache_root)
    repository = _store.find_header(model_id)
    with _store.opened(repository) as location:
        # An alias names what resolve_alias() finds for it.
        return _aliases.aliases_of(location, model_id, _aliases.resolved)


@_call.entry
def author(uid: str, *, cache_root: str | None = None) -> str:
    r"""Author of a model.

    Args:
        uid: model ID or alias
        cache_root: cache folder, see :func:`default_cache_root`

    Returns:
        author name

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the model does not exist
        filelock.Timeout: if the cache lock cannot be acquired

    Examples:
        >>> audmodel.author("d4e9c65b-1.0.0")
        'sphinx'

    """
    return header(uid, cache_root=cache_root)["author"]


@_call.entry
def available(
    *,
    name: str | None = None,
    subgroup: str | None = None,
    version: str | None = None,
    params: dict[str, object] | None = None,
    repository: Repository | None = None,
    latest: bool = False,
    cache_root: str | None = None,
    verbose: bool = False,
) -> pandas.DataFrame:
    r"""Models in the repositories, found by name, subgroup and parameters.

    One listing per repository tells which models exist;
    their headers are read once, in parallel,
    and kept in the cache for the next call.
    A model in several repositories is listed once,
    from the first repository, as :func:`load` would take it.
    A model whose header cannot be read is left out with a warning.

    Args:
        name: keep models of this name
        subgroup: keep models of this subgroup or one below it:
            ``'emotion'`` matches ``'emotion'`` and ``'emotion.cnn'``,
            not ``'emotions'``
        version: keep models of this version
        params: keep models whose parameters hold all these items
        repository: look in this repository only;
            all of :attr:`audmodel.config.REPOSITORIES` if ``None``
        latest: keep only the latest version of each model
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Returns:
        table indexed by model ID (``uid``),
        with the columns
        ``name``, ``subgroup``, ``version``, ``author``,
        ``date`` (``'YYYY-MM-DD'``), ``repository`` (its name)
        and ``parameters`` (a dictionary);
        empty, with these columns, if no model matches

    Raises:
        audbackend.BackendError: if a repository cannot be reached

    Examples:
        >>> df = audmodel.available(params={"model": "cnn10"})
        >>> df[["name", "subgroup", "version", "repository"]]
                         name            subgroup version repository
        uid
        d4e9c65b-1.0.0  torch  audmodel.dummy.cnn   1.0.0     models
        >>> df.loc["d4e9c65b-1.0.0", "parameters"]["sampling_rate"]
        16000
        >>> len(audmodel.available(subgroup="audmodel.dummy.cnn", version="2.0.0"))
        0

    """
    if params is not None and not isinstance(params, dict):
        raise errors.InvalidArgumentError(
            f"'params' must be a dict, not {type(params).__name__}."
        )
    found = _catalog.models(_cache_root(cache_root), repository, _shared(cache_root))
    chosen = _catalog.select(
        found,
        name=name,
        subgroup=subgroup,
        version=version,
        params=params,
        latest=latest,
    )
    return _tables.available(chosen)


@_call.entry
def cached(cache_root: str | None = None) -> pandas.DataFrame:
    r"""Models in the cache.

    Args:
        cache_root: cache folder, see :func:`default_cache_root`

    Returns:
        table indexed by model ID (``uid``),
        with the columns ``name`` and ``subgroup`` (from the cached header,
        ``None`` if it is not cached), ``version``, ``path`` (the folder),
        ``size`` (bytes), ``last_used`` (time of the last :func:`load`)
        and ``cache``: ``'user'`` for the cache models are loaded into,
        ``'shared'`` for the shared cache (see :func:`default_cache_root`),
        whose models are listed too unless ``cache_root`` is given

    Examples:
        >>> folder = audmodel.load("my-model")
        >>> audmodel.cached()[["name", "version", "size"]]
                         name version  size
        uid
        d4e9c65b-1.0.0  torch   1.0.0    11

    """
    shared = _config.shared_cache_root()
    rows = []
    for root in _roots(cache_root):
        # The shared cache is named so also when it is given as cache_root.
        kind = "shared" if shared and root == _cache.root_path(shared) else "user"
        entries = _cache.entries(root)
        headers = dict(_catalog.cached_headers([e.uid for e in entries], root))
        rows += [(entry, headers.get(entry.uid), kind) for entry in entries]
    return _tables.cached(rows)


@_call.entry
def check(
    repository: Repository | str | None = None,
    *,
    repair: bool = False,
    verbose: bool = False,
) -> pandas.DataFrame:
    r"""Check repositories for damage, and optionally repair them.

    Lists in one report:
    archives without a header (publications that died),
    headers without an archive, or whose archive fails its MD5
    or the CRC-32 of an entry,
    missing meta,
    aliases pointing to nothing,
    aliases files that list aliases pointing elsewhere or miss some,
    and claims and tickets of publishers that died.
    Every archive is read once for this.

    With ``repair``, files without a model, leftovers and aliases to
    nothing are removed once they are older than an hour
    (so that a publication in progress is never touched),
    aliases files are rewritten,
    and a missing meta is written empty.
    A model that has its header and a sound archive is never removed;
    a broken model is left to the user (see :func:`remove`).

    Args:
        repository: repository to check, or the name of a configured one;
            every configured repository if ``None``
        repair: repair what can be repaired
        verbose: show debug messages

    Returns:
        table with one row per problem and the columns
        ``repository`` (its name),
        ``problem``, ``uid`` (model ID, or alias name),
        ``path`` (the stored file), ``detail``,
        and ``action`` (what the repair did, empty without ``repair``);
        empty if nothing is wrong

    Raises:
        audbackend.BackendError: if the repository cannot be reached,
            or a repair fails
        TypeError: if ``repository`` is not a :class:`Repository` or name
        ValueError: if no configured repository has that name

    Examples:
        >>> audmodel.check().empty
        True
        >>> audmodel.check(audmodel.config.REPOSITORIES[0].name).empty
        True

    """
    if repository is None:
        repositories = list(config.REPOSITORIES)
    elif isinstance(repository, str):
        repositories = [_configured(repository)]
    else:
        _check_repository(repository)
        repositories = [repository]
    return _tables.findings([(r, _check.check(r, repair)) for r in repositories])


def _configured(name: str) -> Repository:
    r"""The configured repository of this name.

    Raises:
        ValueError: if there is none, naming those there are

    """
    for repository in config.REPOSITORIES:
        if repository.name == name:
            return repository
    names = ", ".join(f"'{r.name}'" for r in config.REPOSITORIES) or "none"
    raise errors.InvalidArgumentError(
        f"No configured repository is named '{name}'; configured are: {names}."
    )


def _check_repository(repository: object) -> None:
    if not isinstance(repository, Repository):
        raise errors.ArgumentTypeError(
            f"'repository' must be an audmodel.Repository, "
            f"not {type(repository).__name__}."
        )


@_call.entry
def copy(
    uid: str,
    repository: Repository,
    *,
    aliases: bool = False,
    cache_root: str | None = None,
    verbose: bool = False,
) -> list[str]:
    r"""Publish a model of one repository in another, unchanged.

    Promotes a model, e.g. from a development repository to the production
    one: the copy has the same ID, header (author and date too), meta and
    archive bytes, checked by their MD5 after the copy.
    It is a publication like any other: all or nothing,
    and refused if the ID exists in ``repository``.
    Between buckets of one S3 store the server copies the archive;
    elsewhere it passes through one temporary file at most.

    Args:
        uid: model ID or alias
        repository: where to copy it to
        aliases: also point the aliases of the model to the copy
            in ``repository``; an alias there that points to another model
            is moved
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Returns:
        the aliases copied with the model

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the model does not exist,
            exists in ``repository`` already,
            or its copy does not match the original
        TypeError: if ``repository`` is not a :class:`Repository`

    Examples:
        >>> production = audmodel.Repository("production", "host", "file-system")
        >>> os.makedirs("host/production")
        >>> audmodel.copy("d4e9c65b-1.0.0", production, aliases=True)
        ['my-model']
        >>> audmodel.config.REPOSITORIES = [production]
        >>> audmodel.resolve_alias("my-model")
        'd4e9c65b-1.0.0'

    """
    _check_repository(repository)
    model_id, _ = _resolved(uid, cache_root)
    source = _store.find_header(model_id)
    return _lifecycle.copy(model_id, source, repository, aliases)


@_call.entry
def date(uid: str, *, cache_root: str | None = None) -> str:
    r"""Publication date of a model.

    Args:
        uid: model ID or alias
        cache_root: cache folder, see :func:`default_cache_root`

    Returns:
        date as ``'YYYY-MM-DD'``

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the model does not exist
        filelock.Timeout: if the cache lock cannot be acquired

    Examples:
        >>> audmodel.date("d4e9c65b-1.0.0")
        '1985-11-18'

    """
    return str(header(uid, cache_root=cache_root)["date"])


@overload
def default_cache_root(shared: Literal[False] = False) -> str: ...


@overload
def default_cache_root(shared: bool) -> str | None: ...


def default_cache_root(shared: bool = False) -> str | None:
    r"""Default cache folder, or the shared one.

    The user's cache is ``AUDMODEL_CACHE_ROOT`` if set, else
    :attr:`audmodel.config.CACHE_ROOT`. The shared cache, which an
    administrator fills and its users only read, is
    ``AUDMODEL_SHARED_CACHE_ROOT`` if set, else
    :attr:`audmodel.config.SHARED_CACHE_ROOT`.

    Args:
        shared: return the shared cache folder instead

    Returns:
        cache folder; with ``shared=True`` ``None`` if there is no shared cache

    Examples:
        >>> audmodel.default_cache_root()
        '...'
        >>> audmodel.default_cache_root(shared=True) is None
        True

    """
    if shared:
        return _config.shared_cache_root()
    return _config.user_cache_root()


@_call.entry
def exists(uid: str) -> bool:
    r"""Tell if a model exists.

    Args:
        uid: model ID or alias

    Returns:
        ``True`` if a configured repository holds the model

    Raises:
        audbackend.BackendError: if a repository cannot be reached

    Examples:
        >>> audmodel.exists("d4e9c65b-1.0.0")
        True
        >>> audmodel.exists("d4e9c65b-9.9.9")
        False

    """
    try:
        model_id, _ = _resolved(uid, None)
        roots = _roots(None)
        # A model whose header a cache holds exists; one no cache holds is
        # not cached (offline: so no model known here), not unknown.
        return _store.ask(
            lambda: bool(_store.find_header(model_id)),
            lambda: (
                _cache.held_copy(roots, _cache.header_file, model_id) is not None
                or None
            ),
            f"whether '{uid}' exists",
        )
    except RuntimeError:  # unknown, or offline not cached
        return False


@_call.entry
def files(
    uid: str,
    *,
    cache_root: str | None = None,
    verbose: bool = False,
) -> pandas.DataFrame:
    r"""Files of a model, without downloading it.

    The list is read from the central directory at the end of the model's
    archive: one or two small reads on S3 and Artifactory,
    a read of the archive's end on a file system.

    Args:
        uid: model ID or alias
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Returns:
        table indexed by the files' relative paths (``path``),
        with the columns ``size`` (bytes), ``modified`` (time stamp
        stored in the archive) and ``crc32``, an integer as
        :func:`zlib.crc32` and :attr:`zipfile.ZipInfo.CRC` give it, so
        that it compares with them (the command line and the catalog,
        which show it to people, print it as 8 hex digits, as
        ``unzip -v`` does)

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the model does not exist,
            or its archive is broken

    Examples:
        >>> audmodel.files("my-model")[["size"]]
                    size
        path
        model.yaml    11

    """
    model_id, root = _resolved(uid, cache_root)

    def online() -> pandas.DataFrame:
        shared = _shared(cache_root)
        entries = _load.archive_entries(model_id, root, shared=shared)
        return _tables.files(entries)

    def cached() -> pandas.DataFrame | None:
        record = _load.cached_files_record(model_id, _roots(cache_root))
        return None if record is None else _tables.recorded_files(record)

    return _store.ask(
        online,
        cached,
        f"the file list of '{model_id}'",
        missing=f"The file list of model '{model_id}'",
    )


@_call.entry
def header(
    uid: str,
    *,
    cache_root: str | None = None,
    verbose: bool = False,
) -> dict[str, Any]:
    r"""Header of a model: author, date, name, parameters, subgroup, version.

    Args:
        uid: model ID or alias
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Returns:
        header

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the model does not exist
        filelock.Timeout: if the cache lock cannot be acquired

    Examples:
        >>> audmodel.header("d4e9c65b-1.0.0")["name"]
        'torch'

    """
    model_id, root = _resolved(uid, cache_root)
    return _load.header(model_id, root, shared=_shared(cache_root)).as_dict()


@_call.entry
def latest_version(uid: str) -> str:
    r"""Latest version of a model.

    Args:
        uid: model ID or alias

    Returns:
        version

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the model does not exist

    Examples:
        >>> audmodel.latest_version("d4e9c65b")
        '1.0.0'

    """
    found = versions(uid)
    if not found:
        raise _store.model_not_found(uid, None)
    return found[-1]


@_call.entry
def legacy_uid(
    name: str,
    params: dict[str, object],
    version: str,
    *,
    subgroup: str | None = None,
    private: bool = False,
) -> str:
    r"""Model ID as audmodel computed it before version 1.0.

    Args:
        name: model name
        params: model parameters
        version: model version
        subgroup: subgroup
        private: if the model was in the private legacy repository

    Returns:
        36-character ID

    Examples:
        >>> audmodel.legacy_uid("sklearn", {}, "3.1.4", subgroup="a.b.c")
        '4756c243-4540-3577-4387-39c7529df405'

    """
    return _ids.legacy_id(name, params, version, subgroup, private)


@_call.entry
def load(
    uid: str,
    *,
    files: str | Sequence[str] | None = None,
    cache_root: str | None = None,
    timeout: float = LOAD_TIMEOUT,
    verbose: bool = False,
) -> str:
    r"""Download a model into the cache, unless it is there, and return its folder.

    The folder appears in the cache only when complete.
    Processes that load the same model into one cache at the same time
    download it once.

    Without ``cache_root``, a shared cache (``default_cache_root(shared=True)``)
    is looked in first: a complete model there is returned as it is,
    nothing is written there and no lock taken (a model there that
    differs from its archive is skipped with a warning).
    Offline (:attr:`audmodel.config.OFFLINE`), the model is taken from the
    caches, an alias as it resolved when last used; where no repository can
    be reached, the same, with a warning where the answer may be stale.

    With ``files``, only the files whose relative paths match the glob
    patterns are fetched, by byte ranges of the archive: a folder holding
    at least those files is returned. It is kept apart from the model's
    place in the cache, where a folder is always the whole model; a later
    load of the whole model fetches only the files not there.
    See :func:`load_file` for one file.

    Args:
        uid: model ID, short ID (latest version) or alias
        files: a glob pattern or a list of them, matched against the
            model's relative paths (``/`` between folders;
            ``*`` and ``?`` also match ``/``, case counts);
            ``None`` for the whole model
        cache_root: cache folder, see :func:`default_cache_root`
        timeout: seconds to wait for another process loading the same model
        verbose: show debug messages

    Returns:
        model folder

    Raises:
        audbackend.BackendError: if a repository cannot be reached
            and the model is not cached
        RuntimeError: if the model does not exist
            or its archive is broken or refused,
            or, offline, if it is not cached
        audmodel.errors.NotInModelError: if a pattern matches no file
        filelock.Timeout: if the cache lock is not acquired within ``timeout``

    Examples:
        >>> folder = audmodel.load("d4e9c65b-1.0.0")
        >>> sorted(os.listdir(folder))
        ['model.yaml']
        >>> folder = audmodel.load("my-model", files="*.yaml")
        >>> sorted(os.listdir(folder))
        ['model.yaml']

    """
    patterns = _patterns(files)
    wanted = _ids.Reference(uid)
    model_id = _resolve.resolve(wanted, _roots(cache_root))
    root = _cache_root(cache_root)
    if patterns is None:
        folder = _load.model(model_id, root, timeout, _shared(cache_root))
    else:
        folder, _ = _load.chosen_files(
            model_id,
            root,
            timeout,
            _shared(cache_root),
            lambda names: _parts.matching(names, patterns),
            f"Files matching {patterns}",
        )
    _remember(wanted, model_id, root)
    return folder


def _remember(wanted: _ids.Reference, model_id: _ids.ModelId, root: str) -> None:
    r"""Remember where an alias pointed when it was loaded, for offline use."""
    if wanted.is_alias:  # in the model's own folder
        _cache.remember_alias(root, wanted.text, model_id.short_id, model_id.uid)


def _patterns(files: str | Sequence[str] | None) -> list[str] | None:
    r"""The patterns of ``load(files=...)``, checked; ``None`` for all files."""
    if files is None:
        return None
    patterns = [files] if isinstance(files, str) else files
    if (
        not isinstance(patterns, Sequence)
        or not patterns
        or not all(isinstance(p, str) and p for p in patterns)
    ):
        raise errors.InvalidArgumentError(
            f"'files' must be a glob pattern or a non-empty list of them, "
            f"not {files!r}."
        )
    return list(patterns)


@_call.entry
def load_file(
    uid: str,
    path: str,
    *,
    cache_root: str | None = None,
    verbose: bool = False,
    timeout: float = LOAD_TIMEOUT,
) -> str:
    r"""Fetch one file of a model into the cache, unless it is there; return its path.

    Only the file is read from the repository, by byte ranges of the
    model's archive (its list of files, then the file). Where the whole
    model is cached, its file is returned. The file is kept apart from
    the model's place in the cache, where a folder is always the whole
    model; a later :func:`load` of the whole model does not fetch it again.
    Offline, a cached file is returned; a missing one is an error naming it.

    Args:
        uid: model ID, short ID (latest version) or alias
        path: the file's path relative to the model folder,
            with ``/`` between folders, as :func:`files` lists it
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages
        timeout: seconds to wait for another process fetching files of the
            same model

    Returns:
        local path of the file

    Raises:
        audbackend.BackendError: if a repository cannot be reached
            and the file is not cached
        RuntimeError: if the model does not exist
            or its archive is broken or refused,
            or, offline, if the file is not cached
        audmodel.errors.NotInModelError: if ``path`` is a folder of the
            model or none of its files (the closest are named)
        filelock.Timeout: if the lock is not acquired within ``timeout``

    Examples:
        >>> path = audmodel.load_file("my-model", "model.yaml")
        >>> open(path).read()
        'layers: 10\n'

    """
    if not isinstance(path, str):
        raise errors.ArgumentTypeError(f"'path' must be a string, not {path!r}.")
    wanted = _ids.Reference(uid)
    model_id = _resolve.resolve(wanted, _roots(cache_root))
    root = _cache_root(cache_root)
    folder, names = _load.chosen_files(
        model_id,
        root,
        timeout,
        _shared(cache_root),
        lambda names: [_parts.named(names, path)],
        f"File '{path}'",
    )
    _remember(wanted, model_id, root)
    return _parts.joined(folder, names[0])


@_call.entry
def signature(
    uid: str,
    *,
    cache_root: str | None = None,
    verbose: bool = False,
) -> str:
    r"""Local path of a model's signature, a Sigstore bundle of OpenSSF Model Signing.

    The signature is fetched into the cache beside (never inside) the model
    folder, once. ``model_signing verify key FOLDER --signature PATH
    --public_key PEM`` checks a loaded model folder with it.
    See :doc:`signing`.

    Args:
        uid: model ID, short ID (latest version) or alias
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Returns:
        path of the signature bundle (JSON)

    Raises:
        audmodel.errors.SignatureError: if the model is not signed,
            or its signature is corrupt
        RuntimeError: if the model does not exist,
            or, offline, its signature is not cached
        audbackend.BackendError: if a repository cannot be reached

    Examples:
        >>> audmodel.signature("my-model")
        Traceback (most recent call last):
        ...
        audmodel.errors.SignatureError: Model 'd4e9c65b-1.0.0' is not signed.

    """
    model_id = _resolve.resolve(_ids.Reference(uid), _roots(cache_root))
    root = _cache_root(cache_root)
    return _trust.signed(model_id, root, _shared(cache_root)).path


@_call.entry
def verify_signature(
    uid: str,
    public_key: str | None = None,
    *,
    cache_root: str | None = None,
    verbose: bool = False,
) -> str:
    r"""Check a model against its signature; return the fingerprint of the key.

    A model in the cache is checked there; one that is not is unpacked
    into a temporary folder and checked (the cache is left as it is).
    See :doc:`signing`.

    Args:
        uid: model ID, short ID (latest version) or alias
        public_key: PEM file of the public key (or root certificate) to
            check with; the trusted keys
            (:attr:`audmodel.config.TRUSTED_KEYS`) if ``None``
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Returns:
        fingerprint of the key that signed the model, ``sha256:`` and the
        SHA-256 of its public key in PEM

    Raises:
        audmodel.errors.SignatureError: if the model is not signed, signed
            by another key, or differs from what was signed (the first file
            that differs is named)
        ValueError: if no key is given or trusted, or a key file is unusable
        ImportError: if the extra ``sign`` is not installed
        RuntimeError: if the model does not exist
        audbackend.BackendError: if a repository cannot be reached

    """
    keys = [public_key] if public_key is not None else _config.trusted_keys()
    if not keys:
        raise errors.InvalidArgumentError(
            "No key to check the signature with: pass 'public_key', or set "
            "audmodel.config.TRUSTED_KEYS."
        )
    trust = _signature.trusted(keys)
    model_id = _resolve.resolve(_ids.Reference(uid), _roots(cache_root))
    return _load.verified(model_id, _cache_root(cache_root), _shared(cache_root), trust)


@_call.entry
def lookup_table(
    name: str,
    *,
    subgroup: str | None = None,
    version: str | None = None,
    cache_root: str | None = None,
    verbose: bool = False,
) -> pandas.DataFrame:
    r"""Parameters of the models of one name, side by side.

    As the lookup tables of audmodel's first versions:
    one row per model, one column per parameter.

    Args:
        name: model name
        subgroup: keep models of this subgroup or one below it
        version: keep models of this version
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Returns:
        table indexed by model ID (``uid``),
        with one column per parameter that any of the models has,
        where it first appears in the order the models published them;
        a model without a parameter has ``None`` there

    Raises:
        audbackend.BackendError: if a repository cannot be reached

    Examples:
        >>> audmodel.lookup_table("torch")
                        model   data  feature  sampling_rate
        uid
        d4e9c65b-1.0.0  cnn10  emodb  melspec          16000

    """
    found = _catalog.models(_cache_root(cache_root), shared=_shared(cache_root))
    chosen = _catalog.select(found, name=name, subgroup=subgroup, version=version)
    return _tables.lookup_table(chosen)


@_call.entry
def meta(
    uid: str,
    *,
    cache_root: str | None = None,
    verbose: bool = False,
) -> dict[str, object]:
    r"""Meta of a model.

    Checked against the repository on every call,
    so a change made elsewhere with :func:`update_meta` is seen.

    Args:
        uid: model ID or alias
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Returns:
        meta, empty if the model has none

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the model does not exist
        filelock.Timeout: if the cache lock cannot be acquired

    Examples:
        >>> audmodel.meta("d4e9c65b-1.0.0")
        {'data': {'emodb': {'version': '1.1.1'}}}

    """
    model_id, root = _resolved(uid, cache_root)
    return _load.meta(model_id, root, shared=_shared(cache_root))


@_call.entry
def name(uid: str, *, cache_root: str | None = None, verbose: bool = False) -> str:
    r"""Name of a model.

    Args:
        uid: model ID or alias
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Returns:
        model name

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the model does not exist
        filelock.Timeout: if the cache lock cannot be acquired

    Examples:
        >>> audmodel.name("d4e9c65b-1.0.0")
        'torch'

    """
    return header(uid, cache_root=cache_root, verbose=verbose)["name"]


@_call.entry
def parameters(
    uid: str,
    *,
    cache_root: str | None = None,
    verbose: bool = False,
) -> dict:
    r"""Parameters of a model.

    Args:
        uid: model ID or alias
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Returns:
        model parameters

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the model does not exist
        filelock.Timeout: if the cache lock cannot be acquired

    Examples:
        >>> audmodel.parameters("d4e9c65b-1.0.0")["sampling_rate"]
        16000

    """
    return header(uid, cache_root=cache_root, verbose=verbose)["parameters"]


@_call.entry
def publish(
    root: str,
    name: str,
    params: dict[str, object],
    version: str,
    *,
    repository: Repository | None = None,
    alias: str | None = None,
    author: str | None = None,
    compression: int | str = COMPRESSION,
    date: datetime.date | None = None,
    meta: dict[str, object] | None = None,
    subgroup: str | None = None,
    tmp_root: str | None = None,
    signing_key: str | None = None,
    verbose: bool = False,
) -> str:
    r"""Publish the files below ``root`` as a model.

    The model ID is computed from ``name``, ``params`` and ``subgroup``,
    see :func:`uid`.
    A published model cannot be changed, except for its meta
    (:func:`update_meta`) and its aliases (:func:`set_alias`).
    Either all files of the model are published, or none:
    on an error, Ctrl+C or SIGTERM the uploaded files are removed.

    Args:
        root: folder with the model files
        name: model name, e.g. the library that runs it
        params: parameters that tell this model from others of the same name
        version: semantic version ``'X.Y.Z'``, optionally with a suffix
            starting with ``'-'``, e.g. ``'1.0.0-rc.1'``
        repository: where to publish;
            the first of :attr:`audmodel.config.REPOSITORIES` if ``None``
        alias: an alias for the model, taken from another model if needed
        author: author; the user name if ``None``
        compression: ``"auto"`` stores files that deflate would shrink by
            less than 8 %, such as float weights, and deflates the others
            at level 1; 0 stores every file; 1-9 deflates every file
            at that level
        date: publication date; today if ``None``
        meta: meta
        subgroup: dot-separated subgroup, e.g. ``'emotion.cnn'``
        tmp_root: folder for the temporary archive
        signing_key: PEM file of the private key to sign the model with,
            in the OpenSSF Model Signing format, before anything is
            uploaded; :attr:`audmodel.config.SIGNING_KEY` if ``None``
            (see :doc:`signing`; needs the extra ``sign``)
        verbose: show debug messages

    Returns:
        model ID

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        FileNotFoundError: if ``root`` is not a folder
        RuntimeError: if the model exists already,
            was published by another process in the meantime,
            or its upload failed
        RuntimeError: if ``params`` or ``meta`` cannot be stored as YAML
        ValueError: if ``name``, ``subgroup``, ``alias``, ``version``,
            ``compression`` or ``params`` are not valid,
            or no repository is configured,
            or the signing key is missing, unreadable or not supported
        ImportError: if a signing key is given and the extra ``sign``
            is not installed
        KeyboardInterrupt: if interrupted by Ctrl+C or SIGTERM

    Examples:
        >>> audmodel.publish(
        ...     model_root,
        ...     "onnx",
        ...     {"model": "cnn10", "sampling_rate": 16000},
        ...     "1.0.0",
        ...     subgroup="emotion.cnn",
        ... )
        '998c5074-1.0.0'

    """
    repository = _publish_repository(repository)
    _ids.check_name(name)
    subgroup = _ids.check_subgroup(subgroup)
    _ids.check_version(version)
    if alias is not None:
        _ids.check_alias(alias)
    _archive.check_compression(compression)
    if not isinstance(params, dict):
        raise errors.InvalidArgumentError(
            f"'params' must be a dict, not {type(params).__name__}."
        )
    if meta is not None and not isinstance(meta, dict):
        raise errors.InvalidArgumentError(
            f"'meta' must be a dict or None, not {type(meta).__name__}."
        )
    root = audeer.path(root)
    if not os.path.isdir(root):
        raise errors.NotAFolderError(errno.ENOENT, os.strerror(errno.ENOENT), root)
    key = signing_key if signing_key is not None else _config.signing_key()
    return _publish.publish(
        root,
        name,
        params,
        version,
        _ids.short_id(name, params, subgroup),
        repository,
        alias=alias,
        author=author,
        compression=compression,
        date=date,
        meta=meta,
        subgroup=subgroup,
        tmp_root=audeer.mkdir(tmp_root) if tmp_root else None,
        signing_key=_signature.signing_key(key) if key else None,
    )


def _publish_repository(repository: Repository | None) -> Repository:
    if repository is not None:
        return repository
    if not config.REPOSITORIES:
        raise errors.InvalidArgumentError(
            "You have to provide a repository, "
            "see audmodel.config.REPOSITORIES for an example."
        )
    return config.REPOSITORIES[0]


@_call.entry
def remove(
    uid: str,
    *,
    cache_root: str | None = None,
    verbose: bool = False,
) -> None:
    r"""Remove a model version from its repository.

    For a model published by mistake, e.g. with the wrong weights.
    It is refused while aliases point to the model:
    move them (:func:`set_alias`) or remove them (:func:`remove_alias`)
    first. The header goes first, so the model stops existing at once;
    then its meta, its aliases file and its archive.
    A removal that is interrupted leaves files that :func:`check` reports
    and removes with ``repair=True``.
    Caches that hold the model keep it until they are pruned
    (:func:`remove_cached`).
    An ID should not be published again after its removal with other files:
    caches would go on serving the old ones.

    Args:
        uid: model ID (not a short ID or alias: the version removed is the
            one named)
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Raises:
        audbackend.BackendError: if a repository cannot be reached,
            or refuses to delete the model's header (then nothing is removed)
        ValueError: if ``uid`` is a short ID or an alias
        RuntimeError: if the model does not exist,
            aliases point to it,
            or some of its files could not be removed after its header

    Examples:
        >>> audmodel.remove("d4e9c65b-1.0.0")
        Traceback (most recent call last):
        audmodel.errors.AliasedModelError: Cannot remove model 'd4e9c65b-1.0.0': the aliases ['my-model'] point to it. ...
        >>> audmodel.remove_alias("my-model")
        >>> audmodel.remove("d4e9c65b-1.0.0")
        >>> audmodel.exists("d4e9c65b-1.0.0")
        False

    """  # noqa: E501
    _refuse_all_but_a_model_id(uid, cache_root)
    model_id, _ = _resolved(uid, cache_root)
    repository = _store.find_header(model_id)
    _lifecycle.remove(model_id, repository)


def _refuse_all_but_a_model_id(uid: str, cache_root: str | None) -> None:
    r"""Refuse what names a version only by looking it up: a short ID, an alias.

    Removing cannot be undone; the version removed is the one the user names.

    Raises:
        audmodel.errors.InvalidArgumentError: for a short ID (listing its
            versions) or an alias (naming its model)
        RuntimeError: if the model or alias does not exist

    """
    if _ids.is_short_id(uid):
        versions = _resolve.latest_versions(uid, _roots(cache_root))
        if not versions:
            raise _store.model_not_found(uid, None)
        ids = ", ".join(f"'{uid}-{version}'" for version in versions)
        raise errors.InvalidArgumentError(
            f"'{uid}' is a short ID, which stands for its latest version; "
            f"removing takes the ID of the one version to remove. "
            f"Its versions: {ids}; remove each to remove them all."
        )
    if _ids.is_alias(uid):
        target = _resolve.alias(uid, _roots(cache_root))
        raise errors.InvalidArgumentError(
            f"'{uid}' is an alias, of '{target}'; removing takes a model ID, "
            "and a model that aliases point to is not removed: "
            f"remove the alias first (remove_alias('{uid}'))."
        )


@_call.entry
def remove_alias(alias: str, *, verbose: bool = False) -> None:
    r"""Remove an alias.

    It is removed from every configured repository that holds it,
    and from the aliases of the model it pointed to.

    Args:
        alias: alias name
        verbose: show debug messages

    Raises:
        audbackend.BackendError: if a repository cannot be reached
            or refuses to delete the alias
        RuntimeError: if the alias does not exist

    Examples:
        >>> audmodel.remove_alias("my-model")
        >>> audmodel.aliases("d4e9c65b-1.0.0")
        []

    """
    if not _ids.is_valid_alias(alias):
        raise _store.alias_not_found(alias)
    _lifecycle.remove_alias(alias)


@_call.entry
def remove_cached(
    uid: str | None = None,
    *,
    older_than: datetime.timedelta | None = None,
    max_size: int | None = None,
    cache_root: str | None = None,
) -> list[str]:
    r"""Remove models from the cache, to free space.

    Removes the model ``uid``,
    or those not loaded for longer than ``older_than``,
    or the least recently loaded until the cache holds at most ``max_size``
    bytes of models; where several are given, all that any of them names.
    A model that another process is loading at that moment is skipped,
    never half-removed; a process that reads files of a removed model goes
    on reading them. Headers and meta stay cached. Files of ``uid``
    fetched on their own (:func:`load_file`, ``load(files=...)``) are
    removed with it, also where the whole model is not cached.
    What loads interrupted more than a day ago left to be resumed
    is removed too.
    Nothing is asked of a repository.

    Args:
        uid: model ID, short ID for all its versions, or alias for the
            model it named when last loaded
        older_than: remove models last loaded longer ago than this
        max_size: remove the least recently loaded models
            until the others take at most this many bytes
        cache_root: cache folder, see :func:`default_cache_root`

    Returns:
        IDs of the removed models

    Raises:
        ValueError: if none of ``uid``, ``older_than`` and ``max_size``
            is given, or ``max_size`` is negative

    Examples:
        >>> folder = audmodel.load("my-model")
        >>> audmodel.remove_cached("d4e9c65b-1.0.0")
        ['d4e9c65b-1.0.0']
        >>> audmodel.remove_cached(max_size=0)
        []

    """
    if uid is None and older_than is None and max_size is None:
        raise errors.InvalidArgumentError(
            "Name what to remove: 'uid', 'older_than' or 'max_size'."
        )
    if max_size is not None and max_size < 0:
        raise errors.InvalidArgumentError(
            f"'max_size' must not be negative, not {max_size}."
        )
    root = _cache_root(cache_root)
    if uid is not None and _ids.is_alias(uid):
        # The model it named when last loaded: the cache alone tells.
        uid = _cache.recalled_alias([root], uid) or uid
    for folder in _cache.remove_stale_partials(root):
        _output.say(f"Removed '{folder}', left by a load interrupted a day ago.")
    entries = _cache.entries(root)
    doomed = _cache.to_free(entries, uid, older_than, max_size)
    removed = {e.uid for e in doomed if _cache.remove_model(e.path)}
    if uid is not None:  # and what was fetched of it alone, see load_file()
        removed.update(_cache.remove_parts_of(root, uid))
    return sorted(removed)


@_call.entry
def repository(uid: str, *, cache_root: str | None = None) -> Repository:
    r"""Repository that holds a model.

    Args:
        uid: model ID or alias
        cache_root: cache folder, see :func:`default_cache_root`

    Returns:
        the first configured repository that holds the model

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the model does not exist

    Examples:
        >>> audmodel.repository("d4e9c65b-1.0.0").name
        'models'

    """
    model_id, _ = _resolved(uid, cache_root)
    return _store.find_header(model_id)


@_call.entry
def resolve_alias(
    alias: str,
    *,
    cache_root: str | None = None,
    verbose: bool = False,
) -> str:
    r"""Model ID an alias points to.

    Args:
        alias: alias name
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Returns:
        model ID

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the alias does not exist

    Examples:
        >>> audmodel.resolve_alias("my-model")
        'd4e9c65b-1.0.0'

    """
    return _resolve.alias(alias, _roots(cache_root))


@_call.entry
def set_alias(
    alias: str,
    uid: str,
    *,
    cache_root: str | None = None,
    verbose: bool = False,
) -> None:
    r"""Point an alias at a model.

    An alias that points to another model is moved:
    it is removed from that model's :func:`aliases`.

    Args:
        alias: alias name, of ``[A-Za-z0-9._-]``, not like a model ID
        uid: model ID or alias
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the model does not exist
        ValueError: if ``alias`` is not an allowed alias name

    Examples:
        >>> audmodel.set_alias("production", "d4e9c65b-1.0.0")
        >>> audmodel.resolve_alias("production")
        'd4e9c65b-1.0.0'

    """
    _ids.check_alias(alias)
    model_id, _ = _resolved(uid, cache_root)
    # With one repository there is nothing to find: that the model is
    # there is checked under the aliases lock (see _publish.set_alias).
    configured = _store.repositories()
    if len(configured) == 1:
        repository = configured[0]
    else:
        repository = _store.find_header(model_id)
    _publish.set_alias(alias, model_id, repository)


@_call.entry
def subgroup(
    uid: str,
    *,
    cache_root: str | None = None,
    verbose: bool = False,
) -> str:
    r"""Subgroup of a model.

    Args:
        uid: model ID or alias
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Returns:
        subgroup, ``''`` if the model has none

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the model does not exist
        filelock.Timeout: if the cache lock cannot be acquired

    Examples:
        >>> audmodel.subgroup("d4e9c65b-1.0.0")
        'audmodel.dummy.cnn'

    """
    return header(uid, cache_root=cache_root, verbose=verbose)["subgroup"]


@_call.entry
def uid(
    name: str,
    params: dict[str, object],
    version: str | None = None,
    *,
    subgroup: str | None = None,
) -> str:
    r"""Model ID of a name, parameters and subgroup.

    The order of the top-level parameters does not change the ID.

    Args:
        name: model name
        params: model parameters
        version: model version; without it the short ID is returned
        subgroup: subgroup

    Returns:
        ``'<short_id>-<version>'``, or the short ID

    Examples:
        >>> params = {
        ...     "model": "cnn10",
        ...     "data": "emodb",
        ...     "feature": "melspec",
        ...     "sampling_rate": 16000,
        ... }
        >>> audmodel.uid("torch", params, subgroup="audmodel.dummy.cnn")
        'd4e9c65b'
        >>> audmodel.uid("torch", params, "1.0.0", subgroup="audmodel.dummy.cnn")
        'd4e9c65b-1.0.0'

    """
    short_id = _ids.short_id(name, params, subgroup)
    return short_id if version is None else str(_ids.ModelId(short_id, version))


@_call.entry
def update_meta(
    uid: str,
    meta: dict[str, object],
    *,
    replace: bool = False,
    cache_root: str | None = None,
    verbose: bool = False,
) -> dict[str, object]:
    r"""Update the meta of a model.

    Args:
        uid: model ID or alias
        meta: meta to merge into the current one, recursing into mappings
        replace: replace the meta instead of merging
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Returns:
        the new meta

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the model does not exist
        RuntimeError: if ``meta`` cannot be stored as YAML
        ValueError: if ``meta`` is not a dict

    Examples:
        >>> new = {"data": {"emodb": {"split": "test"}}}
        >>> audmodel.update_meta("d4e9c65b-1.0.0", new)
        {'data': {'emodb': {'version': '1.1.1', 'split': 'test'}}}

    """
    if not isinstance(meta, dict):
        raise errors.InvalidArgumentError(
            f"'meta' must be a dict, not {type(meta).__name__}."
        )
    _yaml.check_plain(meta)
    model_id, root = _resolved(uid, cache_root)
    repository = _store.find_header(model_id)
    return _publish.update_meta(model_id, meta, replace, root, repository)


@_call.entry
def url(
    uid: str,
    *,
    type: str = "model",
    cache_root: str | None = None,
    verbose: bool = False,
) -> str:
    r"""Where a file of a model is stored.

    Args:
        uid: model ID or alias
        type: ``'model'`` (the archive), ``'header'``, or ``'meta'``
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Returns:
        for a file-system repository the file's path on disk,
        for others its path on the backend

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the model does not exist
        ValueError: if ``type`` is not valid

    Examples:
        >>> audmodel.url("d4e9c65b-1.0.0")
        '.../models///audmodel/dummy/cnn/torch/d4e9c65b/1.0.0/d4e9c65b-1.0.0.zip'

    """
    if type not in URL_TYPES:
        raise errors.InvalidArgumentError(
            f"'type' has to be one of 'model', 'header', 'meta', not '{type}'"
        )
    model_id, root = _resolved(uid, cache_root)
    return _load.url(model_id, root, type, shared=_shared(cache_root))


@_call.entry
def verify_cached(
    uid: str | None = None,
    *,
    cache_root: str | None = None,
) -> pandas.DataFrame:
    r"""Compare cached models with their archives.

    Rereads the files of cached models and compares them with the sizes
    and CRC-32s of the archive's central directory,
    kept in the cache when the model was loaded
    (or read from the repository for a model audmodel 1.5 loaded).
    A changed model is loaded fresh after :func:`remove_cached`.

    Args:
        uid: model ID, or short ID for all its versions;
            all cached models if ``None``
        cache_root: cache folder, see :func:`default_cache_root`

    Returns:
        table indexed by model ID (``uid``) with one row per file that
        differs, the columns ``path`` (relative to the model folder)
        and ``problem`` (``'changed'``, ``'missing'`` or ``'extra'``);
        empty if all files match

    Raises:
        RuntimeError: if ``uid`` is given but not in the cache
        audbackend.BackendError: if a repository must be asked and
            cannot be reached

    Examples:
        >>> folder = audmodel.load("my-model")
        >>> audmodel.verify_cached().empty
        True
        >>> with open(os.path.join(folder, "model.yaml"), "w") as fp:
        ...     _ = fp.write("layers: 11\n")
        >>> audmodel.verify_cached("my-model")
                              path  problem
        uid
        d4e9c65b-1.0.0  model.yaml  changed

    """
    root = _cache_root(cache_root)
    # What load() would use: a model of the shared cache before the user's.
    found: dict[str, tuple[_cache.Entry, str]] = {}
    for cache in reversed(_roots(cache_root)):
        found.update({e.uid: (e, cache) for e in _cache.entries(cache)})
    entries = sorted(found.values(), key=lambda item: item[0].uid)
    if uid is not None:
        if _ids.is_alias(uid):
            uid = _resolve.resolve(_ids.Reference(uid), _roots(cache_root)).uid
        chosen = _cache.of_model([entry for entry, _ in entries], uid)
        entries = [item for item in entries if item[0] in chosen]
        if not entries:
            raise errors.NotCachedError(f"Model '{uid}' is not in the cache '{root}'.")
    rows = [
        (entry.uid, path, problem)
        for entry, _ in entries
        for path, problem in _cache.verify(
            # The record is the user's: one in the shared cache could have
            # been changed with its files, and the shared cache is not written.
            entry.path,
            _load.files_record(_ids.ModelId(entry.short_id, entry.version), root),
        )
    ]
    return _tables.verified(rows)


@_call.entry
def version(uid: str, *, cache_root: str | None = None, verbose: bool = False) -> str:
    r"""Version of a model.

    Args:
        uid: model ID or alias
        cache_root: cache folder, see :func:`default_cache_root`
        verbose: show debug messages

    Returns:
        version

    Raises:
        audbackend.BackendError: if a repository cannot be reached
        RuntimeError: if the model does not exist
        filelock.Timeout: if the cache lock cannot be acquired

    Examples:
        >>> audmodel.version("my-model")
        '1.0.0'

    """
    return header(uid, cache_root=cache_root, verbose=verbose)["version"]


@_call.entry
def versions(uid: str, *, cache_root: str | None = None) -> list[str]:
    r"""Versions of a model.

    Args:
        uid: model ID, short ID, or alias
        cache_root: cache folder, see :func:`default_cache_root`

    Returns:
        versions, sorted; empty if the model does not exist

    Raises:
        audbackend.BackendError: if a repository cannot be reached

    Examples:
        >>> audmodel.versions("d4e9c65b")
        ['1.0.0']

    """
    if _ids.is_short_id(uid):
        return _resolve.latest_versions(uid, _roots(cache_root))
    try:
        model_id, _ = _resolved(uid, cache_root)
    except RuntimeError:
        return []
    if _ids.is_legacy_id(model_id.short_id):  # a legacy model has one version only
        return [model_id.version]
    return _resolve.latest_versions(model_id.short_id, _roots(cache_root))
