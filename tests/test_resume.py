"""Loads that resume where an interrupted one stopped, and transfers that
retry a connection cut off half-way."""

from __future__ import annotations

import contextlib
import os
import pathlib
import time

from helpers import REMOTE_BACKENDS
from helpers import files_below
from helpers import publish
import pytest

import audmodel
from audmodel import _journal
from audmodel.backend._common import RangedReads
from audmodel.backend._s3 import S3


FILES = 12
FILE_SIZE = 512 * 1024


@pytest.fixture
def sharded(tmp_path) -> str:
    """A model of several weight files, as sharded checkpoints are."""
    root = tmp_path / "sharded"
    root.mkdir()
    for index in range(FILES):
        (root / f"shard-{index:02d}.bin").write_bytes(os.urandom(FILE_SIZE))
    (root / "config.yaml").write_text("shards: 12\n")
    return str(root)


@pytest.fixture
def remote(repository, backend_name):
    # File-system archives are unpacked where they lie: each test that takes
    # this runs on the others (REMOTE_BACKENDS).
    assert backend_name in REMOTE_BACKENDS
    return repository


def count_reads(monkeypatch) -> list[int]:
    """Bytes of every read and streamed piece from now on."""
    read = []
    read_range, stream_range = RangedReads.read_range, RangedReads.stream_range

    def counted_range(self, *args, **kwargs):
        data = read_range(self, *args, **kwargs)
        read.append(len(data))
        return data

    def counted_stream(self, *args, **kwargs):
        for piece in stream_range(self, *args, **kwargs):
            read.append(len(piece))
            yield piece

    monkeypatch.setattr(RangedReads, "read_range", counted_range)
    monkeypatch.setattr(RangedReads, "stream_range", counted_stream)
    return read


def interrupt_after(monkeypatch, count: int) -> None:
    """Stop the next load as Ctrl+C would, once ``count`` files are unpacked."""
    record = _journal.Journal._record
    seen = []

    def recording(self, entry):
        record(self, entry)
        seen.append(entry.filename)
        if len(seen) == count:
            raise KeyboardInterrupt

    monkeypatch.setattr(_journal.Journal, "_record", recording)


def interrupted_load(uid: str, count: int) -> None:
    """A load of ``uid`` stopped once ``count`` files are unpacked.

    Its ranges are read one at a time, so that what is unpacked when it
    stops does not depend on which of several parallel reads ends first.
    """
    with pytest.MonkeyPatch.context() as patch:
        for backend in (RangedReads, S3):
            patch.setattr(backend, "read_threads", property(lambda self: 1))
        interrupt_after(patch, count)
        with pytest.raises(KeyboardInterrupt):
            audmodel.load(uid)


@pytest.mark.parametrize("backend_name", REMOTE_BACKENDS)
def test_an_interrupted_load_continues_with_what_is_missing(
    remote, sharded, cache, monkeypatch
):
    uid = publish(sharded)
    short_id, version = uid.split("-", 1)
    interrupted_load(uid, 7)
    partial = pathlib.Path(cache, short_id, f".staging-{version}-partial")
    kept = {p.name: p.stat().st_ino for p in partial.iterdir()}
    assert len(kept) >= 7  # what was unpacked, and maybe a file cut short
    assert audmodel.cached().empty  # nothing half-loaded is a model
    read = count_reads(monkeypatch)
    folder = audmodel.load(uid, verbose=True)
    assert files_below(folder) == files_below(sharded)
    # The files kept are not read again: only the missing ones, and headers.
    missing = FILES - len([name for name in kept if name.startswith("shard")])
    assert 0 < missing < FILES
    assert sum(read) <= missing * FILE_SIZE + 64 * 1024
    for name, inode in kept.items():
        if name.startswith("shard"):
            assert os.stat(os.path.join(folder, name)).st_ino == inode
    assert not [
        p for p in pathlib.Path(cache, short_id).iterdir() if "staging" in p.name
    ]


@pytest.mark.parametrize("backend_name", REMOTE_BACKENDS)
def test_a_changed_archive_is_loaded_afresh(remote, sharded, cache, monkeypatch):
    uid = publish(sharded)
    interrupted_load(uid, 5)
    # The model is removed and published again with other weights.
    audmodel.remove(uid)
    for index in range(FILES):
        pathlib.Path(sharded, f"shard-{index:02d}.bin").write_bytes(
            os.urandom(FILE_SIZE)
        )
    assert publish(sharded) == uid
    assert files_below(audmodel.load(uid)) == files_below(sharded)


