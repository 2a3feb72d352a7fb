"""The ZIP format: its records, their signatures, and how to write and read them.

Only what model archives use is here: entries stored or deflated, ZIP64
fields where a size or offset needs them, data descriptors after large
entries, and zipalign's extra field to put stored data on a block
boundary. Every record starts with its own signature, named below.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import struct
import time
import zipfile

from audmodel import errors


class ArchiveError(errors.RefusedError):
    r"""An archive is broken or holds entries that are refused."""


LOCAL_SIGNATURE = 0x04034B50  # b"PK\x03\x04"
CENTRAL_SIGNATURE = 0x02014B50  # b"PK\x01\x02"
DESCRIPTOR_SIGNATURE = 0x08074B50  # b"PK\x07\x08"
END_SIGNATURE = 0x06054B50  # b"PK\x05\x06"
END64_SIGNATURE = 0x06064B50  # b"PK\x06\x06"
LOCATOR64_SIGNATURE = 0x07064B50  # b"PK\x06\x07"

LOCAL = struct.Struct("<IHHHHHIIIHH")
CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
END = struct.Struct("<IHHHHIIH")
END64 = struct.Struct("<IQHHIIQQQQ")
LOCATOR64 = struct.Struct("<IIQI")
DESCRIPTOR = struct.Struct("<IIII")
DESCRIPTOR64 = struct.Struct("<IIQQ")

ZIP64_LIMIT = 0xFFFFFFFF  # from this size or offset on, ZIP64 fields are used
MARKER = 0xFFFFFFFF  # a 32-bit field whose value is in the ZIP64 fields
ZIP64_EXTRA = 0x0001
ALIGNMENT = 4096
ALIGNMENT_EXTRA = 0xD935  # zipalign's extra field: alignment, then padding
FLAG_DESCRIPTOR = 0x08  # sizes and CRC-32 follow the data
FLAG_UTF8 = 0x800
VERSION = 20  # the version a reader needs: deflate
VERSION64 = 45  # ... and ZIP64
MADE_ON_UNIX = 3 << 8  # so that readers take the mode from the attributes

# The end-of-central-directory record and the largest comment it may carry;
# ZIP64 adds a locator (20 bytes) and its own record (56 bytes) before it.
TAIL = END.size + 0xFFFF + LOCATOR64.size + END64.size


@dataclasses.dataclass
class Record:
    r"""One entry as it is written: what its local and central headers hold."""

    name: bytes
    flags: int
    method: int
    dostime: int
    dosdate: int
    mode: int
    offset: int
    crc: int = 0
    csize: int = 0
    size: int = 0


def record(
    name: str, info: os.stat_result, method: int, flags: int, offset: int
) -> Record:
    r"""The record of a file to be written at ``offset``, its sizes still zero.

    Examples:
        >>> info = os.stat_result((0o100644, 0, 0, 1, 0, 0, 5, 0, 0, 0))
        >>> entry = record("model.txt", info, zipfile.ZIP_STORED, 0, 0)
        >>> entry.name, oct(entry.mode)
        (b'model.txt', '0o100644')

    """
    year, month, day, hour, minute, second = time.localtime(info.st_mtime)[:6]
    year = min(max(year, 1980), 2107)  # what a DOS date can hold
    if not name.isascii():
        flags |= FLAG_UTF8
    return Record(
        name=name.encode("utf-8"),
        flags=flags,
        method=method,
        dostime=(hour << 11) | (minute << 5) | (second // 2),
        dosdate=((year - 1980) << 9) | (month << 5) | day,
        mode=stat.S_IFREG | stat.S_IMODE(info.st_mode),
        offset=offset,
    )


def local_header(entry: Record, zip64: bool, align: bool = False) -> bytes:
    r"""The local header of an entry written at ``entry.offset``.

    With ``align`` the data that follows starts on a multiple of
    :data:`ALIGNMENT`: data on a block boundary is copied faster by the
    kernel, here and when unpacking; readers skip the unknown extra field.

    """
    extra = (
        struct.pack("<HHQQ", ZIP64_EXTRA, 16, entry.size, entry.csize) if zip64 else b""
    )
    if align:
        start = entry.offset + LOCAL.size + len(entry.name) + len(extra) + 6
        padding = -start % ALIGNMENT
        extra += struct.pack("<HHH", ALIGNMENT_EXTRA, 2 + padding, ALIGNMENT)
        extra += bytes(padding)
    sizes = (MARKER, MARKER) if zip64 else (entry.csize, entry.size)
    fields = LOCAL.pack(
        LOCAL_SIGNATURE,
        VERSION64 if zip64 else VERSION,
        entry.flags,
        entry.method,
        entry.dostime,
        entry.dosdate,
        entry.crc,
        *sizes,
        len(entry.name),
        len(extra),
    )
    return fields + entry.name + extra


def descriptor(entry: Record, zip64: bool) -> bytes:
    r"""The data descriptor that follows an entry's data."""
    layout = DESCRIPTOR64 if zip64 else DESCRIPTOR
    return layout.pack(DESCRIPTOR_SIGNATURE, entry.crc, entry.csize, entry.size)


