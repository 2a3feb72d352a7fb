"""Which models repositories hold, and their headers, fast.

A model exists where its header exists, and every header lies below
``/_uid/``, so one listing of that folder per repository tells which
models there are (see :mod:`audmodel._store` for the layout). Headers are
immutable: each is read from its repository once, in parallel with the
others, and kept in the header index of the cache, ``.headers.json`` in
each model's folder, a JSON object ``{"format": 1, "headers": {<uid>: <header>}}``
(dates and tuples tagged, see :func:`audmodel._json.tagged`). The index is replaced
atomically, under its lock, and only ever grows, so processes sharing a
cache share it. A header that audmodel 1.5 or :func:`audmodel.header` put
into the cache is taken from there without a download.

"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
import concurrent.futures
import contextlib
import dataclasses
import json
import os
from typing import Any
import warnings

from audmodel import _aliases
from audmodel import _cache
from audmodel import _ids
from audmodel import _json
from audmodel import _layout
from audmodel import _output
from audmodel import _store
from audmodel import _yaml
from audmodel._files import LinkError
from audmodel._files import open_regular
from audmodel._lazy import audbackend
from audmodel._lazy import audeer
from audmodel._repository import Repository
from audmodel._threads import HEADER_READS
from audmodel.backend._common import backend_error_detail


INDEX_FORMAT = 1
# Every file below /_uid/ ends in .yaml. Listed by that ending rather than
# the header's, metas come as names too, not as full entries of a listing.
_YAML = ".yaml"
# The index as last read, by its file's identity, so that a process that
# asks again (a notebook, the catalog in the browser) does not parse it again.
_MEMO: dict[str, tuple[tuple[int, int, int], dict[str, dict]]] = {}


@dataclasses.dataclass(frozen=True)
class Model:
    r"""A model version and where it is."""

    uid: str
    repository: Repository | None  # None: known from a cache, offline
    header: dict[str, Any]

    @property
    def short_id(self) -> str:
        r"""Short ID."""
        return self.uid.split("-", 1)[0]

    @property
    def version(self) -> str:
        r"""Version."""
        return self.uid.split("-", 1)[1]

    @property
    def model_id(self) -> _ids.ModelId:
        r"""The model's ID as its two parts."""
        return _ids.split_uid(self.uid)


def models(
    cache_root: str,
    repository: Repository | None = None,
    shared: str | None = None,
) -> list[Model]:
    r"""All models of the configured repositories, or of one.

    A model in several repositories is taken from the first,
    as :func:`audmodel.load` would take it.
    A header that cannot be read or parsed is reported in a warning
    and its model left out.
    Offline, the models whose headers the caches' indexes hold
    (``shared`` too), without their repository.

    Raises:
        audbackend.BackendError: if a repository cannot be reached

    """

    def online() -> list[Model]:
        repositories = [repository] if repository else _store.repositories()
        found: dict[str, Repository] = {}
        for repo in repositories:
            listed = listed_uids(repo)
            _output.say(f"{repo} holds {len(listed)} models.")
            for uid in listed:
                found.setdefault(uid, repo)
        known = headers(found, cache_root, shared)
        return [
            Model(uid, repo, known[uid]) for uid, repo in found.items() if uid in known
        ]

    return _store.ask(
        online,
        lambda: indexed_models(_cache.roots(cache_root, shared)) or None,
        "the list of models",
        offline_note="the models listed are those the caches hold; "
        "the repositories may hold more.",
    )


def indexed_models(roots: list[str]) -> list[Model]:
    r"""The models whose headers caches hold; the first cache wins.

    Headers come from a cache's index and from the header files beside its
    model folders (written by a load, by :func:`audmodel.header`, or by
    audmodel 1.5), so that a model loaded once is listed offline.

    """
    found: dict[str, dict] = {}
    for root in reversed(roots):
        found.update(cached_headers(header_files(root), root))
        found.update(read_index(root))
    return [Model(uid, None, header) for uid, header in sorted(found.items())]


