"""Which models the cache holds, and freeing space: cached(), remove_cached()."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import textwrap
import time

import filelock
from helpers import files_below
from helpers import make_file_system_repository
from helpers import publish
import pytest

import audmodel
from audmodel import _cache
from audmodel import _ids


@pytest.fixture
def loaded(request, tmp_path, model_root, monkeypatch, cache) -> list[str]:
    """Three models of one repository, loaded in this order, a second apart."""
    repository = make_file_system_repository(request, tmp_path, "models")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    uids = [publish(model_root, version) for version in ["1.0.0", "2.0.0", "3.0.0"]]
    for age, uid in zip([300, 200, 100], uids, strict=True):
        folder = audmodel.load(uid)
        stamp = time.time() - age
        os.utime(folder, (stamp, stamp))
    return uids


def test_cached_lists_models_with_size_and_last_use(loaded, model_root, cache):
    table = audmodel.cached()
    assert list(table.index) == loaded
    assert table.index.name == "uid"
    assert list(table.columns) == [
        "name",
        "subgroup",
        "version",
        "path",
        "size",
        "last_used",
        "cache",
    ]
    assert set(table["cache"]) == {"user"}  # no shared cache is set
    first = table.loc[loaded[0]]
    assert (first["name"], first["subgroup"], first["version"]) == (
        "torch",
        "",
        "1.0.0",
    )
    assert first["path"] == audmodel.load(loaded[0])
    assert first["size"] == sum(len(data) for data in files_below(model_root).values())
    # The load above used the first model just now.
    assert (
        table.loc[loaded[0], "last_used"]
        < audmodel.cached().loc[loaded[0], "last_used"]
    )


def test_cached_skips_staging_and_leftovers(loaded, cache):
    short_id = loaded[0].split("-")[0]
    os.makedirs(os.path.join(cache, short_id, ".staging-9.0.0-x", "f"))
    os.makedirs(os.path.join(cache, short_id, "9.0.0~", "f"))
    os.makedirs(os.path.join(cache, short_id, "8.0.0"))  # empty: not complete
    assert list(audmodel.cached().index) == loaded
    assert audmodel.cached(cache_root=os.path.join(cache, "none")).empty


def test_remove_one_model(loaded, cache):
    assert audmodel.remove_cached(loaded[1]) == [loaded[1]]
    assert list(audmodel.cached().index) == [loaded[0], loaded[2]]
    assert audmodel.remove_cached(loaded[1]) == []
    # The header stays cached, and the model loads again.
    assert audmodel.header(loaded[1])["version"] == "2.0.0"
    assert os.path.isdir(audmodel.load(loaded[1]))


def test_remove_all_versions_by_short_id(loaded):
    assert audmodel.remove_cached(loaded[0].split("-")[0]) == loaded
    assert audmodel.cached().empty


def test_remove_models_unused_for_a_while(loaded):
    removed = audmodel.remove_cached(older_than=datetime.timedelta(seconds=150))
    assert removed == loaded[:2]
    assert list(audmodel.cached().index) == [loaded[2]]


def test_remove_least_recently_used_until_under_a_size(loaded):
    size = int(audmodel.cached()["size"].iloc[0])
    assert audmodel.remove_cached(max_size=2 * size) == [loaded[0]]
    assert audmodel.remove_cached(max_size=2 * size) == []
    assert audmodel.remove_cached(max_size=0) == loaded[1:]


def test_model_being_loaded_is_skipped(loaded, cache):
    folder = audmodel.load(loaded[0])
    with filelock.FileLock(_cache.lock_file(folder)):  # as a loading process
        assert audmodel.remove_cached(max_size=0) == loaded[1:]
    assert audmodel.remove_cached(max_size=0) == [loaded[0]]


def test_reader_of_a_removed_model_goes_on_reading(loaded, cache):
    folder = audmodel.load(loaded[0])
    with open(os.path.join(folder, "model.onnx"), "rb") as fp:
        audmodel.remove_cached(loaded[0])
        assert not os.path.exists(folder)
        assert len(fp.read()) == 2048


def test_removal_while_another_process_loads_never_half_deletes(loaded, cache):
    script = textwrap.dedent(
        """
        import sys, audmodel
        audmodel.config.REPOSITORIES = [
            audmodel.Repository(sys.argv[2], sys.argv[1], "file-system")
        ]
        for _ in range(30):
            folder = audmodel.load(sys.argv[3], cache_root=sys.argv[4])
        """
    )
    repository = audmodel.config.REPOSITORIES[0]
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            script,
            repository.host,
            repository.name,
            loaded[0],
            cache,
        ]
    )
    for _ in range(30):
        audmodel.remove_cached(loaded[0])
    assert process.wait(timeout=120) == 0
    for entry in _cache.entries(cache):
        assert sorted(os.listdir(entry.path)) == ["log", "model.onnx", "model.yaml"]


def test_remove_cached_needs_something_to_remove(cache):
    with pytest.raises(ValueError, match="Name what to remove"):
        audmodel.remove_cached()
    with pytest.raises(ValueError, match="'max_size' must not be negative"):
        audmodel.remove_cached(max_size=-1)


# --- verify_cached -----------------------------------------------------------------


def damage(folder: str) -> None:
    """Change one file, remove another, add a third."""
    with open(os.path.join(folder, "model.yaml"), "a") as fp:
        fp.write("tuned: by hand\n")
    os.remove(os.path.join(folder, "log", "eval.yaml"))
    with open(os.path.join(folder, "notes.txt"), "w") as fp:
        fp.write("mine\n")


def test_verify_cached_reports_changed_missing_and_extra_files(
    loaded, model_root, cache
):
    assert audmodel.verify_cached().empty
    folder = audmodel.load(loaded[1])
    damage(folder)
    report = audmodel.verify_cached()
    assert list(report.columns) == ["path", "problem"]
    assert list(report.index) == [loaded[1]] * 3
    assert sorted(zip(report["path"], report["problem"], strict=True)) == [
        ("log/eval.yaml", "missing"),
        ("model.yaml", "changed"),
        ("notes.txt", "extra"),
    ]
    assert audmodel.verify_cached(loaded[0]).empty
    # A changed model is loaded fresh after its removal from the cache.
    audmodel.remove_cached(loaded[1])
    assert files_below(audmodel.load(loaded[1])) == files_below(model_root)
    assert audmodel.verify_cached().empty


def test_verify_cached_asks_the_repository_without_a_record(loaded, cache):
    """A model that audmodel 1.5 put into the cache has no record of its files."""
    short_id, version = loaded[0].split("-", 1)
    record = _cache.files_record(cache, _ids.ModelId(short_id, version))
    os.remove(record)
    damage(audmodel.load(loaded[0]))
    assert len(audmodel.verify_cached(short_id)) == 3
    assert os.path.exists(record)  # kept for the next time


def test_verify_cached_of_a_model_not_in_the_cache_raises(loaded):
    audmodel.remove_cached(loaded[0])
    with pytest.raises(RuntimeError, match="is not in the cache"):
        audmodel.verify_cached(loaded[0])
