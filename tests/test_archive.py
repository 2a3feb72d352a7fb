"""The ZIP files audmodel writes are plain ZIP, and extraction is strict."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
import pathlib
import random
import shutil
import struct
import subprocess
import sys
import zipfile

import audeer
from helpers import files_below
import pytest

from audmodel import _archive
from audmodel._archive import _bytes
from audmodel._archive import _pack
from audmodel._archive import _zip


def make_folder(root: pathlib.Path, large: bool = True) -> str:
    rng = random.Random(1)
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "config.yaml").write_text("layers: 10\n" * 100)
    (root / "sub" / "noise.bin").write_bytes(rng.randbytes(10_000))
    (root / "sub" / "deeper" / "empty.txt").write_bytes(b"")
    (root / "ümlaut.txt").write_text("non-ASCII name")
    if large:
        size = _archive.LARGE + 123_457
        (root / "weights.bin").write_bytes(rng.randbytes(size))
        text = "".join(f"{i} {rng.random()}\n" for i in range(size // 20))
        (root / "log.txt").write_text(text)
    return str(root)


def remote(archive: str, reads: list | None = None) -> _archive.RemoteArchive:
    """An archive read by ranges in small parts, as from S3; ``reads`` logs them."""
    data = pathlib.Path(archive).read_bytes()
    entries, directory = _archive.read_directory(
        lambda count: (data[-count:], len(data)),
        lambda start, end: data[start:end],
    )

    def read(start: int, end: int) -> bytes:
        if reads is not None:
            reads.append((start, end))
        return data[start:end]

    def stream(start: int, end: int):
        if reads is not None:
            reads.append((start, end))
        for first in range(start, end, 100_000):
            yield data[first : min(end, first + 100_000)]

    return _archive.RemoteArchive(
        read, stream, entries, directory, workers=3, part=300_000
    )


def unpack(source: str, archive: str, out: str) -> list:
    """Unpack a local archive where it lies, or as if read by ranges."""
    return _archive.extract(archive if source == "local" else remote(archive), out)


@pytest.mark.parametrize("compression", ["auto", 0, 1, 9])
def test_archive_round_trips_through_zipfile_unzip_and_audeer(tmp_path, compression):
    root = make_folder(tmp_path / "model")
    archive = str(tmp_path / "model.zip")
    _archive.create(root, archive, compression)
    with zipfile.ZipFile(archive) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == _archive.list_files(root)
        assert not any(info.is_dir() for info in zf.infolist())
    # audmodel 1.5 unpacks with audeer, which uses zipfile
    audeer.extract_archive(archive, str(tmp_path / "audeer"))
    assert files_below(str(tmp_path / "audeer")) == files_below(root)
    if shutil.which("unzip"):
        result = subprocess.run(["unzip", "-tq", archive], capture_output=True)
        assert result.returncode == 0, result.stdout
    _archive.extract(archive, str(tmp_path / "ours"))
    assert files_below(str(tmp_path / "ours")) == files_below(root)


@pytest.mark.parametrize("compression", ["auto", 0, 1])
def test_archive_read_by_ranges_is_unpacked_reading_each_byte_once(
    tmp_path, compression
):
    root = make_folder(tmp_path / "model")
    archive = str(tmp_path / "model.zip")
    _archive.create(root, archive, compression)
    reads = []
    files = _archive.extract(remote(archive, reads), str(tmp_path / "ours"))
    assert files_below(str(tmp_path / "ours")) == files_below(root)
    assert sorted(e.filename for e in files) == _archive.list_files(root)
    # Large stored entries come in about as many ranges together as there
    # are workers (3), a deflated one in one; no byte is read twice, nor the
    # central directory (read before) again.
    large = [
        e for e in zipfile.ZipFile(archive).infolist() if e.file_size >= _archive.LARGE
    ]
    stored = sum(e.compress_type == zipfile.ZIP_STORED for e in large)
    long_reads = sum(end - start > 1_000_000 for start, end in reads)
    assert long_reads - (len(large) - stored) in ({3, 4} if stored else {0})
    covered = sorted(reads)
    assert all(
        a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(covered)
    )
    directory = zipfile.ZipFile(archive).start_dir
    assert all(end <= directory for _, end in reads)


def test_small_files_read_by_ranges_cost_one_request_per_chunk(tmp_path):
    """A model of many small files is read in few requests, each one CHUNK."""
    root = tmp_path / "model"
    rng = random.Random(3)
    for i in range(1500):
        folder = root / f"part-{i // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file-{i}.bin").write_bytes(rng.randbytes(4096))
    archive = str(tmp_path / "model.zip")
    _archive.create(str(root), archive)
    reads = []
    _archive.extract(remote(archive, reads), str(tmp_path / "ours"))
    assert files_below(str(tmp_path / "ours")) == files_below(str(root))
    data = zipfile.ZipFile(archive).start_dir
    assert len(reads) == -(-data // _archive.CHUNK) == 2


def test_large_entries_read_by_ranges_share_the_workers_by_size(tmp_path):
    root = tmp_path / "model"
    root.mkdir()
    rng = random.Random(2)
    (root / "big.bin").write_bytes(rng.randbytes(3 * _archive.LARGE))
    (root / "small.bin").write_bytes(rng.randbytes(_archive.LARGE))
    archive = str(tmp_path / "model.zip")
    _archive.create(str(root), archive)
    reads = []
    source = dataclasses.replace(remote(archive, reads), workers=4)
    _archive.extract(source, str(tmp_path / "ours"))
    assert files_below(str(tmp_path / "ours")) == files_below(str(root))
    # 4 workers: 3 ranges for the entry three times as large, 1 for the
    # other; each entry's first range begins at its local header, which
    # costs no request of its own.
    assert len(reads) == 4
    long_reads = sorted(end - start for start, end in reads)
    assert _archive.LARGE < long_reads[0] < _archive.LARGE + 2 * _archive.ALIGNMENT


def test_auto_stores_incompressible_and_deflates_the_rest(tmp_path):
    root = make_folder(tmp_path / "model")
    archive = str(tmp_path / "model.zip")
    _archive.create(root, archive)
    methods = {i.filename: i.compress_type for i in zipfile.ZipFile(archive).infolist()}
    assert methods["weights.bin"] == zipfile.ZIP_STORED
    assert methods["sub/noise.bin"] == zipfile.ZIP_STORED
    assert methods["log.txt"] == zipfile.ZIP_DEFLATED
    assert methods["config.yaml"] == zipfile.ZIP_DEFLATED


@pytest.mark.parametrize("compression, method", [(0, 0), (1, 8), (9, 8)])
def test_explicit_levels_keep_their_meaning(tmp_path, compression, method):
    root = make_folder(tmp_path / "model")
    archive = str(tmp_path / "model.zip")
    _archive.create(root, archive, compression)
    assert {i.compress_type for i in zipfile.ZipFile(archive).infolist()} == {method}


def test_md5_is_computed_while_writing(tmp_path):
    root = make_folder(tmp_path / "model")
    archive = str(tmp_path / "model.zip")
    md5 = _archive.create(root, archive, md5=True)
    assert md5 == hashlib.md5(pathlib.Path(archive).read_bytes()).hexdigest()
    assert _archive.create(root, str(tmp_path / "again.zip")) is None


@pytest.mark.skipif(
    _bytes.sync_file_range() is None, reason="sync_file_range is Linux's"
)
def test_archive_to_keep_is_written_out_to_disk_while_it_is_written(
    tmp_path, monkeypatch
):
    """Writing out starts behind the writer, range after range, from the start.

    The limit is lowered; the archive is the same byte for byte.
    """
    monkeypatch.setattr(_bytes, "WRITE_BEHIND", 256 * 1024)
    calls = []
    sync_range = _bytes.sync_file_range()

    def record(fd: int, offset: int, count: int, flags: int) -> int:
        result = sync_range(fd, offset, count, flags)
        calls.append((offset, count, result))
        return result

    monkeypatch.setattr(_pack, "sync_file_range", lambda: record)
    root = make_folder(tmp_path / "model")
    # The stored weights are written out every 256 KiB as the kernel copies
    # them; deflated data every 4 MiB as it is written.
    least = {"auto": _archive.LARGE // (256 * 1024), 6: 2}
    for compression in ("auto", 6):
        kept = str(tmp_path / f"kept-{compression}.zip")
        _archive.create(root, kept, compression, write_behind=True)
        plain = str(tmp_path / f"plain-{compression}.zip")
        calls_before = len(calls)
        _archive.create(root, plain, compression)
        assert len(calls) == calls_before  # nothing asked, nothing written out
        assert pathlib.Path(kept).read_bytes() == pathlib.Path(plain).read_bytes()
        # Contiguous ranges from the start, each accepted by the kernel.
        runs = calls[:calls_before]
        del calls[:]
        assert len(runs) >= least[compression]
        assert runs[0][0] == 0
        assert all(result == 0 for _, _, result in runs)
        for (offset, count, _), (following, _, _) in itertools.pairwise(runs):
            assert following == offset + count
        assert runs[-1][0] + runs[-1][1] <= os.path.getsize(kept)


def test_zip64_records_are_written_beyond_the_limit(tmp_path, monkeypatch):
    """Files and offsets beyond 4 GiB take ZIP64 fields; the limit is lowered."""
    monkeypatch.setattr(_zip, "ZIP64_LIMIT", 5000)
    root = make_folder(tmp_path / "model")
    archive = str(tmp_path / "model.zip")
    _archive.create(root, archive, 0)
    data = pathlib.Path(archive).read_bytes()
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data  # ZIP64 end records
    with zipfile.ZipFile(archive) as zf:
        assert zf.testzip() is None
    _archive.extract(archive, str(tmp_path / "ours"))
    assert files_below(str(tmp_path / "ours")) == files_below(root)


def test_large_text_is_deflated_in_parallel_chunks_into_one_stream(tmp_path):
    root = tmp_path / "model"
    root.mkdir()
    text = "".join(f"line {i}\n" for i in range(2_000_000))  # ~17 MiB
    (root / "big.txt").write_text(text)
    archive = str(tmp_path / "model.zip")
    _archive.create(str(root), archive, 6)
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("big.txt")
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert info.compress_size < info.file_size / 3
        assert zf.read("big.txt") == text.encode()


def test_empty_folder_gives_empty_archive(tmp_path):
    (tmp_path / "empty").mkdir()
    archive = str(tmp_path / "empty.zip")
    _archive.create(str(tmp_path / "empty"), archive)
    assert zipfile.ZipFile(archive).namelist() == []


@pytest.mark.parametrize("source", ["local", "remote"])
def test_corrupted_large_stored_entry_is_refused(tmp_path, source):
    root = make_folder(tmp_path / "model")
    archive = tmp_path / "model.zip"
    _archive.create(root, str(archive), 0)
    info = zipfile.ZipFile(archive).getinfo("weights.bin")
    data = bytearray(archive.read_bytes())
    data[info.header_offset + 200] ^= 0xFF  # inside the stored data
    archive.write_bytes(bytes(data))
    with pytest.raises(
        _archive.ArchiveError, match=r"Bad CRC-32 for file 'weights\.bin'"
    ):
        unpack(source, str(archive), str(tmp_path / "out"))


@pytest.mark.parametrize("source", ["local", "remote"])
def test_large_deflated_entry_of_audmodel_1_5_is_inflated_and_checked(tmp_path, source):
    """audmodel 1.5 deflates every file at level 1, large ones too."""
    root = make_folder(tmp_path / "model")
    archive = tmp_path / "model.zip"
    audeer.create_archive(root, None, str(archive))  # as audmodel 1.5 does
    info = zipfile.ZipFile(archive).getinfo("log.txt")
    assert info.compress_type == zipfile.ZIP_DEFLATED
    assert info.file_size >= _archive.LARGE
    unpack(source, str(archive), str(tmp_path / "ours"))
    assert files_below(str(tmp_path / "ours")) == files_below(root)
    offset = info.header_offset + 30 + len(info.filename.encode()) + 1000
    for change, message in [
        (lambda data: data.__setitem__(offset, data[offset] ^ 0xFF), "log.txt"),
        (lambda data: data.__setitem__(slice(offset, offset + 4), b"\0" * 4), "log"),
    ]:
        data = bytearray(archive.read_bytes())
        change(data)
        broken = tmp_path / "broken.zip"
        broken.write_bytes(bytes(data))
        out = tmp_path / f"out-{os.urandom(4).hex()}"
        with pytest.raises(_archive.ArchiveError, match=message):
            unpack(source, str(broken), str(out))


@pytest.mark.parametrize("source", ["local", "remote"])
def test_local_header_with_other_name_is_refused(tmp_path, source):
    root = make_folder(tmp_path / "model")
    archive = tmp_path / "model.zip"
    _archive.create(root, str(archive), 0)
    info = zipfile.ZipFile(archive).getinfo("weights.bin")
    data = bytearray(archive.read_bytes())
    start = info.header_offset + 30
    data[start : start + len("weights.bin")] = b"../evil.bin"
    archive.write_bytes(bytes(data))
    with pytest.raises(_archive.ArchiveError, match="another name in its local header"):
        unpack(source, str(archive), str(tmp_path / "out"))
    assert not (tmp_path / "evil.bin").exists()


def test_symbolic_links_in_the_folder(tmp_path):
    root = tmp_path / "model"
    root.mkdir()
    (root / "real.txt").write_text("real")
    outside = tmp_path / "outside"
    (outside / "secret").mkdir(parents=True)
    (outside / "secret" / "s.txt").write_text("secret")
    (root / "sub").mkdir()
    (root / "sub" / "inner.txt").write_text("inner")
    os.symlink(root / "real.txt", root / "link.txt")
    # A link to a folder inside is skipped, so no file is packed twice.
    os.symlink(root / "sub", root / "linked-sub")
    assert _archive.list_files(str(root)) == ["link.txt", "real.txt", "sub/inner.txt"]
    os.symlink(outside / "secret", root / "linked-folder")
    with pytest.raises(ValueError, match=r"linked-folder' is a link to .*outside"):
        _archive.list_files(str(root))


def test_invalid_compression_is_refused():
    for bad in [10, -1, "fast", 1.5, None]:
        with pytest.raises(
            ValueError,
            match=rf"^'compression' has to be between 0 and 9, not {bad!r}\. "
            r"It may also be 'auto'\.$",
        ):
            _archive.check_compression(bad)


def test_dos_dates_before_1980_are_clamped(tmp_path):
    root = tmp_path / "model"
    root.mkdir()
    (root / "old.txt").write_text("old")
    os.utime(root / "old.txt", (0, 0))
    archive = str(tmp_path / "model.zip")
    _archive.create(str(root), archive)
    assert zipfile.ZipFile(archive).getinfo("old.txt").date_time[0] == 1980


def test_descriptor_sizes_match_central_directory(tmp_path):
    root = make_folder(tmp_path / "model")
    archive = tmp_path / "model.zip"
    _archive.create(root, str(archive), 0)
    data = archive.read_bytes()
    info = zipfile.ZipFile(archive).getinfo("weights.bin")
    assert info.flag_bits & 0x08
    start = data.index(b"PK\x07\x08", info.header_offset)
    _, crc, csize, size = struct.unpack("<IIII", data[start : start + 16])
    assert (crc, csize, size) == (info.CRC, info.compress_size, info.file_size)


def test_an_archive_of_many_folders_unpacks_within_few_descriptors(tmp_path):
    # Unpacking keeps a few folders open, not one per folder: with 2,000
    # folders and a limit of 256 open files, it still unpacks.
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for index in range(2000):
            zipped.writestr(f"layer-{index}/weights.bin", b"w" * 10)
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))\n"
        "from audmodel import _archive\n"
        "print(len(_archive.extract(sys.argv[1], sys.argv[2])))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(archive), str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-1000:]
    assert done.stdout.strip() == "2000"
