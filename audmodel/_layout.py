"""The storage layout of a repository, shared with audmodel 1.5.

Every stored path is built and parsed here, and nowhere else; a reader can
hold this module against ``tests/compat/FORMAT.md``.
A file has a path and a version, and is stored at its *versioned* path,
the layout of a Maven repository that audbackend's ``Maven`` interface
uses::

    /<folder>/<base><ext>  in version <v>  ->  /<folder>/<base>/<v>/<base>-<v><ext>

The paths of a model's files, each stored in the model's version, and of
an alias, stored in version :data:`ALIAS_VERSION`::

    /<subgroup as folders>/<name>/<short_id>.zip   archive
    /_uid/<short_id>.header.yaml                   header
    /_uid/<short_id>.meta.yaml                     meta
    /_uid/<short_id>.aliases.yaml                  aliases of the model
    /_uid/<short_id>.sigstore.json                 signature of the model
    /_uid/<short_id>.publishing.yaml               claim of a publication
    /_alias/<alias>.alias.yaml                     alias

The extension of a file is the longest of :data:`EXTENSIONS` it ends in,
else what follows its last dot: the aliases file of ``3e120e8d`` in
version ``2.0.0`` lies at
``/_uid/3e120e8d.aliases/2.0.0/3e120e8d.aliases-2.0.0.yaml``.

No part of a path built here is empty (but the first), ``.`` or ``..``, so
no name read from storage can lead out of the repository.

"""

from __future__ import annotations

import re
from typing import NamedTuple

from audmodel import errors


UID_FOLDER = "_uid"
ALIAS_FOLDER = "_alias"
RESERVED_FOLDERS = (UID_FOLDER, ALIAS_FOLDER)
HEADER_EXT = "header.yaml"
META_EXT = "meta.yaml"
ALIAS_EXT = "alias.yaml"
ALIASES_EXT = "aliases.yaml"
SIGNATURE_EXT = "sigstore.json"
CLAIM_EXT = "publishing.yaml"
ARCHIVE_EXT = "zip"
EXTENSIONS = (HEADER_EXT, META_EXT, ALIAS_EXT)
r"""Extensions of more than one part that the versioned paths keep whole,
as audmodel 1.5 registers them with audbackend."""
ALIAS_VERSION = "1.0.0"
r"""The version every alias file is stored in."""
_VERSION_CHARACTERS = re.compile(r"[A-Za-z0-9._-]+")


class StoredPath(NamedTuple):
    r"""A versioned path, taken apart."""

    folder: str
    r"""Folder of the unversioned path, e.g. ``'/_uid'``."""
    base: str
    r"""Name without extension, e.g. ``'3e120e8d'`` or ``'3e120e8d.aliases'``."""
    version: str
    r"""Version."""
    ext: str
    r"""Extension with its dot, e.g. ``'.header.yaml'``."""

    @property
    def path(self) -> str:
        r"""The unversioned path."""
        return f"{self.folder}/{self.base}{self.ext}"


# --- paths of a model's files ----------------------------------------------------


def archive_path(short_id: str, name: str, subgroup: str | None) -> str:
    r"""Path of a model's archive.

    Raises:
        RuntimeError: if the name or a part of the subgroup is not one folder

    Examples:
        >>> archive_path("3e120e8d", "onnx", "emotion.cnn")
        '/emotion/cnn/onnx/3e120e8d.zip'
        >>> archive_path("8d99e4cf", "torch", "")
        '/torch/8d99e4cf.zip'

    """
    folders = [part for part in (subgroup or "").split(".") if part]
    for part in [*folders, name]:
        if "/" in part:
            raise errors.RefusedError(
                f"Refusing '{part}' as a folder of a model's archive."
            )
    return check_parts("/" + "/".join([*folders, name, f"{short_id}.{ARCHIVE_EXT}"]))


def header_path(short_id: str) -> str:
    r"""Path of a model's header."""
    return f"/{UID_FOLDER}/{short_id}.{HEADER_EXT}"


def versions_folder(short_id: str) -> str:
    r"""The folder holding the versions of a model's header and meta.

    Examples:
        >>> versions_folder("3e120e8d")
        '/_uid/3e120e8d/'

    """
    return f"/{UID_FOLDER}/{short_id}/"


