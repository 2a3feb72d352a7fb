"""Model archives: a folder packed into a plain ZIP file, and back.

The archive holds one entry per file, named by its POSIX path relative to
the model folder, without entries for folders, each entry deflated (levels
1-9) or stored (level 0). Python's zipfile, ``unzip`` and audmodel 1.5 read
it.

Speed comes from doing each byte's work once and on every core:

* ``"auto"`` compression deflates a sample of each file and stores files
  that would shrink by less than 8 % (float weights shrink by about 7 %),
  deflating the rest at level 1;
* the data of a stored file is copied by the kernel (``copy_file_range``)
  while a second thread computes its CRC-32;
* a large file to deflate is cut into chunks that are compressed in
  parallel, each primed with the 32 KiB before it, into one deflate stream
  (as pigz does);
* small files are read and compressed in parallel;
* the archive is written front to back, large entries followed by a data
  descriptor, so that its MD5 is computed while it is written;
* where the archive is to be kept on disk, its writing out to the disk is
  started every few megabytes while it is written (``sync_file_range`` on
  Linux), so that the ``fsync`` of a durable publication finds little left
  to do.

Extraction trusts nothing in the archive: every entry name is checked
before the first byte is written, so that no entry can land outside the
destination folder, and every entry's CRC-32 is verified. The central
directory's declared size is checked before it is parsed, and entries
whose data would overlap each other or the directory are refused, so that
a small archive cannot unpack one stretch of bytes many times over.

"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
import concurrent.futures
import contextlib
import dataclasses
import functools
import hashlib
import io
import itertools
import os
import posixpath
import shutil
import stat
import struct
import time
from typing import BinaryIO
import zipfile
import zlib


AUTO = "auto"
STORE_RATIO = 0.92  # a stored entry is then at most 9 % larger than deflated
SAMPLE_SIZE = 64 * 1024
LARGE = 4 * 1024 * 1024  # files from this size on are streamed, not buffered
CHUNK = 4 * 1024 * 1024
DEFLATE_CHUNK = 1024 * 1024
WINDOW = 32 * 1024
ZIP64_LIMIT = 0xFFFFFFFF  # from this size or offset on, ZIP64 fields are used
_MARKER = 0xFFFFFFFF  # a 32-bit field whose value is in the ZIP64 fields
WORKERS = max(2, min(8, os.cpu_count() or 2))
WRITE_BEHIND = 32 * 1024 * 1024  # bytes written before their writing out starts
_SYNC_FILE_RANGE_WRITE = 2  # from <fcntl.h>: start writing out, do not wait
BATCH = 64  # small files per task
COPY_BUFFER = 1024 * 1024
# Deflate cannot shrink data more than about 1032:1, so an entry that claims
# more is lying about its size: the mark of a ZIP bomb.
MAX_RATIO = 1100
MAX_ENTRIES = 1_000_000
# Central directory bytes one entry may take: its record (46 bytes), a name
# as long as a path may be, and extra fields.
MAX_DIRECTORY_ENTRY = 46 + 4096 + 1024

try:
    # ISA-L computes CRC-32 about 4 times as fast as zlib (on this project's
    # benchmark machine 15 against 3.3 GB/s) and inflates about 1.4 times as
    # fast; the results are the same. Its deflate, for "auto", is faster
    # still; its bytes differ from zlib's, which no reader of deflate minds.
    from isal.isal_zlib import compress as _isal_deflate
    from isal.isal_zlib import crc32
    from isal.isal_zlib import crc32_combine as _combine
    from isal.isal_zlib import decompressobj
except ImportError:  # pragma: no cover - a platform without isal's wheels
    from zlib import crc32
    from zlib import decompressobj  # type: ignore[assignment]

    _combine = _isal_deflate = None  # type: ignore[assignment]

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_END64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<IIQI")
_DESCRIPTOR = struct.Struct("<IIII")
_DESCRIPTOR64 = struct.Struct("<IIQQ")
_FLAG_DESCRIPTOR = 0x08
ALIGNMENT = 4096
_ALIGNMENT_EXTRA = 0xD935  # zipalign's extra field: alignment, then padding
_FLAG_UTF8 = 0x800


class ArchiveError(RuntimeError):
    r"""An archive is broken or holds entries that are refused."""


def list_files(root: str) -> list[str]:
    r"""Relative POSIX paths of all files below ``root``, sorted.

    Symbolic links to files inside ``root`` are followed,
    links to folders inside ``root`` are skipped,
    so that no file is packed more than once through them.
    Links that lead outside ``root`` (a link to ``/proc/self/environ``
    would pack the publisher's secrets), that lead nowhere or in a loop,
    and FIFOs, sockets and devices are refused.

    Args:
        root: model folder

    Returns:
        relative file paths

    Raises:
        ValueError: naming each refused entry

    """
    inside = os.path.realpath(root)
    files, refused = [], []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        rel = os.path.relpath(folder, root)
        for name in [*dirs, *names]:
            path = os.path.join(folder, name)
            reason = _refusal(path, inside, is_dir=name in dirs)
            if reason is not None:
                refused.append(f"'{path}' {reason}")
            elif name in names:
                relative = name if rel == "." else f"{rel}/{name}"
                files.append(relative.replace(os.sep, "/"))
    if refused:
        raise ValueError(
            "Refusing to publish the model folder: " + "; ".join(sorted(refused)) + "."
        )
    return sorted(files)


def _refusal(path: str, inside: str, is_dir: bool) -> str | None:
    r"""Why a folder entry cannot be packed, ``None`` if it can (or is skipped)."""
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        target = os.path.realpath(path)
        if os.path.commonpath([target, inside]) != inside:
            return f"is a link to '{target}', outside the model folder"
        if not os.path.exists(target):
            return "is a link that leads nowhere or in a loop"
        mode = os.stat(target).st_mode
    if stat.S_ISDIR(mode) or (stat.S_ISREG(mode) and not is_dir):
        return None
    return "is not a regular file (a FIFO, socket or device)"


def check_compression(compression: int | str) -> int | str:
    r"""Return ``compression`` if it is ``"auto"`` or a level from 0 to 9.

    Raises:
        ValueError: if it is neither

    """
    if compression != AUTO and (
        type(compression) is not int or not 0 <= compression <= 9
    ):
        raise ValueError(
            f"'compression' has to be between 0 and 9, not {compression!r}. "
            "It may also be 'auto'."
        )
    return compression


def create(
    root: str,
    dst_path: str,
    compression: int | str = AUTO,
    *,
    md5: bool = False,
    write_behind: bool = False,
) -> str | None:
    r"""Pack all files below ``root`` into the ZIP file ``dst_path``.

    Args:
        root: model folder
        dst_path: archive to create
        compression: ``"auto"``, or 0 to store and 1-9 to deflate every file
        md5: compute the archive's MD5 while writing it
        write_behind: start writing the archive out to the disk while it is
            written, for an archive that is to be kept and synced

    Returns:
        MD5 of the archive if ``md5`` is set, else ``None``

    Examples:
        >>> import pathlib, tempfile, zipfile
        >>> tmp = tempfile.mkdtemp()
        >>> _ = pathlib.Path(tmp, "model.txt").write_text("weights")
        >>> create(tmp, f"{tmp}.zip")
        >>> zipfile.ZipFile(f"{tmp}.zip").read("model.txt")
        b'weights'

    """
    check_compression(compression)
    files = list_files(root)
    with (
        open(dst_path, "wb") as out,
        concurrent.futures.ThreadPoolExecutor(WORKERS) as pool,
    ):
        writer = _Writer(
            out,
            hashlib.md5() if md5 else None,
            _sync_file_range() if write_behind else None,
        )
        for file, info, prepared in _prepare_small(root, files, compression, pool):
            path = os.path.join(root, *file.split("/"))
            if prepared is not None:
                writer.add_small(file, info, *prepared)
            elif _choose_level(path, compression) == 0:
                writer.add_large_stored(file, path, info, pool)
            else:
                writer.add_large_deflated(file, path, info, _level(compression), pool)
        writer.finish()
    return writer.md5.hexdigest() if writer.md5 is not None else None


def _level(compression: int | str) -> int:
    return compression if isinstance(compression, int) else 1


def _choose_level(path: str, compression: int | str) -> int:
    r"""Deflate level for a large file; 'auto' deflates samples to decide."""
    if isinstance(compression, int):
        return compression
    size = os.path.getsize(path)
    original = compressed = 0
    with open(path, "rb") as fp:
        for offset in (0, size // 2, max(0, size - SAMPLE_SIZE)):
            fp.seek(offset)
            sample = fp.read(SAMPLE_SIZE)
            original += len(sample)
            compressed += len(zlib.compress(sample, 1))
    return 0 if compressed > STORE_RATIO * original else 1


def _prepare_small(
    root: str,
    files: list[str],
    compression: int | str,
    pool: concurrent.futures.Executor,
) -> Iterator[tuple[str, os.stat_result, _Prepared | None]]:
    r"""Yield files in order with their stat and, for small ones, their entry data.

    Small files are read and compressed in the pool, in batches, a bounded
    number ahead, so memory stays bounded; large files yield ``None``.

    """

    def prepare(batch: list[str]) -> list[tuple[os.stat_result, _Prepared | None]]:
        return [
            _prepare_file(os.path.join(root, *f.split("/")), compression) for f in batch
        ]

    batches = [files[i : i + BATCH] for i in range(0, len(files), BATCH)]
    pending: deque = deque()
    for batch in batches:
        pending.append((batch, pool.submit(prepare, batch)))
        if len(pending) >= 2 * WORKERS:
            yield from _unbatch(*pending.popleft())
    while pending:
        yield from _unbatch(*pending.popleft())


def _unbatch(
    batch: list[str], future: concurrent.futures.Future
) -> Iterator[tuple[str, os.stat_result, _Prepared | None]]:
    for file, (info, prepared) in zip(batch, future.result(), strict=True):
        yield file, info, prepared


_Prepared = tuple[int, int, int, bytes]  # method, CRC, size, entry data


def _prepare_file(
    path: str, compression: int | str
) -> tuple[os.stat_result, _Prepared | None]:
    info = os.stat(path)
    if info.st_size >= LARGE:
        return info, None
    with open(path, "rb") as fp:
        data = fp.read()
    crc = crc32(data)
    if compression == 0:
        return info, (zipfile.ZIP_STORED, crc, len(data), data)
    if compression == AUTO and _isal_deflate is not None:
        # 'auto' asks for a fast deflate, no level: ISA-L's level 1 takes a
        # fifth of the time of zlib's on a 4 KiB file and is no larger.
        packed = _isal_deflate(data, 1, -15)
    else:
        compressor = zlib.compressobj(_level(compression), zlib.DEFLATED, -15)
        packed = compressor.compress(data) + compressor.flush()
    if compression == AUTO and len(packed) > STORE_RATIO * len(data):
        return info, (zipfile.ZIP_STORED, crc, len(data), data)
    return info, (zipfile.ZIP_DEFLATED, crc, len(data), packed)


@dataclasses.dataclass
class _Entry:
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


class _Writer:
    r"""Writes a ZIP file front to back, hashing what it writes if asked."""

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
        self.entries: list[_Entry] = []
        # Headers and small files are gathered, so that writing and hashing
        # take one call per megabyte rather than several per file.
        self._pending = bytearray()

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
        if self.sync_range is None or end - self.written_out < WRITE_BEHIND:
            return
        # Bytes still in the file object's buffer are left to the fsync.
        self.sync_range(
            self.out.fileno(),
            self.written_out,
            end - self.written_out,
            _SYNC_FILE_RANGE_WRITE,
        )
        self.written_out = end

    def _entry(
        self, name: str, info: os.stat_result, method: int, flags: int
    ) -> _Entry:
        year, month, day, hour, minute, second = time.localtime(info.st_mtime)[:6]
        year = min(max(year, 1980), 2107)
        encoded = name.encode("utf-8")
        if not name.isascii():
            flags |= _FLAG_UTF8
        entry = _Entry(
            name=encoded,
            flags=flags,
            method=method,
            dostime=(hour << 11) | (minute << 5) | (second // 2),
            dosdate=((year - 1980) << 9) | (month << 5) | day,
            mode=stat.S_IFREG | stat.S_IMODE(info.st_mode),
            offset=self.position,
        )
        self.entries.append(entry)
        return entry

    def _local_header(self, entry: _Entry, zip64: bool, align: bool = False) -> None:
        extra = struct.pack("<HHQQ", 1, 16, entry.size, entry.csize) if zip64 else b""
        if align:
            # Data on a block boundary is copied faster by the kernel, here
            # and when unpacking; readers skip the unknown extra field.
            start = self.position + _LOCAL.size + len(entry.name) + len(extra) + 6
            padding = -start % ALIGNMENT
            extra += struct.pack("<HHH", _ALIGNMENT_EXTRA, 2 + padding, ALIGNMENT)
            extra += bytes(padding)
        sizes = (_MARKER, _MARKER) if zip64 else (entry.csize, entry.size)
        self._write(
            _LOCAL.pack(
                0x04034B50,
                45 if zip64 else 20,
                entry.flags,
                entry.method,
                entry.dostime,
                entry.dosdate,
                entry.crc,
                *sizes,
                len(entry.name),
                len(extra),
            )
            + entry.name
            + extra
        )

    def add_small(
        self,
        name: str,
        info: os.stat_result,
        method: int,
        crc: int,
        size: int,
        data: bytes,
    ) -> None:
        entry = self._entry(name, info, method, 0)
        entry.crc, entry.size, entry.csize = crc, size, len(data)
        self._local_header(entry, zip64=False)
        self._write(data)

    def add_large_stored(
        self,
        name: str,
        path: str,
        info: os.stat_result,
        pool: concurrent.futures.Executor,
    ) -> None:
        entry = self._entry(name, info, zipfile.ZIP_STORED, _FLAG_DESCRIPTOR)
        entry.size = entry.csize = info.st_size
        zip64 = entry.size >= ZIP64_LIMIT
        self._local_header(entry, zip64, align=True)
        self._flush()
        self.out.flush()
        with open(path, "rb") as src:
            copy = pool.submit(
                _copy_range,
                src.fileno(),
                0,
                self.out.fileno(),
                self.position,
                entry.size,
                self._write_out if self.sync_range else None,
            )
            # Kernel copy, CRC-32 and MD5 each take a thread, so the slowest
            # of them (the MD5) sets the pace; the MD5 stays in file order.
            crc = pool.submit(_crc_of_range, src.fileno(), 0, entry.size)
            if self.md5 is not None:
                _read_range(src.fileno(), 0, entry.size, self.md5.update)
            copy.result()
            entry.crc = crc.result()
        self.position += entry.size
        self.out.seek(self.position)
        self._descriptor(entry, zip64)

    def add_large_deflated(
        self,
        name: str,
        path: str,
        info: os.stat_result,
        level: int,
        pool: concurrent.futures.Executor,
    ) -> None:
        entry = self._entry(name, info, zipfile.ZIP_DEFLATED, _FLAG_DESCRIPTOR)
        entry.size = info.st_size
        zip64 = entry.size >= ZIP64_LIMIT - DEFLATE_CHUNK
        self._local_header(entry, zip64)
        start = self.position
        with open(path, "rb") as src:
            crc = pool.submit(_crc_of_range, src.fileno(), 0, entry.size)
            for chunk in _deflate_parallel(path, level, pool):
                self._write(chunk)
            entry.crc = crc.result()
        entry.csize = self.position - start
        self._descriptor(entry, zip64)

    def _descriptor(self, entry: _Entry, zip64: bool) -> None:
        layout = _DESCRIPTOR64 if zip64 else _DESCRIPTOR
        self._write(layout.pack(0x08074B50, entry.crc, entry.csize, entry.size))

    def finish(self) -> None:
        start = self.position
        for entry in self.entries:
            self._central_header(entry)
        size = self.position - start
        count = len(self.entries)
        if count >= 0xFFFF or start >= ZIP64_LIMIT or size >= ZIP64_LIMIT:
            end64 = self.position
            self._write(
                _END64.pack(0x06064B50, 44, 45, 45, 0, 0, count, count, size, start)
            )
            self._write(_LOCATOR64.pack(0x07064B50, 0, end64, 1))
            count, size, start = 0xFFFF, _MARKER, _MARKER
        self._write(_END.pack(0x06054B50, 0, 0, count, count, size, start, 0))
        self._flush()

    def _central_header(self, entry: _Entry) -> None:
        values = []
        size, csize, offset = entry.size, entry.csize, entry.offset
        if size >= ZIP64_LIMIT:
            values.append(size)
            size = _MARKER
        if csize >= ZIP64_LIMIT:
            values.append(csize)
            csize = _MARKER
        if offset >= ZIP64_LIMIT:
            values.append(offset)
            offset = _MARKER
        extra = (
            struct.pack(f"<HH{len(values)}Q", 1, 8 * len(values), *values)
            if values
            else b""
        )
        version = 45 if values else 20
        self._write(
            _CENTRAL.pack(
                0x02014B50,
                (3 << 8) | version,
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
                0,
                0,
                0,
                entry.mode << 16,
                offset,
            )
            + entry.name
            + extra
        )


def _deflate_parallel(
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
            if len(pending) >= 2 * WORKERS:
                yield pending.popleft().result()
            if not following:
                break
            chunk = following
    while pending:
        yield pending.popleft().result()


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    r"""Linux's ``sync_file_range`` from the C library, or ``None`` elsewhere.

    Python's ``os`` lacks it; ``fsync`` would wait, where this only starts
    the writing out and returns.

    """
    import ctypes  # only here: importing it takes milliseconds

    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (AttributeError, OSError, TypeError):  # not Linux, or no C library
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def _read_range(
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


def _crc_of_range(fd: int, offset: int, size: int) -> int:
    r"""CRC-32 of a byte range of a file."""
    crc = 0

    def update(chunk: memoryview) -> None:
        nonlocal crc
        crc = crc32(chunk, crc)

    _read_range(fd, offset, size, update)
    return crc


def _copy_range(
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


# --- extraction -------------------------------------------------------------------


@dataclasses.dataclass
class RemoteArchive:
    r"""An archive read by byte ranges, e.g. from S3, for :func:`extract`.

    Args:
        read: gives bytes ``start`` to ``end`` of the archive;
            called from several threads at once
        stream: yields bytes ``start`` to ``end`` in pieces as they arrive;
            called from several threads at once
        entries: the archive's entries, from :func:`read_directory`
        directory: where the central directory begins
        workers: ranges read at once
        part: fewest bytes per range when a large entry is split

    """

    read: Callable[[int, int], bytes]
    stream: Callable[[int, int], Iterable[bytes]]
    entries: list[zipfile.ZipInfo]
    directory: int
    workers: int = 8
    part: int = CHUNK


def extract(source: str | RemoteArchive, dst_root: str) -> list[zipfile.ZipInfo]:
    r"""Unpack an archive into the folder ``dst_root``.

    All entries are checked first (see :func:`check_entries`)
    and the free disk space against their total size,
    so a refused archive writes nothing.
    Entries are unpacked in parallel;
    every entry's size and CRC-32 is verified.
    A :class:`RemoteArchive` is unpacked while it is read:
    parts of large entries and runs of small ones are fetched in parallel,
    and each is written as it arrives.

    Args:
        source: path of the archive, or an archive read by ranges
        dst_root: empty or new folder

    Returns:
        the entries of the extracted files, with their sizes and CRC-32s

    Raises:
        ArchiveError: if the archive is broken or has a refused entry

    Examples:
        >>> import pathlib, tempfile
        >>> tmp = tempfile.mkdtemp()
        >>> _ = pathlib.Path(tmp, "model.txt").write_text("weights")
        >>> create(tmp, f"{tmp}.zip")
        >>> [e.filename for e in extract(f"{tmp}.zip", f"{tmp}-unpacked")]
        ['model.txt']

    """
    os.makedirs(dst_root, exist_ok=True)
    try:
        if isinstance(source, RemoteArchive):
            _prepare_destination(source.entries, dst_root)
            _extract_remote(source, dst_root)
            entries = source.entries
        else:
            with _open_local(source) as archive:
                entries = archive.infolist()
                _prepare_destination(entries, dst_root)
                _extract_local(source, entries, dst_root)
    except zipfile.BadZipFile as ex:
        raise ArchiveError(f"The archive is broken: {ex}.") from None
    except (EOFError, zipfile.LargeZipFile, NotImplementedError) as ex:
        raise ArchiveError(f"The archive cannot be read: {ex}.") from None
    return [entry for entry in entries if not entry.is_dir()]


def _prepare_destination(entries: list[zipfile.ZipInfo], dst_root: str) -> None:
    r"""Refuse unsafe entries and a lack of space; make every folder once."""
    check_entries(entries)
    _check_space(entries, dst_root)
    folders = {
        entry.filename.rstrip("/")
        if entry.is_dir()
        else posixpath.dirname(entry.filename)
        for entry in entries
    }
    for folder in sorted(folders - {""}):
        os.makedirs(os.path.join(dst_root, *folder.split("/")), exist_ok=True)


def check_entries(entries: list[zipfile.ZipInfo]) -> list[str]:
    r"""Refuse entries that could write outside the destination.

    Refused are absolute paths, drive letters, backslashes, ``.`` and
    ``..`` parts, empty parts, symbolic links, names given twice,
    compression methods other than stored and deflated,
    sizes that deflate cannot reach (more than 1100:1),
    and more than a million entries.

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


def verify(path: str) -> None:
    r"""Read every entry of an archive and check its CRC-32.

    Args:
        path: archive

    Raises:
        ArchiveError: naming what is wrong

    """
    try:
        with _open_local(path) as archive:
            for entry in archive.infolist():
                # zipfile checks the CRC-32 when an entry is read to its end.
                with archive.open(entry) as data:
                    while data.read(COPY_BUFFER):
                        pass
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as ex:
        raise ArchiveError(f"The archive is broken: {ex}") from None


def _open_local(path: str) -> zipfile.ZipFile:
    r"""Open a local archive whose end record and entries pass the checks.

    Raises:
        ArchiveError: if the archive is broken or refused

    """
    with open(path, "rb") as fp:
        size = fp.seek(0, os.SEEK_END)
        fp.seek(max(0, size - TAIL))
        _check_end_record(fp.read(), size)
    try:
        archive = zipfile.ZipFile(path)
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


def _check_end_record(tail: bytes, size: int) -> None:
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
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _END.size:
        return  # no end record: zipfile says the archive is broken
    _, _, _, _, count, directory_size, _, _ = _END.unpack_from(tail, at)
    locator = at - _LOCATOR64.size
    if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        record = _LOCATOR64.unpack_from(tail, locator)[2] - (size - len(tail))
        if 0 <= record <= len(tail) - _END64.size:
            fields = _END64.unpack_from(tail, record)
            count, directory_size = fields[7], fields[8]
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
    ends = [entry.header_offset for entry in ordered[1:]] + [directory]
    for entry, end in zip(ordered, ends, strict=True):
        if entry.header_offset < 0:
            # zipfile shifts offsets by where it finds the directory.
            raise ArchiveError(
                f"The archive is broken: entry '{entry.filename}' would lie "
                "before its start."
            )
        if entry.header_offset + _LOCAL.size + entry.compress_size > end:
            raise ArchiveError(
                f"Refusing archive entry '{entry.filename}': its data overlaps "
                "the next entry or the central directory."
            )


def file_crc32(path: str) -> int:
    r"""CRC-32 of a file, as a ZIP archive stores it."""
    with open(path, "rb") as fp:
        return _crc_of_range(fp.fileno(), 0, os.fstat(fp.fileno()).st_size)


def _unsafe_name_reason(name: str) -> str | None:
    if not name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "it is not a relative path"
    if "\\" in name or "\x00" in name:
        return "it has a backslash or NUL character"
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "it has an empty, '.' or '..' part"
    return None


def _unsafe_size_reason(entry: zipfile.ZipInfo) -> str | None:
    if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return f"compression method {entry.compress_type} is not supported"
    if entry.compress_type == zipfile.ZIP_STORED:
        if entry.compress_size != entry.file_size:
            return "it is stored, but its sizes differ"
    elif entry.file_size > MAX_RATIO * max(entry.compress_size, 1):
        return (
            f"it claims to unpack {entry.compress_size} bytes to {entry.file_size}, "
            "more than deflate can (a ZIP bomb)"
        )
    return None


def _check_space(entries: list[zipfile.ZipInfo], dst_root: str) -> None:
    # Sizes are declared by the archive; no entry is ever written beyond its
    # declared size, so this bound holds for a ZIP bomb too.
    needed = sum(entry.file_size for entry in entries)
    free = shutil.disk_usage(dst_root).free
    if needed > free:
        raise ArchiveError(
            f"The archive unpacks to {needed} bytes, "
            f"but only {free} bytes are free in '{dst_root}'."
        )


def _extract_local(
    src_path: str, entries: list[zipfile.ZipInfo], dst_root: str
) -> None:
    # Entry tasks wait for copies; copies wait for nothing. Two pools,
    # so that waiting entry tasks can never hold every worker.
    with (
        open(src_path, "rb") as raw,
        concurrent.futures.ThreadPoolExecutor(WORKERS) as pool,
        concurrent.futures.ThreadPoolExecutor(WORKERS) as copiers,
    ):
        fd = raw.fileno()

        def read(offset: int, size: int) -> bytes:
            return os.pread(fd, size, offset)

        small = [e for e in entries if not e.is_dir() and e.file_size < LARGE]
        large = [e for e in entries if not e.is_dir() and e.file_size >= LARGE]
        jobs = [
            pool.submit(_extract_small, read, small[i : i + BATCH], dst_root)
            for i in range(0, len(small), BATCH)
        ]
        jobs += [
            pool.submit(_extract_large_local, read, fd, entry, dst_root, copiers)
            for entry in large
        ]
        for job in jobs:
            job.result()


def _extract_remote(source: RemoteArchive, dst_root: str) -> None:
    r"""Unpack an archive read by ranges, each byte read once.

    Small entries next to each other are read in runs of up to
    :data:`CHUNK` bytes; large entries stream in
    (see :func:`_extract_large_remote`), so memory stays bounded.

    """
    files = sorted(
        (e for e in source.entries if not e.is_dir()), key=lambda e: e.header_offset
    )
    ends = [e.header_offset for e in files[1:]] + [source.directory]
    # The fetchers serve all large stored entries at once, so each gets its
    # share of them: more ranges would not read faster, only cost requests.
    stored = sum(e.compress_size for e in files if _split(e)) or 1
    with (
        concurrent.futures.ThreadPoolExecutor(WORKERS) as pool,
        concurrent.futures.ThreadPoolExecutor(source.workers) as fetchers,
    ):
        jobs, run = [], []
        # A run holds entries lying next to each other, from the header of
        # the first to the header of the entry after the last. Runs are cut
        # by bytes alone: each costs a request, and creating the files, not
        # reading them, is what takes the time.
        for entry, end in zip(files, ends, strict=True):
            if entry.file_size < LARGE:
                run.append(entry)
            if run and (
                entry.file_size >= LARGE
                or end - run[0].header_offset >= CHUNK
                or entry is files[-1]
            ):
                stop = entry.header_offset if entry.file_size >= LARGE else end
                jobs.append(fetchers.submit(_extract_run, source, run, stop, dst_root))
                run = []
            if entry.file_size >= LARGE:
                share = round(source.workers * entry.compress_size / stored)
                jobs.append(
                    pool.submit(
                        _extract_large_remote,
                        source,
                        entry,
                        end,
                        dst_root,
                        fetchers,
                        share,
                    )
                )
        for job in jobs:
            job.result()


def _extract_run(
    source: RemoteArchive, entries: list[zipfile.ZipInfo], end: int, dst_root: str
) -> None:
    r"""Read small entries lying next to each other at once, and unpack them."""
    start = entries[0].header_offset
    data = memoryview(source.read(start, end)) if end > start else memoryview(b"")

    def read(offset: int, size: int) -> bytes:
        return bytes(data[offset - start : offset - start + size])

    _extract_small(read, entries, dst_root)


def _extract_small(
    read: Callable[[int, int], bytes], entries: list[zipfile.ZipInfo], dst_root: str
) -> None:
    r"""Unpack small entries in memory.

    The output is bounded by the declared size and its CRC-32 checked.

    """
    for entry in entries:
        offset = _data_offset(read, entry)
        data = read(offset, entry.compress_size)
        if len(data) != entry.compress_size:
            raise ArchiveError(f"Entry '{entry.filename}' is cut short.")
        if entry.compress_type == zipfile.ZIP_DEFLATED:
            inflater = decompressobj(-15)
            try:
                data = inflater.decompress(data, entry.file_size + 1)
            except Exception as ex:  # zlib.error or isal's error
                raise ArchiveError(
                    f"Entry '{entry.filename}' is broken: {ex}"
                ) from None
        if len(data) != entry.file_size or crc32(data) != entry.CRC:
            raise ArchiveError(f"Bad CRC-32 for file '{entry.filename}'")
        # O_EXCL refuses to follow or replace anything already at the target.
        out = os.open(
            _target(dst_root, entry), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666
        )
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(out, view) :]
        finally:
            os.close(out)


