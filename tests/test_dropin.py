"""What audmodel 1.5's users run behaves as with 1.5, on a cache both use."""

from __future__ import annotations

import os
import pathlib
import warnings

from attackers import state_of
import audeer
import filelock
from helpers import publish
import pytest

import audmodel
from audmodel import _cache


def test_a_model_folder_with_no_files_publishes_and_loads_empty(repository, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    uid = publish(str(empty), alias="nothing")
    folder = audmodel.load(uid)
    assert os.path.isdir(folder) and os.listdir(folder) == []
    assert audmodel.load("nothing") == folder
    assert audmodel.files(uid).empty


def test_the_cache_root_holds_model_folders_only(repository, model_root, cache):
    uid = publish(model_root, alias="best")
    audmodel.load(uid)
    audmodel.load("best")  # cached already: its record goes into its folder
    audmodel.available()  # the header index goes there too
    assert audeer.list_dir_names(cache, basenames=True) == [uid.split("-")[0]]
    assert os.listdir(cache) == [uid.split("-")[0]]
    assert audmodel.resolve_alias("best") == uid
    # Offline, the alias still resolves, from the record in the model's folder.
    audmodel.config.OFFLINE = True
    assert audmodel.resolve_alias("best") == uid
    assert audmodel.load("best").startswith(cache)


def test_alias_records_of_earlier_versions_move_into_model_folders(
    repository, model_root, cache
):
    uid = publish(model_root, alias="best")
    audmodel.load(uid)
    old = pathlib.Path(cache, ".aliases")
    old.mkdir()
    (old / "best").write_text(uid)
    (old / "gone").write_text("12345678-1.0.0")  # a model not cached
    audmodel.config.OFFLINE = True
    assert audmodel.resolve_alias("best") == uid  # read where it was
    audmodel.config.OFFLINE = False
    audmodel.load("best")
    assert not old.exists()
    assert (pathlib.Path(cache, uid.split("-")[0], ".alias-best")).read_text() == uid


def test_reading_calls_write_nothing_into_the_cache(repository, model_root, cache):
    uid = publish(model_root, alias="best")
    audmodel.load(uid)
    audmodel.header(uid)
    audmodel.meta(uid)
    audmodel.available()
    before = state_of(pathlib.Path(cache))
    assert audmodel.resolve_alias("best") == uid
    assert audmodel.aliases(uid) == ["best"]
    assert audmodel.versions(uid) == ["1.0.0"]
    assert audmodel.latest_version(uid) == "1.0.0"
    assert list(audmodel.available().index) == [uid]
    assert audmodel.exists(uid)
    assert state_of(pathlib.Path(cache)) == before


def test_a_read_only_cache_answers(repository, model_root, cache, monkeypatch):
    uid = publish(model_root, alias="best")
    audmodel.load(uid)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied (a read-only mount)")

    # As on a read-only mount, also for root, whom permissions do not stop.
    monkeypatch.setattr(_cache, "write_file", refuse)
    assert audmodel.resolve_alias("best") == uid
    assert list(audmodel.available().index) == [uid]
    assert audmodel.load(uid).startswith(cache)
    assert audmodel.load("best").startswith(cache)


def test_waiting_for_a_lock_warns_in_audmodel_1_5s_words(repository, model_root, cache):
    uid = publish(model_root)
    short_id, version = uid.split("-", 1)
    lock = os.path.join(cache, short_id, f".{version}.lock")
    os.makedirs(os.path.dirname(lock))
    with filelock.FileLock(lock):
        with (
            warnings.catch_warnings(record=True) as caught,
            pytest.raises(filelock.Timeout) as error,
        ):
            warnings.simplefilter("always")
            audmodel.load(uid, timeout=0.2)
    assert [str(w.message) for w in caught] == [
        f"Could not acquire lock '{lock}'; retrying for 0.2s."
    ]
    assert "another process holds it" in str(error.value)


def test_meta_being_replaced_reads_as_none_not_as_a_backend_error(
    repository, model_root
):
    uid = audmodel.publish(model_root, "torch", {"a": 1}, "1.0.0", meta={"x": 1})
    short_id, version = uid.split("-", 1)
    from audmodel import _layout
    from audmodel import _store

    # Another process is between removing and writing it (a removal racing
    # a new publication): the model exists, its meta file for a moment not.
    with _store.opened(repository) as location:
        location.interface.remove_file(_layout.meta_path(short_id), version)
    assert audmodel.meta(uid) == {}
    assert audmodel.update_meta(uid, {"y": 2}) == {"y": 2}
    assert audmodel.meta(uid) == {"y": 2}