def meta_path(short_id: str) -> str:
    r"""Path of a model's meta."""
    return f"/{UID_FOLDER}/{short_id}.{META_EXT}"


def aliases_path(short_id: str) -> str:
    r"""Path of the list of a model's aliases."""
    return f"/{UID_FOLDER}/{short_id}.{ALIASES_EXT}"


def signature_path(short_id: str) -> str:
    r"""Path of a model's signature (a Sigstore bundle; audmodel 1.5 has none)."""
    return f"/{UID_FOLDER}/{short_id}.{SIGNATURE_EXT}"


def owner_of(path: str) -> str | None:
    r"""The short ID whose meta, aliases or signature file ``path`` is, else ``None``.

    Examples:
        >>> owner_of("/_uid/d4e9c65b.aliases.yaml"), owner_of("/_alias/x.alias.yaml")
        ('d4e9c65b', None)

    """
    folder, _, name = path.rpartition("/")
    if folder != f"/{UID_FOLDER}":
        return None
    for ext in (META_EXT, ALIASES_EXT, SIGNATURE_EXT):
        if name.endswith(f".{ext}"):
            return name[: -len(ext) - 1]
    return None


def described(path: str, version: str) -> str:
    r"""A stored file as its user knows it: which file of which model or alias.

    Examples:
        >>> described("/_uid/d4e9c65b.meta.yaml", "1.0.0")
        "the meta of 'd4e9c65b-1.0.0'"
        >>> described("/emotion/onnx/d4e9c65b.zip", "1.0.0")
        "the archive of 'd4e9c65b-1.0.0'"
        >>> described("/_alias/best.alias.yaml", ALIAS_VERSION)
        "the alias 'best'"

    """
    folder, _, name = path.rpartition("/")
    if folder == f"/{ALIAS_FOLDER}" and name.endswith(f".{ALIAS_EXT}"):
        return f"the alias '{name[: -len(ALIAS_EXT) - 1]}'"
    kinds = {
        HEADER_EXT: "the header",
        META_EXT: "the meta",
        ALIASES_EXT: "the list of aliases",
        CLAIM_EXT: "the claim",
        ARCHIVE_EXT: "the archive",
    }
    for ext, kind in kinds.items():
        if name.endswith(f".{ext}"):
            return f"{kind} of '{name[: -len(ext) - 1]}-{version}'"
    return f"'{path}' ({version})"


def claim_path(short_id: str) -> str:
    r"""Path of the claim a publication in progress holds on a model ID."""
    return f"/{UID_FOLDER}/{short_id}.{CLAIM_EXT}"


def alias_path(alias: str) -> str:
    r"""Path of an alias."""
    return f"/{ALIAS_FOLDER}/{alias}.{ALIAS_EXT}"


# --- versioned paths --------------------------------------------------------------


def versioned(path: str, version: str, where: str = "a repository") -> str:
    r"""Where a file of ``path`` in ``version`` is stored.

    Args:
        path: unversioned path, e.g. ``'/_uid/3e120e8d.header.yaml'``
        version: version
        where: the repository, named in errors

    Raises:
        ValueError: if the version is empty or has other characters than
            letters, digits, ``.``, ``_`` and ``-``
        RuntimeError: if a part of the result is ``.`` or ``..``

    Examples:
        >>> versioned("/_uid/3e120e8d.header.yaml", "1.0.0")
        '/_uid/3e120e8d/1.0.0/3e120e8d-1.0.0.header.yaml'
        >>> versioned("/_uid/3e120e8d.aliases.yaml", "2.0.0")
        '/_uid/3e120e8d.aliases/2.0.0/3e120e8d.aliases-2.0.0.yaml'
        >>> versioned("/torch/8d99e4cf.zip", "1.0.0")
        '/torch/8d99e4cf/1.0.0/8d99e4cf-1.0.0.zip'

    """
    if not version or _VERSION_CHARACTERS.fullmatch(version) is None:
        raise errors.InvalidVersionError(
            f"Invalid version '{version}', does not match "
            f"'{_VERSION_CHARACTERS.pattern}'."
        )
    folder, _, name = path.rpartition("/")
    base, ext = _split_ext(name)
    return check_parts(f"{folder}/{base}/{version}/{base}-{version}{ext}", where)


