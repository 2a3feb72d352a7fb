"""Packing a model folder: which files go in, and how each is compressed.

``"auto"`` compression deflates a sample of each large file and stores
files that would shrink by less than 8 % (float weights shrink by about
7 %), deflating the rest at level 1. Small files are read and compressed
in parallel, in batches, a bounded number ahead; large ones are handed to
:class:`._writer.Writer`, which copies or deflates them in parallel.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
import concurrent.futures
import hashlib
import os
import stat
import zipfile
import zlib

from audmodel import errors
from audmodel._archive._bytes import BATCH
from audmodel._archive._bytes import LARGE
from audmodel._archive._bytes import crc32
from audmodel._archive._bytes import isal_deflate
from audmodel._archive._bytes import sync_file_range
from audmodel._archive._writer import Writer
from audmodel._defaults import COMPRESSION
from audmodel._output import progress
from audmodel._threads import CPU_WORKERS


AUTO = COMPRESSION

STORE_RATIO = 0.92  # a stored entry is then at most 9 % larger than deflated

SAMPLE_SIZE = 64 * 1024


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
        raise errors.InvalidArgumentError(
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
        raise errors.InvalidArgumentError(
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
    # Where the archive is written in place (a file-system repository),
    # packing is the transfer: its bar is the one a user sees.
    total = sum(os.path.getsize(os.path.join(root, *f.split("/"))) for f in files)
    with (
        progress(total, f"Pack {os.path.basename(root.rstrip(os.sep))}") as update,
        open(dst_path, "wb") as out,
        concurrent.futures.ThreadPoolExecutor(CPU_WORKERS) as pool,
    ):
        writer = Writer(
            out,
            hashlib.md5() if md5 else None,
            sync_file_range() if write_behind else None,
        )
        for file, info, prepared in _prepare_small(root, files, compression, pool):
            path = os.path.join(root, *file.split("/"))
            if prepared is not None:
                writer.add_small(file, info, *prepared)
            elif _choose_level(path, compression) == 0:
                writer.add_large_stored(file, path, info, pool)
            else:
                writer.add_large_deflated(file, path, info, _level(compression), pool)
            update(info.st_size)
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
        if len(pending) >= 2 * CPU_WORKERS:
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
    if compression == AUTO and isal_deflate is not None:
        # 'auto' asks for a fast deflate, no level: ISA-L's level 1 takes a
        # fifth of the time of zlib's on a 4 KiB file and is no larger.
        packed = isal_deflate(data, 1, -15)
    else:
        compressor = zlib.compressobj(_level(compression), zlib.DEFLATED, -15)
        packed = compressor.compress(data) + compressor.flush()
    if compression == AUTO and len(packed) > STORE_RATIO * len(data):
        return info, (zipfile.ZIP_STORED, crc, len(data), data)
    return info, (zipfile.ZIP_DEFLATED, crc, len(data), packed)
