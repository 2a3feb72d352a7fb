"""Removing models and aliases, and copying models between repositories.

Removal goes in the reverse order of a publication. The header goes
first, so the model stops existing at once, and a backend that refuses to
delete refuses before anything changed. Then the model's claim is taken
(see :func:`audmodel._transaction.claimed`), so that no publication of the
same ID runs while meta, the model's aliases file and the archive are
removed. An interrupted removal leaves files without a header, which
:func:`audmodel.check` reports and removes with ``repair=True``.

A copy is a publication like any other: under the claim of the ID in the
target repository, archive first, header last, all or nothing.

"""

from __future__ import annotations

from audmodel import _aliases
from audmodel import _ids
from audmodel import _layout
from audmodel import _output
from audmodel import _publish
from audmodel import _store
from audmodel import _transaction
from audmodel import _yaml
from audmodel import errors
from audmodel._header import Header
from audmodel._lazy import audbackend
from audmodel._repository import Repository
from audmodel.backend._common import backend_error


CLAIM_WAIT = 60.0
r"""Seconds a removal waits for a publication of the same ID to end."""


def remove(model: _ids.ModelId, repository: Repository) -> None:
    r"""Remove a model version from its repository; see :func:`audmodel.remove`."""
    short_id, version = model
    with _store.opened(repository) as location:
        header = _layout.header_path(short_id)
        with _store.missing_as_not_found(location, model):
            header_bytes = _store.read_bytes(location, header, version)
        try:
            info: Header | None = Header.parse(
                header_bytes,
                model,
                _store.source(location, header, version),
            )
        except errors.RefusedError:
            info = None
        _refuse_aliased(location, model)
        meta = _layout.meta_path(short_id)
        meta_bytes = _store.read_if_there(location, meta, version)
        _remove_header(location, model, header_bytes, meta_bytes)
        _output.say(f"Removed the header of '{short_id}-{version}'.")
        paths = [
            _layout.meta_path(short_id),
            _layout.aliases_path(short_id),
            _layout.signature_path(short_id),
        ]
        # A broken header cannot tell where the archive is, and one that
        # names a path audmodel.publish would refuse may point to another
        # model's archive: its archive is left for check() to report.
        if info is not None:
            paths.append(info.archive_path)
        _remove_rest(location, model, paths)


def _remove_header(
    location: _store.Location,
    model: _ids.ModelId,
    header_bytes: bytes,
    meta_bytes: bytes | None,
) -> None:
    r"""Remove a model's header, and put it back if an alias came meanwhile.

    update_meta() removes the meta it wrote to a model without header,
    so the meta is put back as well.

    """
    short_id, version = model
    header = _layout.header_path(short_id)
    try:
        with _store.missing_as_not_found(location, model):
            location.interface.remove_file(header, version)
    except audbackend.BackendError as ex:
        cause = ex.exception
        raise backend_error(
            cause,
            f"Cannot remove model '{short_id}-{version}' from "
            f"{location.repository}: {cause!r}. Nothing was removed.",
        ) from cause
    try:
        # set_alias() checks the header after writing an alias, and this
        # checks the aliases after removing the header: of a removal and
        # a new alias at the same time, at least one sees the other.
        _refuse_aliased(location, model)
    except RuntimeError:
        meta = _layout.meta_path(short_id)
        if meta_bytes is not None and not _store.exists(location, meta, version):
            _store.write_bytes(location, meta_bytes, meta, version)
        _store.write_bytes(location, header_bytes, header, version)
        raise


def _remove_rest(
    location: _store.Location,
    model: _ids.ModelId,
    paths: list[str],
) -> None:
    short_id, version = model
    uid = str(model)
    try:
        # A publication of the ID that began before the header was gone
        # finds that the model exists and stops; it is waited for.
        with _transaction.claimed(location, model, CLAIM_WAIT):
            if _store.exists(location, _layout.header_path(short_id), version):
                # Published anew meanwhile: its files are not ours to remove.
                return
            for path in paths:
                _store.remove(location, path, version)
    except (RuntimeError, audbackend.BackendError) as ex:
        raise errors.PublicationError(
            f"Model '{uid}' was removed from {location.repository}, "
            f"but some of its files are left: {ex} "
            "audmodel.check(repair=True) removes them once they are an hour old."
        ) from ex


