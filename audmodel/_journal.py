"""The journal of a resumable load: what it unpacked, from which archive.

A load that reads an archive by byte ranges (S3, MinIO, Artifactory) or
where it lies (a file system) unpacks into a staging folder with a fixed
name (:func:`audmodel._cache.partial_folder`) and records each file it has
written and checked, and, of a large stored (uncompressed) file, each
piece written with its CRC-32. When the load is interrupted, folder and
journal stay; the next load of the model keeps the files recorded for the
same archive, continues each large stored file from what its records
cover (read back and checked first), and reads only the rest. A deflated
file cannot be continued in the middle (inflating needs all that came
before), so one cut short is read again whole.

"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import threading
from typing import TYPE_CHECKING
from typing import Any
import zipfile

from audmodel import _lazy
from audmodel import _output
from audmodel._files import NotRegularFileError


if TYPE_CHECKING:
    from audmodel import _archive
else:  # imported with the archive it records (see audmodel._lazy)
    _archive = _lazy.module("audmodel._archive", globals())


RECORDS_PER_WRITE = 64
r"""Records of small files written out at once."""


def path_of(folder: str) -> str:
    r"""The journal of a staging folder."""
    return f"{folder}.journal"


def _opened(path: str, flags: int, mode: str) -> Any:
    r"""Open a journal, never through a symbolic link, never blocking.

    In a cache shared by a group, anyone in it could plant a link at the
    journal's fixed name, pointing at a file of the user's, or a FIFO.

    Raises:
        OSError: if the file cannot be opened, is a link or no regular file

    """
    nonblocking = getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags | os.O_NOFOLLOW | nonblocking, 0o644)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegularFileError(f"'{path}' is not a regular file.")
    return os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8")


def progressed(folder: str) -> bool:
    r"""Whether the journal of a staging folder records an unpacked file."""
    try:
        with _opened(path_of(folder), os.O_RDONLY, "rb") as fp:
            return fp.read(1 << 16).count(b"\n") > 1
    except OSError:
        return False


class Journal:
    r"""What an interrupted load had unpacked, to continue from there.

    A file beside the staging folder (:func:`path_of`): its first line
    names the archive (its central directory's offset and a digest of its
    entries, which holds every entry's CRC-32), each further line the name
    of an entry whose file was written and checked against its CRC-32, or
    a byte range written of a large stored entry, with its CRC-32.
    Entries are kept only while the archive is the same, and only those
    whose file still has its size; ranges only while the file holds them.

    Args:
        folder: the staging folder

    """

    def __init__(self, folder: str):
        self.folder = folder
        self.path = path_of(folder)
        self._lock = threading.Lock()
        self._file: Any = None
        self._pending = 0

    def begin(self, entries: list[zipfile.ZipInfo], directory: int) -> _archive.Resume:
        r"""Start or continue; return what was unpacked before, and the recorders.

        Args:
            entries: the archive's entries
            directory: where its central directory begins

        Returns:
            the entries unpacked before (to skip), the parts of large
            stored entries written before (to continue), and the functions
            that record each entry unpacked and each part written now

        """
        identity = json.dumps({"directory": directory, "entries": _digest(entries)})
        kept, written = self._kept(identity, entries)
        if not kept and not written:
            # Another archive, or nothing done: begin afresh.
            for name in os.listdir(self.folder):
                path = os.path.join(self.folder, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.remove(path)
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path)  # also a link planted there, not its target
            with _opened(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, "w") as fp:
                fp.write(identity + "\n")
        # Buffered: records are written out as _write says.
        self._file = _opened(self.path, os.O_WRONLY | os.O_APPEND, "a")
        return _archive.Resume(
            frozenset(kept), self._record, written, self._record_part
        )

    def close(self) -> None:
        r"""Stop recording."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _record(self, entry: zipfile.ZipInfo) -> None:
        # Small files are written out in batches: one lost to a kill is
        # unpacked again, which costs less than a write for each file.
        self._write(json.dumps(entry.filename), entry.file_size >= _archive.LARGE)

    def _record_part(
        self, entry: zipfile.ZipInfo, offset: int, start: int, end: int, crc: int
    ) -> None:
        part = {"entry": entry.filename, "data": offset, "range": [start, end]}
        self._write(json.dumps({**part, "crc": crc}), True)

    def _write(self, line: str, now: bool) -> None:
        with self._lock:
            self._file.write(line + "\n")
            self._pending += 1
            if now or self._pending >= RECORDS_PER_WRITE:
                self._file.flush()
                self._pending = 0

    def _kept(
        self, identity: str, entries: list[zipfile.ZipInfo]
    ) -> tuple[set[str], dict[str, tuple[int, list[tuple[int, int]]]]]:
        r"""What is recorded for the same archive and still in the folder.

        Returns:
            names of entries whose files are whole, and of the large stored
            entries written in part, where their data begins and the
            ranges their files hold (each checked by its CRC-32)

        """
        try:
            with _opened(self.path, os.O_RDONLY, "r") as fp:
                lines = fp.read().splitlines()
        except (OSError, UnicodeDecodeError):
            return set(), {}
        if not lines or lines[0] != identity:
            return set(), {}
        files = {e.filename: e for e in entries if not e.is_dir()}
        kept = set()
        parts: dict[str, list[Any]] = {}
        for line in lines[1:]:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill
            # Read back from the cache: used only as a name of this archive.
            if isinstance(record, dict) and record.get("entry") in files:
                parts.setdefault(record["entry"], []).append(record)
            elif isinstance(record, str) and record in files:
                if self._size(record) == files[record].file_size:
                    kept.add(record)
        written = {
            name: checked
            for name, records in parts.items()
            if name not in kept
            and (checked := self._checked_parts(files[name], records)) is not None
        }
        return kept, written

    def _size(self, name: str) -> int | None:
        with contextlib.suppress(OSError):
            info = os.lstat(os.path.join(self.folder, *name.split("/")))
            if stat.S_ISREG(info.st_mode):
                return info.st_size
        return None

    def _checked_parts(
        self, entry: zipfile.ZipInfo, records: list[Any]
    ) -> tuple[int, list[tuple[int, int]]] | None:
        r"""Where a stored entry's data begins and the ranges its file holds.

        Every recorded range is read back and checked by its CRC-32: a file
        changed since, or a record that does not fit the entry, discards
        all that was written of it (with a notice), and it is read anew.

        """
        path = os.path.join(self.folder, *entry.filename.split("/"))
        size = self._size(entry.filename)
        try:
            offsets = {int(r["data"]) for r in records}
            ranges = [
                (int(r["range"][0]), int(r["range"][1]), int(r["crc"])) for r in records
            ]
            sound = (
                entry.compress_type == zipfile.ZIP_STORED
                and len(offsets) == 1
                and size is not None
                and size <= entry.file_size
                and all(0 <= a < b <= size for a, b, _ in ranges)
                and _crcs_match(path, ranges)
            )
        except (KeyError, TypeError, ValueError, IndexError, OSError):
            sound = False
        if not sound:
            _output.note(
                f"What an interrupted load wrote of '{entry.filename}' does not "
                "match its record; it is read again."
            )
            return None
        return offsets.pop(), [(a, b) for a, b, _ in ranges]


def _crcs_match(path: str, ranges: list[tuple[int, int, int]]) -> bool:
    r"""Whether each byte range of a file has the CRC-32 recorded for it."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        return all(
            _archive.crc_of_range(fd, start, end - start) == crc
            for start, end, crc in ranges
        )
    finally:
        os.close(fd)


def _digest(entries: list[zipfile.ZipInfo]) -> str:
    r"""A digest of what tells an archive's entries apart, CRC-32s included."""
    described = [
        [e.filename, e.CRC, e.file_size, e.compress_size, e.header_offset]
        for e in entries
    ]
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()
