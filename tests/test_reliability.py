"""Faults injected, hostile input given, processes racing: nothing is lost."""

from __future__ import annotations

import io
import os
import signal
import struct
import subprocess
import textwrap
import time
import zipfile

import audbackend
from helpers import ATOMIC_BACKENDS
from helpers import BACKENDS
from helpers import REMOTE_BACKENDS
from helpers import backend_files
from helpers import files_below
from helpers import publish
from helpers import read_stored
from helpers import start_script
from helpers import stored_path
from helpers import write_stored
import pytest

import audmodel


def cache_entries(cache: str, uid: str) -> list[str]:
    short_id = uid.split("-")[0]
    folder = os.path.join(cache, short_id)
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


# --- a load killed at any point ------------------------------------------------

KILLED_LOAD = textwrap.dedent(
    """
    import sys, time
    import audmodel
    from audmodel import _archive

    host, name, backend, uid, cache, phase = sys.argv[1:7]
    repository = audmodel.Repository(name, host, backend)
    audmodel.config.REPOSITORIES = [repository]
    cls = audmodel.Repository.backend_registry[backend]

    def stall(message):
        print(message, flush=True)
        time.sleep(120)

    if phase == "download":
        # Archives are unpacked while their parts are read; a small one
        # comes whole with the read of its end.
        original_range, original_tail = cls._read_range, cls._read_tail

        def read_range(self, path, start, end):
            data = original_range(self, path, start, end)
            if path.endswith(".zip"):
                stall("downloading")
            return data

        def read_tail(self, path, count):
            data = original_tail(self, path, count)
            if path.endswith(".zip"):
                stall("downloading")
            return data

        cls._read_range, cls._read_tail = read_range, read_tail
    else:
        original = _archive.extract

        def extract(src_path, dst_root, *progress):
            files = original(src_path, dst_root, *progress)
            stall("extracting")  # all files written, not yet in place
            return files

        _archive.extract = extract
    audmodel.load(uid, cache_root=cache)
    """
)


# File-system archives are read where they lie, not downloaded.
KILLED_PHASES = [
    *(("download", name) for name in REMOTE_BACKENDS),
    *(("extraction", name) for name in BACKENDS),
]


