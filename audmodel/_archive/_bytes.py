"""Moving and checksumming byte ranges of files.

The kernel copies where it can (``copy_file_range``); CRC-32 and inflate
come from ISA-L where its wheels are installed, as it computes CRC-32
about 4 times as fast as zlib and inflates about 1.4 times as fast with
the same results. Its deflate, for ``"auto"``, is faster still; its bytes
differ from zlib's, which no reader of deflate minds.
"""

from __future__ import annotations

from collections.abc import Callable
import functools
import os

from audmodel._archive._zip import ArchiveError
from audmodel._lazy import ctypes


try:
    from isal.isal_zlib import compress as isal_deflate
    from isal.isal_zlib import crc32
    from isal.isal_zlib import crc32_combine as _combine
    from isal.isal_zlib import decompressobj as decompressobj  # for _unpack
except ImportError:  # pragma: no cover - a platform without isal's wheels
    from zlib import crc32

    _combine = isal_deflate = None  # type: ignore[assignment]

CHUNK = 4 * 1024 * 1024  # bytes read, hashed or fetched at once
LARGE = 4 * 1024 * 1024  # files from this size on are streamed, not buffered
BATCH = 64  # small files per task
COPY_BUFFER = 1024 * 1024
WRITE_BEHIND = 32 * 1024 * 1024  # bytes written before their writing out starts
SYNC_FILE_RANGE_WRITE = 2  # from <fcntl.h>: start writing out, do not wait


@functools.cache
def sync_file_range() -> Callable[[int, int, int, int], int] | None:
    r"""Linux's ``sync_file_range`` from the C library, or ``None`` elsewhere.

    Python's ``os`` lacks it; ``fsync`` would wait, where this only starts
    the writing out and returns.

    """
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (AttributeError, OSError, TypeError):  # not Linux, or no C library
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def consume_range(
    fd: int, offset: int, size: int, consume: Callable[[memoryview], object]
) -> None:
    r"""Pass a byte range of a file to ``consume``, chunk by chunk, in order."""
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    end = offset + size
    while offset < end:
        count = os.preadv(fd, [view[: min(CHUNK, end - offset)]], offset)
        if count <= 0:
            raise ArchiveError("The file ended early.")
        consume(view[:count])
        offset += count


def crc_of_range(fd: int, offset: int, size: int) -> int:
    r"""CRC-32 of a byte range of a file."""
    crc = 0

    def update(chunk: memoryview) -> None:
        nonlocal crc
        crc = crc32(chunk, crc)

    consume_range(fd, offset, size, update)
    return crc


def copy_range(
    src: int,
    src_offset: int,
    dst: int,
    dst_offset: int,
    size: int,
    copied_to: Callable[[int], None] | None = None,
) -> None:
    r"""Copy a byte range between files, in the kernel where possible.

    ``copied_to``, if given, is told after every few megabytes
    up to which offset of ``dst`` the copy stands.

    """
    copy: Callable[..., int] | None = getattr(os, "copy_file_range", None)
    step = 1 << 30 if copied_to is None else WRITE_BEHIND
    while size > 0:
        count = 0
        if copy is not None:
            try:
                count = copy(src, dst, min(size, step), src_offset, dst_offset)
            except OSError:
                copy = None  # e.g. across file systems on older kernels
        if copy is None:
            data = os.pread(src, min(size, COPY_BUFFER), src_offset)
            count = os.pwrite(dst, data, dst_offset) if data else 0
        if count <= 0:
            raise ArchiveError("The file ended early.")
        src_offset += count
        dst_offset += count
        size -= count
        if copied_to is not None:
            copied_to(dst_offset)


def crc_combine(crc: int, part_crc: int, size: int) -> int:
    r"""CRC-32 of two byte strings joined, from the CRC-32 of each."""
    if _combine is not None:
        return _combine(crc, part_crc, size)
    # zlib's crc32_combine is not exposed to Python: feed the part's
    # CRC register through zeros instead (the CRC is linear).
    return crc32(bytes(size), crc) ^ crc32(bytes(size)) ^ part_crc