def central_header(entry: Record) -> bytes:
    r"""An entry's record in the central directory, with ZIP64 fields as needed."""
    values = []
    size, csize, offset = entry.size, entry.csize, entry.offset
    if size >= ZIP64_LIMIT:
        values.append(size)
        size = MARKER
    if csize >= ZIP64_LIMIT:
        values.append(csize)
        csize = MARKER
    if offset >= ZIP64_LIMIT:
        values.append(offset)
        offset = MARKER
    extra = (
        struct.pack(f"<HH{len(values)}Q", ZIP64_EXTRA, 8 * len(values), *values)
        if values
        else b""
    )
    version = VERSION64 if values else VERSION
    fields = CENTRAL.pack(
        CENTRAL_SIGNATURE,
        MADE_ON_UNIX | version,
        version,
        entry.flags,
        entry.method,
        entry.dostime,
        entry.dosdate,
        entry.crc,
        csize,
        size,
        len(entry.name),
        len(extra),
        0,  # comment length
        0,  # disk number
        0,  # internal attributes
        entry.mode << 16,
        offset,
    )
    return fields + entry.name + extra


def end_records(count: int, start: int, size: int) -> bytes:
    r"""The records that end an archive, ZIP64 ones where needed.

    Args:
        count: entries in the central directory
        start: where the central directory starts
        size: its size in bytes

    """
    records = b""
    if count >= 0xFFFF or start >= ZIP64_LIMIT or size >= ZIP64_LIMIT:
        end64 = start + size
        records += END64.pack(
            END64_SIGNATURE, 44, VERSION64, VERSION64, 0, 0, count, count, size, start
        )
        records += LOCATOR64.pack(LOCATOR64_SIGNATURE, 0, end64, 1)
        count, size, start = 0xFFFF, MARKER, MARKER
    return records + END.pack(END_SIGNATURE, 0, 0, count, count, size, start, 0)


def declared_directory(tail: bytes, size: int) -> tuple[int, int] | None:
    r"""The entry count and directory size that an archive's end records declare.

    Args:
        tail: the last bytes of the archive, see :data:`TAIL`
        size: the archive's size

    Returns:
        count and size, or ``None`` if ``tail`` holds no end record

    """
    at = tail.rfind(_signature(END_SIGNATURE))
    if at < 0 or len(tail) - at < END.size:
        return None
    _, _, _, _, count, directory_size, _, _ = END.unpack_from(tail, at)
    locator = at - LOCATOR64.size
    if locator >= 0 and tail[locator : locator + 4] == _signature(LOCATOR64_SIGNATURE):
        record = LOCATOR64.unpack_from(tail, locator)[2] - (size - len(tail))
        if 0 <= record <= len(tail) - END64.size:
            fields = END64.unpack_from(tail, record)
            count, directory_size = fields[7], fields[8]
    return count, directory_size


def _signature(value: int) -> bytes:
    return value.to_bytes(4, "little")


def local_header_lengths(header: bytes, entry: zipfile.ZipInfo) -> tuple[int, int]:
    r"""The name's and the extra field's lengths in a local header.

    Raises:
        ArchiveError: if ``header`` is no local header

    """
    if len(header) != LOCAL.size or header[:4] != _signature(LOCAL_SIGNATURE):
        raise ArchiveError(f"Entry '{entry.filename}' has no valid local header.")
    fields = LOCAL.unpack(header)
    return fields[9], fields[10]


def check_local_name(name: bytes, entry: zipfile.ZipInfo) -> None:
    r"""Refuse a local header whose name is not the directory's.

    Raises:
        ArchiveError: if the names differ

    """
    encoding = "utf-8" if entry.flag_bits & FLAG_UTF8 else "cp437"
    if name.decode(encoding, "replace") != entry.orig_filename:
        raise ArchiveError(
            f"Entry '{entry.filename}' has another name in its local header."
        )