@pytest.mark.parametrize("phase, backend_name", KILLED_PHASES)
def test_load_killed_leaves_nothing_taken_as_complete(
    repository, model_root, cache, tmp_path, phase
):
    uid = publish(model_root)
    process = start_script(
        KILLED_LOAD, tmp_path, repository, uid, cache, phase, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout.readline().strip() in ("downloading", "extracting")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    version = uid.split("-", 1)[1]
    entries = cache_entries(cache, uid)
    assert version not in entries  # no folder that looks complete
    assert any(e.startswith(".staging-") for e in entries)  # what the kill left
    folder = audmodel.load(uid)
    assert files_below(folder) == files_below(model_root)
    assert not any(e.startswith(".staging-") for e in cache_entries(cache, uid))


# --- integrity -------------------------------------------------------------------


def test_broken_archive_fails_and_repaired_archive_loads(repository, model_root, cache):
    uid = publish(model_root)
    good = read_stored(repository, stored_path(uid))
    write_stored(repository, stored_path(uid), good[: len(good) // 2])
    with pytest.raises(RuntimeError, match=f"Cannot load model '{uid}'"):
        audmodel.load(uid)
    assert uid.split("-", 1)[1] not in cache_entries(cache, uid)
    write_stored(repository, stored_path(uid), good)
    assert files_below(audmodel.load(uid)) == files_below(model_root)


def zip_with_entry_sizes(file_size: int, method: int | None = None) -> bytes:
    """A ZIP whose only entry claims another size (and method) than it has."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", bytes(100_000))
    data = bytearray(buffer.getvalue())
    for signature, size_at, method_at in [
        (b"PK\x03\x04", 22, 8),
        (b"PK\x01\x02", 24, 10),
    ]:
        start = data.index(signature)
        struct.pack_into("<I", data, start + size_at, file_size)
        if method is not None:
            struct.pack_into("<H", data, start + method_at, method)
    return bytes(data)


@pytest.mark.parametrize(
    "archive, reason",
    [
        (zip_with_entry_sizes(4_000_000_000), "more than deflate can"),
        (zip_with_entry_sizes(100_000, method=12), "compression method 12"),
        (zip_with_entry_sizes(100_000, method=0), "stored, but its sizes differ"),
    ],
    ids=["zip-bomb", "bzip2", "stored-sizes-differ"],
)
def test_zip_bombs_and_unknown_methods_are_refused_before_writing(
    repository, model_root, cache, archive, reason
):
    uid = publish(model_root)
    write_stored(repository, stored_path(uid), archive)
    with pytest.raises(RuntimeError, match=reason):
        audmodel.load(uid)
    assert uid.split("-", 1)[1] not in cache_entries(cache, uid)


# --- backend faults ------------------------------------------------------------------


def test_s3_transient_faults_are_retried(flaky_s3, model_root):
    proxy, _ = flaky_s3
    proxy.inject("500", times=2, method="PUT", path=".zip")
    uid = publish(model_root)
    proxy.inject("drop", times=1, method="GET", path=".zip")
    proxy.inject("500", times=1, method="GET", path="header.yaml")
    assert files_below(audmodel.load(uid)) == files_below(model_root)
    assert proxy.faults == 4


def test_s3_persistent_download_fault_raises_and_caches_nothing(
    flaky_s3, model_root, cache
):
    proxy, _ = flaky_s3
    uid = publish(model_root)
    proxy.inject("500", times=-1, method="GET", path=".zip")
    start = time.monotonic()
    with pytest.raises(audbackend.BackendError):
        audmodel.load(uid)
    assert time.monotonic() - start < 60
    # header and meta may be cached, but no model folder and no staging
    entries = cache_entries(cache, uid)
    left = [e for e in entries if not e.endswith((".yaml", ".lock"))]
    assert left == []
    proxy.clear()
    assert files_below(audmodel.load(uid)) == files_below(model_root)


def test_s3_persistent_upload_fault_leaves_nothing(flaky_s3, model_root):
    proxy, repository = flaky_s3
    proxy.inject("500", times=-1, method="PUT", path=".header.yaml")
    with pytest.raises(RuntimeError, match="Could not publish"):
        publish(model_root, alias="best")
    proxy.clear()
    with repository.create_backend_interface().backend as backend:
        assert backend.ls("/") == []


# --- processes writing at once ----------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    import audmodel

    host, name, backend, cache, worker, first, second = sys.argv[1:8]
    audmodel.config.REPOSITORIES = [audmodel.Repository(name, host, backend)]
    for i in range(8):
        audmodel.update_meta(first, {f"worker-{worker}": i}, cache_root=cache)
        audmodel.set_alias("contested", second if i % 2 else first, cache_root=cache)
    """
)


# s3rver stores an object's body and its metadata as two files, replaced
# one after the other: writers racing on one object can leave the body of
# one with the checksum of the other (a store without atomic writes; loads
# refuse such a file by its MD5).
@pytest.mark.parametrize("backend_name", ATOMIC_BACKENDS)
def test_concurrent_meta_and_alias_writers_leave_valid_files(
    repository, model_root, tmp_path, backend_name
):
    first = publish(model_root, "1.0.0", meta={"start": True})
    second = publish(model_root, "2.0.0")
    processes = [
        start_script(
            WRITER,
            tmp_path,
            repository,
            tmp_path / f"cache-{worker}",
            worker,
            first,
            second,
            stderr=subprocess.PIPE,
        )
        for worker in range(4)
    ]
    for process in processes:
        _, error = process.communicate(timeout=300)
        assert process.returncode == 0, error
    meta = audmodel.meta(first)  # parses: no torn or mixed file
    assert meta["start"] is True
    assert set(meta) <= {"start", "worker-0", "worker-1", "worker-2", "worker-3"}
    target = audmodel.resolve_alias("contested")
    assert target in (first, second)
    # Each model lists the alias only if it points there.
    assert ("contested" in audmodel.aliases(first)) == (target == first)
    assert ("contested" in audmodel.aliases(second)) == (target == second)


# --- creating a file only if absent -------------------------------------------


def race_to_claim(location, path: str, contenders: int) -> list[tuple[int, object]]:
    """Let threads take one claim at the same moment; what did each get?"""
    import threading

    from audmodel import _store

    start = threading.Barrier(contenders)
    results = []

    def contend(worker: int) -> None:
        start.wait()
        data = f"worker: {worker}\n".encode()
        results.append((worker, _store.claim(location, data, path, "1.0.0")))

    threads = [threading.Thread(target=contend, args=(w,)) for w in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_racing_claims_have_one_holder(repository):
    """Threads claiming one path at the same moment: exactly one holds it.

    On Artifactory, which has no conditional write, this holds only through
    the tickets; a check followed by a write lets every thread win.
    """
    from audmodel import _store

    with _store.opened(repository) as location:
        for round_ in range(4):
            path = f"/race/round-{round_}.yaml"
            results = race_to_claim(location, path, contenders=8)
            holders = [(worker, taken) for worker, taken in results if taken.held]
            assert len(results) == 8
            assert len(holders) == 1, results
            worker, taken = holders[0]
            # The losers name the claim they found, which holds the winner's text.
            assert {t.holder for _, t in results} == {taken.held}
            stored = _store.read_stored(location, taken.held)
            assert stored == f"worker: {worker}\n".encode()
            _store.remove_stored(location, taken.held)
    assert backend_files(repository) == []


def test_stale_ticket_does_not_block_creation(repository, monkeypatch):
    """A ticket left by a killed process is ignored once it is old."""
    from audmodel import _store
    from audmodel.backend import _tickets

    with _store.opened(repository) as location:
        backend = location.interface.backend
        target = _store.versioned_path(location, "/race/claim.yaml", "1.0.0")
        old = time.time_ns() - int(2 * _tickets.STALE_AFTER * 1e9)
        write_stored(repository, f"{target}.{old:x}-dead.ticket", b"killed")
        fresh = f"{target}.{time.time_ns():x}-live.ticket"
        write_stored(repository, fresh, b"running")
        monkeypatch.setattr(_tickets, "ATTEMPTS", 3)
        monkeypatch.setattr(_tickets, "FIRST_WAIT", 0.01)
        # A live ticket keeps everybody waiting, and the error says what to do.
        with pytest.raises(RuntimeError, match=r"remove the files .*\.ticket"):
            _tickets.put_file_exclusive(backend, __file__, target)
        backend.remove_file(fresh)
        assert _tickets.put_file_exclusive(backend, __file__, target)
        assert not [f for f in backend_files(repository) if f.endswith(".ticket")]