def header_files(cache_root: str) -> list[str]:
    r"""The IDs of the models whose header files a cache holds."""
    return [
        str(_ids.ModelId(short_id, version))
        for short_id in _cache.model_folders(cache_root)
        for version in _cache.header_versions(cache_root, short_id)
    ]


def listed_uids(repository: Repository) -> list[str]:
    r"""The IDs of the models a repository holds, by one listing.

    Raises:
        audbackend.BackendError: if the repository cannot be reached

    """
    folder = f"/{_layout.UID_FOLDER}/"
    with _store.opened(repository) as location:
        paths = _store.stored_files_ending(location, folder, _YAML)
    return [uid for uid in map(_uid_of_header, paths) if uid is not None]


def listed_aliases(repository: Repository) -> dict[str, str]:
    r"""Every alias of a repository and the model ID it points to.

    Raises:
        audbackend.BackendError: if the repository cannot be reached

    """
    with _store.opened(repository) as location:
        return _aliases.all_aliases(location)


def aliases_of(model: Model, pointing: dict[str, str]) -> list[str]:
    r"""The aliases of a model, by the rule of :func:`audmodel.aliases`.

    Those its aliases file lists that point to it, where an alias points
    as ``pointing`` (alias -> model ID, e.g. a listing's) says.

    Raises:
        audbackend.BackendError: if the repository cannot be read

    """
    if model.repository is None:  # known from a cache: no aliases file at hand
        return sorted(a for a, uid in pointing.items() if uid == model.uid)
    with _store.opened(model.repository) as location:
        return _aliases.aliases_of(location, model.model_id, pointing.get)


def _uid_of_header(path: str) -> str | None:
    r"""The model ID of a stored header's path, ``None`` for other files.

    Examples:
        >>> _uid_of_header("/_uid/3e120e8d/1.0.0/3e120e8d-1.0.0.header.yaml")
        '3e120e8d-1.0.0'
        >>> _uid_of_header("/_uid/../1.0.0/..-1.0.0.header.yaml") is None
        True

    """
    found = _layout.header_of(path)
    if found is None:
        return None
    short_id, version = found
    # A listing is input too: '..' as a short ID would name a cache folder.
    if not (_ids.is_stored_id(short_id) and _ids.is_safe_version(version)):
        return None
    return str(_ids.ModelId(short_id, version))


# --- headers -------------------------------------------------------------------


def headers(
    owners: dict[str, Repository],
    cache_root: str,
    shared: str | None = None,
) -> dict[str, dict]:
    r"""Headers of the given models, from the index, else read and indexed.

    Headers missing from the index are taken from the cache's header files,
    then from the shared cache (``shared``; read, never written), and only
    then read from the repositories.

    """
    if os.path.lexists(_old_index_file(cache_root)):
        _add_to_index(cache_root, {})  # moved into the model folders
    index = read_index(cache_root)
    missing = [uid for uid in owners if uid not in index]
    if not missing:
        return index
    new = dict(cached_headers(missing, cache_root))
    if shared is not None:
        in_shared = read_index(shared)
        new.update(
            {u: in_shared[u] for u in missing if u in in_shared and u not in new}
        )
        new.update(cached_headers([u for u in missing if u not in new], shared))
    to_read = [uid for uid in missing if uid not in new]
    _output.say(
        f"{len(owners) - len(to_read)} headers found in the cache, "
        f"{len(to_read)} to read from repositories.",
    )
    new.update(_read_headers(to_read, owners))
    if new:
        # Not read back: an index only grows, and what this call asked
        # for is in what it read and what it adds.
        _add_to_index(cache_root, new)
    return {**index, **new}