@pytest.mark.parametrize("backend_name", REMOTE_BACKENDS)
def test_what_an_interrupted_load_left_a_day_ago_is_removed(
    remote, sharded, cache, monkeypatch
):
    uid = publish(sharded)
    short_id, version = uid.split("-", 1)
    interrupted_load(uid, 3)
    partial = pathlib.Path(cache, short_id, f".staging-{version}-partial")
    journal = pathlib.Path(f"{partial}.journal")
    assert partial.is_dir() and journal.is_file()
    day_ago = time.time() - 25 * 3600
    os.utime(journal, (day_ago, day_ago))
    assert audmodel.remove_cached(max_size=0) == []
    assert not partial.exists() and not journal.exists()
    # The next load, too, begins afresh over an old one.
    interrupted_load(uid, 3)
    os.utime(journal, (day_ago, day_ago))
    read = count_reads(monkeypatch)
    assert files_below(audmodel.load(uid)) == files_below(sharded)
    assert sum(read) >= FILES * FILE_SIZE  # all read again


def recorded_progress(monkeypatch) -> list[int]:
    """The steps the progress bar of a load is moved by, from now on."""
    from audmodel import _store

    steps = []

    @contextlib.contextmanager
    def progress(total, description, verbose=False):
        yield steps.append

    monkeypatch.setattr(_store, "progress", progress)
    return steps


def test_a_connection_cut_half_way_is_continued(flaky_s3, tmp_path, monkeypatch):
    flaky, _ = flaky_s3
    root = tmp_path / "large"
    root.mkdir()
    (root / "weights.bin").write_bytes(os.urandom(12 * 1024 * 1024))  # streamed
    (root / "config.yaml").write_text("layers: 3\n")
    uid = publish(str(root), compression=0)
    steps = recorded_progress(monkeypatch)
    audmodel.load(uid, cache_root=str(tmp_path / "first"))
    uncut = sum(steps)
    steps.clear()
    flaky.sent = 0
    # The data, streamed in ranges of megabytes, not the archive's end.
    flaky.inject("drop", times=3, method="GET", path=".zip", min_range=2 << 20)
    assert files_below(audmodel.load(uid)) == files_below(str(root))
    assert flaky.faults == 3
    # Each cut stream went on from where it stopped: nothing was sent twice,
    # and the progress bar only went forward, to where an uncut load goes.
    assert flaky.sent < 1.2 * 12 * 1024 * 1024
    assert all(step > 0 for step in steps)
    assert sum(steps) == uncut


@pytest.mark.parametrize("backend_name", REMOTE_BACKENDS)
def test_links_planted_at_the_fixed_names_are_not_followed(
    remote, sharded, cache, tmp_path
):
    uid = publish(sharded)
    short_id, version = uid.split("-", 1)
    parent = pathlib.Path(cache, short_id)
    parent.mkdir(parents=True)
    # A member of a shared cache's group points both names elsewhere.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (parent / f".staging-{version}-partial").symlink_to(elsewhere)
    (parent / f".staging-{version}-partial.journal").symlink_to(victim)
    assert files_below(audmodel.load(uid)) == files_below(sharded)
    assert list(elsewhere.iterdir()) == []
    assert victim.read_text() == "keep me\n"


# --- inside a file ---------------------------------------------------------------

MiB = 1024 * 1024
LARGE_FILE = 24 * MiB


@pytest.fixture
def one_file(tmp_path) -> str:
    """A model that is one large file, as most are."""
    root = tmp_path / "one-file"
    root.mkdir()
    (root / "weights.bin").write_bytes(os.urandom(LARGE_FILE))
    return str(root)


def stop_reading_after(patch, count: int) -> None:
    """Stop a load as Ctrl+C would, once ``count`` bytes of ranges arrived."""
    stream_range = RangedReads.stream_range
    arrived = []

    def stopping(self, *args, **kwargs):
        for piece in stream_range(self, *args, **kwargs):
            arrived.append(len(piece))
            if sum(arrived) >= count:
                raise KeyboardInterrupt
            yield piece

    patch.setattr(RangedReads, "stream_range", stopping)


