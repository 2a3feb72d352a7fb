"""Turning what a user passes for a model into its short ID and version.

A full ID names a model at once; a short ID stands for its latest version
in the configured repositories; a legacy ID for its one version, which the
cache may already know; anything else is taken as an alias.

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
else:  # a full ID needs none of them (see audmodel._lazy)
    _aliases = _lazy.module("audmodel._aliases", globals())
    _cache = _lazy.module("audmodel._cache", globals())
    _store = _lazy.module("audmodel._store", globals())


def resolve(uid: str, cache_root: str) -> tuple[str, str]:
    r"""Turn a UID, short ID, legacy ID or alias into short ID and version.

    Raises:
        RuntimeError: if the model or alias does not exist

    """
    if _ids.is_alias(uid):
        # A mistyped ID is taken as an alias, so the errors speak of a model,
        # as in audmodel 1.5.
        try:
            found = _aliases.find_alias(uid) if _ids.is_valid_alias(uid) else None
        except _aliases.AliasFileError as ex:
            error = _store.model_not_found(uid, None)
            error.args = (f"{error} {ex}",)
            raise error from None
        if found is None:
            raise _store.model_not_found(uid, None)
        uid = found[1]
    if _ids.is_legacy_id(uid):
        return uid, _legacy_version(uid, cache_root)
    if _ids.is_short_id(uid):
        versions = _store.header_versions(uid)
        if not versions:
            raise _store.model_not_found(uid, None)
        _output.say(f"The latest version of '{uid}' is {versions[-1]}.")
        return uid, versions[-1]
    return _ids.split_uid(uid)


def _legacy_version(legacy_id: str, cache_root: str) -> str:
    # A legacy model has exactly one version; the cache knows it for free.
    cached = _cache.header_versions(cache_root, legacy_id)
    if cached:
        return cached[0]
    versions = _store.header_versions(legacy_id)
    if not versions:
        raise _store.model_not_found(legacy_id, None)
    return versions[0]