def cached_headers(uids: list[str], cache_root: str) -> Iterator[tuple[str, dict]]:
    r"""Headers that are in the cache as files, e.g. put there by audmodel 1.5."""
    for uid in uids:
        short_id, version = uid.split("-", 1)
        path = _cache.header_file(cache_root, _ids.ModelId(short_id, version))
        if os.path.exists(path):
            try:
                header = _yaml.load_file(
                    path, f"the header of '{uid}' ('{path}')", follow=False
                )
            except (OSError, RuntimeError):
                continue  # read it from its repository instead
            if isinstance(header, dict) and _is_header(header):
                yield uid, header


def _read_headers(
    uids: list[str], owners: dict[str, Repository]
) -> Iterator[tuple[str, dict]]:
    r"""Read headers from their repositories, in parallel; warn of bad ones."""
    by_repository: dict[Repository, list[str]] = {}
    for uid in uids:
        by_repository.setdefault(owners[uid], []).append(uid)
    for repository, group in by_repository.items():
        with _store.opened(repository) as location:
            # Threads wait for the network; a local file is read faster alone.
            local = location.capabilities.lies_locally
            with concurrent.futures.ThreadPoolExecutor(
                1 if local else HEADER_READS
            ) as pool:
                results = pool.map(lambda uid: _read_header(location, uid), group)
                for uid, result in zip(group, results, strict=True):
                    if isinstance(result, Exception):
                        reason = (
                            backend_error_detail(result)
                            if isinstance(result, audbackend.BackendError)
                            else result
                        )
                        warnings.warn(
                            f"Model '{uid}' in {repository} is left out: "
                            f"its header cannot be read: {reason}",
                            stacklevel=4,
                        )
                    else:
                        yield uid, result


def _read_header(location: _store.Location, uid: str) -> dict | Exception:
    try:
        return _store.read_header(location, _ids.split_uid(uid))[1].as_dict()
    except Exception as ex:
        return ex


def _is_header(header: object) -> bool:
    return _ids.header_problem(header) is None


# --- the index in the cache ----------------------------------------------------


INDEX_NAME = ".headers.json"


def index_file(cache_root: str, short_id: str) -> str:
    r"""Where the header index of a model's versions lies in a cache.

    In the model's folder (a hidden file audmodel 1.5 passes over), so that
    the top of a cache root holds model folders only, as audmodel 1.5
    leaves it; the folder is the one 1.5 puts a cached header into.

    Example:
        >>> index_file("/cache", "d4e9c65b")
        '/cache/d4e9c65b/.headers.json'

    """
    return os.path.join(cache_root, short_id, INDEX_NAME)


def _old_index_file(cache_root: str) -> str:
    r"""Where earlier versions of this package kept one index of all models."""
    return os.path.join(cache_root, INDEX_NAME)


def read_index(cache_root: str) -> dict[str, dict]:
    r"""The header index of a cache (of all its model folders), empty if none."""
    headers = dict(_read_index_file(_old_index_file(cache_root)))
    for short_id in _cache.model_folders(cache_root):
        headers.update(_read_index_file(index_file(cache_root, short_id)))
    return headers


