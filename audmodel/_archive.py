"""Model archives: a folder packed into a plain ZIP file, and back.

The archive holds one entry per file, named by its POSIX path relative to
the model folder, without entries for folders, deflated (levels 1-9) or
stored (level 0), as audmodel 1.5 writes it.

Extraction trusts nothing in the archive: every entry name is checked
before the first byte is written, so that no entry can land outside the
destination folder.

"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import zipfile


COPY_BUFFER = 1024 * 1024


class ArchiveError(RuntimeError):
    r"""An archive is broken or holds entries that are refused."""


def list_files(root: str) -> list[str]:
    r"""Relative POSIX paths of all files below ``root``, sorted.

    Symbolic links to files are followed, links to folders are not,
    so that a link cannot pull files from outside ``root`` in repeatedly.

    Args:
        root: model folder

    Returns:
        relative file paths

    """
    files = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        rel = os.path.relpath(folder, root)
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                files.append(
                    name if rel == "." else f"{rel}/{name}".replace(os.sep, "/")
                )
    return sorted(files)


def create(root: str, dst_path: str, compression: int) -> list[str]:
    r"""Pack all files below ``root`` into the ZIP file ``dst_path``.

    Args:
        root: model folder
        dst_path: archive to create
        compression: 0 stores entries, 1-9 is the deflate level

    Returns:
        the archived files

    Examples:
        >>> import pathlib, tempfile
        >>> tmp = tempfile.mkdtemp()
        >>> _ = pathlib.Path(tmp, "model.txt").write_text("weights")
        >>> create(tmp, f"{tmp}.zip", 1)
        ['model.txt']

    """
    method = zipfile.ZIP_STORED if compression == 0 else zipfile.ZIP_DEFLATED
    level = None if compression == 0 else compression
    files = list_files(root)
    with zipfile.ZipFile(dst_path, "w", method, compresslevel=level) as archive:
        for file in files:
            archive.write(os.path.join(root, *file.split("/")), file)
    return files


def extract(src_path: str, dst_root: str) -> list[str]:
    r"""Unpack the ZIP file ``src_path`` into the folder ``dst_root``.

    All entries are checked first (see :func:`check_entries`)
    and the free disk space against their total size,
    so a refused archive writes nothing.

    Args:
        src_path: archive
        dst_root: existing, empty folder

    Returns:
        the extracted files

    Raises:
        ArchiveError: if the archive is broken or has a refused entry

    """
    try:
        with zipfile.ZipFile(src_path) as archive:
            entries = archive.infolist()
            files = check_entries(entries)
            _check_space(entries, dst_root)
            for entry in entries:
                _extract_entry(archive, entry, dst_root)
    except zipfile.BadZipFile as ex:
        raise ArchiveError(f"The archive is broken: {ex}.") from None
    except (EOFError, zipfile.LargeZipFile, NotImplementedError) as ex:
        raise ArchiveError(f"The archive cannot be read: {ex}.") from None
    return files


def check_entries(entries: list[zipfile.ZipInfo]) -> list[str]:
    r"""Refuse entries that could write outside the destination.

    Refused are absolute paths, drive letters, backslashes, ``.`` and
    ``..`` parts, empty parts, symbolic links, and names given twice.

    Args:
        entries: the archive's entries

    Returns:
        names of the file entries

    Raises:
        ArchiveError: naming the first refused entry

    """
    seen = set()
    files = []
    for entry in entries:
        name = entry.filename
        reason = _unsafe_name_reason(name)
        if reason is None and stat.S_ISLNK(entry.external_attr >> 16):
            reason = "it is a symbolic link"
        if reason is None and name.rstrip("/") in seen:
            reason = "the name occurs twice"
        if reason is not None:
            raise ArchiveError(f"Refusing archive entry '{name}': {reason}.")
        seen.add(name.rstrip("/"))
        if not entry.is_dir():
            files.append(name)
    return files


def _unsafe_name_reason(name: str) -> str | None:
    if not name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "it is not a relative path"
    if "\\" in name or "\x00" in name:
        return "it has a backslash or NUL character"
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "it has an empty, '.' or '..' part"
    return None


def _check_space(entries: list[zipfile.ZipInfo], dst_root: str) -> None:
    # Sizes are declared by the archive; zipfile never writes more than the
    # declared size of an entry, so this bound holds for a ZIP bomb too.
    needed = sum(entry.file_size for entry in entries)
    free = shutil.disk_usage(dst_root).free
    if needed > free:
        raise ArchiveError(
            f"The archive unpacks to {needed} bytes, "
            f"but only {free} bytes are free in '{dst_root}'."
        )


def _extract_entry(
    archive: zipfile.ZipFile,
    entry: zipfile.ZipInfo,
    dst_root: str,
) -> None:
    target = os.path.join(dst_root, *posixpath.normpath(entry.filename).split("/"))
    if entry.is_dir():
        os.makedirs(target, exist_ok=True)
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    # 'x' refuses to follow or replace anything already at the target.
    with archive.open(entry) as src, open(target, "xb") as dst:
        shutil.copyfileobj(src, dst, COPY_BUFFER)
