"""Loading into the cache: complete folders only, one download, safe archives."""

from __future__ import annotations

import io
import os
import pathlib
import shutil
import subprocess
import textwrap
import zipfile

import audbackend
import filelock
from helpers import files_below
from helpers import publish
from helpers import read_stored
from helpers import start_script
from helpers import stored_path
from helpers import write_stored
import pytest

import audmodel
from audmodel import _archive


def zip_bytes(entries: dict) -> bytes:
    """A ZIP archive with the given entries (name or ZipInfo -> content)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
    return buffer.getvalue()


def test_cached_model_loads_without_repository(
    repository, model_root, cache, monkeypatch, tmp_path
):
    uid = publish(model_root)
    folder = audmodel.load(uid)
    gone = audmodel.Repository("models", str(tmp_path / "nowhere"), "file-system")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [gone])
    assert audmodel.load(uid) == folder
    assert audmodel.header(uid)["name"] == "torch"


def test_failed_extraction_leaves_no_model_in_cache(
    repository, model_root, cache, monkeypatch
):
    uid = publish(model_root)
    short_id, version = uid.split("-", 1)

    def broken_extract(src, dst, *progress):
        pathlib.Path(dst, "half-written").write_bytes(b"x")
        raise OSError("disk gone")

    original = _archive.extract
    monkeypatch.setattr(_archive, "extract", broken_extract)
    with pytest.raises(OSError, match="disk gone"):
        audmodel.load(uid)
    entries = os.listdir(os.path.join(cache, short_id))
    assert version not in entries
    assert not [e for e in entries if not e.startswith(".") and "yaml" not in e]
    # Only a load by byte ranges keeps its staging folder, to be resumed.
    kept = sorted(e for e in entries if e.startswith(".staging"))
    partial = [f".staging-{version}-partial", f".staging-{version}-partial.journal"]
    assert kept in ([], partial) if repository.backend != "file-system" else kept == []
    assert audmodel.cached().empty
    monkeypatch.setattr(_archive, "extract", original)
    assert files_below(audmodel.load(uid)) == files_below(model_root)
    assert not [e for e in os.listdir(os.path.join(cache, short_id)) if "staging" in e]


def test_leftovers_of_killed_load_are_removed(repository, model_root, cache):
    uid = publish(model_root)
    short_id, version = uid.split("-", 1)
    parent = pathlib.Path(cache, short_id)
    (parent / f".staging-{version}-dead").mkdir(parents=True)
    (parent / f".staging-{version}-dead" / "partial").write_bytes(b"x")
    (parent / f"{version}~").mkdir()  # what audmodel 1.5 leaves
    (parent / version).mkdir()  # an empty folder is not a model
    folder = audmodel.load(uid)
    assert files_below(folder) == files_below(model_root)
    assert (
        sorted(p.name for p in parent.iterdir() if "staging" in p.name or "~" in p.name)
        == []
    )


def test_load_waits_for_lock_and_times_out(repository, model_root, cache):
    uid = publish(model_root)
    short_id, version = uid.split("-", 1)
    lock = filelock.FileLock(os.path.join(cache, short_id, f".{version}.lock"))
    with lock, pytest.warns(UserWarning, match="Could not acquire lock"):
        with pytest.raises(filelock.Timeout):
            audmodel.load(uid, timeout=0.2)
    assert audmodel.load(uid)


def test_processes_loading_one_model_download_it_once(repository, model_root, tmp_path):
    uid = publish(model_root)
    log = tmp_path / "downloads.log"
    source = textwrap.dedent(
        """
            import sys, time
            import audmodel
            from audmodel import _archive

            repository = audmodel.Repository(sys.argv[2], sys.argv[1], sys.argv[3])
            original = _archive.extract

            def counting_extract(src_path, dst_root, *progress):
                # Every fresh load fetches and unpacks the archive once.
                with open(sys.argv[4], "a") as fp:
                    fp.write("download\\n")
                time.sleep(0.5)  # let the others pile up on the lock
                return original(src_path, dst_root, *progress)

            _archive.extract = counting_extract
            audmodel.config.REPOSITORIES = [repository]
            print(audmodel.load(sys.argv[5], cache_root=sys.argv[6]))
            """
    )
    shared_cache = str(tmp_path / "shared-cache")
    processes = [
        start_script(
            source,
            tmp_path,
            repository,
            log,
            uid,
            shared_cache,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(8)
    ]
    folders = {p.communicate(timeout=120)[0].strip() for p in processes}
    assert all(p.returncode == 0 for p in processes)
    assert len(folders) == 1
    assert log.read_text() == "download\n"
    assert files_below(folders.pop()) == files_below(model_root)


def test_broken_archive_raises_and_caches_nothing(repository, model_root, cache):
    uid = publish(model_root)
    write_stored(repository, stored_path(uid), b"this is not a zip file")
    with pytest.raises(RuntimeError, match=f"Cannot load model '{uid}'.*broken"):
        audmodel.load(uid)
    short_id, version = uid.split("-", 1)
    assert not os.path.exists(os.path.join(cache, short_id, version))


def test_archive_with_wrong_crc_raises(repository, model_root, cache):
    uid = publish(model_root, compression=0)
    data = bytearray(read_stored(repository, stored_path(uid)))
    index = data.index(b"layers: 10")  # stored, so the bytes are there
    data[index] = ord("L")
    write_stored(repository, stored_path(uid), bytes(data))
    with pytest.raises(RuntimeError, match=f"Cannot load model '{uid}'.*CRC"):
        audmodel.load(uid)
    short_id, version = uid.split("-", 1)
    assert not os.path.exists(os.path.join(cache, short_id, version))


@pytest.mark.parametrize(
    "entry, reason",
    [
        ("../evil.txt", "'..' part"),
        ("a/../../evil.txt", "'..' part"),
        ("/absolute/evil.txt", "not a relative path"),
        ("C:/evil.txt", "not a relative path"),
        ("a\\..\\evil.txt", "backslash"),
        ("a//b.txt", "empty"),
    ],
)
def test_hostile_archive_entry_is_refused(
    repository, model_root, cache, tmp_path, entry, reason
):
    uid = publish(model_root)
    write_stored(
        repository, stored_path(uid), zip_bytes({"model.yaml": "ok", entry: "evil"})
    )
    with pytest.raises(RuntimeError, match=f"Refusing archive entry.*{reason}"):
        audmodel.load(uid)
    assert not any(p.name == "evil.txt" for p in tmp_path.rglob("*"))
    short_id, version = uid.split("-", 1)
    assert not os.path.exists(os.path.join(cache, short_id, version))


def test_archive_with_symlink_or_duplicate_is_refused(repository, model_root, cache):
    uid = publish(model_root)
    link = zipfile.ZipInfo("link")
    link.external_attr = 0o120777 << 16
    write_stored(repository, stored_path(uid), zip_bytes({link: "/etc/passwd"}))
    with pytest.raises(RuntimeError, match="symbolic link"):
        audmodel.load(uid)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("model.yaml", "a")
        with pytest.warns(UserWarning, match="Duplicate"):
            zf.writestr("model.yaml", "b")
    write_stored(repository, stored_path(uid), buffer.getvalue())
    with pytest.raises(RuntimeError, match="occurs twice"):
        audmodel.load(uid)


def test_archive_larger_than_free_space_is_refused(
    repository, model_root, cache, monkeypatch
):
    uid = publish(model_root)
    disk_usage = shutil.disk_usage

    def little_free(path):
        usage = disk_usage(path)
        return usage._replace(free=100) if str(path).startswith(cache) else usage

    monkeypatch.setattr(shutil, "disk_usage", little_free)
    with pytest.raises(RuntimeError, match="only 100 bytes are free"):
        audmodel.load(uid)


def test_archive_with_folder_entries_loads(repository, model_root):
    """Archives made by other tools may list folders; they are created."""
    uid = publish(model_root)
    entries = {"sub/": "", "sub/file.txt": "content"}
    write_stored(repository, stored_path(uid), zip_bytes(entries))
    assert files_below(audmodel.load(uid)) == {"sub/file.txt": b"content"}


def test_verbose_load_works(repository, model_root):
    uid = publish(model_root, verbose=True)
    assert audmodel.load(uid, verbose=True)


def test_repository_removed_after_header_cached(
    repository, model_root, monkeypatch, tmp_path
):
    uid = publish(model_root)
    audmodel.header(uid)
    missing = audmodel.Repository("models", str(tmp_path / "nowhere"), "file-system")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [missing])
    with pytest.raises(audbackend.BackendError):
        audmodel.load(uid)


# Backends that download (a file-system repository is read where it lies).
@pytest.mark.parametrize("backend_name", ["artifactory", "s3"])
def test_download_progress_is_shown_only_when_verbose(repository, model_root, capfd):
    uid = publish(model_root)
    capfd.readouterr()
    audmodel.load(uid)
    assert capfd.readouterr().err == ""
    audmodel.load(uid, cache_root=audmodel.config.CACHE_ROOT + "-2", verbose=True)
    assert "Download" in capfd.readouterr().err


@pytest.mark.parametrize("backend_name", ["file-system"])
def test_a_model_removed_while_its_archive_is_opened_does_not_exist(
    repository, model_root, cache, monkeypatch
):
    uid = publish(model_root)
    from audmodel._archive import _directory

    check = _directory.check_end_record

    def removed_meanwhile(*args):
        check(*args)
        audmodel.remove(uid)  # by another process, between two opens

    monkeypatch.setattr(_directory, "check_end_record", removed_meanwhile)
    with pytest.raises(RuntimeError, match=f"A model with ID '{uid}' does not exist"):
        audmodel.load(uid)
    assert not os.path.exists(os.path.join(cache, *uid.split("-", 1)))
