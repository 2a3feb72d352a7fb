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
import dataclasses
import datetime
import getpass
import os
import signal
import tempfile

from audmodel import _aliases
from audmodel import _archive
from audmodel import _cache
from audmodel import _ids
from audmodel import _layout
from audmodel import _load
from audmodel import _output
from audmodel import _signature
from audmodel import _store
from audmodel import _transaction
from audmodel import _yaml
from audmodel import errors
from audmodel._repository import Repository


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
    signing_key: _signature.SigningKey | None = None,
) -> str:
    r"""Publish a model whose arguments were checked; see :func:`audmodel.publish`."""
    uid = _ids.ModelId(short_id, version)
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
        # Claimed before packing, so that a model that exists is told
        # at once, by the one check the claim needs anyway.
        _transaction.new_model(
            location, _ids.ModelId(short_id, version), "publish", everywhere=True
        ),
    ):
        signature = None
        if signing_key is not None:
            signature = _signature.sign(root, signing_key)
            _output.say(f"Signed '{root}' with the key '{signing_key.path}'.")
        archive = os.path.join(tmp, f"{short_id}.zip")
        md5 = _archive.create(
            root,
            archive,
            compression,
            md5=location.capabilities.stores_md5,
            # Where the backend keeps the archive written here as it lies,
            # writing it out early shortens the sync of a durable upload;
            # elsewhere it is copied and deleted, and that would be wasted.
            write_behind=location.capabilities.links_from(tmp),
        )
        size = _output.human_size(os.path.getsize(archive))
        _output.say(f"Packed '{root}' into {size} (the archive of '{uid}').")
        upload = _Upload(
            uid,
            archive,
            md5,
            _layout.archive_path(short_id, name, subgroup),
            header_text,
            meta_text,
            alias,
            signature,
        )
        with _transaction.all_or_nothing(
            location, _ids.ModelId(short_id, version), "publish"
        ) as log:
            _upload(log, upload)
    return str(uid)


@dataclasses.dataclass(frozen=True)
class _Upload:
    r"""The files of a publication, ready to be written."""

    uid: _ids.ModelId
    archive: str  # local path
    archive_md5: str | None  # computed while the archive was written
    archive_path: str  # stored path
    header_text: str
    meta_text: str
    alias: str | None
    signature: bytes | None  # a Sigstore bundle, see audmodel._signature


def _upload(log: _transaction.UndoLog, upload: _Upload) -> None:
    r"""Write a publication's files in the order that keeps readers safe.

    The archive first and the header last: see ``docs/architecture.rst``.

    """
    short_id, version = uid = upload.uid
    # The model's own files: see _transaction.publication for before=None.
    log.put_file(upload.archive, upload.archive_path, version, upload.archive_md5)
    log.put_text(upload.meta_text, _layout.meta_path(short_id), version, None)
    if upload.signature is not None:
        path = _layout.signature_path(short_id)
        log.put_bytes(upload.signature, path, version, None)
    if upload.alias:
        with _transaction.aliases_locked(log.location):
            log.put_text(
                _aliases.aliases_text([upload.alias]),
                _layout.aliases_path(short_id),
                version,
                None,
            )
            before = unlink_alias(log, upload.alias, str(uid))
            log.put_text(
                _aliases.alias_text(str(uid)),
                _layout.alias_path(upload.alias),
                _layout.ALIAS_VERSION,
                before,
            )
    if _store.exists(log.location, _layout.header_path(short_id), version):
        raise errors.PublishedMeanwhileError(
            f"A model with ID '{uid}' was published by another process "
            "in the meantime. Its archive, metadata, or alias files "
            "might have been replaced by the ones of this process. "
            "Make sure the published model is the intended one."
        )
    # Nothing there, as just asked: no read of what to put back.
    log.put_text(upload.header_text, _layout.header_path(short_id), version, None)


