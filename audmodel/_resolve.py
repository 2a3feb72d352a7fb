"""Turning what a user passes for a model into its short ID and version.

A full ID names a model at once; a short ID stands for its latest version
in the configured repositories; a legacy ID for its one version, which the
cache may already know; anything else is taken as an alias.

Where the caches answer (offline, or no repository can be reached; decided
by :func:`audmodel._store.ask`), an alias is taken as it resolved when last
used, a short ID by the newest version whose header is cached.

"""

from __future__ import annotations

from typing import TYPE_CHECKING

from audmodel import _ids
from audmodel import _lazy
from audmodel import _output


if TYPE_CHECKING:
    from audmodel import _aliases
    from audmodel import _cache
    from audmodel import _store
    from audmodel._lazy import audeer
else:  # a full ID needs none of them (see audmodel._lazy)
    _aliases = _lazy.module("audmodel._aliases", globals())
    _cache = _lazy.module("audmodel._cache", globals())
    _store = _lazy.module("audmodel._store", globals())
    from audmodel._lazy import audeer


def resolve(wanted: _ids.Reference, roots: list[str]) -> _ids.ModelId:
    r"""The model a full ID, short ID, legacy ID or alias stands for.

    Args:
        wanted: what the user passed
        roots: the caches, the user's first

    Raises:
        RuntimeError: if the model or alias does not exist,
            or, offline, is not cached

    """
    if wanted.is_alias:
        wanted = _ids.Reference(alias(wanted.text, roots, model_error=True))
    if wanted.kind == "legacy":
        return _ids.ModelId(wanted.text, _legacy_version(wanted.text, roots))
    if wanted.kind == "short":
        return _latest(wanted.text, roots)
    return _ids.split_uid(wanted.text)


def _latest(short_id: str, roots: list[str]) -> _ids.ModelId:
    versions = latest_versions(short_id, roots)
    if not versions:
        raise _store.model_not_found(short_id, None)
    _output.say(f"The latest version of '{short_id}' is {versions[-1]}.")
    return _ids.ModelId(short_id, versions[-1])


def alias(name: str, roots: list[str], model_error: bool = False) -> str:
    r"""The model ID an alias points to; offline, as it was when last loaded.

    Args:
        name: the alias
        roots: the caches, the user's first
        model_error: raise a missing alias as a missing model, as
            :func:`audmodel.load` does in audmodel 1.5

    Raises:
        RuntimeError: if the alias does not exist, or, offline, is not cached

    """

    def missing() -> RuntimeError:
        if model_error:
            return _store.model_not_found(name, None)
        return _store.alias_not_found(name)

    if not _ids.is_valid_alias(name):
        raise missing()

    def online() -> str | None:
        try:
            return _aliases.resolved(name)
        except _aliases.AliasFileError as ex:
            if not model_error:
                raise  # resolve_alias() says what is wrong with the file
            error = missing()
            error.args = (f"{error} {ex}",)
            raise error from None

    uid = _store.ask(
        online, lambda: _cache.recalled_alias(roots, name), f"alias '{name}'"
    )
    if uid is None:
        raise missing()
    return uid


def latest_versions(short_id: str, roots: list[str]) -> list[str]:
    r"""Versions of a model, sorted: in the repositories, or offline in the caches."""
    return _store.ask(
        lambda: _store.header_versions(
            short_id, lambda: _cached_versions(short_id, roots)
        ),
        lambda: _cached_versions(short_id, roots) or None,
        f"the versions of '{short_id}'",
        missing=f"Model '{short_id}'",
        offline_note=f"the versions of '{short_id}' are those whose headers the "
        "caches hold; the repositories may hold more.",
    )


def _cached_versions(short_id: str, roots: list[str]) -> list[str]:
    found = {v for root in roots for v in _cache.header_versions(root, short_id)}
    return audeer.sort_versions(list(found))


def _legacy_version(legacy_id: str, roots: list[str]) -> str:
    # A legacy model has exactly one version; the cache knows it for free.
    versions = _cached_versions(legacy_id, roots) or latest_versions(legacy_id, roots)
    if not versions:
        raise _store.model_not_found(legacy_id, None)
    return versions[0]