def _read_index_file(path: str) -> dict[str, dict]:
    r"""The headers of one index file, empty if there is none or it is broken."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    identity = (info.st_mtime_ns, info.st_size, info.st_ino)
    memo = _MEMO.get(path)
    if memo is not None and memo[0] == identity:
        return memo[1]
    try:
        # Not through a link, not blocking on a FIFO: anyone in the group
        # of a shared cache can put either here.
        with open_regular(path, follow=False) as fp:
            data = json.loads(fp.read(), object_hook=_json.untagged)
        headers = data["headers"] if data.get("format") == INDEX_FORMAT else {}
        # Anyone in a shared cache's group can write the index: an entry
        # is used only as a header read from a repository would be.
        headers = {
            uid: header
            for uid, header in headers.items()
            if _ids.is_model_id(uid) and _is_header(header)
        }
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        RecursionError,
        LinkError,
    ):
        headers = {}  # rebuilt from the repositories
    _MEMO[path] = (identity, headers)
    return headers


def _add_to_index(cache_root: str, new: dict[str, dict]) -> None:
    r"""Merge headers into the index, under its locks.

    A cache that cannot be written (a read-only mount, another user's) keeps
    its index as it is. The one index file earlier versions kept at the top
    of the cache is taken in and removed.

    """
    old = _old_index_file(cache_root)
    new = {**_read_index_file(old), **new}
    by_model: dict[str, dict[str, dict]] = {}
    for uid, header in new.items():
        by_model.setdefault(_cache.folder_of(uid), {})[uid] = header
    try:
        for short_id, headers in by_model.items():
            _write_index_file(index_file(cache_root, short_id), headers)
        _remove_old_index(old)
    except (OSError, RuntimeError):
        pass  # the answer is the same, only not kept


def _write_index_file(path: str, new: dict[str, dict]) -> None:
    with _cache.lock(path):
        headers = {**_read_index_file(path), **new}
        text = json.dumps(
            {"format": INDEX_FORMAT, "headers": _json.tagged(headers)},
            separators=(",", ":"),
        )
        _cache.write_file(path, text.encode())
    _MEMO.pop(path, None)


def _remove_old_index(path: str) -> None:
    for leftover in (path, _cache.lock_file(path)):
        with contextlib.suppress(FileNotFoundError):
            os.remove(leftover)
    _MEMO.pop(path, None)


# --- choosing ---------------------------------------------------------------------


def _warn_if_unknown(what: str, value: str | None, known: set[str]) -> None:
    r"""Warn that no model is ``what`` ``value``, naming the closest ``known``."""
    if value is None or value in known or not known:
        return
    warnings.warn(
        f"No model is {what} '{value}'.{_output.did_you_mean(value, sorted(known))}",
        stacklevel=4,
    )


def select(
    found: Iterable[Model],
    *,
    name: str | None = None,
    subgroup: str | None = None,
    version: str | None = None,
    params: dict[str, object] | None = None,
    latest: bool = False,
) -> list[Model]:
    r"""The models that match, sorted by name, subgroup, ID and version.

    ``subgroup`` matches itself and every subgroup below it;
    ``params`` matches models whose parameters hold all its items;
    ``latest`` keeps the latest version of each short ID.
    A name or subgroup that no model has is told in a warning that names
    the closest ones, as a mistyped one would be.

    """
    found = list(found)
    _warn_if_unknown("named", name, {m.header["name"] for m in found})
    subgroups = {
        ".".join(parts[:end])
        for m in found
        if (parts := (m.header.get("subgroup") or "").split("."))
        for end in range(1, len(parts) + 1)
    }
    _warn_if_unknown("in the subgroup", subgroup, subgroups - {""})
    chosen = [
        model
        for model in found
        if (name is None or model.header["name"] == name)
        and (subgroup is None or below(model.header.get("subgroup") or "", subgroup))
        and (version is None or model.version == version)
        and (not params or holds(model.header.get("parameters"), params))
    ]
    by_id: dict[str, list[Model]] = {}
    for model in chosen:
        by_id.setdefault(model.short_id, []).append(model)
    ordered = []
    for group in by_id.values():
        versions = audeer.sort_versions([m.version for m in group])
        group.sort(key=lambda m: versions.index(m.version))
        ordered += group[-1:] if latest else group
    return sorted(
        ordered,
        key=lambda m: (
            m.header["name"],
            m.header.get("subgroup") or "",
            m.short_id,
        ),
    )


def below(subgroup: str, root: str) -> bool:
    r"""Tell if ``subgroup`` is ``root`` or lies below it.

    Examples:
        >>> below("emotion.cnn", "emotion"), below("emotions", "emotion")
        (True, False)

    """
    return subgroup == root or subgroup.startswith(f"{root}.")


def holds(parameters: object, wanted: dict[str, object]) -> bool:
    r"""Tell if ``parameters`` hold every item of ``wanted``."""
    if not isinstance(parameters, dict):
        return False
    return all(key in parameters and parameters[key] == v for key, v in wanted.items())