def set_alias(alias: str, model: _ids.ModelId, repository: Repository) -> None:
    r"""Point ``alias`` at a model; see :func:`audmodel.set_alias`.

    The alias is taken from the model it pointed to before.
    If anything fails, the files are put back as they were.

    """
    short_id, version = model
    uid = str(model)
    with (
        _store.opened(repository) as location,
        _transaction.aliases_locked(location),
    ):
        log = _transaction.UndoLog(location)
        try:
            alias_before = unlink_alias(log, alias, uid)
            aliases, before = _aliases.read_aliases_file(location, model)
            if alias not in aliases:
                log.put_text(
                    _aliases.aliases_text([*aliases, alias]),
                    _layout.aliases_path(short_id),
                    version,
                    before,
                )
            log.put_text(
                _aliases.alias_text(uid),
                _layout.alias_path(alias),
                _layout.ALIAS_VERSION,
                alias_before,
            )
            # A removal of the model meanwhile would leave the alias pointing
            # to nothing; see audmodel._lifecycle.remove().
            if not _store.exists(location, _layout.header_path(short_id), version):
                raise _store.model_not_found(short_id, version)
            log.forget()
        except BaseException:
            # The undo puts back no file of a model removed meanwhile.
            log.undo()
            raise


def update_meta(
    model: _ids.ModelId,
    meta: dict[str, object],
    replace: bool,
    cache_root: str,
    repository: Repository,
) -> dict[str, object]:
    r"""Merge ``meta`` into a model's meta, or replace it.

    The cache lock of the meta file is held from reading to writing,
    so processes sharing a cache update one after the other.

    """
    short_id, version = model
    text = _yaml.dumps(meta)
    local = _cache.meta_file(cache_root, model)
    with _cache.lock(local):
        if replace:
            new = meta
        else:
            current = _load.meta_locked(model, local, repository)
            new = merge(current, meta)
            text = _yaml.dumps(new)
        path = _layout.meta_path(short_id)
        with _store.opened(repository) as location:
            _store.write_bytes(location, text.encode(), path, version)
            _output.say(f"Wrote {_layout.described(path, version)} in {repository}.")
            # A removal of the model meanwhile would leave the meta behind.
            if _store.take_back_if_removed(
                location, text.encode(), path, version, model
            ):
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


def unlink_alias(log: _transaction.UndoLog, alias: str, new_uid: str) -> object:
    r"""Remove ``alias`` from the model it points to now, unless ``new_uid``.

    The alias file itself is left to the caller, who overwrites it.
    If the alias lives in another repository than ``log``'s,
    its file there is removed, so that it cannot shadow the new one.

    Returns:
        what the alias file in ``log``'s repository holds, as far as known:
        its bytes, ``None`` for nothing, else
        :data:`audmodel._transaction.UNREAD`

    """
    here = log.location.repository
    found = _aliases.find_alias_file(alias)
    if found is None:
        return None if here in _store.repositories() else _transaction.UNREAD
    repository, data = found
    with _store.opened(repository) as location:
        old = log.on(location)
        if detach_alias(old, alias, new_uid, data) and repository != here:
            old.remove(_layout.alias_path(alias), _layout.ALIAS_VERSION)
    return data if repository == here else _transaction.UNREAD


def detach_alias(
    log: _transaction.UndoLog,
    alias: str,
    new_uid: str,
    data: object = _transaction.UNREAD,
) -> bool:
    r"""Take ``alias`` from the model it points to in ``log``'s repository.

    Nothing changes if it points to ``new_uid`` or is not there.
    ``data``, the alias file's bytes if the caller read them, saves a read.

    Returns:
        ``True`` if the alias is there and points elsewhere

    """
    location = log.location
    try:
        if isinstance(data, bytes):
            old_uid: str | None = _aliases.alias_uid(location, alias, data)
        else:
            old_uid = _aliases.read_alias(location, alias)
    except _aliases.AliasFileError:
        # A broken alias file is replaced, as audmodel 1.5 does:
        # setting the alias again is how a user mends it.
        return True
    if old_uid is None or old_uid == new_uid:
        return False
    old = _ids.split_uid(old_uid)
    old_short_id, old_version = old
    text = _aliases.aliases_without(location, old, alias)
    if text is not None:
        path = _layout.aliases_path(old_short_id)
        log.put_text(text, path, old_version)
        # That model may be removed meanwhile (the alias no longer holds it).
        _store.take_back_if_removed(
            location,
            text.encode(),
            path,
            old_version,
            _ids.ModelId(old_short_id, old_version),
        )
    return True


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