def _split_ext(name: str) -> tuple[str, str]:
    r"""A file name's base and its extension, with the extension's dot.

    Examples:
        >>> _split_ext("3e120e8d.header.yaml"), _split_ext("3e120e8d.aliases.yaml")
        (('3e120e8d', '.header.yaml'), ('3e120e8d.aliases', '.yaml'))

    """
    for ext in EXTENSIONS:
        if name[1:].endswith(f".{ext}"):
            return name[: -len(ext) - 1], f".{ext}"
    base, dot, ext = name.rpartition(".")
    return (base, f".{ext}") if dot else (name, "")


def parse(stored: str) -> StoredPath | None:
    r"""Take a versioned path apart; ``None`` if it is not one.

    Examples:
        >>> parse("/emotion/onnx/3e120e8d/1.0.0/3e120e8d-1.0.0.zip")
        StoredPath(folder='/emotion/onnx', base='3e120e8d', version='1.0.0', ext='.zip')
        >>> parse("/_uid/3e120e8d/2.0.0/3e120e8d-2.0.0.header.yaml").ext
        '.header.yaml'
        >>> parse("/_audmodel/probe") is None
        True

    """
    parts = stored.split("/")
    if len(parts) < 4 or parts[1] == "_audmodel":
        return None
    base, version, name = parts[-3:]
    prefix = f"{base}-{version}"
    if not name.startswith(prefix):
        return None
    return StoredPath("/".join(parts[:-3]), base, version, name[len(prefix) :])


def is_versioned(stored: str) -> bool:
    r"""Whether a path is ``.../<base>/<version>/<base>-<version>.<ext>``.

    Examples:
        >>> is_versioned("/_uid/3e120e8d/1.0.0/3e120e8d-1.0.0.meta.yaml")
        True
        >>> is_versioned("/_uid/3e120e8d/1.0.0-rc.yaml")
        False

    """
    *_, base, version, name = ["", "", *stored.split("/")]
    return name.startswith(f"{base}-{version}.")


def header_of(stored: str) -> tuple[str, str] | None:
    r"""Short ID and version of a stored header; ``None`` for other files.

    Examples:
        >>> header_of("/_uid/3e120e8d/1.0.0/3e120e8d-1.0.0.header.yaml")
        ('3e120e8d', '1.0.0')
        >>> header_of("/_uid/3e120e8d/1.0.0/3e120e8d-1.0.0.meta.yaml") is None
        True

    """
    parsed = parse(stored)
    if (
        parsed is None
        or parsed.folder != f"/{UID_FOLDER}"
        or parsed.ext != f".{HEADER_EXT}"
    ):
        return None
    return parsed.base, parsed.version


def alias_of(stored: str) -> str | None:
    r"""Name of a stored alias file; ``None`` for other files.

    Examples:
        >>> alias_of("/_alias/best/1.0.0/best-1.0.0.alias.yaml")
        'best'

    """
    parsed = parse(stored)
    if (
        parsed is None
        or parsed.folder != f"/{ALIAS_FOLDER}"
        or parsed.ext != f".{ALIAS_EXT}"
        or parsed.version != ALIAS_VERSION
    ):
        return None
    return parsed.base


def check_parts(path: str, where: str = "a repository") -> str:
    r"""Return a path if none of its parts leaves its folder.

    Every versioned path goes through here (see :func:`versioned`),
    so that a name read from storage can never point above the repository.

    Args:
        path: path, e.g. ``'/_uid/3e120e8d/1.0.0/3e120e8d-1.0.0.header.yaml'``
        where: the repository, named in the error

    Raises:
        RuntimeError: if a part is ``.`` or ``..``, or holds a backslash or NUL

    Examples:
        >>> check_parts("/_uid/../x.yaml", "Repository('r', '/h', 'file-system')")
        Traceback (most recent call last):
        ...
        audmodel.errors.RefusedError: Refusing the path '/_uid/../x.yaml' in ...

    """
    parts = path.split("/")
    if any(p in (".", "..") or "\\" in p or "\x00" in p for p in parts):
        raise errors.RefusedError(
            f"Refusing the path '{path}' in {where}: "
            "a part of it is '.' or '..', or holds a backslash or NUL, "
            "so it could lead outside."
        )
    return path
