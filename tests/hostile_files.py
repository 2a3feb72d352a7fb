"""Files that a hostile writer to a repository could plant.

Shared by ``tests/test_hostile.py`` and ``benchmarks/hostile.py``.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib


def laughs(levels: int = 9) -> str:
    """A header of a few hundred bytes that stands for 9**levels values."""
    lines = ["name: torch", "subgroup: ''", 'l0: &l0 ["lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        refs = ",".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def overlapping_archive(count: int, payload: bytes) -> bytes:
    """Stored entries each reaching to the archive's end, over the next ones."""
    blob = payload
    local = []
    for index in reversed(range(count)):
        name = f"f{index}".encode()
        header = struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            20,
            0,
            0,
            0,
            0x21,
            zlib.crc32(blob),
            len(blob),
            len(blob),
            len(name),
            0,
        )
        local.append((name, zlib.crc32(blob), len(blob)))
        blob = header + name + blob
    central = b""
    offset = 0
    for name, crc, size in reversed(local):
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            0,
            0,
            0x21,
            crc,
            size,
            size,
            len(name),
            0,
            0,
            0,
            0,
            0o100644 << 16,
            offset,
        )
        central += name
        offset += 30 + len(name)
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), len(blob), 0
    )
    return blob + central + end


def declaring_entries(count: int) -> bytes:
    """The end of an archive whose ZIP64 record declares ``count`` entries."""
    record = struct.pack(
        "<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, 46 * count, 0
    )
    locator = struct.pack("<IIQI", 0x07064B50, 0, 0, 1)
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0
    )
    return record + locator + end


def deep_archive(levels: int) -> bytes:
    """An archive of one file ``levels`` folders deep."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a/" * levels + "model.txt", "weights")
    return buffer.getvalue()


def write_sparse_archive(path: str, declared: int) -> None:
    """An archive whose one small deflated entry declares ``declared``
    compressed bytes; the gap before its directory is a hole in the file,
    so the archive is as large as it says and takes no room on disk."""
    data = b"weights"
    deflate = zlib.compressobj(wbits=-15)
    packed = deflate.compress(data) + deflate.flush()
    crc, name = zlib.crc32(data), b"model.txt"
    sizes = (crc, declared, len(data), len(name), 0)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, *sizes) + name
    record = (0x02014B50, 20, 20, 0, 8, 0, 0, *sizes, 0, 0, 0, 0, 0)
    central = struct.pack("<IHHHHHHIIIHHHHHII", *record) + name
    directory = len(local) + declared
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), directory, 0)
    with open(path, "wb") as fp:
        fp.write(local + packed)
        fp.seek(directory)
        fp.write(central + end)


def readme_of_tables(columns: int = 1000, rows: int = 30) -> str:
    """A README of about 62 KB: a wide table whose rows are padded to its width."""
    head = "|" + "a|" * columns + "\n|" + "-|" * columns + "\n"
    return head + "|x\n" * rows


def readme_nested(depth: int = 6000) -> str:
    """A README of HTML nested ``depth`` deep."""
    return "<div><span><em>" * (depth // 3) + "x"
