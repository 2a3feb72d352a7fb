"""Unpacking an archive, local or read by byte ranges, in parallel.

Extraction trusts nothing in the archive: every entry is checked by
:mod:`._checks` before the first byte is written, each file is created
exclusively, never more than an entry's declared size is written, and
every entry's CRC-32 is verified. A remote archive is unpacked while it
is read: runs of small entries and parts of large ones are fetched in
parallel and written as they arrive.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
import concurrent.futures
import contextlib
import dataclasses
import functools
import itertools
import os
import posixpath
from typing import BinaryIO
import zipfile

from audmodel._archive._bytes import BATCH
from audmodel._archive._bytes import CHUNK
from audmodel._archive._bytes import LARGE
from audmodel._archive._bytes import copy_range
from audmodel._archive._bytes import crc32
from audmodel._archive._bytes import crc_combine
from audmodel._archive._bytes import crc_of_range
from audmodel._archive._bytes import decompressobj
from audmodel._archive._checks import check_entries
from audmodel._archive._checks import check_space
from audmodel._archive._checks import entry_ends
from audmodel._archive._directory import open_local
from audmodel._archive._zip import LOCAL
from audmodel._archive._zip import ArchiveError
from audmodel._archive._zip import check_local_name
from audmodel._archive._zip import local_header_lengths
from audmodel._files import Tree
from audmodel._threads import CPU_WORKERS
from audmodel._threads import RANGE_READS


RECORDED_EVERY = 1024 * 1024
r"""Bytes of a large stored entry written between two records of its progress."""


@dataclasses.dataclass(frozen=True)
class Resume:
    r"""What an interrupted unpacking left, and how this one records its own.

    Args:
        skip: names of entries whose files are whole: not read, their
            files left as they are
        done: called with each entry once its file is written and its
            CRC-32 checked, from several threads at once
        written: of large stored entries written in part, where the data
            begins in the archive and the byte ranges of the data (from
            its start) that the file holds, each checked by its CRC-32
        wrote: called with an entry, where its data begins, and a byte
            range of its data now in its file with the range's CRC-32,
            from several threads at once

    """

    skip: frozenset[str] = frozenset()
    done: Callable[[zipfile.ZipInfo], None] | None = None
    written: Mapping[str, tuple[int, list[tuple[int, int]]]] = dataclasses.field(
        default_factory=dict
    )
    wrote: Callable[[zipfile.ZipInfo, int, int, int, int], None] | None = None


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
        resume: what an interrupted load left, and how to record this one

    """

    read: Callable[[int, int], bytes]
    stream: Callable[[int, int], Iterable[bytes]]
    entries: list[zipfile.ZipInfo]
    directory: int
    workers: int = RANGE_READS
    part: int = CHUNK
    resume: Resume = Resume()

    @property
    def skip(self) -> frozenset[str]:
        r"""Names of entries not to read."""
        return self.resume.skip

    @property
    def done(self) -> Callable[[zipfile.ZipInfo], None] | None:
        r"""What to call with each entry unpacked."""
        return self.resume.done