def _target(dst_root: str, entry: zipfile.ZipInfo) -> str:
    return os.path.join(dst_root, *entry.filename.split("/"))


def _extract_large_local(
    read: Callable[[int, int], bytes],
    src: int,
    entry: zipfile.ZipInfo,
    dst_root: str,
    pool: concurrent.futures.Executor,
) -> None:
    offset = _data_offset(read, entry)
    # 'x' refuses to follow or replace anything already at the target.
    with open(_target(dst_root, entry), "xb") as dst:
        if entry.compress_type == zipfile.ZIP_STORED:
            # check_entries has refused stored entries whose two sizes differ.
            copy = pool.submit(
                _copy_range, src, offset, dst.fileno(), 0, entry.file_size
            )
            crc = _crc_of_range(src, offset, entry.file_size)
            copy.result()
            _check_crc(entry, crc)
        else:
            parts = (
                read(start, min(CHUNK, offset + entry.compress_size - start))
                for start in range(offset, offset + entry.compress_size, CHUNK)
            )
            _inflate(parts, entry, dst)


def _split(entry: zipfile.ZipInfo) -> bool:
    r"""Whether an entry is read in parallel ranges when read remotely."""
    return entry.file_size >= LARGE and entry.compress_type == zipfile.ZIP_STORED


