"""The journal of a resumable load: what it unpacked, from which archive.

A load that reads an archive by byte ranges (S3, MinIO, Artifactory)
unpacks into a staging folder with a fixed name
(:func:`audmodel._cache.partial_folder`) and records each file it has
written and checked. When the load is interrupted, folder and journal stay;
the next load of the model keeps the files recorded for the same archive
and reads only the others.

"""

from __future__ import annotations

from collections.abc import Callable
import contextlib
import hashlib
import json
import os
import shutil
import stat
import threading
from typing import TYPE_CHECKING
from typing import Any

from audmodel._files import NotRegularFileError


if TYPE_CHECKING:
    import zipfile


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
    of an entry whose file was written and checked against its CRC-32.
    Entries are kept only while the archive is the same, and only those
    whose file still has its size.

    Args:
        folder: the staging folder

    """

    def __init__(self, folder: str):
        self.folder = folder
        self.path = path_of(folder)
        self._lock = threading.Lock()
        self._file: Any = None

    def begin(
        self, entries: list[zipfile.ZipInfo], directory: int
    ) -> tuple[frozenset[str], Callable[[zipfile.ZipInfo], None]]:
        r"""Start or continue; return the entries unpacked before, and a recorder.

        Args:
            entries: the archive's entries
            directory: where its central directory begins

        Returns:
            names of entries to skip, and the function to call with each
            entry once it is unpacked

        """
        identity = json.dumps({"directory": directory, "entries": _digest(entries)})
        kept = self._kept(identity, entries)
        if not kept:
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
        self._file = _opened(self.path, os.O_WRONLY | os.O_APPEND, "a")
        return frozenset(kept), self._record

    def close(self) -> None:
        r"""Stop recording."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _record(self, entry: zipfile.ZipInfo) -> None:
        with self._lock:
            self._file.write(json.dumps(entry.filename) + "\n")
            self._file.flush()

    def _kept(self, identity: str, entries: list[zipfile.ZipInfo]) -> set[str]:
        r"""Names of entries recorded for the same archive whose files are whole."""
        try:
            with _opened(self.path, os.O_RDONLY, "r") as fp:
                lines = fp.read().splitlines()
        except (OSError, UnicodeDecodeError):
            return set()
        if not lines or lines[0] != identity:
            return set()
        sizes = {e.filename: e.file_size for e in entries if not e.is_dir()}
        kept = set()
        for line in lines[1:]:
            try:
                name = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill
            # Read back from the cache: used only as a name of this archive.
            if not isinstance(name, str) or name not in sizes:
                continue
            path = os.path.join(self.folder, *name.split("/"))
            with contextlib.suppress(OSError):
                info = os.lstat(path)
                if stat.S_ISREG(info.st_mode) and info.st_size == sizes[name]:
                    kept.add(name)
        return kept


def _digest(entries: list[zipfile.ZipInfo]) -> str:
    r"""A digest of what tells an archive's entries apart, CRC-32s included."""
    described = [
        [e.filename, e.CRC, e.file_size, e.compress_size, e.header_offset]
        for e in entries
    ]
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()
