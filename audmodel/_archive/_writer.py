"""Writing an archive front to back: buffered, hashed, and written out early.

:class:`Writer` takes the entries :mod:`._pack` prepares and puts their
records (from :mod:`._zip`) and data into the file, computing the MD5 of
what it writes when asked, and starting the writing out to the disk every
few megabytes where the archive is to be kept.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from collections.abc import Iterator
import concurrent.futures
import hashlib
import os
from typing import BinaryIO
import zipfile
import zlib

from audmodel._archive import _bytes
from audmodel._archive import _zip
from audmodel._archive._bytes import CHUNK
from audmodel._archive._bytes import SYNC_FILE_RANGE_WRITE
from audmodel._archive._bytes import consume_range
from audmodel._archive._bytes import copy_range
from audmodel._archive._bytes import crc_of_range
from audmodel._threads import CPU_WORKERS


DEFLATE_CHUNK = 1024 * 1024
WINDOW = 32 * 1024  # what deflate may look back on


class Writer:
    r"""Writes a ZIP file front to back, hashing what it writes if asked.

    Args:
        out: the archive, open for writing at its start
        md5: hash to update with every byte written, or ``None``
        sync_range: Linux's ``sync_file_range``, to start writing out early

    """

    def __init__(
        self,
        out: BinaryIO,
        md5: hashlib._Hash | None,
        sync_range: Callable[[int, int, int, int], int] | None = None,
    ):
        self.out = out
        self.md5 = md5
        self.sync_range = sync_range
        self.position = 0
        self.written_out = 0  # where the writing out to the disk stands
        self.entries: list[_zip.Record] = []
        # Headers and small files are gathered, so that writing and hashing
        # take one call per megabyte rather than several per file.
        self._pending = bytearray()

    def add_small(
        self,
        name: str,
        info: os.stat_result,
        method: int,
        crc: int,
        size: int,
        data: bytes,
    ) -> None:
        r"""Add a file whose entry data is at hand."""
        entry = self._record(name, info, method, 0)
        entry.crc, entry.size, entry.csize = crc, size, len(data)
        self._write(_zip.local_header(entry, zip64=False))
        self._write(data)

    def add_large_stored(
        self,
        name: str,
        path: str,
        info: os.stat_result,
        pool: concurrent.futures.Executor,
    ) -> None:
        r"""Add a large file uncompressed, copied by the kernel."""
        entry = self._record(name, info, zipfile.ZIP_STORED, _zip.FLAG_DESCRIPTOR)
        entry.size = entry.csize = info.st_size
        zip64 = entry.size >= _zip.ZIP64_LIMIT
        self._write(_zip.local_header(entry, zip64, align=True))
        self._flush()
        self.out.flush()
        with open(path, "rb") as src:
            copy = pool.submit(
                copy_range,
                src.fileno(),
                0,
                self.out.fileno(),
                self.position,
                entry.size,
                self._write_out if self.sync_range else None,
            )
            # Kernel copy, CRC-32 and MD5 each take a thread, so the slowest
            # of them (the MD5) sets the pace; the MD5 stays in file order.
            crc = pool.submit(crc_of_range, src.fileno(), 0, entry.size)
            if self.md5 is not None:
                consume_range(src.fileno(), 0, entry.size, self.md5.update)
            copy.result()
            entry.crc = crc.result()
        self.position += entry.size
        self.out.seek(self.position)
        self._write(_zip.descriptor(entry, zip64))

    def add_large_deflated(
        self,
        name: str,
        path: str,
        info: os.stat_result,
        level: int,
        pool: concurrent.futures.Executor,
    ) -> None:
        r"""Add a large file deflated at ``level``, in parallel chunks."""
        entry = self._record(name, info, zipfile.ZIP_DEFLATED, _zip.FLAG_DESCRIPTOR)
        entry.size = info.st_size
        zip64 = entry.size >= _zip.ZIP64_LIMIT - DEFLATE_CHUNK
        self._write(_zip.local_header(entry, zip64))
        start = self.position
        with open(path, "rb") as src:
            crc = pool.submit(crc_of_range, src.fileno(), 0, entry.size)
            for chunk in deflate_parallel(path, level, pool):
                self._write(chunk)
            entry.crc = crc.result()
        entry.csize = self.position - start
        self._write(_zip.descriptor(entry, zip64))

    def finish(self) -> None:
        r"""Write the central directory and the end records."""
        start = self.position
        for entry in self.entries:
            self._write(_zip.central_header(entry))
        self._write(_zip.end_records(len(self.entries), start, self.position - start))
        self._flush()

    def _record(
        self, name: str, info: os.stat_result, method: int, flags: int
    ) -> _zip.Record:
        entry = _zip.record(name, info, method, flags, self.position)
        self.entries.append(entry)
        return entry

    def _write(self, data: bytes) -> None:
        self._pending += data
        self.position += len(data)
        if len(self._pending) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        self.out.write(self._pending)
        if self.md5 is not None:
            self.md5.update(self._pending)
        self._pending.clear()
        self._write_out(self.position)

    def _write_out(self, end: int) -> None:
        r"""Start writing bytes up to ``end`` out to the disk, every few megabytes."""
        if self.sync_range is None or end - self.written_out < _bytes.WRITE_BEHIND:
            return
        # Bytes still in the file object's buffer are left to the fsync.
        self.sync_range(
            self.out.fileno(),
            self.written_out,
            end - self.written_out,
            SYNC_FILE_RANGE_WRITE,
        )
        self.written_out = end


def deflate_parallel(
    path: str, level: int, pool: concurrent.futures.Executor
) -> Iterator[bytes]:
    r"""Yield one raw deflate stream of a file, compressed chunk-wise in parallel.

    Each chunk is primed with the 32 KiB before it and ends on a sync flush,
    so the chunks join into a single stream, as in pigz.

    """

    def compress(chunk: bytes, primer: bytes, last: bool) -> bytes:
        compressor = (
            zlib.compressobj(level, zlib.DEFLATED, -15, zdict=primer)
            if primer
            else zlib.compressobj(level, zlib.DEFLATED, -15)
        )
        flush = zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH
        return compressor.compress(chunk) + compressor.flush(flush)

    pending: deque = deque()
    primer = b""
    with open(path, "rb") as fp:
        chunk = fp.read(DEFLATE_CHUNK)
        while True:
            following = fp.read(DEFLATE_CHUNK)
            pending.append(pool.submit(compress, chunk, primer, not following))
            primer = chunk[-WINDOW:]
            if len(pending) >= 2 * CPU_WORKERS:
                yield pending.popleft().result()
            if not following:
                break
            chunk = following
    while pending:
        yield pending.popleft().result()