def _extract_large_remote(
    source: RemoteArchive,
    entry: zipfile.ZipInfo,
    limit: int,
    dst_root: str,
    fetchers: concurrent.futures.Executor,
    share: int,
) -> None:
    r"""Unpack a large entry as its data streams in.

    The first stream starts at the entry's local header, which is checked
    as it arrives: a separate request for it would cost as much as a
    range on stores that read each range from the start. Where the data
    ends is known only then, so streams reach to ``limit``, the next
    entry's header (or the central directory), and what lies past the
    data (a data descriptor) is dropped.
    A stored entry is split into up to ``share`` ranges (at least one, each
    of at least ``source.part`` bytes) streamed in parallel, each written at
    its place; a deflated one is one stream, inflated in order.

    """
    first = entry.header_offset
    with open(_target(dst_root, entry), "xb") as dst:
        if entry.compress_type == zipfile.ZIP_DEFLATED:
            _, pieces = _after_local_header(source.stream(first, limit), entry)
            _inflate(pieces, entry, dst)
            return
        # The first range holds the local header, whatever the part size.
        part = max(source.part, _LOCAL.size + 2 * 0xFFFF)
        count = max(1, min(share, (limit - first) // part))
        step = -(-(limit - first) // count)
        ranges = [
            (start, min(start + step, limit)) for start in range(first, limit, step)
        ]
        fd = dst.fileno()
        data_offset: concurrent.futures.Future = concurrent.futures.Future()

        def stream_into_place(start: int, stop: int) -> tuple[int, int]:
            pieces = source.stream(start, stop)
            if start == first:
                try:
                    offset, pieces = _after_local_header(pieces, entry)
                except BaseException as ex:
                    _settle(data_offset, exception=ex)
                    raise
                _settle(data_offset, result=offset)
                start = offset
            else:
                offset = data_offset.result()
            end = offset + entry.compress_size
            crc = length = 0
            position = start
            for piece in pieces:
                # Only the entry's data, from where it begins to where it ends.
                low, high = max(position, offset), min(position + len(piece), end)
                if low < high:
                    data = piece[low - position : high - position]
                    _write_at(fd, data, low - offset)
                    crc = crc32(data, crc)
                    length += high - low
                position += len(piece)
                if position >= stop:
                    break
            if position < min(stop, end):
                raise ArchiveError(f"Entry '{entry.filename}' is cut short.")
            return crc, length

        jobs = [fetchers.submit(stream_into_place, *range_) for range_ in ranges]
        try:
            crc = length = 0
            for job in jobs:
                part_crc, part_length = job.result()
                crc = _crc_combine(crc, part_crc, part_length)
                length += part_length
        finally:
            # After a failure: no more reads, and none still writing once
            # the file is closed; none waiting for a header never read.
            for job in jobs:
                job.cancel()
            _settle(data_offset, exception=ArchiveError("Unpacking was stopped."))
            concurrent.futures.wait(jobs)
        if length != entry.compress_size:
            raise ArchiveError(f"Entry '{entry.filename}' is cut short.")
        _check_crc(entry, crc)


def _settle(
    future: concurrent.futures.Future,
    result: object = None,
    exception: BaseException | None = None,
) -> None:
    r"""Give a future its result or exception, unless it has one already."""
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        if exception is None:
            future.set_result(result)
        else:
            future.set_exception(exception)


def _write_at(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        count = os.pwrite(fd, view, offset)
        view, offset = view[count:], offset + count


def _crc_combine(crc: int, part_crc: int, size: int) -> int:
    r"""CRC-32 of two byte strings joined, from the CRC-32 of each."""
    if _combine is not None:
        return _combine(crc, part_crc, size)
    # zlib's crc32_combine is not exposed to Python: feed the part's
    # CRC register through zeros instead (the CRC is linear).
    return crc32(bytes(size), crc) ^ crc32(bytes(size)) ^ part_crc


def _check_crc(entry: zipfile.ZipInfo, crc: int) -> None:
    if crc != entry.CRC:
        raise ArchiveError(f"Bad CRC-32 for file '{entry.filename}'")


def _inflate(parts: Iterable[bytes], entry: zipfile.ZipInfo, dst: BinaryIO) -> None:
    r"""Inflate the data of a deflated entry into ``dst``, checking size and CRC-32.

    Never more than the declared size is written.
    Writing runs in a thread of its own, beside inflating.

    """
    inflater = decompressobj(-15)
    crc, written = 0, 0
    with concurrent.futures.ThreadPoolExecutor(1) as writer:
        pending: deque = deque()
        for part in parts:
            data = part
            while data:
                try:
                    out = inflater.decompress(data, entry.file_size - written + 1)
                except Exception as ex:  # zlib.error or isal's error
                    raise ArchiveError(
                        f"Entry '{entry.filename}' is broken: {ex}"
                    ) from None
                written += len(out)
                if written > entry.file_size:
                    break
                crc = crc32(out, crc)
                pending.append(writer.submit(dst.write, out))
                if len(pending) > 2:
                    pending.popleft().result()
                data = inflater.unconsumed_tail
            if written > entry.file_size or inflater.eof:
                break
        for job in pending:
            job.result()
    if written != entry.file_size:
        raise ArchiveError(f"Bad CRC-32 for file '{entry.filename}'")
    _check_crc(entry, crc)


def _data_offset(read: Callable[[int, int], bytes], entry: zipfile.ZipInfo) -> int:
    r"""Where an entry's data begins, from its local header."""
    header = read(entry.header_offset, _LOCAL.size)
    name_length, extra_length = _local_header_lengths(header, entry)
    _check_local_name(read(entry.header_offset + _LOCAL.size, name_length), entry)
    return entry.header_offset + _LOCAL.size + name_length + extra_length


def _after_local_header(
    pieces: Iterable[bytes], entry: zipfile.ZipInfo
) -> tuple[int, Iterator[bytes]]:
    r"""Check the local header at the start of a stream; skip past it.

    Returns:
        where the entry's data begins, and the stream from there on

    """
    pieces = iter(pieces)
    received = bytearray()

    def receive(count: int) -> None:
        while len(received) < count:
            piece = next(pieces, None)
            if piece is None:
                raise ArchiveError(f"Entry '{entry.filename}' is cut short.")
            received.extend(piece)

    receive(_LOCAL.size)
    name_length, extra_length = _local_header_lengths(
        bytes(received[: _LOCAL.size]), entry
    )
    size = _LOCAL.size + name_length + extra_length
    receive(size)
    _check_local_name(bytes(received[_LOCAL.size : _LOCAL.size + name_length]), entry)
    rest = bytes(received[size:])
    return entry.header_offset + size, itertools.chain([rest] if rest else [], pieces)


def _local_header_lengths(header: bytes, entry: zipfile.ZipInfo) -> tuple[int, int]:
    r"""The name's and the extra field's lengths in a local header."""
    if len(header) != _LOCAL.size or header[:4] != b"PK\x03\x04":
        raise ArchiveError(f"Entry '{entry.filename}' has no valid local header.")
    fields = _LOCAL.unpack(header)
    return fields[9], fields[10]


def _check_local_name(name: bytes, entry: zipfile.ZipInfo) -> None:
    encoding = "utf-8" if entry.flag_bits & _FLAG_UTF8 else "cp437"
    if name.decode(encoding, "replace") != entry.orig_filename:
        raise ArchiveError(
            f"Entry '{entry.filename}' has another name in its local header."
        )


# --- the files of an archive, from its central directory ---------------------

# The end-of-central-directory record and the largest comment it may carry;
# ZIP64 adds a locator (20 bytes) and its own record (56 bytes) before it.
TAIL = _END.size + 0xFFFF + 20 + 56


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
    _check_end_record(tail, size)
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