def load_stopped_after(uid: str, count: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        for backend in (RangedReads, S3):
            patch.setattr(backend, "read_threads", property(lambda self: 1))
        stop_reading_after(patch, count)
        with pytest.raises(KeyboardInterrupt):
            audmodel.load(uid)


def staged_file(cache: str, uid: str, name: str) -> pathlib.Path:
    short_id, version = uid.split("-", 1)
    return pathlib.Path(cache, short_id, f".staging-{version}-partial", name)


@pytest.mark.parametrize("backend_name", REMOTE_BACKENDS)
def test_a_load_stopped_inside_a_stored_file_continues_from_there(
    remote, one_file, cache, monkeypatch
):
    uid = publish(one_file, compression=0)
    load_stopped_after(uid, int(0.7 * LARGE_FILE))
    inode = staged_file(cache, uid, "weights.bin").stat().st_ino
    read = count_reads(monkeypatch)
    folder = audmodel.load(uid)
    assert files_below(folder) == files_below(one_file)
    # What was written and recorded is not read again: about 30 % is.
    assert sum(read) <= 0.35 * LARGE_FILE
    assert os.stat(os.path.join(folder, "weights.bin")).st_ino == inode


@pytest.mark.parametrize("backend_name", REMOTE_BACKENDS[:2])
def test_a_stored_file_changed_since_is_read_again_with_a_notice(
    remote, one_file, cache, monkeypatch, capsys
):
    uid = publish(one_file, compression=0)
    load_stopped_after(uid, int(0.7 * LARGE_FILE))
    staged = staged_file(cache, uid, "weights.bin")
    with open(staged, "r+b") as fp:  # a byte of the kept part flipped
        fp.seek(1000)
        byte = fp.read(1)
        fp.seek(1000)
        fp.write(bytes([byte[0] ^ 0xFF]))
    read = count_reads(monkeypatch)
    folder = audmodel.load(uid, verbose=True)
    assert files_below(folder) == files_below(one_file)
    assert sum(read) >= LARGE_FILE
    assert "does not match its record; it is read again" in capsys.readouterr().err


@pytest.mark.parametrize("backend_name", REMOTE_BACKENDS[:2])
def test_a_deflated_file_cut_short_is_read_again_whole(
    remote, tmp_path, cache, monkeypatch
):
    root = tmp_path / "deflated"
    root.mkdir()
    # Compressible, yet larger than one range when deflated.
    (root / "weights.txt").write_bytes(os.urandom(4 * MiB).hex().encode())
    uid = publish(str(root), compression=9)
    size = audmodel.files(uid).loc["weights.txt", "size"]
    load_stopped_after(uid, 3 * MiB)
    read = count_reads(monkeypatch)
    folder = audmodel.load(uid)
    assert files_below(folder) == files_below(str(root))
    assert 3 * MiB < sum(read) < size  # deflated whole, less than its size


@pytest.mark.parametrize("backend_name", ["file-system"])
def test_a_file_system_load_stopped_inside_a_stored_file_continues_from_there(
    repository, one_file, cache, monkeypatch
):
    # A repository on a network file system is read where it lies: there,
    # the unpacking is the transfer, and it is continued the same way.
    from audmodel._archive import _unpack

    uid = publish(one_file, compression=0)
    record = _journal.Journal._record_part
    recorded = []

    def stopping(self, entry, offset, start, end, crc):
        record(self, entry, offset, start, end, crc)
        recorded.append(end - start)
        if sum(recorded) >= 0.6 * LARGE_FILE:
            raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_journal.Journal, "_record_part", stopping)
        with pytest.raises(KeyboardInterrupt):
            audmodel.load(uid)
    inode = staged_file(cache, uid, "weights.bin").stat().st_ino
    copied = []
    copy_range = _unpack.copy_range

    def counted(src, src_offset, dst, dst_offset, size, *args):
        copied.append(size)
        return copy_range(src, src_offset, dst, dst_offset, size, *args)

    monkeypatch.setattr(_unpack, "copy_range", counted)
    folder = audmodel.load(uid)
    assert files_below(folder) == files_below(one_file)
    assert 0 < sum(copied) <= 0.4 * LARGE_FILE
    assert os.stat(os.path.join(folder, "weights.bin")).st_ino == inode