def _refuse_aliased(location: _store.Location, model: _ids.ModelId) -> None:
    short_id, version = model
    pointing = _aliases.aliases_of(location, model)
    if pointing:
        raise errors.AliasedModelError(
            f"Cannot remove model '{short_id}-{version}': the aliases {pointing} "
            "point to it. Point them to another model (audmodel.set_alias) "
            "or remove them (audmodel.remove_alias) first."
        )


def remove_alias(alias: str) -> None:
    r"""Remove an alias from every repository; see :func:`audmodel.remove_alias`.

    Raises:
        RuntimeError: if no configured repository holds the alias

    """
    path = _layout.alias_path(alias)
    found = False
    for location in _store.locations():
        if not _store.exists(location, path, _layout.ALIAS_VERSION):
            continue
        try:
            uid = _aliases.read_alias(location, alias)
        except _aliases.AliasFileError:
            uid = None
        # The alias file first: the alias stops existing at once, and a
        # backend that refuses deletion refuses before anything changed.
        try:
            location.interface.remove_file(path, _layout.ALIAS_VERSION)
        except audbackend.BackendError as ex:
            # Removed by another process meanwhile (and perhaps set anew
            # since, which is not this call's to remove).
            if isinstance(ex.exception, FileNotFoundError):
                continue
            raise
        found = True
        _output.say(f"Removed alias '{alias}' from {location.repository}.")
        if uid is not None:
            with _transaction.aliases_locked(location):
                _drop_from_aliases_file(location, alias, uid)
    if not found:
        raise _store.alias_not_found(alias)


def _drop_from_aliases_file(location: _store.Location, alias: str, uid: str) -> None:
    r"""Drop an alias from a model's aliases file, unless it was set again."""
    try:
        if _aliases.read_alias(location, alias) == uid:
            return  # set again meanwhile
    except _aliases.AliasFileError:
        pass
    short_id, version = _ids.split_uid(uid)
    text = _aliases.aliases_without(location, _ids.ModelId(short_id, version), alias)
    if text is not None and _store.exists(
        location, _layout.header_path(short_id), version
    ):
        path = _layout.aliases_path(short_id)
        _store.write_bytes(location, text.encode(), path, version)
        # Removed between the check and the write: no aliases file left.
        model = _ids.ModelId(short_id, version)
        _store.take_back_if_removed(location, text.encode(), path, version, model)


def copy(
    model: _ids.ModelId,
    source: Repository,
    target: Repository,
    with_aliases: bool,
) -> list[str]:
    r"""Publish a model of ``source`` in ``target``; see :func:`audmodel.copy`.

    Returns:
        the aliases copied with it

    """
    short_id, version = model
    uid = str(model)
    with (
        _store.opened(source) as src,
        _store.opened(target) as dst,
        _store.missing_as_not_found(src, model),
    ):
        header = _layout.header_path(short_id)
        header_bytes, info = _store.read_header(src, model)
        archive = info.archive_path
        meta = _layout.meta_path(short_id)
        meta_bytes = _store.read_if_there(src, meta, version)
        if meta_bytes is None:
            meta_bytes = _yaml.dumps({}).encode()
        signature = _layout.signature_path(short_id)
        signature_bytes = _store.read_if_there(src, signature, version, None)
        aliases = _aliases.aliases_of(src, model) if with_aliases else []
        # The model's own files: see _transaction.publication for before=None.
        with _transaction.publication(dst, model, "copy") as log:
            with _store.missing_as_not_found(src, model):
                log.copy_file(src, archive, version)
            log.put_bytes(meta_bytes, meta, version, None)
            if signature_bytes is not None:  # it signs the files, valid anywhere
                log.put_bytes(signature_bytes, signature, version, None)
            if aliases:
                with _transaction.aliases_locked(dst):
                    _copy_aliases(log, aliases, uid)
            log.put_bytes(header_bytes, header, version, None)
    return aliases


def _copy_aliases(log: _transaction.UndoLog, aliases: list[str], uid: str) -> None:
    r"""Point aliases to a model in ``log``'s repository, moving them there."""
    short_id, version = _ids.split_uid(uid)
    log.put_text(
        _aliases.aliases_text(aliases), _layout.aliases_path(short_id), version, None
    )
    for alias in aliases:
        _publish.detach_alias(log, alias, uid)
        log.put_text(
            _aliases.alias_text(uid), _layout.alias_path(alias), _layout.ALIAS_VERSION
        )