def extract(
    source: str | RemoteArchive,
    dst_root: str,
    update: Callable[[int], object] | None = None,
    resume: Resume | None = None,
) -> list[zipfile.ZipInfo]:
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
        update: called with the stored size of each run of entries
            unpacked from a local archive, for a progress bar
        resume: of a local archive, what an interrupted unpacking left
            and how to record this one (a remote archive holds its own)

    Returns:
        the entries of the extracted files, with their sizes and CRC-32s

    Raises:
        ArchiveError: if the archive is broken or has a refused entry

    Examples:
        >>> import pathlib, tempfile
        >>> tmp = tempfile.mkdtemp()
        >>> _ = pathlib.Path(tmp, "model.txt").write_text("weights")
        >>> from audmodel._archive import create
        >>> create(tmp, f"{tmp}.zip")
        >>> [e.filename for e in extract(f"{tmp}.zip", f"{tmp}-unpacked")]
        ['model.txt']

    """
    # Not writable by others: nobody can plant a link in it while it fills.
    os.makedirs(dst_root, 0o755, exist_ok=True)
    try:
        with Tree(dst_root) as tree:
            if isinstance(source, RemoteArchive):
                kept = source.skip | source.resume.written.keys()
                _prepare_destination(source.entries, tree, source.skip, kept)
                _extract_remote(source, tree)
                entries = source.entries
            else:
                resume = resume or Resume()
                with open_local(source) as archive:
                    entries = archive.infolist()
                    kept = resume.skip | resume.written.keys()
                    _prepare_destination(entries, tree, resume.skip, kept)
                    chosen = [e for e in entries if e.filename not in resume.skip]
                    _extract_local(source, chosen, tree, update, resume)
    except zipfile.BadZipFile as ex:
        raise ArchiveError(f"The archive is broken: {ex}.") from None
    except (EOFError, zipfile.LargeZipFile, NotImplementedError) as ex:
        raise ArchiveError(f"The archive cannot be read: {ex}.") from None
    return [entry for entry in entries if not entry.is_dir()]


def _prepare_destination(
    entries: list[zipfile.ZipInfo],
    tree: Tree,
    skip: frozenset[str] = frozenset(),
    kept: frozenset[str] | None = None,
) -> None:
    r"""Refuse unsafe entries and a lack of space; make every folder once.

    A file of an entry not in ``kept`` (by default ``skip``) that is there
    already (cut short by an interrupted load) is removed, so that it is
    written anew.

    """
    kept = skip if kept is None else kept
    check_entries(entries)
    check_space([e for e in entries if e.filename not in skip], tree.path)
    folders = {
        entry.filename.rstrip("/")
        if entry.is_dir()
        else posixpath.dirname(entry.filename)
        for entry in entries
    }
    for folder in sorted(folders - {""}):
        tree.folder(folder)
    if skip:
        for entry in entries:
            if not entry.is_dir() and entry.filename not in kept:
                tree.remove(entry.filename)


def _extract_local(
    src_path: str,
    entries: list[zipfile.ZipInfo],
    tree: Tree,
    update: Callable[[int], object] | None = None,
    resume: Resume = Resume(),
) -> None:
    # Entry tasks wait for copies; copies wait for nothing. Two pools,
    # so that waiting entry tasks can never hold every worker.
    with (
        open(src_path, "rb") as raw,
        concurrent.futures.ThreadPoolExecutor(CPU_WORKERS) as pool,
        concurrent.futures.ThreadPoolExecutor(CPU_WORKERS) as copiers,
    ):
        fd = raw.fileno()

        def read(offset: int, size: int) -> bytes:
            return os.pread(fd, size, offset)

        small = [e for e in entries if not e.is_dir() and e.file_size < LARGE]
        large = [e for e in entries if not e.is_dir() and e.file_size >= LARGE]
        batches = [small[i : i + BATCH] for i in range(0, len(small), BATCH)]
        jobs = [
            pool.submit(_extract_small, read, batch, tree, resume.done)
            for batch in batches
        ]
        jobs += [
            pool.submit(_extract_large_local, read, fd, entry, tree, copiers, resume)
            for entry in large
        ]
        if update is not None:
            sizes = [sum(e.compress_size for e in batch) for batch in batches]
            sizes += [entry.compress_size for entry in large]
            for job, size in zip(jobs, sizes, strict=True):
                job.add_done_callback(functools.partial(_report, update, size))
        _wait_all(jobs)


def _report(update: Callable[[int], object], size: int, _: object) -> None:
    update(size)


def _extract_remote(source: RemoteArchive, tree: Tree) -> None:
    r"""Unpack an archive read by ranges, each byte read once.

    Small entries next to each other are read in runs of up to
    :data:`CHUNK` bytes; large entries stream in
    (see :func:`_extract_large_remote`), so memory stays bounded.

    """
    every = sorted(
        (e for e in source.entries if not e.is_dir()), key=lambda e: e.header_offset
    )
    # Where each entry ends is where the next one begins, unpacked or not.
    ends_of = dict(
        zip(
            (e.filename for e in every),
            entry_ends(every, source.directory),
            strict=True,
        )
    )
    files = [e for e in every if e.filename not in source.skip]
    ends = [ends_of[e.filename] for e in files]
    # The fetchers serve all large stored entries at once, so each gets its
    # share of them: more ranges would not read faster, only cost requests.
    stored = sum(e.compress_size for e in files if _split(e)) or 1
    with (
        concurrent.futures.ThreadPoolExecutor(CPU_WORKERS) as pool,
        concurrent.futures.ThreadPoolExecutor(source.workers) as fetchers,
    ):
        jobs, run = [], []
        # A run holds entries lying next to each other, from the header of
        # the first to the header of the entry after the last. Runs are cut
        # by bytes alone: each costs a request, and creating the files, not
        # reading them, is what takes the time.
        for index, (entry, end) in enumerate(zip(files, ends, strict=True)):
            if entry.file_size < LARGE:
                run.append(entry)
            # A run holds entries lying next to each other only.
            gap = index + 1 < len(files) and files[index + 1].header_offset != end
            if run and (
                entry.file_size >= LARGE
                or end - run[0].header_offset >= CHUNK
                or entry is files[-1]
                or gap
            ):
                stop = entry.header_offset if entry.file_size >= LARGE else end
                jobs.append(fetchers.submit(_extract_run, source, run, stop, tree))
                run = []
            if entry.file_size >= LARGE:
                share = round(source.workers * entry.compress_size / stored)
                jobs.append(
                    pool.submit(
                        _extract_large_remote,
                        source,
                        entry,
                        end,
                        tree,
                        fetchers,
                        share,
                    )
                )
        _wait_all(jobs)


def _wait_all(jobs: list[concurrent.futures.Future]) -> None:
    r"""Wait for every job; at the first that fails, cancel those not begun.

    So that an interrupted unpacking (an error, Ctrl+C) stops soon instead
    of working through all that was planned.

    """
    try:
        for job in jobs:
            job.result()
    except BaseException:
        for job in jobs:
            job.cancel()
        raise


def _extract_run(
    source: RemoteArchive, entries: list[zipfile.ZipInfo], end: int, tree: Tree
) -> None:
    r"""Read small entries lying next to each other at once, and unpack them."""
    start = entries[0].header_offset
    data = memoryview(source.read(start, end)) if end > start else memoryview(b"")

    def read(offset: int, size: int) -> bytes:
        return bytes(data[offset - start : offset - start + size])

    _extract_small(read, entries, tree, source.done)


def _extract_small(
    read: Callable[[int, int], bytes],
    entries: list[zipfile.ZipInfo],
    tree: Tree,
    done: Callable[[zipfile.ZipInfo], None] | None = None,
) -> None:
    r"""Unpack small entries in memory.

    The output is bounded by the declared size and its CRC-32 checked.

    """
    for entry in entries:
        data = read_member(read, entry)
        # Created exclusively: nothing already at the target is followed or replaced.
        out = tree.create(entry.filename)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(out, view) :]
        finally:
            os.close(out)
        if done is not None:
            done(entry)


def read_member(read: Callable[[int, int], bytes], entry: zipfile.ZipInfo) -> bytes:
    r"""The content of one entry, read into memory.

    The output is bounded by the entry's declared size and its CRC-32
    checked, so that a hostile archive cannot make it larger or different.

    Args:
        read: gives ``size`` bytes of the archive from ``offset`` on
        entry: the entry, from :func:`read_directory`

    Returns:
        the entry's bytes

    Raises:
        ArchiveError: if the entry is cut short, broken, or its size or
            CRC-32 differ from what the central directory says

    Example:
        >>> import io, zipfile
        >>> buffer = io.BytesIO()
        >>> with zipfile.ZipFile(buffer, "w") as archive:
        ...     archive.writestr("a.txt", "hello")
        >>> data = buffer.getvalue()
        >>> entry = zipfile.ZipFile(buffer).infolist()[0]
        >>> read_member(lambda offset, size: data[offset : offset + size], entry)
        b'hello'

    """
    offset = _data_offset(read, entry)
    data = read(offset, entry.compress_size)
    if len(data) != entry.compress_size:
        raise ArchiveError(f"Entry '{entry.filename}' is cut short.")
    if entry.compress_type == zipfile.ZIP_DEFLATED:
        inflater = decompressobj(-15)
        try:
            data = inflater.decompress(data, entry.file_size + 1)
        except Exception as ex:  # zlib.error or isal's error
            raise ArchiveError(f"Entry '{entry.filename}' is broken: {ex}") from None
    if len(data) != entry.file_size or crc32(data) != entry.CRC:
        raise ArchiveError(f"Bad CRC-32 for file '{entry.filename}'")
    return data


def _extract_large_local(
    read: Callable[[int, int], bytes],
    src: int,
    entry: zipfile.ZipInfo,
    tree: Tree,
    pool: concurrent.futures.Executor,
    resume: Resume = Resume(),
) -> None:
    if entry.filename in resume.written:
        _continue_stored_local(src, entry, tree, pool, resume)
    else:
        offset = _data_offset(read, entry)
        with os.fdopen(tree.create(entry.filename), "wb") as dst:
            if entry.compress_type == zipfile.ZIP_STORED:
                # check_entries refused stored entries whose two sizes differ.
                _copy_stored(src, offset, entry, dst.fileno(), pool, resume)
            else:
                parts = (
                    read(start, min(CHUNK, offset + entry.compress_size - start))
                    for start in range(offset, offset + entry.compress_size, CHUNK)
                )
                _inflate(parts, entry, dst)
    if resume.done is not None:
        resume.done(entry)


def _copy_stored(
    src: int,
    offset: int,
    entry: zipfile.ZipInfo,
    dst: int,
    pool: concurrent.futures.Executor,
    resume: Resume,
) -> None:
    r"""Copy a stored entry in the kernel while its CRC-32 is computed."""
    _check_crc(
        entry, _copy_pieces(src, offset, dst, (0, entry.file_size), pool, entry, resume)
    )


def _continue_stored_local(
    src: int,
    entry: zipfile.ZipInfo,
    tree: Tree,
    pool: concurrent.futures.Executor,
    resume: Resume,
) -> None:
    r"""Copy what an interrupted load did not write of a stored entry.

    As :func:`_continue_stored` does for an archive read by ranges.

    """
    offset, kept = resume.written[entry.filename]
    fd = tree.reopen(entry.filename)
    try:
        for gap in _gaps(kept, entry.compress_size):
            _copy_pieces(src, offset, fd, gap, pool, entry, resume)
        os.ftruncate(fd, entry.file_size)
        _check_crc(entry, crc_of_range(fd, 0, entry.file_size))
    finally:
        os.close(fd)


LOCAL_PIECE = RECORDED_EVERY * 16
r"""Bytes of a stored entry copied and recorded at once from a local archive."""


def _copy_pieces(
    src: int,
    offset: int,
    dst: int,
    span: tuple[int, int],
    pool: concurrent.futures.Executor,
    entry: zipfile.ZipInfo,
    resume: Resume,
) -> int:
    r"""Copy a span of an entry's data (``offset`` on in ``src``); return its CRC-32.

    The kernel copies while the CRC-32 is computed. Where progress is
    recorded (a resumable load), it goes a piece at a time, each recorded,
    so that an interrupted load continues from the last piece recorded.

    """
    start, end = span
    step = LOCAL_PIECE if resume.wrote is not None else max(end - start, 1)
    crc = 0
    for first in range(start, end, step):
        length = min(step, end - first)
        copy = pool.submit(copy_range, src, offset + first, dst, first, length)
        piece = crc_of_range(src, offset + first, length)
        copy.result()
        if resume.wrote is not None:
            resume.wrote(entry, offset, first, first + length, piece)
        crc = crc_combine(crc, piece, length)
    return crc


def _split(entry: zipfile.ZipInfo) -> bool:
    r"""Whether an entry is read in parallel ranges when read remotely."""
    return entry.file_size >= LARGE and entry.compress_type == zipfile.ZIP_STORED


def _extract_large_remote(
    source: RemoteArchive,
    entry: zipfile.ZipInfo,
    limit: int,
    tree: Tree,
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
    if entry.filename in source.resume.written:
        _continue_stored(source, entry, tree, fetchers, share)
        return
    first = entry.header_offset
    with os.fdopen(tree.create(entry.filename), "wb") as dst:
        if entry.compress_type == zipfile.ZIP_DEFLATED:
            _, pieces = _after_local_header(source.stream(first, limit), entry)
            _inflate(pieces, entry, dst)
            dst.flush()
            if source.done is not None:
                source.done(entry)
            return
        # The first range holds the local header, whatever the part size.
        part = max(source.part, LOCAL.size + 2 * 0xFFFF)
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
            recorder = _Recorder(source.resume, entry, offset, max(start, offset))
            for piece in pieces:
                # Only the entry's data, from where it begins to where it ends.
                low, high = max(position, offset), min(position + len(piece), end)
                if low < high:
                    data = piece[low - position : high - position]
                    _write_at(fd, data, low - offset)
                    crc = crc32(data, crc)
                    length += high - low
                    recorder.add(data)
                position += len(piece)
                if position >= stop:
                    break
            if position < min(stop, end):
                raise ArchiveError(f"Entry '{entry.filename}' is cut short.")
            recorder.flush()
            return crc, length

        jobs = [fetchers.submit(stream_into_place, *range_) for range_ in ranges]
        try:
            crc = length = 0
            for job in jobs:
                part_crc, part_length = job.result()
                crc = crc_combine(crc, part_crc, part_length)
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
    if source.done is not None:
        source.done(entry)


class _Recorder:
    r"""Records what a stream wrote of a stored entry, every :data:`RECORDED_EVERY`.

    So that a load killed half-way through a large file continues from the
    last recorded byte of each stream instead of the start of the file.

    """

    def __init__(self, resume: Resume, entry: zipfile.ZipInfo, offset: int, start: int):
        self.wrote = resume.wrote
        self.entry, self.offset = entry, offset
        self.start = self.end = start - offset  # from the start of the data
        self.crc = 0

    def add(self, data: bytes | memoryview) -> None:
        r"""Count bytes written right after those counted before."""
        if self.wrote is None:
            return
        self.crc = crc32(data, self.crc)
        self.end += len(data)
        if self.end - self.start >= RECORDED_EVERY:
            self.flush()

    def flush(self) -> None:
        r"""Record what was counted since the last record."""
        if self.wrote is not None and self.end > self.start:
            self.wrote(self.entry, self.offset, self.start, self.end, self.crc)
            self.start, self.crc = self.end, 0


def _continue_stored(
    source: RemoteArchive,
    entry: zipfile.ZipInfo,
    tree: Tree,
    fetchers: concurrent.futures.Executor,
    share: int,
) -> None:
    r"""Fetch what an interrupted load did not write of a stored entry.

    The byte ranges its file holds were checked by their CRC-32 (see
    :class:`Resume`); the others are streamed in, in up to ``share``
    parallel ranges, and the whole file is checked by its CRC-32 at the end.

    """
    offset, kept = source.resume.written[entry.filename]
    ranges = _split_ranges(_gaps(kept, entry.compress_size), share, source.part)
    fd = tree.reopen(entry.filename)
    try:

        def fetch(start: int, stop: int) -> None:
            recorder = _Recorder(source.resume, entry, offset, offset + start)
            position = start
            for piece in source.stream(offset + start, offset + stop):
                data = piece[: stop - position]
                _write_at(fd, data, position)
                recorder.add(data)
                position += len(data)
                if position >= stop:
                    break
            if position < stop:
                raise ArchiveError(f"Entry '{entry.filename}' is cut short.")
            recorder.flush()

        jobs = [fetchers.submit(fetch, *range_) for range_ in ranges]
        try:
            for job in jobs:
                job.result()
        finally:
            for job in jobs:
                job.cancel()
            concurrent.futures.wait(jobs)
        os.ftruncate(fd, entry.file_size)
        _check_crc(entry, crc_of_range(fd, 0, entry.file_size))
    finally:
        os.close(fd)
    if source.done is not None:
        source.done(entry)


def _gaps(kept: list[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    r"""The byte ranges of ``0`` to ``size`` that ``kept`` does not cover.

    Examples:
        >>> _gaps([(0, 10), (20, 30), (25, 40)], 50)
        [(10, 20), (40, 50)]

    """
    gaps, position = [], 0
    for start, end in sorted(kept):
        if start > position:
            gaps.append((position, start))
        position = max(position, end)
    if position < size:
        gaps.append((position, size))
    return gaps


def _split_ranges(
    ranges: list[tuple[int, int]], count: int, part: int
) -> list[tuple[int, int]]:
    r"""Cut ranges into about ``count`` pieces in all, none below ``part`` bytes.

    Examples:
        >>> _split_ranges([(0, 100), (200, 210)], 4, 30)
        [(0, 34), (34, 68), (68, 100), (200, 210)]

    """
    total = sum(end - start for start, end in ranges)
    pieces = []
    for start, end in ranges:
        share = max(
            1, min(round(count * (end - start) / max(total, 1)), (end - start) // part)
        )
        step = -(-(end - start) // share)
        pieces += [(a, min(a + step, end)) for a in range(start, end, step)]
    return pieces


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
    header = read(entry.header_offset, LOCAL.size)
    name_length, extra_length = local_header_lengths(header, entry)
    check_local_name(read(entry.header_offset + LOCAL.size, name_length), entry)
    return entry.header_offset + LOCAL.size + name_length + extra_length


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

    receive(LOCAL.size)
    name_length, extra_length = local_header_lengths(
        bytes(received[: LOCAL.size]), entry
    )
    size = LOCAL.size + name_length + extra_length
    receive(size)
    check_local_name(bytes(received[LOCAL.size : LOCAL.size + name_length]), entry)
    rest = bytes(received[size:])
    return entry.header_offset + size, itertools.chain([rest] if rest else [], pieces)
