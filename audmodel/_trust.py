"""Which models a load accepts: the signature policy, and where signatures are.

Where keys are trusted (:attr:`audmodel.config.TRUSTED_KEYS`), the files a
load hands out are first checked against the model's signature (see
:mod:`audmodel._signature`): those just downloaded before their folder
appears, those in the caches each time they are handed out. A model
signed by a key that is not trusted, or unsigned, is loaded as before,
unless a signature is required (:attr:`audmodel.config.REQUIRE_SIGNATURE`):
then it is refused. A file that differs from what the trusted key signed is
always refused. Without trusted keys nothing is asked or checked.

A model's signature is read from its repository once and kept in the
user's cache beside the model folder (never inside it, so that the folder
stays what audmodel 1.5 loads); offline, and in the shared cache, the kept
one is used.

"""

from __future__ import annotations

import dataclasses
import os
import warnings

from audmodel import _cache
from audmodel import _call
from audmodel import _config
from audmodel import _ids
from audmodel import _layout
from audmodel import _signature
from audmodel import _store
from audmodel import errors
from audmodel._files import read_small
from audmodel._repository import Repository


@dataclasses.dataclass(frozen=True)
class Policy:
    r"""Whose signatures are trusted, and whether one is required."""

    trust: _signature.Trusted
    required: bool


def policy() -> Policy | None:
    r"""The policy configured; ``None`` where no key is trusted (nothing is checked).

    Raises:
        audmodel.errors.ConfigurationError: if a signature is required and
            no key is trusted
        audmodel.errors.KeyFileError: if a trusted key file is unusable
        audmodel.errors.ExtraMissingError: if the extra ``sign`` is missing

    """
    return _call.setting("signature policy", _configured_policy)


def _configured_policy() -> Policy | None:
    keys, required = _config.trusted_keys(), _config.require_signature()
    if not keys and not required:
        return None
    if not keys:
        raise errors.ConfigurationError(
            "A signature is required (audmodel.config.REQUIRE_SIGNATURE), but "
            "no key is trusted: set audmodel.config.TRUSTED_KEYS (the entry "
            "'trusted_keys', or AUDMODEL_TRUSTED_KEYS) to the public keys "
            "that sign your models."
        )
    return Policy(_signature.trusted(keys), required)


def bundle(
    model: _ids.ModelId,
    cache_root: str,
    shared: str | None = None,
    repository: Repository | None = None,
) -> _signature.Bundle | None:
    r"""A model's signature: from the caches, else from its repository.

    One read from the repository is kept in the user's cache.
    ``repository``, if the caller knows it, saves looking it up.

    Returns:
        the bundle, ``None`` if the model is not signed, or, offline, if
        no cache holds its signature

    Raises:
        audmodel.errors.SignatureError: if the signature is corrupt
        RuntimeError: if the model does not exist
        audbackend.BackendError: if its repository cannot be reached

    """
    short_id, version = model
    for root in _cache.roots(cache_root, shared):
        path = _cache.signature_file(root, model)
        data = read_small(path, _signature.BUNDLE_LIMIT)
        if data is not None:
            return _signature.Bundle(data, f"'{path}'", path)
    if _store.offline_mode():
        return None
    if repository is None:
        repository = _store.find_header(model)
    with _store.opened(repository) as location:
        path = _layout.signature_path(short_id)
        data = _store.read_if_there(location, path, version, _signature.BUNDLE_LIMIT)
    if data is None:
        return None
    local = _cache.signature_file(cache_root, model)
    found = _signature.Bundle(data, f"of model '{model}' in {repository}", local)
    with _cache.lock(local):
        _cache.write_file(local, data)
    return found


def signed(
    model: _ids.ModelId, cache_root: str, shared: str | None = None
) -> _signature.Bundle:
    r"""A model's signature, as :func:`bundle` finds it; there must be one.

    Raises:
        audmodel.errors.SignatureError: if the model is not signed, or its
            signature is corrupt
        audmodel.errors.NotCachedError: offline, if no cache holds it

    """
    found = bundle(model, cache_root, shared)
    if found is None:
        _store.need_repository(f"The signature of model '{model}'")
        raise errors.SignatureError(f"Model '{model}' is not signed.")
    return found


def signer(
    model: _ids.ModelId,
    cache_root: str,
    shared: str | None = None,
    repository: Repository | None = None,
) -> str | None:
    r"""The fingerprint of the key a model's signature names, not checked.

    ``None`` for an unsigned model; ``'unknown'`` where the signature
    names none this package can read.

    """
    found = bundle(model, cache_root, shared, repository)
    if found is None:
        return None
    try:
        return found.signer
    except ImportError:  # a certificate, read by the extra 'sign'
        return "unknown"


def check(
    model: _ids.ModelId,
    folder: str,
    cache_root: str,
    shared: str | None = None,
    names: list[str] | None = None,
) -> str | None:
    r"""Check files of a model against its signature, as the policy says.

    Args:
        model: the model
        folder: its folder, or one holding some of its files
        cache_root: the user's cache
        shared: the shared cache, if one is used
        names: the files to check; ``None`` for all of ``folder``, which
            must then hold exactly the files signed

    Returns:
        the fingerprint of the key whose signature the files match,
        ``None`` if nothing was checked

    Raises:
        audmodel.errors.SignatureError: if the files differ from what a
            trusted key signed, or, where a signature is required, if the
            model is unsigned or signed by a key not trusted
        audmodel.errors.NotCachedError: offline, where a signature is
            required and no cache holds it

    """
    found = policy()
    if found is None:
        return None
    signature = bundle(model, cache_root, shared)
    if signature is None:
        if not found.required:
            return None
        if _store.offline_mode():
            raise _store.not_cached(f"The signature of model '{model}'")
        raise errors.SignatureError(
            f"Model '{model}' is not signed, and a signature is required "
            "(audmodel.config.REQUIRE_SIGNATURE)."
        )
    if not found.trust.may_have_signed(signature):
        if found.required:
            raise errors.SignatureError(
                f"Model '{model}' is signed by the key {signature.signer}, "
                "which is not trusted (audmodel.config.TRUSTED_KEYS), and a "
                "signature is required."
            )
        warnings.warn(
            f"Model '{model}' is signed by the key {signature.signer}, which "
            "is not trusted: its files are not checked.",
            stacklevel=2,
        )
        return None
    signed = _signature.verified(signature, found.trust)
    problem = _signature.difference(signed, folder, names)
    if problem is not None:
        raise errors.SignatureError(
            f"Model '{model}' does not match its signature by the key "
            f"{signed.signer}: {problem}."
        )
    return signed.signer


def checked_or_discarded(
    model: _ids.ModelId,
    folder: str,
    cache_root: str,
    names: list[str] | None = None,
) -> None:
    r"""Check files just unpacked into a staging folder; refused, remove the folder.

    Nothing of a refused model is left in the cache.

    """
    try:
        check(model, folder, cache_root, None, names)
    except errors.SignatureError:
        _cache.discard(folder)
        local = _cache.signature_file(cache_root, model)
        if os.path.lexists(local):
            os.remove(local)
        raise
