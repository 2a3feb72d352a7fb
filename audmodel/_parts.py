"""Some of a model's files, fetched without the rest.

:func:`audmodel.load_file` and ``audmodel.load(files=...)`` fetch chosen
files of a model. They are kept in a folder of their own beside the
model's place (:func:`audmodel._cache.parts_folder`)::

    <cache_root>/<short_id>/.<version>.parts/<path>

never at ``<cache_root>/<short_id>/<version>``, where audmodel 1.5 and
:func:`audmodel.load` take a folder for the whole model. A file arrives
there whole: it is unpacked into a staging folder, checked by its size and
CRC-32, and renamed into place under the folder's lock. The folder is this
user's alone (in a cache shared by a group, nobody else can put a file in
it). A later load of the whole model links the files found there into its
staging folder, each checked again by its size and CRC-32 against the
archive, and reads only the others.

"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
import contextlib
import fnmatch
import os
import posixpath
import shutil
import stat
from typing import TYPE_CHECKING

from audmodel import _cache
from audmodel import _lazy
from audmodel import errors
from audmodel._files import remove_entry
from audmodel._output import did_you_mean


if TYPE_CHECKING:
    import zipfile

    from audmodel import _archive
else:  # imported when an archive is first read (see audmodel._lazy)
    _archive = _lazy.module("audmodel._archive", globals())


def matching(names: Iterable[str], patterns: list[str]) -> list[str]:
    r"""The files whose relative path matches one of ``patterns``, sorted.

    A pattern is matched against the whole relative path (``/`` between
    folders), as :func:`fnmatch.fnmatchcase` matches: ``*`` and ``?`` also
    match ``/``, and case counts.

    Raises:
        audmodel.errors.NotInModelError: if a pattern matches no file

    Examples:
        >>> matching(["a.onnx", "b/c.onnx", "b/d.pt"], ["*.onnx"])
        ['a.onnx', 'b/c.onnx']

    """
    names = sorted(names)
    chosen: set[str] = set()
    for pattern in patterns:
        found = [name for name in names if fnmatch.fnmatchcase(name, pattern)]
        if not found:
            raise errors.NotInModelError(
                f"The pattern '{pattern}' matches none of the model's files."
                + did_you_mean(pattern, names)
            )
        chosen.update(found)
    return sorted(chosen)


def named(names: Iterable[str], path: str) -> str:
    r"""``path`` as the name of one of the model's files.

    ``./`` in front and a backslash between folders are allowed.

    Raises:
        audmodel.errors.NotInModelError: if ``path`` is a folder of the
            model or none of its files

    Examples:
        >>> named(["onnx/model.onnx"], "./onnx/model.onnx")
        'onnx/model.onnx'

    """
    names = sorted(names)
    name = posixpath.normpath(path.replace("\\", "/")) if path else ""
    if name in names:
        return name
    if name in ("", ".") or any(n.startswith(f"{name}/") for n in names):
        raise errors.NotInModelError(
            f"'{path}' is a folder of the model, not a file: "
            "load_file() fetches one file; load(files=...) fetches patterns."
        )
    raise errors.NotInModelError(
        f"The model has no file '{path}'." + did_you_mean(name, names)
    )


def joined(folder: str, name: str) -> str:
    r"""The local path of the file ``name`` (a relative POSIX path) in ``folder``."""
    return os.path.join(folder, *name.split("/"))


def opened(parts: str) -> str:
    r"""The folder of parts, made if missing; refused if not this user's alone.

    Raises:
        audmodel.errors.RefusedPathError: if something another user could
            have written is there and cannot be removed
        RuntimeError: if the model's folder of the cache is a link

    """
    _cache.refuse_linked_folder(parts)
    _cache.make_folder(os.path.dirname(parts))
    if not _cache.is_trusted_folder(parts):
        # Planted, or changed by another user of a shared cache.
        with contextlib.suppress(OSError):
            remove_entry(parts)
    with contextlib.suppress(FileExistsError):
        os.mkdir(parts, 0o755)
    if not _cache.is_trusted_folder(parts):
        raise errors.RefusedPathError(
            f"'{parts}' is not this user's alone: files fetched on their own "
            "are not kept there. Remove it."
        )
    return parts


def kept(parts: str, record: Mapping[str, list[int]], names: Iterable[str]) -> bool:
    r"""Whether each file is in the folder of parts, with its recorded size.

    Files there were checked when they came; their size tells one cut by
    a full disk or changed since.

    """
    if not _cache.is_trusted_folder(parts) or not os.path.isdir(parts):
        return False
    return all(_size(joined(parts, name)) == record[name][0] for name in names)


def keep(staged: str, parts: str, names: Iterable[str]) -> None:
    r"""Move files unpacked into a staging folder into the folder of parts."""
    for name in names:
        target = joined(parts, name)
        _make_folders(parts, name)
        os.replace(joined(staged, name), target)


def reuse(
    parts: str, folder: str, entries: Iterable[zipfile.ZipInfo]
) -> frozenset[str]:
    r"""Link the parts that match their entries into a staging folder.

    Each is checked by its size and CRC-32 against the archive's entry;
    one that differs is left out (and fetched again by the caller).

    Returns:
        the names of the entries whose files are now in ``folder``

    """
    if not os.path.isdir(parts) or not _cache.is_trusted_folder(parts):
        return frozenset()
    linked = set()
    for entry in entries:
        source = joined(parts, entry.filename)
        if _size(source) != entry.file_size or _crc(source) != entry.CRC:
            continue
        _make_folders(folder, entry.filename)
        target = joined(folder, entry.filename)
        with contextlib.suppress(FileNotFoundError):
            os.remove(target)  # cut short by an interrupted load
        try:
            os.link(source, target)
        except OSError:  # a file system without hard links
            shutil.copyfile(source, target, follow_symlinks=False)
        linked.add(entry.filename)
    return frozenset(linked)


def _size(path: str) -> int | None:
    r"""Size of a regular file (never through a link), ``None`` if there is none."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _crc(path: str) -> int:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        return _archive.crc_of_range(fd, 0, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def _make_folders(root: str, name: str) -> None:
    r"""The folders of file ``name`` below ``root``, a folder of this user's alone."""
    parent = os.path.dirname(joined(root, name))
    os.makedirs(parent, 0o755, exist_ok=True)
