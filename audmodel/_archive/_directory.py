"""An archive's list of files, read from its central directory alone.

A ZIP file lists its entries at its end, so a remote archive's files are
known from one or two ranged reads, and a local one is opened only after
its end record and entries pass :mod:`._checks`.
"""

from __future__ import annotations

from collections.abc import Callable
import io
import os
import zipfile
import zlib

from audmodel._archive._bytes import COPY_BUFFER
from audmodel._archive._checks import check_end_record
from audmodel._archive._checks import check_entries
from audmodel._archive._checks import check_layout
from audmodel._archive._zip import TAIL
from audmodel._archive._zip import ArchiveError


def read_entries(
    read_tail: Callable[[int], tuple[bytes, int]],
    read_range: Callable[[int, int], bytes],
) -> list[zipfile.ZipInfo]:
    r"""The entries of an archive, read from its end only.

    A ZIP file lists its entries in the central directory at its end,
    so two reads tell them without the data: the last bytes (the end
    record and, for most archives, the directory itself) and, if the
    directory is longer, the directory.

    Args:
        read_tail: gives the last ``n`` bytes of the archive and its size
        read_range: gives bytes ``start`` to ``end`` of the archive

    Returns:
        entries in the order of the directory, checked as :func:`extract`
        checks them

    Raises:
        ArchiveError: if the archive is broken or its entries unsafe

    Examples:
        >>> import io
        >>> buffer = io.BytesIO()
        >>> with zipfile.ZipFile(buffer, "w") as zf:
        ...     zf.writestr("model.yaml", "layers: 10\n")
        >>> data = buffer.getvalue()
        >>> entries = read_entries(
        ...     lambda n: (data[-n:], len(data)),
        ...     lambda start, end: data[start:end],
        ... )
        >>> [(e.filename, e.file_size) for e in entries]
        [('model.yaml', 11)]

    """
    return read_directory(read_tail, read_range)[0]


def read_directory(
    read_tail: Callable[[int], tuple[bytes, int]],
    read_range: Callable[[int, int], bytes],
) -> tuple[list[zipfile.ZipInfo], int]:
    r"""Like :func:`read_entries`, and where the central directory begins.

    Returns:
        entries and the offset of the central directory

    Raises:
        ArchiveError: if the archive is broken or its entries unsafe

    """
    tail, size = read_tail(TAIL)
    check_end_record(tail, size)
    reader = _TailReader(tail, size, read_range)
    try:
        with zipfile.ZipFile(reader) as archive:
            entries = archive.infolist()
            directory = archive.start_dir
    except (zipfile.BadZipFile, EOFError, ValueError) as ex:
        raise ArchiveError(f"The archive is broken: {ex}.") from None
    check_entries(entries)
    check_layout(entries, directory)
    return entries, directory


class _TailReader(io.RawIOBase):
    r"""A read-only file of which only the end is at hand.

    Reads within the end are served from it; others are fetched,
    which for a ZIP file is the central directory alone.

    """

    def __init__(self, tail: bytes, size: int, read_range: Callable[[int, int], bytes]):
        self._tail, self._size, self._fetch = tail, size, read_range
        self._tail_start = size - len(tail)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}
        self._position = max(0, base[whence] + offset)
        return self._position

    def read(self, count: int = -1) -> bytes:
        start = self._position
        end = self._size if count < 0 else min(self._size, start + count)
        if end <= start:
            return b""
        if start >= self._tail_start:
            data = self._tail[start - self._tail_start : end - self._tail_start]
        else:
            data = self._fetch(start, end)
        self._position = start + len(data)
        return data


def open_local(path: str) -> zipfile.ZipFile:
    r"""Open a local archive whose end record and entries pass the checks.

    Raises:
        ArchiveError: if the archive is broken or refused

    """
    with open(path, "rb") as fp:
        size = fp.seek(0, os.SEEK_END)
        fp.seek(max(0, size - TAIL))
        check_end_record(fp.read(), size)
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise  # removed meanwhile: the caller tells whether the model is gone
    except (zipfile.BadZipFile, OSError, EOFError) as ex:
        # A directory offset before the file's start makes zipfile seek
        # to a negative position, which the file system refuses.
        raise ArchiveError(f"The archive is broken: {ex}.") from None
    try:
        check_entries(archive.infolist())
        check_layout(archive.infolist(), archive.start_dir)
    except BaseException:
        archive.close()
        raise
    return archive


def verify(path: str) -> None:
    r"""Read every entry of an archive and check its CRC-32.

    Args:
        path: archive

    Raises:
        ArchiveError: naming what is wrong

    """
    try:
        with open_local(path) as archive:
            for entry in archive.infolist():
                # zipfile checks the CRC-32 when an entry is read to its end.
                with archive.open(entry) as data:
                    while data.read(COPY_BUFFER):
                        pass
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as ex:
        raise ArchiveError(f"The archive is broken: {ex}") from None
