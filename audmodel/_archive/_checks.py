"""What an archive read back may hold: the rules that refuse hostile archives.

Everything here runs before the first byte is written: entry names that
could leave the destination, sizes no deflate stream can reach, more
entries or a larger directory than any model needs, entries that overlap,
and more data than the disk has room for.
"""

from __future__ import annotations

import shutil
import stat
import zipfile

from audmodel._archive import _zip
from audmodel._archive._zip import LOCAL
from audmodel._archive._zip import ArchiveError


# Deflate cannot shrink data more than about 1032:1, so an entry that claims
# more is lying about its size: the mark of a ZIP bomb.
MAX_RATIO = 1100


MAX_ENTRIES = 1_000_000

MAX_DEPTH = 64
r"""Most folder levels an entry's path may have; no model needs more."""

# Central directory bytes one entry may take: its record (46 bytes), a name
# as long as a path may be, and extra fields.
MAX_DIRECTORY_ENTRY = 46 + 4096 + 1024


def check_entries(entries: list[zipfile.ZipInfo]) -> list[str]:
    r"""Refuse entries that could write outside the destination.

    Refused are absolute paths, drive letters, backslashes, ``.`` and
    ``..`` parts, empty parts, paths deeper than :data:`MAX_DEPTH`,
    symbolic links, names given twice,
    compression methods other than stored and deflated,
    sizes that deflate cannot reach (more than 1100:1),
    compressed sizes larger than deflate ever needs (or, stored, other
    than the size), and more than a million entries.

    Args:
        entries: the archive's entries

    Returns:
        names of the file entries

    Raises:
        ArchiveError: naming the first refused entry

    """
    if len(entries) > MAX_ENTRIES:
        raise ArchiveError(f"Refusing an archive of {len(entries)} entries.")
    seen = set()
    files = []
    for entry in entries:
        name = entry.filename
        reason = _unsafe_name_reason(name) or _unsafe_size_reason(entry)
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
    if len(parts) > MAX_DEPTH:
        return f"it is {len(parts)} levels deep, more than {MAX_DEPTH}"
    return None


def _unsafe_size_reason(entry: zipfile.ZipInfo) -> str | None:
    if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return f"compression method {entry.compress_type} is not supported"
    if entry.compress_type == zipfile.ZIP_STORED:
        if entry.compress_size != entry.file_size:
            return "it is stored, but its sizes differ"
    elif entry.compress_size > deflated_bound(entry.file_size):
        return (
            f"it declares {entry.compress_size} compressed bytes for "
            f"{entry.file_size} bytes of data, more than deflate ever needs"
        )
    elif entry.file_size > MAX_RATIO * max(entry.compress_size, 1):
        return (
            f"it claims to unpack {entry.compress_size} bytes to {entry.file_size}, "
            "more than deflate can (a ZIP bomb)"
        )
    return None


def deflated_bound(size: int) -> int:
    r"""The most bytes deflate takes for ``size`` bytes, with room to spare.

    Deflate stores data it cannot shrink in blocks of up to 64 KiB with 5
    bytes of header each; the bound allows an eighth more (fixed Huffman
    codes of 9 bits a byte, the worst a sane encoder emits) and 1 KiB.
    A larger compressed size is a lie that would make a reader hold it
    in memory.

    Example:
        >>> deflated_bound(0), deflated_bound(8000)
        (1024, 10024)

    """
    return size + size // 8 + 1024


def check_end_record(tail: bytes, size: int) -> None:
    r"""Refuse an archive whose end record declares too many entries.

    Checked before the central directory is parsed, as parsing it is what
    costs: a directory can hold many more entries than it declares, so its
    size is bounded by the declared count too.

    Args:
        tail: the last bytes of the archive, see :data:`TAIL`
        size: the archive's size

    Raises:
        ArchiveError: if the declared count or directory size is too large

    """
    declared = _zip.declared_directory(tail, size)
    if declared is None:
        return  # no end record: zipfile says the archive is broken
    count, directory_size = declared
    if count > MAX_ENTRIES:
        raise ArchiveError(f"Refusing an archive of {count} entries.")
    if directory_size > max(count, 1) * MAX_DIRECTORY_ENTRY:
        raise ArchiveError(
            f"Refusing an archive whose directory of {count} entries "
            f"takes {directory_size} bytes."
        )


def check_layout(entries: list[zipfile.ZipInfo], directory: int) -> None:
    r"""Refuse entries whose data overlap each other or the central directory.

    Each entry needs at least its local header (30 bytes) and its data
    before the next entry begins; overlapping entries would let a small
    archive unpack the same bytes many times over.

    Args:
        entries: the archive's entries
        directory: where the central directory begins

    Raises:
        ArchiveError: naming the first entry that overlaps

    """
    ordered = sorted(entries, key=lambda entry: entry.header_offset)
    for entry, end in zip(ordered, entry_ends(ordered, directory), strict=True):
        if entry.header_offset < 0:
            # zipfile shifts offsets by where it finds the directory.
            raise ArchiveError(
                f"The archive is broken: entry '{entry.filename}' would lie "
                "before its start."
            )
        if entry.header_offset + LOCAL.size + entry.compress_size > end:
            raise ArchiveError(
                f"Refusing archive entry '{entry.filename}': its data overlaps "
                "the next entry or the central directory."
            )


def entry_ends(ordered: list[zipfile.ZipInfo], directory: int) -> list[int]:
    r"""Where each of entries sorted by offset ends: where the next begins.

    Example:
        >>> entry_ends([], 22)
        []

    """
    return [entry.header_offset for entry in ordered[1:]] + [directory][: len(ordered)]


def check_space(entries: list[zipfile.ZipInfo], dst_root: str) -> None:
    # Sizes are declared by the archive; no entry is ever written beyond its
    # declared size, so this bound holds for a ZIP bomb too.
    needed = sum(entry.file_size for entry in entries)
    free = shutil.disk_usage(dst_root).free
    if needed > free:
        raise ArchiveError(
            f"The archive unpacks to {needed} bytes, "
            f"but only {free} bytes are free in '{dst_root}'."
        )
