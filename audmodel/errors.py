"""The errors audmodel raises, one class for each kind.

Each class subclasses the built-in type audmodel 1.5 raises in its place
(:class:`RuntimeError`, :class:`ValueError`, :class:`FileNotFoundError`),
so an ``except`` clause written for audmodel 1.5 catches it as before,
and its message is the one of 1.5 where 1.5 has one. New code can catch
precisely, and every class is also an :class:`Error`, the catch-all of
this package's own errors.

Examples:
    >>> import audmodel
    >>> from audmodel.errors import InvalidAliasError
    >>> try:
    ...     audmodel.set_alias("a/b", "d4e9c65b-1.0.0")
    ... except InvalidAliasError as error:
    ...     isinstance(error, ValueError)
    True

"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Callable


class Error(Exception):
    r"""An error of this package; every class below is one."""

    hint: Callable[[], str] | None = None
    r"""Finds what to add to the message (e.g. the closest names), if set.

    Called once, by the public function the error leaves, with the
    repositories of the call still open: an error caught inside the
    package costs no request for it.

    """


# --- what was asked for is not there, or not reachable now ---------------------


class ModelNotFoundError(Error, RuntimeError):
    r"""No configured repository holds the model (or short ID, or alias)."""


class AliasNotFoundError(Error, RuntimeError):
    r"""No configured repository holds the alias."""


class NotCachedError(Error, RuntimeError):
    r"""The caches do not hold what was asked for, and no repository is asked.

    Offline mode is on, or the call looks in a cache only.

    """


class OfflineError(Error, RuntimeError):
    r"""Offline mode is on and the call needs a repository."""


# --- changing a repository -----------------------------------------------------


class ModelExistsError(Error, RuntimeError):
    r"""A model with this ID is published already."""


class PublishedMeanwhileError(ModelExistsError):
    r"""Another process published the same model ID while this one uploaded."""


class BusyError(Error, RuntimeError):
    r"""Another process holds the claim on a model ID, or on the aliases."""


class PublicationError(Error, RuntimeError):
    r"""A publication, copy or removal failed; what it wrote was taken back."""


class AliasedModelError(Error, RuntimeError):
    r"""A model cannot be removed while aliases point to it."""


# --- what was read is refused ---------------------------------------------------


class RefusedError(Error, RuntimeError):
    r"""A file read from a repository or a cache is unsafe or broken."""


class RefusedPathError(Error, ValueError):
    r"""A path on a backend has a ``.`` or ``..`` part."""


class TooLargeError(Error, ValueError):
    r"""A stored file is larger than its reader allows; it was not read."""


class IntegrityError(Error, RuntimeError):
    r"""Bytes that were read or copied do not match their checksum."""


class LoadError(Error, RuntimeError):
    r"""A model's archive could not be loaded into the cache."""


class NotPlainDataError(Error, RuntimeError):
    r"""Parameters or meta hold what is not plain YAML data."""


class NotOpenedError(Error, RuntimeError):
    r"""A backend was used before it was opened."""


class SignatureError(Error, RuntimeError):
    r"""A model's signature is missing where required, untrusted, or does not match."""


class CatalogError(Error, RuntimeError):
    r"""The catalog could not be served."""


# --- arguments and configuration ------------------------------------------------


class InvalidArgumentError(Error, ValueError):
    r"""An argument is not what the function takes."""


class NotInModelError(InvalidArgumentError):
    r"""A file or pattern asked of a model names none of its files."""


class ArgumentTypeError(Error, TypeError):
    r"""An argument is not of the type the function takes."""


class InvalidVersionError(InvalidArgumentError):
    r"""A version is not a semantic version ``X.Y.Z`` starting with a digit."""


class InvalidAliasError(InvalidArgumentError):
    r"""An alias name has characters outside ``[A-Za-z0-9._-]`` or looks like an ID."""


class InvalidNameError(InvalidArgumentError):
    r"""A model name is not one folder name, or is reserved."""


class InvalidSubgroupError(InvalidArgumentError):
    r"""A subgroup is not dot-separated folder names, or is reserved."""


class NotAFolderError(Error, FileNotFoundError):
    r"""The model folder to publish is missing, or is a file.

    Its message starts as audmodel 1.5's ("[Errno 2] No such file or
    directory: ..."), and says which of the two it is.

    """

    def __str__(self) -> str:
        said = super().__str__()
        if self.filename and os.path.isfile(self.filename):
            return f"{said}. It is a file: a model folder is expected."
        return f"{said}. A model folder is expected there."


class KeyFileError(Error, ValueError):
    r"""A signing key or trusted key file is missing, unreadable or unsupported."""


class ExtraMissingError(Error, ImportError):
    r"""An optional extra of the package is needed and not installed."""


class ConfigurationError(Error, ValueError):
    r"""The configuration (file, variable or setting) is invalid."""
